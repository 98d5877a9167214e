/* Finished calls kept for the report: each record packed (the zero bytes
 * at the end of each word of struct calls_call and its calls_leg array left
 * out) into large chunks, and unpacked on demand by calls_get(). A leg
 * record is mostly unused text space: packed it takes ~0.4 KiB, not 1.2. */
#include "calls_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"

#define KEPT_CHUNK (256u * 1024)

struct kept_view {
    size_t i;                       /* index unpacked here, SIZE_MAX: none */
    struct calls_call call;
    struct calls_leg legs[TS_CALLS_MAX_LEGS];
};

/* A record is packed by 8-byte words: a bitmap of the non-zero words, a
 * nibble per such word with its length up to its last non-zero byte, then
 * those bytes. Text fields are mostly unused space, so a leg shrinks to a
 * third, and packing is one pass without byte-level runs. */
static size_t pack_bound(size_t len)
{
    size_t nw = (len + 7) / 8;
    return (nw + 7) / 8 + (nw + 1) / 2 + nw * 8;
}

_Static_assert(sizeof(struct calls_call) <= sizeof(struct calls_leg), "pack(): lens[]");

static size_t pack(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t nw = (len + 7) / 8, nb = (nw + 7) / 8;
    uint8_t lens[(sizeof(struct calls_leg) + 7) / 8];
    uint8_t *bytes = dst + nb + (nw + 1) / 2;   /* moved down once the count is known */
    size_t nz = 0, o = 0;
    memset(dst, 0, nb);
    for (size_t w = 0; w < nw; w++) {
        uint8_t b[8] = { 0 };
        if (w * 8 + 8 <= len)
            memcpy(b, src + w * 8, 8);
        else
            memcpy(b, src + w * 8, len - w * 8);
        uint64_t v;
        memcpy(&v, b, 8);
        if (!v)
            continue;
        size_t n = 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        n -= (size_t)__builtin_clzll(v) / 8;   /* the last non-zero byte in memory */
#else
        while (!b[n - 1])
            n--;
#endif
        dst[w / 8] = (uint8_t)(dst[w / 8] | (1u << (w % 8)));
        lens[nz++] = (uint8_t)(n - 1);
        memcpy(bytes + o, b, 8);   /* room for 8: only n count */
        o += n;
    }
    uint8_t *nib = dst + nb;
    for (size_t i = 0; i < nz; i += 2)
        nib[i / 2] = (uint8_t)(lens[i] | (i + 1 < nz ? lens[i + 1] << 4 : 0));
    memmove(nib + (nz + 1) / 2, bytes, o);
    return nb + (nz + 1) / 2 + o;
}

/* Fills exactly len bytes of dst from *src; false on a damaged record. */
static bool unpack(const uint8_t **src, const uint8_t *end, uint8_t *dst, size_t len)
{
    const uint8_t *s = *src;
    size_t nw = (len + 7) / 8, nb = (nw + 7) / 8, nz = 0;
    if ((size_t)(end - s) < nb)
        return false;
    const uint8_t *bm = s;
    for (size_t i = 0; i < nb; i++)
        nz += (size_t)__builtin_popcount(bm[i]);
    if ((size_t)(end - s) < nb + (nz + 1) / 2)
        return false;
    const uint8_t *nib = s + nb;
    s += nb + (nz + 1) / 2;
    memset(dst, 0, len);
    for (size_t w = 0, k = 0; w < nw; w++) {
        if (!(bm[w / 8] & (1u << (w % 8))))
            continue;
        size_t n = (size_t)((k % 2 ? nib[k / 2] >> 4 : nib[k / 2]) & 0xf) + 1;
        k++;
        size_t wl = w * 8 + 8 <= len ? 8 : len - w * 8;
        if (n > wl || (size_t)(end - s) < n)
            return false;
        memcpy(dst + w * 8, s, n);
        s += n;
    }
    *src = s;
    return true;
}

/* n bytes of chunk space, or NULL. */
static uint8_t *kept_alloc(struct calls *c, size_t n)
{
    struct kept_store *k = &c->kept;
    if (n > KEPT_CHUNK)
        return NULL;
    if (!k->nchunks || k->used + n > KEPT_CHUNK) {
        if (k->nchunks == k->chunks_cap) {
            uint8_t **nc = ts_grow(k->chunks, &k->chunks_cap, sizeof *nc, 16, 0);
            if (!nc)
                return NULL;
            k->chunks = nc;
        }
        uint8_t *ch = malloc(KEPT_CHUNK);
        if (!ch)
            return NULL;
        k->chunks[k->nchunks++] = ch;
        k->used = 0;
    }
    uint8_t *p = k->chunks[k->nchunks - 1] + k->used;
    k->used += n;
    return p;
}

/* Pack call (its legs included) into scratch; returns the length. */
static size_t pack_call(struct calls *c, const struct calls_call *call)
{
    struct calls_call hdr = *call;
    hdr.legs = NULL;
    size_t o = pack((const uint8_t *)&hdr, sizeof hdr, c->kept.scratch);
    for (unsigned i = 0; i < call->nlegs; i++)
        o += pack((const uint8_t *)&call->legs[i], sizeof call->legs[i], c->kept.scratch + o);
    return o;
}

static size_t kept_scratch_size(void)
{
    return pack_bound(sizeof(struct calls_call)) +
           TS_CALLS_MAX_LEGS * pack_bound(sizeof(struct calls_leg));
}

bool kept_add(struct calls *c, const struct calls_call *call, uint32_t epoch)
{
    struct kept_store *k = &c->kept;
    if (k->n == k->cap) {
        struct kept_ref *nr = ts_grow(k->refs, &k->cap, sizeof *nr, 64, TS_MAX_REPORT_CALLS);
        if (!nr)
            return false;
        k->refs = nr;
    }
    if (call->nlegs > TS_CALLS_MAX_LEGS)
        return false;
    size_t len = pack_call(c, call);
    uint8_t *p = kept_alloc(c, len);
    if (!p)
        return false;
    memcpy(p, k->scratch, len);
    k->refs[k->n].p = p;
    k->refs[k->n].len = (uint32_t)len;
    k->refs[k->n].epoch = epoch;
    k->n++;
    return true;
}

static bool unpack_call(const struct kept_ref *r, struct calls_call *call, struct calls_leg *legs)
{
    const uint8_t *s = r->p, *end = r->p + r->len;
    if (!unpack(&s, end, (uint8_t *)call, sizeof *call) || call->nlegs > TS_CALLS_MAX_LEGS)
        return false;
    for (unsigned i = 0; i < call->nlegs; i++)
        if (!unpack(&s, end, (uint8_t *)&legs[i], sizeof legs[i]))
            return false;
    call->legs = legs;
    return true;
}

const struct calls_call *kept_get(const struct calls *c, size_t i)
{
    const struct kept_store *k = &c->kept;
    struct kept_view *v = k->view;
    if (i >= k->n || !v)
        return NULL;
    if (v->i == i)
        return &v->call;
    v->i = SIZE_MAX;
    if (!unpack_call(&k->refs[i], &v->call, v->legs))
        return NULL;
    v->i = i;
    return &v->call;
}

void kept_update(struct calls *c, void (*fn)(const struct calls *c, struct calls_call *call))
{
    struct kept_store *k = &c->kept;
    struct kept_view *v = k->view;
    if (!v)
        return;
    for (size_t i = 0; i < k->n; i++) {
        if (k->refs[i].epoch == c->class_epoch)
            continue;   /* classified with what is known now */
        v->i = SIZE_MAX;
        if (!unpack_call(&k->refs[i], &v->call, v->legs))
            continue;
        uint8_t dir = v->call.direction, side = v->call.failure_side;
        char detail[sizeof v->call.failure_detail];
        memcpy(detail, v->call.failure_detail, sizeof detail);
        fn(c, &v->call);
        if (dir == v->call.direction && side == v->call.failure_side &&
            !memcmp(detail, v->call.failure_detail, sizeof detail)) {
            k->refs[i].epoch = c->class_epoch;
            continue;   /* unchanged: the packed copy stands */
        }
        size_t len = pack_call(c, &v->call);
        uint8_t *p = len <= k->refs[i].len ? k->refs[i].p : kept_alloc(c, len);
        if (!p)
            continue;   /* keeps the old classification */
        memcpy(p, k->scratch, len);
        k->refs[i].p = p;
        k->refs[i].len = (uint32_t)len;
        k->refs[i].epoch = c->class_epoch;
    }
    v->i = SIZE_MAX;
}

bool kept_set(struct calls *c, size_t i, const struct calls_call *call)
{
    struct kept_store *k = &c->kept;
    if (i >= k->n || call->nlegs > TS_CALLS_MAX_LEGS)
        return false;
    size_t len = pack_call(c, call);
    uint8_t *p = len <= k->refs[i].len ? k->refs[i].p : kept_alloc(c, len);
    if (!p)
        return false;
    memcpy(p, k->scratch, len);
    k->refs[i].p = p;
    k->refs[i].len = (uint32_t)len;
    k->refs[i].epoch = c->class_epoch;
    if (k->view)
        k->view->i = SIZE_MAX;
    return true;
}

void kept_remove(struct calls *c, size_t i)
{
    struct kept_store *k = &c->kept;
    if (i >= k->n)
        return;
    memmove(&k->refs[i], &k->refs[i + 1], (k->n - i - 1) * sizeof k->refs[0]);
    k->n--;
    if (k->view)
        k->view->i = SIZE_MAX;
}

int kept_init(struct calls *c)
{
    struct kept_store *k = &c->kept;
    k->view = malloc(sizeof *k->view);
    k->scratch = malloc(kept_scratch_size());
    if (!k->view || !k->scratch)
        return -1;
    k->view->i = SIZE_MAX;
    return 0;
}

void kept_free(struct calls *c)
{
    struct kept_store *k = &c->kept;
    for (size_t i = 0; i < k->nchunks; i++)
        free(k->chunks[i]);
    free(k->chunks);
    free(k->refs);
    free(k->view);
    free(k->scratch);
    memset(k, 0, sizeof *k);
}
