/* Byte view: the only way trunkscope reads wire bytes. Every reader checks
 * the remaining length before it touches memory; pointer arithmetic on packet
 * data lives here and in bv.c only (STYLE.md rule 1). */
#ifndef TS_BV_H
#define TS_BV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bv {
    const uint8_t *p;
    size_t len;
};

#define BV_NULL ((struct bv){ NULL, 0 })
/* View of a string literal (compile-time length). */
#define BV_LIT(s) ((struct bv){ (const uint8_t *)(s), sizeof(s) - 1 })

static inline struct bv bv_make(const void *p, size_t len)
{
    struct bv b = { (const uint8_t *)p, p ? len : 0 };
    return b;
}

static inline struct bv bv_cstr(const char *s)
{
    return bv_make(s, s ? strlen(s) : 0);
}

static inline bool bv_empty(struct bv b) { return b.len == 0; }

/* ---- consuming readers: on failure the view is left unchanged ---- */

static inline bool bv_skip(struct bv *b, size_t n)
{
    if (b->len < n)
        return false;
    b->p += n;
    b->len -= n;
    return true;
}

/* Split off the first n bytes into *out and consume them. */
static inline bool bv_take(struct bv *b, size_t n, struct bv *out)
{
    if (b->len < n)
        return false;
    out->p = b->p;
    out->len = n;
    b->p += n;
    b->len -= n;
    return true;
}

static inline bool bv_u8(struct bv *b, uint8_t *v)
{
    if (b->len < 1)
        return false;
    *v = b->p[0];
    b->p++;
    b->len--;
    return true;
}

static inline bool bv_be16(struct bv *b, uint16_t *v)
{
    if (b->len < 2)
        return false;
    *v = (uint16_t)((b->p[0] << 8) | b->p[1]);
    b->p += 2;
    b->len -= 2;
    return true;
}

static inline bool bv_be32(struct bv *b, uint32_t *v)
{
    if (b->len < 4)
        return false;
    *v = ((uint32_t)b->p[0] << 24) | ((uint32_t)b->p[1] << 16) |
         ((uint32_t)b->p[2] << 8) | (uint32_t)b->p[3];
    b->p += 4;
    b->len -= 4;
    return true;
}

static inline bool bv_le16(struct bv *b, uint16_t *v)
{
    if (b->len < 2)
        return false;
    *v = (uint16_t)(b->p[0] | (b->p[1] << 8));
    b->p += 2;
    b->len -= 2;
    return true;
}

static inline bool bv_le32(struct bv *b, uint32_t *v)
{
    if (b->len < 4)
        return false;
    *v = (uint32_t)b->p[0] | ((uint32_t)b->p[1] << 8) |
         ((uint32_t)b->p[2] << 16) | ((uint32_t)b->p[3] << 24);
    b->p += 4;
    b->len -= 4;
    return true;
}

/* Copy n bytes out and consume them. */
static inline bool bv_copy(struct bv *b, void *dst, size_t n)
{
    if (b->len < n)
        return false;
    if (n)
        memcpy(dst, b->p, n);
    b->p += n;
    b->len -= n;
    return true;
}

/* ---- sticky reader for fixed-layout blocks ----
 * Fields read one after another from a block whose size the caller checked
 * once (an RTCP report block, an XR VoIP metrics block): a read past the
 * end clears ok, and from then on every read yields 0 and consumes nothing,
 * so the caller tests ok once at the end instead of every read (tcpdump's
 * GET_ macros, with a verdict instead of a jump). */
struct bv_rd {
    struct bv b; /* what is left */
    bool ok;     /* false after any read past the end */
};

static inline struct bv_rd bv_rd_make(struct bv b)
{
    struct bv_rd r = { b, true };
    return r;
}

static inline uint8_t bv_rd_u8(struct bv_rd *r)
{
    uint8_t v = 0;
    if (!r->ok || !bv_u8(&r->b, &v))
        r->ok = false;
    return v;
}

static inline uint16_t bv_rd_be16(struct bv_rd *r)
{
    uint16_t v = 0;
    if (!r->ok || !bv_be16(&r->b, &v))
        r->ok = false;
    return v;
}

static inline uint32_t bv_rd_be32(struct bv_rd *r)
{
    uint32_t v = 0;
    if (!r->ok || !bv_be32(&r->b, &v))
        r->ok = false;
    return v;
}

/* Two's-complement signed byte (RTCP XR levels in dBm). */
static inline int8_t bv_rd_s8(struct bv_rd *r)
{
    uint8_t x = bv_rd_u8(r);
    return (int8_t)((int)x - ((x & 0x80) ? 256 : 0));
}

static inline void bv_rd_skip(struct bv_rd *r, size_t n)
{
    if (!r->ok || !bv_skip(&r->b, n))
        r->ok = false;
}

/* ---- non-consuming peeks at an offset ---- */

static inline bool bv_peek_u8(struct bv b, size_t off, uint8_t *v)
{
    if (off >= b.len)
        return false;
    *v = b.p[off];
    return true;
}

static inline bool bv_peek_be16(struct bv b, size_t off, uint16_t *v)
{
    if (off > b.len || b.len - off < 2)
        return false;
    *v = (uint16_t)((b.p[off] << 8) | b.p[off + 1]);
    return true;
}

static inline bool bv_peek_be32(struct bv b, size_t off, uint32_t *v)
{
    if (off > b.len || b.len - off < 4)
        return false;
    *v = ((uint32_t)b.p[off] << 24) | ((uint32_t)b.p[off + 1] << 16) |
         ((uint32_t)b.p[off + 2] << 8) | (uint32_t)b.p[off + 3];
    return true;
}

/* Byte at i, or -1 past the end: handy for scanners. */
static inline int bv_at(struct bv b, size_t i)
{
    return i < b.len ? b.p[i] : -1;
}

/* Sub-view [off, off+n); false when it does not fit. */
static inline bool bv_sub(struct bv b, size_t off, size_t n, struct bv *out)
{
    if (off > b.len || b.len - off < n)
        return false;
    out->p = b.p + off;
    out->len = n;
    return true;
}

/* Sub-view from off to the end (empty when off >= len). */
static inline struct bv bv_from(struct bv b, size_t off)
{
    if (off >= b.len)
        return bv_make(b.p ? b.p + b.len : NULL, 0);
    return bv_make(b.p + off, b.len - off);
}

/* First n bytes (all of b when shorter). */
static inline struct bv bv_head(struct bv b, size_t n)
{
    if (n > b.len)
        n = b.len;
    return bv_make(b.p, n);
}

/* Offset of the end of `part` within `whole` (part must be a sub-view). */
static inline size_t bv_offset_of(struct bv whole, struct bv part)
{
    if (!part.p || !whole.p || part.p < whole.p || part.p > whole.p + whole.len)
        return 0;
    return (size_t)(part.p - whole.p);
}

/* ---- search and comparison (bv.c) ---- */

/* Index of byte c, or -1. */
long bv_index(struct bv b, uint8_t c);
/* Index of needle, or -1. */
long bv_find(struct bv b, const void *needle, size_t nlen);
/* Token up to the first c: *tok gets the bytes before c, b moves past c.
 * Returns false (b unchanged) when c is absent. */
bool bv_until(struct bv *b, uint8_t c, struct bv *tok);
/* Next line ending in LF (CR before it removed); false when no LF left. */
bool bv_line(struct bv *b, struct bv *line);
/* Next word of a line: spaces and tabs skipped, then *word gets the bytes
 * up to the next space or tab (or the end) and b moves past them; false
 * when only spaces and tabs were left. */
bool bv_word(struct bv *b, struct bv *word);
bool bv_eq(struct bv b, struct bv c);
bool bv_eq_cstr(struct bv b, const char *s);
bool bv_eq_ci(struct bv b, const char *s);          /* ASCII case-insensitive */
bool bv_prefix_ci(struct bv b, const char *s);
bool bv_starts_with(struct bv b, const char *s);
/* Strip SP, HTAB, CR, LF from both ends. */
struct bv bv_trim(struct bv b);
/* Whole view as unsigned decimal; false on empty, non-digit or overflow. */
bool bv_u32dec(struct bv b, uint32_t *out);
bool bv_u64dec(struct bv b, uint64_t *out);
/* Copy at most cap-1 bytes into dst and NUL-terminate; returns bytes copied. */
size_t bv_to_cstr(struct bv b, char *dst, size_t cap);
/* Hex digit value or -1. */
int bv_hexval(int c);

#endif
