/* IPv4 (RFC 791 section 3.2) and IPv6 (RFC 8200 section 4.5) fragment
 * reassembly: first data wins on overlap, every datagram and byte bounded. */
#include "ipfrag.h"

#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"

/* Bytes held for one datagram, disjoint from its neighbours. */
struct piece {
    struct piece *next;
    uint32_t off, len;
    uint8_t data[];
};

struct dgram {
    struct ht_node node;
    struct ipfrag_key key;
    uint64_t first_ns;    /* the timeout runs from the first fragment */
    uint32_t total;       /* payload length, known once the last fragment came */
    bool have_last;
    uint32_t held;        /* sum of piece lengths */
    unsigned npieces;
    struct piece *pieces; /* sorted by offset, disjoint */
};

/* The table is kept in arrival order of each datagram's first fragment (no
 * touch on later fragments): the least recently started datagram is both the
 * eviction victim and the first to time out, so expiry stops at the first
 * live entry. */
struct ipfrag {
    struct ts_stats *st;
    struct htab tab;
    size_t bytes;
    uint8_t *out; /* TS_FRAG_MAX_DGRAM_SIZE bytes: the reassembled datagram */
};

/* A new range cut into the holes it fills. */
struct part {
    uint32_t off, len;
};

static uint64_t key_hash(const struct ipfrag_key *k)
{
    uint8_t b[2 + 4 + 2 * 17];
    b[0] = k->ipver;
    b[1] = k->proto;
    memcpy(b + 2, &k->id, 4);
    b[6] = k->src.family;
    memcpy(b + 7, k->src.a, 16);
    b[23] = k->dst.family;
    memcpy(b + 24, k->dst.a, 16);
    return ts_hash(b, sizeof b);
}

static bool key_eq(const struct ht_node *n, const void *key)
{
    const struct dgram *d = ts_container_of(n, const struct dgram, node);
    const struct ipfrag_key *k = key;
    return d->key.ipver == k->ipver && d->key.proto == k->proto &&
           d->key.id == k->id && ts_addr_eq(&d->key.src, &k->src) &&
           ts_addr_eq(&d->key.dst, &k->dst);
}

static void dgram_free(struct ipfrag *f, struct dgram *d)
{
    htab_remove(&f->tab, &d->node);
    struct piece *p = d->pieces;
    while (p) {
        struct piece *next = p->next;
        free(p);
        p = next;
    }
    f->bytes -= d->held;
    free(d);
}

/* Evict the oldest datagram other than keep; false when there is none. */
static bool evict_one(struct ipfrag *f, const struct dgram *keep)
{
    struct ht_node *n = htab_oldest(&f->tab);
    if (n && keep && n == &keep->node)
        n = n->lnext == &f->tab.lru ? NULL : n->lnext;
    if (!n)
        return false;
    TS_INC(f->st, FRAG_EVICTED);
    dgram_free(f, ts_container_of(n, struct dgram, node));
    return true;
}

struct ipfrag *ipfrag_new(struct ts_stats *st)
{
    struct ipfrag *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->st = st;
    f->out = malloc(TS_FRAG_MAX_DGRAM_SIZE);
    if (!f->out || htab_init(&f->tab, TS_FRAG_MAX_DGRAMS) != 0) {
        free(f->out);
        free(f);
        return NULL;
    }
    return f;
}

void ipfrag_free(struct ipfrag *f)
{
    if (!f)
        return;
    struct ht_node *n;
    while ((n = htab_oldest(&f->tab)))
        dgram_free(f, ts_container_of(n, struct dgram, node));
    htab_cleanup(&f->tab);
    free(f->out);
    free(f);
}

void ipfrag_expire(struct ipfrag *f, uint64_t now_ns)
{
    struct ht_node *n;
    while ((n = htab_oldest(&f->tab))) {
        struct dgram *d = ts_container_of(n, struct dgram, node);
        if (now_ns < d->first_ns || now_ns - d->first_ns < TS_FRAG_TIMEOUT_NS)
            break;
        TS_INC(f->st, FRAG_TIMEOUT);
        dgram_free(f, d);
    }
}

size_t ipfrag_pending(const struct ipfrag *f) { return f->tab.count; }
size_t ipfrag_bytes(const struct ipfrag *f) { return f->bytes; }

/* Copy the pieces out and release the datagram. */
static struct bv dgram_finish(struct ipfrag *f, struct dgram *d)
{
    for (const struct piece *p = d->pieces; p; p = p->next)
        memcpy(f->out + p->off, p->data, p->len);
    struct bv out = bv_make(f->out, d->total);
    dgram_free(f, d);
    TS_INC(f->st, FRAG_REASSEMBLED);
    return out;
}

/* Drop d (if any) for reason stat; always -1 for the caller to return. */
static int drop(struct ipfrag *f, struct dgram *d, enum ts_stat stat)
{
    f->st->v[stat]++;
    if (d)
        dgram_free(f, d);
    return -1;
}

int ipfrag_add(struct ipfrag *f, const struct ipfrag_key *k, uint64_t ts_ns,
               uint32_t offset, bool more, struct bv data, struct bv *out)
{
    TS_INC(f->st, FRAG_FRAGMENTS);
    ipfrag_expire(f, ts_ns);

    uint64_t hash = key_hash(k);
    struct ht_node *n = htab_find(&f->tab, hash, key_eq, k);
    struct dgram *d = n ? ts_container_of(n, struct dgram, node) : NULL;
    uint64_t end64 = (uint64_t)offset + data.len;

    if (end64 > TS_FRAG_MAX_DGRAM_SIZE)
        return drop(f, d, TS_FRAG_TOO_BIG);
    /* RFC 8200 4.5: a non-last fragment is a non-zero multiple of 8 bytes. */
    if (more && (data.len == 0 || data.len % 8 != 0))
        return drop(f, NULL, TS_FRAG_MALFORMED);

    uint32_t s = offset, e = (uint32_t)end64;
    if (!d && s == 0 && !more) {
        /* Not fragmented after all: nothing to hold. */
        *out = data;
        TS_INC(f->st, FRAG_REASSEMBLED);
        return 1;
    }
    if (d) {
        /* A second, different end, or bytes past the known end. */
        if (d->have_last && (e > d->total || (!more && e != d->total)))
            return drop(f, d, TS_FRAG_MALFORMED);
        if (!more && !d->have_last) {
            const struct piece *last = d->pieces;
            while (last && last->next)
                last = last->next;
            if (last && last->off + last->len > e)
                return drop(f, d, TS_FRAG_MALFORMED);
        }
    }

    /* The holes of [s, e) that no earlier fragment filled. */
    struct part parts[TS_FRAG_MAX_PER_DGRAM + 1];
    unsigned np = 0;
    uint32_t need = 0, cur = s;
    bool inter = false, exact = false;
    for (const struct piece *p = d ? d->pieces : NULL; p && cur < e; p = p->next) {
        uint32_t pe = p->off + p->len;
        if (pe <= cur)
            continue;
        if (p->off >= e)
            break;
        inter = true;
        if (p->off == s && pe == e)
            exact = true;
        if (p->off > cur) {
            parts[np++] = (struct part){ cur, p->off - cur };
            need += p->off - cur;
        }
        cur = pe;
    }
    if (cur < e) {
        parts[np++] = (struct part){ cur, e - cur };
        need += e - cur;
    }
    bool sets_last = !more && !(d && d->have_last);

    if (inter)
        f->st->v[exact ? TS_FRAG_DUPLICATE : TS_FRAG_OVERLAP]++;
    if (np == 0 && !sets_last)
        return -1; /* nothing new */
    if ((d ? d->npieces : 0) + np > TS_FRAG_MAX_PER_DGRAM)
        return drop(f, d, TS_FRAG_TOO_MANY);

    if (!d) {
        if (htab_full(&f->tab))
            evict_one(f, NULL);
        d = calloc(1, sizeof *d);
        if (!d)
            return -1;
        d->key = *k;
        d->first_ns = ts_ns;
        htab_insert(&f->tab, &d->node, hash);
    }
    while (f->bytes + need > TS_FRAG_MAX_BYTES && evict_one(f, d))
        ;
    if (f->bytes + need > TS_FRAG_MAX_BYTES)
        return drop(f, d, TS_FRAG_EVICTED);

    struct piece **pp = &d->pieces;
    for (unsigned i = 0; i < np; i++) {
        struct bv src;
        struct piece *p = malloc(sizeof *p + parts[i].len);
        if (!p || !bv_sub(data, parts[i].off - s, parts[i].len, &src)) {
            free(p);
            dgram_free(f, d);
            return -1;
        }
        p->off = parts[i].off;
        p->len = parts[i].len;
        bv_copy(&src, p->data, src.len);
        while (*pp && (*pp)->off < p->off)
            pp = &(*pp)->next;
        p->next = *pp;
        *pp = p;
        d->npieces++;
        d->held += p->len;
        f->bytes += p->len;
    }
    if (sets_last) {
        d->have_last = true;
        d->total = e;
    }
    if (d->have_last && d->held == d->total) {
        *out = dgram_finish(f, d);
        return 1;
    }
    return 0;
}
