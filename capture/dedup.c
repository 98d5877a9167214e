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

struct dedup_ent {
    uint64_t fp;
    uint64_t ts;
    uint32_t next; /* next entry of the bucket chain, index + 1; 0 ends */
};

struct dedup {
    struct dedup_ent ring[TS_DEDUP_RING];
    uint32_t bucket[DEDUP_BUCKETS]; /* index + 1 of the newest entry; 0 empty */
    uint32_t head;                  /* slot written next (the oldest when full) */
    uint32_t count;
};

struct dedup *dedup_new(void)
{
    return calloc(1, sizeof(struct dedup));
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

/* Unlink the entry at slot idx from its bucket chain before reuse. */
static void unlink_slot(struct dedup *d, uint32_t idx)
{
    uint32_t *link = &d->bucket[d->ring[idx].fp % DEDUP_BUCKETS];
    while (*link) {
        if (*link == idx + 1) {
            *link = d->ring[idx].next;
            return;
        }
        link = &d->ring[*link - 1].next;
    }
}

void dedup_prefetch(const struct dedup *d, uint64_t fp)
{
    ts_prefetch(&d->bucket[fp % DEDUP_BUCKETS]);
}

bool dedup_check(struct dedup *d, uint64_t fp, uint64_t ts_ns)
{
    uint32_t b = (uint32_t)(fp % DEDUP_BUCKETS);
    for (uint32_t i = d->bucket[b]; i; i = d->ring[i - 1].next) {
        const struct dedup_ent *e = &d->ring[i - 1];
        if (e->fp == fp && within(e->ts, ts_ns))
            return true;
    }
    uint32_t slot = d->head;
    if (d->count == TS_DEDUP_RING)
        unlink_slot(d, slot);
    else
        d->count++;
    d->ring[slot].fp = fp;
    d->ring[slot].ts = ts_ns;
    d->ring[slot].next = d->bucket[b];
    d->bucket[b] = slot + 1;
    d->head = (slot + 1) % TS_DEDUP_RING;
    return false;
}
