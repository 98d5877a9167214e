/* Byte view: searching, comparing and number parsing on bounded views. */
#include "bv.h"

long bv_index(struct bv b, uint8_t c)
{
    if (!b.len)
        return -1;
    const uint8_t *q = memchr(b.p, c, b.len);
    return q ? (long)(q - b.p) : -1;
}

long bv_find(struct bv b, const void *needle, size_t nlen)
{
    if (nlen == 0)
        return 0;
    if (b.len < nlen)
        return -1;
    const uint8_t *n = needle;
    size_t last = b.len - nlen;
    size_t i = 0;
    while (i <= last) {
        const uint8_t *q = memchr(b.p + i, n[0], last - i + 1);
        if (!q)
            return -1;
        i = (size_t)(q - b.p);
        if (memcmp(q, n, nlen) == 0)
            return (long)i;
        i++;
    }
    return -1;
}

bool bv_until(struct bv *b, uint8_t c, struct bv *tok)
{
    long i = bv_index(*b, c);
    if (i < 0)
        return false;
    tok->p = b->p;
    tok->len = (size_t)i;
    b->p += i + 1;
    b->len -= (size_t)i + 1;
    return true;
}

bool bv_word(struct bv *b, struct bv *word)
{
    while (b->len && (b->p[0] == ' ' || b->p[0] == '\t')) {
        b->p++;
        b->len--;
    }
    size_t i = 0;
    while (i < b->len && b->p[i] != ' ' && b->p[i] != '\t')
        i++;
    if (!i)
        return false;
    word->p = b->p;
    word->len = i;
    b->p += i;
    b->len -= i;
    return true;
}

bool bv_line(struct bv *b, struct bv *line)
{
    if (!bv_until(b, '\n', line))
        return false;
    if (line->len && line->p[line->len - 1] == '\r')
        line->len--;
    return true;
}

bool bv_eq(struct bv b, struct bv c)
{
    return b.len == c.len && (b.len == 0 || memcmp(b.p, c.p, b.len) == 0);
}

bool bv_eq_cstr(struct bv b, const char *s)
{
    size_t n = strlen(s);
    return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}

static inline int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool bv_eq_ci(struct bv b, const char *s)
{
    size_t n = strlen(s);
    if (b.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(b.p[i]) != lower((unsigned char)s[i]))
            return false;
    return true;
}

bool bv_prefix_ci(struct bv b, const char *s)
{
    size_t n = strlen(s);
    if (b.len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(b.p[i]) != lower((unsigned char)s[i]))
            return false;
    return true;
}

bool bv_starts_with(struct bv b, const char *s)
{
    size_t n = strlen(s);
    return b.len >= n && memcmp(b.p, s, n) == 0;
}

static inline bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct bv bv_trim(struct bv b)
{
    while (b.len && is_ws(b.p[0])) {
        b.p++;
        b.len--;
    }
    while (b.len && is_ws(b.p[b.len - 1]))
        b.len--;
    return b;
}

bool bv_u64dec(struct bv b, uint64_t *out)
{
    if (b.len == 0 || b.len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < b.len; i++) {
        uint8_t c = b.p[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool bv_u32dec(struct bv b, uint32_t *out)
{
    uint64_t v;
    if (!bv_u64dec(b, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

size_t bv_to_cstr(struct bv b, char *dst, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    if (n)
        memcpy(dst, b.p, n);
    dst[n] = '\0';
    return n;
}

int bv_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
