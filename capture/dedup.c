/* SPAN duplicate removal: masked IP-header fingerprints in a time-ordered
 * ring with a chained hash index, both bounded by TS_DEDUP_RING. */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"

/* Payload bytes that join the fingerprint: enough for the transport header
 * and the start of SIP/RTP, which is where copies and originals could differ
 * (all of it when no transport checksum covers the rest). */
#define DEDUP_PAYLOAD_BYTES 32
#define DEDUP_BUCKETS (2u * TS_DEDUP_RING)

/* Entries are named by their insertion number (seq); an entry lives in
 * slot seq % TS_DEDUP_RING until a newer one takes the slot (seq wraps at
 * 2^32, a multiple of the ring). A chain links each entry to the one put in
 * the same bucket before it: the walk stops at the first link that is no
 * longer alive (all after it are older still), so reusing a slot needs no
 * unlinking. */
struct dedup_ent {
    uint64_t fp;
    uint64_t ts;
    uint32_t prev; /* seq of the entry put in the same bucket before it */
};

struct dedup {
    struct dedup_ent ring[TS_DEDUP_RING];
    uint32_t bucket[DEDUP_BUCKETS]; /* seq of the bucket's newest entry */
    uint32_t seq;                   /* seq of the next entry; starts at 1 */
    uint32_t count;                 /* entries alive (TS_DEDUP_RING once full) */
};

/* The entry numbered seq while it is alive (one of the last count put),
 * else NULL; age is its distance from the newest, 1 for the newest. */
static const struct dedup_ent *entry(const struct dedup *d, uint32_t seq, uint32_t *age)
{
    *age = d->seq - seq;
    if (*age == 0 || *age > d->count)
        return NULL;
    return &d->ring[seq % TS_DEDUP_RING];
}

struct dedup *dedup_new(void)
{
    struct dedup *d = calloc(1, sizeof(struct dedup));
    if (d)
        d->seq = 1; /* an unused bucket's 0 names no entry until seq wraps */
    return d;
}

void dedup_free(struct dedup *d)
{
    free(d);
}

uint64_t dedup_fingerprint(int ipver, struct bv hdr, struct bv payload)
{
    /* One hash over [IP header (masked) | first payload bytes | length]:
     * the transport checksum in those bytes covers the rest of the payload. */
    uint8_t h[60 + DEDUP_PAYLOAD_BYTES + 4];
    size_t n = hdr.len < 60 ? hdr.len : 60;
    struct bv tmp = hdr;
    uint32_t total = (uint32_t)(hdr.len + payload.len);

    if (!bv_copy(&tmp, h, n))
        n = 0;
    if (ipver == 4) {
        if (n > 1)
            h[1] = 0;          /* DSCP/ECN: remarked on the way */
        if (n > 8)
            h[8] = 0;          /* TTL: one router hop between the copies */
        if (n > 11)
            h[10] = h[11] = 0; /* checksum follows the TTL */
    } else {
        if (n > 1) {
            h[0] &= 0xf0;      /* traffic class spans bytes 0 and 1 */
            h[1] &= 0x0f;
        }
        if (n > 7)
            h[7] = 0;          /* hop limit */
    }
    struct bv head = bv_head(payload, DEDUP_PAYLOAD_BYTES);
    size_t pl = head.len;
    bv_copy(&head, h + n, pl);
    n += pl;
    memcpy(h + n, &total, sizeof total);
    uint64_t fp = ts_hash(h, n + sizeof total);
    /* The checksum in those first bytes covers the rest only when there is
     * one: a UDP checksum of zero (optional over IPv4, and what tunnels
     * such as GTP-U or VXLAN send) says nothing, so the whole payload joins. */
    uint16_t ck = 1;
    uint8_t proto = 0;
    if (ipver == 4 && n > 9)
        proto = h[9];
    else if (ipver == 6 && n > 6)
        proto = h[6];
    if (proto == 17 && bv_peek_be16(payload, 6, &ck) && ck == 0 &&
        payload.len > DEDUP_PAYLOAD_BYTES) {
        struct bv rest = bv_from(payload, DEDUP_PAYLOAD_BYTES);
        fp = ts_hash_wide(fp, rest.p, rest.len); /* an RTP payload: SipHash was 16 % */
    }
    return fp;
}

static bool within(uint64_t a, uint64_t b)
{
    return (a > b ? a - b : b - a) <= TS_DEDUP_WINDOW_NS;
}

void dedup_prefetch(const struct dedup *d, uint64_t fp)
{
    ts_prefetch(&d->bucket[fp % DEDUP_BUCKETS]);
}

bool dedup_check(struct dedup *d, uint64_t fp, uint64_t ts_ns)
{
    uint32_t b = (uint32_t)(fp % DEDUP_BUCKETS), age, older;
    const struct dedup_ent *e = entry(d, d->bucket[b], &age);
    /* a chain holds at most the ring; each step must go back in time */
    for (unsigned n = 0; e && n < TS_DEDUP_RING; n++) {
        if (e->fp == fp && within(e->ts, ts_ns))
            return true;
        uint32_t cur = age;
        e = entry(d, e->prev, &older);
        if (older <= cur)
            break;
        age = older;
    }
    struct dedup_ent *w = &d->ring[d->seq % TS_DEDUP_RING];
    w->fp = fp;
    w->ts = ts_ns;
    w->prev = d->bucket[b];
    d->bucket[b] = d->seq++;
    if (d->count < TS_DEDUP_RING)
        d->count++;
    return false;
}
