/* What the media tests share (tests/unit/test_media.c, test_media_srtp.c,
 * tests/fuzz/fuzz_media.c): the meta of a UDP datagram between two
 * addresses of 10.0.0.0/24, and the clock they start from. Header only. */
#ifndef TS_TESTS_MEDIA_FIXTURE_H
#define TS_TESTS_MEDIA_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "../../capture/packet.h"

#define MS 1000000ull
#define T0 (1700000000ull * 1000000000ull)

/* A UDP datagram over IPv4 from 10.0.0.a_last:sport to 10.0.0.b_last:dport
 * at ts (ns). */
static inline struct pkt_meta media_meta(uint8_t a_last, uint16_t sport, uint8_t b_last,
                                         uint16_t dport, uint64_t ts)
{
    struct pkt_meta m;
    memset(&m, 0, sizeof m);
    m.ts_ns = ts;
    m.ipver = 4;
    m.l4 = 17;
    m.src.family = m.dst.family = 4;
    m.src.a[0] = m.dst.a[0] = 10;
    m.src.a[3] = a_last;
    m.dst.a[3] = b_last;
    m.sport = sport;
    m.dport = dport;
    return m;
}

#endif
