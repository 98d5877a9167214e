/* libFuzzer target: the SIP-over-TCP stream framer (RFC 3261 section 18.3)
 * fed in chunks of random sizes, with an optional gap. Input: [u32 chunking
 * seed][stream bytes]. Oracles: without a gap, the messages framed must not
 * depend on how the stream was cut into segments (TS_FUZZ_NO_ORACLE=1 in
 * the environment turns it off, to look for memory errors past a known
 * divergence); the bytes the framer examines stay linear in the bytes fed
 * (a rescan per segment would be quadratic). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/limits.h"
#include "../../common/stats.h"
#include "../../dissect/sipframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEN 512
/* Bytes the framer may examine: each byte a few times (line search, start
 * line and Content-Length checks, garbage lines read twice), plus the
 * re-judging of a start line shorter than 80 bytes on each segment. */
#define WORK_BOUND(bytes, segments) (8 * (uint64_t)(bytes) + 256 * (uint64_t)(segments))

/* Messages framed in one pass: count, and per message its length and hash. */
struct seen {
    size_t n;
    size_t len[MAX_SEEN];
    uint64_t h[MAX_SEEN];
};

static uint64_t fnv(struct bv b)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < b.len; i++)
        h = (h ^ (uint64_t)bv_at(b, i)) * 1099511628211ull;
    return h;
}

static void on_msg(void *ctx, struct bv msg)
{
    struct seen *s = ctx;
    if (msg.len == 0 || msg.len > TS_SIP_MAX_MSG)
        abort(); /* the framer promises a non-empty message within the limit */
    if (s->n < MAX_SEEN) {
        s->len[s->n] = msg.len;
        s->h[s->n] = fnv(msg);
    }
    s->n++;
}

/* xorshift32: chunk sizes from the seed, so a crash replays exactly. */
static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static struct seen whole, chunked;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bv in = bv_make(data, size);
    uint32_t seed;
    if (!bv_be32(&in, &seed))
        return 0;
    struct ts_stats st = { { 0 } };

    /* Stateless framing over the whole stream, as a parser in its own right. */
    struct bv rest = in;
    for (int guard = 0; rest.len && guard < 4096; guard++) {
        size_t n = 0;
        enum sipf_result r = sipf_frame(rest, &n);
        if (r == SIPF_NEED_MORE)
            break;
        if (n == 0 || n > rest.len)
            abort(); /* SKIP and MSG must consume something that is there */
        rest = bv_from(rest, n);
    }

    /* Reference: the stream in one segment. */
    struct sip_stream s;
    memset(&whole, 0, sizeof whole);
    sip_stream_init(&s);
    sip_stream_feed(&s, in, on_msg, &whole, &st);
    if (s.scanned > WORK_BOUND(in.len, 1))
        abort();
    sip_stream_cleanup(&s);

    /* The same stream cut at random points; the seed's top bits choose the
     * sizes' range (1..16, 1..256, 1..4096 bytes) and whether a gap occurs. */
    static const uint32_t ranges[4] = { 16, 256, 4096, 1 };
    uint32_t range = ranges[seed >> 30];
    bool gap = (seed >> 29) & 1;
    uint32_t x = seed | 1;
    size_t gap_at = gap ? next(&x) % (in.len + 1) : SIZE_MAX;
    memset(&chunked, 0, sizeof chunked);
    sip_stream_init(&s);
    size_t off = 0, segments = 0;
    while (off < in.len) {
        segments++;
        size_t n = 1 + next(&x) % range;
        if (n > in.len - off)
            n = in.len - off;
        if (off <= gap_at && gap_at < off + n) {
            sip_stream_feed(&s, bv_sub(in, off, gap_at - off, &rest) ? rest : bv_make(NULL, 0),
                            on_msg, &chunked, &st);
            sip_stream_gap(&s, &st);
            gap_at = SIZE_MAX;
            off += n; /* the rest of this segment was lost */
            continue;
        }
        sip_stream_feed(&s, bv_sub(in, off, n, &rest) ? rest : bv_make(NULL, 0), on_msg,
                        &chunked, &st);
        off += n;
    }
    if (s.len > TS_SIP_MAX_MSG || s.len > s.cap)
        abort(); /* the buffer stays within its limit */
    if (s.scanned > WORK_BOUND(in.len, segments)) {
        fprintf(stderr, "sipframe: %llu bytes examined for %zu bytes in %zu segments\n",
                (unsigned long long)s.scanned, in.len, segments);
        abort();
    }
    sip_stream_cleanup(&s);

    /* Segmentation must not change what is framed (below the size limit,
     * where oversize handling may legitimately differ). */
    static int oracle = -1;
    if (oracle < 0)
        oracle = getenv("TS_FUZZ_NO_ORACLE") == NULL;
    if (oracle && !gap && in.len < TS_SIP_MAX_MSG) {
        size_t n = whole.n < MAX_SEEN ? whole.n : MAX_SEEN;
        if (whole.n != chunked.n) {
            fprintf(stderr, "sipframe: %zu messages whole, %zu in segments\n", whole.n,
                    chunked.n);
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (whole.len[i] != chunked.len[i] || whole.h[i] != chunked.h[i]) {
                fprintf(stderr, "sipframe: message %zu differs (%zu vs %zu bytes)\n", i,
                        whole.len[i], chunked.len[i]);
                abort();
            }
        }
    }
    return 0;
}
