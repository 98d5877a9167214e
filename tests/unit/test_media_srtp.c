/* Unit tests of SRTP in the stream table (media/media_srtp.c): streams
 * protected here by libsrtp2 itself (the sender's side) with the SDES keys
 * their SDP announced open to exactly the plaintext payloads (the payload
 * hook sees them), RFC 4733 events included, for a stream that began three
 * rollovers before the capture; SRTCP opens too. A wrong key counts an
 * authentication failure for every packet and no payload comes out; no
 * keys keep the header statistics as before; SRTCP on the ports a=rtcp
 * names (RFC 3605) opens; the state limit evicts the
 * oldest at N+1. Keys that never match cost TS_SRTP_GIVE_UP packets' tries
 * and one in TS_SRTP_RETRY_EVERY after (HMACs counted, and no libsrtp2
 * call at all: its session is made only for a key that authenticates), the rest
 * counted as not tried; a new a=crypto, or keys that start to match at a
 * retry, open every packet from then on; a burst of failures shorter than
 * the limit stops nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <srtp2/srtp.h>

#include "../../common/limits.h"
#include "../../crypto/srtpauth.h"
#include "../../crypto/srtpdec.h"
#include "../../media/media.h"
#include "../helpers/media_fixture.h"

static struct sdes_key key_of(uint8_t seed)
{
    struct sdes_key k;
    memset(&k, 0, sizeof k);
    k.tag = 1;
    k.suite = SDES_AES_CM_128_HMAC_SHA1_80;
    k.key_len = 30;
    for (int i = 0; i < 30; i++)
        k.key[i] = (uint8_t)(seed * 7 + i * 13);
    return k;
}

static srtp_t sender(const struct sdes_key *k, uint32_t ssrc, uint32_t roc)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    static uint8_t keybuf[46];
    memcpy(keybuf, k->key, k->key_len);
    p.key = keybuf;
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = ssrc;
    p.window_size = 1024;
    srtp_t s;
    assert_int_equal(srtp_create(&s, &p), srtp_err_status_ok);
    if (roc)
        assert_int_equal(srtp_set_stream_roc(s, ssrc, roc), srtp_err_status_ok);
    return s;
}

struct seen {
    size_t n;
    uint8_t payload[64][160];
    size_t len[64];
};

static void on_payload(void *ctx, uint64_t id, uint16_t seq, struct bv p)
{
    (void)id;
    (void)seq;
    struct seen *s = ctx;
    if (s->n < 64 && p.len <= 160) {
        memcpy(s->payload[s->n], p.p, p.len);
        s->len[s->n] = p.len;
    }
    s->n++;
}

/* Protects the len bytes of pkt (RTP, or RTCP when rtcp) with tx when
 * given and hands them to m as a datagram from 10.0.0.1:sport to
 * 10.0.0.2:dport at ts. */
static void feed(struct media *m, srtp_t tx, bool rtcp, uint8_t *pkt, int len, uint16_t sport,
                 uint16_t dport, uint64_t ts)
{
    if (tx)
        assert_int_equal(rtcp ? srtp_protect_rtcp(tx, pkt, &len) : srtp_protect(tx, pkt, &len),
                         srtp_err_status_ok);
    struct pkt_meta pm = media_meta(1, sport, 2, dport, ts);
    assert_true(media_udp(m, &pm, bv_make(pkt, (size_t)len), 0));
}

static const struct ts_addr A = { .family = 4, .a = { 10, 0, 0, 1 } };
static const struct ts_addr B = { .family = 4, .a = { 10, 0, 0, 2 } };

/* rtcp_port: the SDP's a=rtcp (0: none, port + 1). */
static void expect_rtcp(struct media *m, const struct ts_addr *a, uint16_t port,
                        uint16_t rtcp_port, const struct sdes_key *k)
{
    struct media_sdp_info info;
    memset(&info, 0, sizeof info);
    info.rtcp_port = rtcp_port;
    info.ncodecs = 2;
    info.codec[0] = (struct media_codec){ 0, 8000, "PCMU" };
    info.codec[1] = (struct media_codec){ 101, 8000, "telephone-event" };
    info.srtp = true;
    if (k) {
        info.keys.n = 1;
        info.keys.k[0] = *k;
    }
    media_expect(m, a, port, false, 5, 50, T0, &info);
}

static void expect(struct media *m, const struct ts_addr *a, uint16_t port, const struct sdes_key *k)
{
    expect_rtcp(m, a, port, 0, k);
}

/* Sends n PCMU packets (payload byte j of packet i: i * 31 + j) from A:4000
 * to B:5000, sequence numbers from seq0, protected with key (NULL: plain),
 * then a telephone-event '5'; returns the plaintext payloads in plain.
 * With a key, a sender report follows from A:rtcp_a to B:rtcp_b. */
static void send_stream_rtcp(struct media *m, const struct sdes_key *k, uint32_t roc,
                             uint16_t seq0, size_t n, uint8_t plain[][160], uint16_t rtcp_a,
                             uint16_t rtcp_b)
{
    const uint32_t ssrc = 0x5EED0001;
    srtp_t tx = k ? sender(k, ssrc, roc) : NULL;
    for (size_t i = 0; i <= n; i++) {
        uint8_t pkt[256];
        uint16_t seq = (uint16_t)(seq0 + i);
        uint32_t ts = 160u * (uint32_t)i;
        bool ev = i == n;
        size_t pl = ev ? 4 : 160;
        uint8_t hdr[12] = { 0x80, ev ? 101 : 0, (uint8_t)(seq >> 8), (uint8_t)seq,
                            (uint8_t)(ts >> 24), (uint8_t)(ts >> 16), (uint8_t)(ts >> 8), (uint8_t)ts,
                            0x5E, 0xED, 0x00, 0x01 };
        memcpy(pkt, hdr, 12);
        if (ev) {
            static const uint8_t e5[4] = { 5, 0x8a, 0, 160 };
            memcpy(pkt + 12, e5, 4);
        } else {
            for (size_t j = 0; j < 160; j++)
                pkt[12 + j] = plain[i][j] = (uint8_t)(i * 31 + j);
        }
        feed(m, tx, false, pkt, (int)(12 + pl), 4000, 5000, T0 + 20 * MS * i);
    }
    if (tx) { /* SRTCP: a sender report of the same SSRC on the RTCP ports */
        uint8_t rtcp[128] = { 0x80, 200, 0, 6, 0x5E, 0xED, 0x00, 0x01 };
        feed(m, tx, true, rtcp, 28, rtcp_a, rtcp_b, T0 + 20 * MS * n);
        srtp_dealloc(tx);
    }
}

static void send_stream(struct media *m, const struct sdes_key *k, uint32_t roc, uint16_t seq0,
                        size_t n, uint8_t plain[][160])
{
    send_stream_rtcp(m, k, roc, seq0, n, plain, 4001, 5001);
}

static const struct media_stream *stream_from_a(struct media *m)
{
    media_finish(m);
    for (size_t i = 0; i < media_count(m); i++)
        if (media_get(m, i)->sport == 4000)
            return media_get(m, i);
    fail();
    return NULL;
}

/* A stream table counting into st, its payloads into seen (NULL: no
 * hook): A:4000 offers SRTP with key ka, B:5000 with kb (NULL: no key),
 * their SDPs naming RTCP ports rtcp_a and rtcp_b (0: port + 1). */
static struct media *two_ends(struct ts_stats *st, struct seen *seen, const struct sdes_key *ka,
                              uint16_t rtcp_a, const struct sdes_key *kb, uint16_t rtcp_b)
{
    struct media *m = media_new(NULL, st);
    if (seen) {
        memset(seen, 0, sizeof *seen);
        media_set_payload_hook(m, on_payload, seen);
    }
    expect_rtcp(m, &A, 4000, rtcp_a, ka);
    expect_rtcp(m, &B, 5000, rtcp_b, kb);
    return m;
}

/* The stream's one sender report came in SRTCP and opened. */
static void srtcp_opened(const struct media_stream *s, const struct ts_stats *st)
{
    assert_true(s->rtcp.srtcp);
    assert_int_equal(s->rtcp.sr, 1);
    assert_int_equal(st->v[TS_RTCP_SRTCP_DECRYPTED], 1);
}

static void test_opens(void **state)
{
    (void)state;
    struct ts_stats st = { 0 };
    static struct seen seen;
    struct sdes_key ka = key_of(1), kb = key_of(2);
    struct media *m = two_ends(&st, &seen, &ka, 0, &kb, 0);
    static uint8_t plain[40][160];
    /* three rollovers and a wrap into the capture */
    send_stream(m, &ka, 3, 65530, 40, plain);
    const struct media_stream *s = stream_from_a(m);
    assert_int_equal(s->packets, 41);
    assert_int_equal(s->srtp_decrypted, 41);
    assert_int_equal(s->srtp_auth_fail, 0);
    assert_int_equal(seen.n, 41);
    for (size_t i = 0; i < 40; i++) {
        assert_int_equal(seen.len[i], 160);
        assert_memory_equal(seen.payload[i], plain[i], 160);
    }
    assert_int_equal(s->dtmf_events, 1);
    assert_string_equal(s->dtmf, "5");
    assert_int_equal(s->lost, 0);
    srtcp_opened(s, &st);
    assert_int_equal(st.v[TS_RTP_SRTP_DECRYPTED], 41);
    media_free(m);
}

/* SRTCP on the ports the SDPs' a=rtcp (RFC 3605) name, neither the RTP
 * ports nor the ones above them: opened with its RTP stream's keys. */
static void test_srtcp_a_rtcp(void **state)
{
    (void)state;
    struct ts_stats st = { 0 };
    struct sdes_key ka = key_of(1), kb = key_of(2);
    struct media *m = two_ends(&st, NULL, &ka, 4011, &kb, 5013);
    static uint8_t plain[10][160];
    send_stream_rtcp(m, &ka, 0, 1, 10, plain, 4011, 5013);
    const struct media_stream *s = stream_from_a(m);
    assert_int_equal(s->srtp_decrypted, 11);
    srtcp_opened(s, &st);
    assert_int_equal(st.v[TS_RTCP_SRTCP_AUTH_FAILED], 0);
    media_free(m);
}

/* The SDP's key is not the one the packets were protected with. */
static void test_wrong_key(void **state)
{
    (void)state;
    struct ts_stats st = { 0 };
    static struct seen seen;
    struct sdes_key ka = key_of(1), other = key_of(9);
    struct media *m = two_ends(&st, &seen, &other, 0, NULL, 0);
    static uint8_t plain[30][160];
    send_stream(m, &ka, 0, 100, 30, plain);
    const struct media_stream *s = stream_from_a(m);
    assert_int_equal(s->packets, 31); /* the headers still count */
    assert_int_equal(s->lost, 0);
    assert_int_equal(s->srtp_decrypted, 0);
    assert_int_equal(s->srtp_auth_fail, 31);
    assert_int_equal(seen.n, 0);        /* no audio */
    assert_int_equal(s->dtmf_events, 0); /* no event read from ciphertext */
    assert_int_equal(st.v[TS_RTP_SRTP_AUTH_FAILED], 31);
    assert_int_equal(st.v[TS_RTCP_SRTCP_AUTH_FAILED], 1);
    media_free(m);
}

/* PCMU packet i (sequence 1000 + i) of SSRC 0x5EED0001 from A:4000 to
 * B:5000, protected with tx (NULL: sent as it is, a 10-byte tag of zeros
 * appended, as a sender whose keys the SDP does not carry); damaged: one
 * bit of the tag flipped. */
static void send_one(struct media *m, srtp_t tx, uint32_t i, bool damaged)
{
    uint8_t pkt[256] = { 0 };
    uint16_t seq = (uint16_t)(1000 + i);
    uint32_t ts = 160u * i;
    const uint8_t hdr[12] = { 0x80, 0, (uint8_t)(seq >> 8), (uint8_t)seq, (uint8_t)(ts >> 24),
                              (uint8_t)(ts >> 16), (uint8_t)(ts >> 8), (uint8_t)ts,
                              0x5E, 0xED, 0x00, 0x01 };
    memcpy(pkt, hdr, 12);
    for (size_t j = 0; j < 160; j++)
        pkt[12 + j] = (uint8_t)(i * 31 + j);
    int len = 12 + 160;
    if (tx)
        assert_int_equal(srtp_protect(tx, pkt, &len), srtp_err_status_ok);
    else
        len += 10;
    if (damaged)
        pkt[len - 1] ^= 1;
    struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + 20 * MS * i);
    assert_true(media_udp(m, &pm, bv_make(pkt, (size_t)len), 0));
}

/* Packets of a stream tried before it gives up, and after p packets. */
static uint64_t tried_of(uint64_t p)
{
    return p <= TS_SRTP_GIVE_UP ? p : TS_SRTP_GIVE_UP + (p - TS_SRTP_GIVE_UP) / TS_SRTP_RETRY_EVERY;
}

/* HMACs for t packets tried with one key that never matches: the first
 * TS_SRTP_ROC_FIRST_PACKETS and the retries after TS_SRTP_GIVE_UP try
 * every rollover guess, the others one. */
static uint64_t calls_of(uint64_t t)
{
    uint64_t g = t < TS_SRTP_ROC_FIRST_PACKETS ? t : TS_SRTP_ROC_FIRST_PACKETS;
    uint64_t one = (t < TS_SRTP_GIVE_UP ? t : TS_SRTP_GIVE_UP) - g;
    return (t - one) * (TS_SRTP_ROC_GUESS + 1) + one;
}

/* Keys that never match: the stream gives up after TS_SRTP_GIVE_UP
 * packets and retries one in TS_SRTP_RETRY_EVERY; the HMACs are
 * those of the packets tried, whatever the stream's length. */
static void test_gives_up(void **state)
{
    (void)state;
    const uint32_t lens[] = { TS_SRTP_GIVE_UP - 1, TS_SRTP_GIVE_UP, TS_SRTP_GIVE_UP + 1,
                              TS_SRTP_GIVE_UP + 3 * TS_SRTP_RETRY_EVERY + 10, 20000 };
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const uint32_t p = lens[k];
        struct ts_stats st = { 0 };
        static struct seen seen;
        struct sdes_key ka = key_of(1), other = key_of(9);
        struct media *m = two_ends(&st, &seen, &other, 0, NULL, 0);
        srtp_t tx = sender(&ka, 0x5EED0001, 0);
        uint64_t hmacs0 = srtpauth_checks();
        for (uint32_t i = 0; i < p; i++)
            send_one(m, tx, i, false);
        uint64_t hmacs = srtpauth_checks() - hmacs0;
        srtp_dealloc(tx);
        const struct media_stream *s = stream_from_a(m);
        const uint64_t tried = tried_of(p);
        print_message("%u packets: %llu tried, %llu HMACs\n", p,
                      (unsigned long long)s->srtp_auth_fail, (unsigned long long)hmacs);
        assert_int_equal(s->packets, p);
        assert_int_equal(s->srtp_decrypted, 0);
        assert_int_equal(s->srtp_auth_fail, tried);
        assert_int_equal(s->srtp_not_tried, p - tried);
        assert_int_equal(hmacs, calls_of(tried));
        assert_int_equal(st.v[TS_RTP_SRTP_AUTH_FAILED], tried);
        assert_int_equal(st.v[TS_RTP_SRTP_NOT_TRIED], p - tried);
        assert_int_equal(seen.n, 0);
        media_free(m);
    }
}

/* The stream gave up on the SDP's wrong key; a re-INVITE's a=crypto with
 * the right one opens the very next packet and every one after. */
static void test_rekey_after_give_up(void **state)
{
    (void)state;
    struct ts_stats st = { 0 };
    static struct seen seen;
    struct sdes_key ka = key_of(1), other = key_of(9);
    struct media *m = two_ends(&st, &seen, &other, 0, NULL, 0);
    srtp_t tx = sender(&ka, 0x5EED0001, 0);
    const uint32_t before = 100, after = 50;
    for (uint32_t i = 0; i < before; i++)
        send_one(m, tx, i, false);
    expect(m, &A, 4000, &ka); /* the re-INVITE */
    for (uint32_t i = before; i < before + after; i++)
        send_one(m, tx, i, false);
    srtp_dealloc(tx);
    const struct media_stream *s = stream_from_a(m);
    assert_int_equal(s->srtp_auth_fail, TS_SRTP_GIVE_UP);
    assert_int_equal(s->srtp_not_tried, before - TS_SRTP_GIVE_UP);
    assert_int_equal(s->srtp_decrypted, after);
    assert_int_equal(seen.n, after);
    media_free(m);
}

/* The SDP's key is right but the sender starts with another one (its tags
 * do not match): after giving up, the retry that meets the SDP's key opens,
 * and from then on every packet is tried and opened; also when the stream
 * began three rollovers before the capture (the retry guesses them). */
static void test_retry_finds_key(void **state)
{
    (void)state;
    for (uint32_t roc = 0; roc <= 3; roc += 3) {
        struct ts_stats st = { 0 };
        static struct seen seen;
        struct sdes_key ka = key_of(1);
        struct media *m = two_ends(&st, &seen, &ka, 0, NULL, 0);
        srtp_t tx = sender(&ka, 0x5EED0001, roc);
        const uint32_t wrong = 100, total = 700;
        for (uint32_t i = 0; i < total; i++)
            send_one(m, i < wrong ? NULL : tx, i, false);
        srtp_dealloc(tx);
        /* the first retry: the packet TS_SRTP_RETRY_EVERY after giving up */
        const uint32_t retry = TS_SRTP_GIVE_UP + TS_SRTP_RETRY_EVERY - 1;
        assert_true(retry >= wrong && retry < total);
        const struct media_stream *s = stream_from_a(m);
        assert_int_equal(s->srtp_auth_fail, TS_SRTP_GIVE_UP);
        assert_int_equal(s->srtp_not_tried, retry - TS_SRTP_GIVE_UP);
        assert_int_equal(s->srtp_decrypted, total - retry);
        assert_int_equal(st.v[TS_RTP_SRTP_DECRYPTED], total - retry);
        media_free(m);
    }
}

/* A good stream with a burst of damaged packets one short of the limit,
 * then another after a good packet: every packet is tried. */
static void test_burst_below_limit(void **state)
{
    (void)state;
    struct ts_stats st = { 0 };
    struct sdes_key ka = key_of(1);
    struct media *m = two_ends(&st, NULL, &ka, 0, NULL, 0);
    srtp_t tx = sender(&ka, 0x5EED0001, 0);
    const uint32_t total = 200, b1 = 10, b2 = 10 + TS_SRTP_GIVE_UP;
    for (uint32_t i = 0; i < total; i++)
        send_one(m, tx, i, (i >= b1 && i < b1 + TS_SRTP_GIVE_UP - 1) ||
                               (i >= b2 && i < b2 + TS_SRTP_GIVE_UP - 1));
    srtp_dealloc(tx);
    const struct media_stream *s = stream_from_a(m);
    assert_int_equal(s->srtp_auth_fail, 2 * (TS_SRTP_GIVE_UP - 1));
    assert_int_equal(s->srtp_not_tried, 0);
    assert_int_equal(s->srtp_decrypted, total - 2 * (TS_SRTP_GIVE_UP - 1));
    media_free(m);
}

/* SRTP without keys: header statistics as before, no payload handed on;
 * plain RTP: every payload handed on, no SRTP counts. */
static void test_no_keys_and_plain(void **state)
{
    (void)state;
    for (int srtp = 0; srtp < 2; srtp++) {
        static struct seen seen;
        struct media *m;
        if (srtp) {
            m = two_ends(NULL, &seen, NULL, 0, NULL, 0);
        } else {
            m = media_new(NULL, NULL);
            memset(&seen, 0, sizeof seen);
            media_set_payload_hook(m, on_payload, &seen);
            media_expect(m, &A, 4000, false, 5, 50, T0, NULL);
            media_expect(m, &B, 5000, false, 5, 50, T0, NULL);
        }
        static uint8_t plain[20][160];
        send_stream(m, NULL, 0, 7, 20, plain);
        const struct media_stream *s = stream_from_a(m);
        assert_int_equal(s->packets, 21);
        assert_int_equal(s->srtp_decrypted + s->srtp_auth_fail + s->srtp_not_tried, 0);
        assert_int_equal(seen.n, srtp ? 0 : 21);
        if (!srtp)
            assert_memory_equal(seen.payload[3], plain[3], 160);
        media_free(m);
    }
}

/* max_srtp streams hold state: N-1 and N fit, N+1 evicts the oldest. */
static void test_state_limit(void **state)
{
    (void)state;
    const uint32_t N = 4;
    for (uint32_t k = N - 1; k <= N + 1; k++) {
        struct ts_stats st = { 0 };
        struct media_config c;
        media_config_default(&c);
        c.max_srtp = N;
        struct media *m = media_new(&c, &st);
        struct sdes_key kb = key_of(2);
        expect(m, &B, 5000, &kb);
        for (uint32_t i = 0; i < k; i++) {
            srtp_t tx = sender(&kb, 0x100 + i, 0);
            for (int j = 0; j < 2; j++) {
                uint8_t pkt[64] = { 0x80, 0, 0, (uint8_t)j, 0, 0, 0, (uint8_t)(160 * j), 0, 0, 1,
                                    (uint8_t)i };
                feed(m, tx, false, pkt, 12 + 20, (uint16_t)(6000 + 2 * i), 5000,
                     T0 + MS * (20 * (uint64_t)j + i));
            }
            srtp_dealloc(tx);
        }
        assert_int_equal(st.v[TS_RTP_SRTP_EVICTED], k > N ? 1 : 0);
        assert_int_equal(st.v[TS_RTP_SRTP_DECRYPTED], 2 * k);
        assert_int_equal(st.v[TS_RTP_SRTP_AUTH_FAILED], 0);
        media_free(m);
    }
}

int main(void)
{
    if (srtp_init() != srtp_err_status_ok)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens),
        cmocka_unit_test(test_srtcp_a_rtcp),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_rekey_after_give_up),
        cmocka_unit_test(test_retry_finds_key),
        cmocka_unit_test(test_burst_below_limit),
        cmocka_unit_test(test_no_keys_and_plain),
        cmocka_unit_test(test_state_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
