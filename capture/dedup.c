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

/* Up to 8 bytes of b as one word, zero-padded; consumed. Fixed-size copies
 * only: each is one load from the packet, never a load of bytes stored just
 * before (a wide load over narrow stores waits for them to retire). */
static uint64_t take_word(struct bv *b)
{
    uint64_t w = 0;
    if (bv_copy(b, &w, 8))
        return w;
    size_t left = b->len;
    unsigned sh = 0;
    uint32_t u4;
    uint16_t u2;
    uint8_t u1;
    if ((left & 4) && bv_copy(b, &u4, 4)) {
        w = u4;
        sh = 32;
    }
    if ((left & 2) && bv_copy(b, &u2, 2)) {
        w |= (uint64_t)u2 << sh;
        sh += 16;
    }
    if ((left & 1) && bv_copy(b, &u1, 1))
        w |= (uint64_t)u1 << sh;
    return w;
}

/* The IP header bytes that differ between a packet and its SPAN copy, as
 * masks over the header's first two words (byte order as take_word's). */
static const uint8_t mask_v4[16] = {
    0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* DSCP/ECN: remarked on the way */
    0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* TTL, checksum: one router hop */
};
static const uint8_t mask_v6[16] = {
    0xf0, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, /* traffic class, hop limit */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

uint64_t dedup_fingerprint(int ipver, struct bv hdr, struct bv payload)
{
    /* One hash over [IP header (masked) | first payload bytes | lengths]:
     * the transport checksum in those bytes covers the rest of the payload. */
    uint64_t w[60 / 8 + 1 + DEDUP_PAYLOAD_BYTES / 8 + 1];
    _Static_assert(sizeof w / sizeof w[0] <= TS_HASH_WORDS, "the fingerprint fits ts_hash_words");
    size_t nw = 0, n = hdr.len < 60 ? hdr.len : 60;
    uint32_t total = (uint32_t)(hdr.len + payload.len);
    struct bv tmp = bv_head(hdr, n);
    while (tmp.len)
        w[nw++] = take_word(&tmp);
    uint64_t m[2];
    memcpy(m, ipver == 4 ? mask_v4 : mask_v6, sizeof m);
    for (size_t i = 0; i < 2 && i < nw; i++)
        w[i] &= m[i];
    uint8_t proto = 0;
    if (ipver == 4)
        (void)bv_peek_u8(hdr, 9, &proto);
    else
        (void)bv_peek_u8(hdr, 6, &proto);
    struct bv head = bv_head(payload, DEDUP_PAYLOAD_BYTES);
    size_t pl = head.len;
    while (head.len)
        w[nw++] = take_word(&head);
    /* the lengths make the encoding injective */
    w[nw++] = (uint64_t)total | (uint64_t)n << 32 | (uint64_t)pl << 48;
    uint64_t fp = ts_hash_words(w, nw); /* SipHash was 10 % of the samples */
    /* The checksum in those first bytes covers the rest only when there is
     * one: a UDP checksum of zero (optional over IPv4, and what tunnels
     * such as GTP-U or VXLAN send) says nothing, so the whole payload joins. */
    uint16_t ck = 1;
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
