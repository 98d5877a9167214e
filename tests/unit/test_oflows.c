/* Unit tests for the other flows (engine/oflows.c, nDPI): a DNS query and
 * answer, an HTTP request over TCP and a STUN binding request are named as
 * nDPI names them, packets and bytes counted per entry, a flow picked up at
 * its answer keeps the server on the well-known port, and the flow table
 * and the inventory at N-1, N and N+1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../engine/oflows.h"
#include "../../common/limits.h"

static struct pkt_meta meta(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t l4,
                            uint64_t ts)
{
    struct pkt_meta m;
    memset(&m, 0, sizeof m);
    m.ipver = 4;
    m.l4 = l4;
    m.ts_ns = ts;
    m.src.family = m.dst.family = 4;
    for (int i = 0; i < 4; i++) {
        m.src.a[i] = (uint8_t)(src >> (24 - 8 * i));
        m.dst.a[i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    m.sport = sport;
    m.dport = dport;
    return m;
}

/* A DNS query for sip.example.net, type A, and its answer (RFC 1035 4.1). */
static const uint8_t dns_q[] = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    3, 's', 'i', 'p', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
    0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_a[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    3, 's', 'i', 'p', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
    0x00, 0x01, 0x00, 0x01,
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 192, 0, 2, 7,
};
/* A STUN binding request (RFC 5389 6): type 0x0001, no attributes. */
static const uint8_t stun[] = {
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
};

static const struct oflow_entry *find(const struct oflows *o, const char *proto)
{
    for (size_t i = 0; i < oflows_count(o); i++)
        if (!strcmp(oflows_get(o, i)->proto, proto))
            return oflows_get(o, i);
    return NULL;
}

static void test_named(void **state)
{
    (void)state;
    struct ts_stats st;
    memset(&st, 0, sizeof st);
    struct oflows *o = oflows_new(&st);
    assert_non_null(o);
    /* the answer first (the capture began late): the server stays on 53 */
    struct pkt_meta m = meta(0x0a000001, 53, 0x0a000002, 40000, TS_L4_UDP, 1000000000);
    oflows_packet(o, &m, NULL, -1, bv_make(dns_a, sizeof dns_a));
    m = meta(0x0a000002, 40000, 0x0a000001, 53, TS_L4_UDP, 1001000000);
    oflows_packet(o, &m, NULL, -1, bv_make(dns_q, sizeof dns_q));
    static const char http[] = "GET /provisioning.xml HTTP/1.1\r\nHost: sbc.example\r\n"
                               "User-Agent: phone\r\n\r\n";
    m = meta(0x0a000002, 41000, 0x0a000003, 80, TS_L4_TCP, 1002000000);
    struct tcp_seg s = { .seq = 1, .ack = 1, .flags = TCP_F_ACK | TCP_F_PSH, .window = 100,
                         .payload = bv_make(http, sizeof http - 1) };
    oflows_packet(o, &m, &s, 0, s.payload);
    m = meta(0x0a000002, 42000, 0x0a000004, 3478, TS_L4_UDP, 1003000000);
    oflows_packet(o, &m, NULL, -1, bv_make(stun, sizeof stun));
    oflows_finish(o);
    const struct oflow_entry *d = find(o, "DNS");
    assert_non_null(d);
    assert_int_equal(d->port, 53);
    assert_int_equal(d->server.a[3], 1);
    assert_int_equal(d->l4, TS_L4_UDP);
    assert_int_equal(d->packets, 2);
    assert_int_equal(d->bytes, sizeof dns_q + sizeof dns_a);
    assert_int_equal(d->flows, 1);
    const struct oflow_entry *h = find(o, "HTTP");
    assert_non_null(h);
    assert_int_equal(h->port, 80);
    assert_int_equal(h->l4, TS_L4_TCP);
    assert_non_null(find(o, "STUN"));
    assert_int_equal(st.v[TS_OFLOW_FLOWS], 3);
    oflows_free(o);
}

/* Flows at N-1, N, N+1 of TS_OFLOW_MAX_FLOWS (one packet each, undecided:
 * the oldest is forgotten when the table is full); inventory entries
 * at N-1, N, N+1 of TS_OFLOW_MAX_ENTRIES (each flow to its own server). */
static void test_limits(void **state)
{
    (void)state;
    static const uint8_t junk[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    for (uint32_t n = TS_OFLOW_MAX_FLOWS - 1; n <= TS_OFLOW_MAX_FLOWS + 1; n++) {
        struct ts_stats st;
        memset(&st, 0, sizeof st);
        struct oflows *o = oflows_new(&st);
        assert_non_null(o);
        for (uint32_t i = 0; i < n; i++) {
            struct pkt_meta m = meta(0x0a000002, (uint16_t)(20000 + i % 40000), 0x0a000009,
                                     (uint16_t)(9000 + i / 40000), TS_L4_UDP, 1000 + i);
            oflows_packet(o, &m, NULL, -1, bv_make(junk, sizeof junk));
        }
        assert_int_equal(st.v[TS_OFLOW_EVICTED], n > TS_OFLOW_MAX_FLOWS ? 1 : 0);
        oflows_finish(o);
        assert_int_equal(st.v[TS_OFLOW_FLOWS], n);
        oflows_free(o);
    }
    for (uint32_t n = TS_OFLOW_MAX_ENTRIES - 1; n <= TS_OFLOW_MAX_ENTRIES + 1; n++) {
        struct ts_stats st;
        memset(&st, 0, sizeof st);
        struct oflows *o = oflows_new(&st);
        assert_non_null(o);
        for (uint32_t i = 0; i < n; i++) {
            struct pkt_meta m = meta(0x0a000002, 40000, 0x0b000000 + i, 9999, TS_L4_UDP, 1000 + i);
            oflows_packet(o, &m, NULL, -1, bv_make(junk, sizeof junk));
        }
        oflows_finish(o);
        assert_int_equal(oflows_count(o), n <= TS_OFLOW_MAX_ENTRIES ? n : TS_OFLOW_MAX_ENTRIES);
        assert_int_equal(st.v[TS_OFLOW_ENTRIES_EVICTED], n > TS_OFLOW_MAX_ENTRIES ? 1 : 0);
        oflows_free(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
