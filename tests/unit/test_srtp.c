/* Unit tests of SDES (a=crypto) parsing and SRTP/SRTCP opening: packets
 * protected here by libsrtp2 itself (the sender's side) open to exactly
 * the plaintext payload for every suite, with an MKI as Teams sends it and
 * with streams that began up to TS_SRTP_ROC_GUESS rollovers before the
 * capture, at low and high sequence numbers; a wrong key or a flipped bit is
 * counted as an authentication failure and returns nothing. The tag checks
 * made before libsrtp2 (srtpauth.c) agree with libsrtp2's own protection on
 * random keys, lengths, rollover counters and flipped bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <srtp2/srtp.h>
#include "../helpers/srtp_policy.h"

#include "../../common/limits.h"
#include "../../crypto/sdes.h"
#include "../../crypto/srtpauth.h"
#include "../../crypto/srtpdec.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void to_b64(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = 0;
}

static void test_sdes_parse(void **state)
{
    (void)state;
    uint8_t key[46];
    char b64[80], line[200];
    for (int i = 0; i < 46; i++)
        key[i] = (uint8_t)(i * 5 + 1);
    struct sdes_key k;
    to_b64(key, 30, b64);
    snprintf(line, sizeof line, "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|1:1", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_OK);
    assert_int_equal(k.tag, 1);
    assert_int_equal(k.suite, SDES_AES_CM_128_HMAC_SHA1_80);
    assert_int_equal(k.key_len, 30);
    assert_memory_equal(k.key, key, 30);
    assert_int_equal(k.lifetime, 1ull << 31);
    assert_int_equal(k.mki_len, 1);
    assert_int_equal(k.mki[0], 1);
    to_b64(key, 46, b64);
    snprintf(line, sizeof line, "2 AES_256_CM_HMAC_SHA1_32 inline:%s", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_OK);
    assert_int_equal(k.key_len, 46);
    assert_memory_equal(k.key, key, 46);
    assert_int_equal(k.mki_len, 0);
    to_b64(key, 28, b64);
    snprintf(line, sizeof line, "3 AEAD_AES_128_GCM inline:%s|1048576|258:2", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_OK);
    assert_int_equal(k.lifetime, 1048576);
    assert_int_equal(k.mki_len, 2);
    assert_int_equal(k.mki[0], 1);
    assert_int_equal(k.mki[1], 2);
    /* not ours or broken */
    assert_int_equal(sdes_parse(bv_cstr("1 F8_128_HMAC_SHA1_80 inline:AAAA"), &k), SDES_UNSUPPORTED);
    snprintf(line, sizeof line, "1 AEAD_AES_128_GCM inline:%s KDR=1", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_UNSUPPORTED);
    assert_int_equal(sdes_parse(bv_cstr("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD"), &k), SDES_MALFORMED);
    assert_int_equal(sdes_parse(bv_cstr("1 AES_CM_128_HMAC_SHA1_80"), &k), SDES_MALFORMED);
    assert_int_equal(sdes_parse(bv_cstr("x AES_CM_128_HMAC_SHA1_80 inline:AAAA"), &k), SDES_MALFORMED);
    to_b64(key, 30, b64);
    snprintf(line, sizeof line, "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^99", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_MALFORMED);
    snprintf(line, sizeof line, "1 AES_CM_128_HMAC_SHA1_80 inline:%s|1:0", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_MALFORMED);
    snprintf(line, sizeof line, "1 AES_CM_128_HMAC_SHA1_80 inline:%s|256:1", b64);
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_MALFORMED);
}

/* The sender: libsrtp2 protecting with the same key. */
static srtp_t sender(const struct sdes_key *k, uint32_t ssrc, uint32_t roc)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_policy_for(k->suite, &p);
    static uint8_t keybuf[46], mki[4];
    memcpy(keybuf, k->key, k->key_len);
    memcpy(mki, k->mki, 4);
    static srtp_master_key_t mk;
    static srtp_master_key_t *mks[1];
    mk = (srtp_master_key_t){ keybuf, mki, k->mki_len };
    mks[0] = &mk;
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = ssrc;
    p.window_size = 1024;
    if (k->mki_len) {
        p.keys = mks;
        p.num_master_keys = 1;
    } else {
        p.key = keybuf;
    }
    srtp_t s;
    assert_int_equal(srtp_create(&s, &p), srtp_err_status_ok);
    if (roc)
        assert_int_equal(srtp_set_stream_roc(s, ssrc, roc), srtp_err_status_ok);
    return s;
}

static size_t rtp_packet(uint8_t *b, uint16_t seq, uint32_t ssrc, uint8_t *payload, size_t pl)
{
    b[0] = 0x80;
    b[1] = 0;
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    uint32_t ts = (uint32_t)seq * 160;
    for (int i = 0; i < 4; i++) {
        b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    memcpy(b + 12, payload, pl);
    return 12 + pl;
}

static size_t tag_of(enum sdes_suite s)
{
    return s == SDES_AES_CM_128_HMAC_SHA1_32 || s == SDES_AES_256_CM_HMAC_SHA1_32 ? 4 : 10;
}

static void roundtrip(const char *line, uint32_t roc, uint16_t seq0)
{
    struct sdes_key k;
    assert_int_equal(sdes_parse(bv_cstr(line), &k), SDES_OK);
    const uint32_t ssrc = 0x11223344;
    srtp_t tx = sender(&k, ssrc, roc);
    struct srtpdec *rx = srtpdec_new(&k);
    struct sdes_key bad = k;
    bad.key[3] ^= 1;
    struct srtpdec *wrong = srtpdec_new(&bad);
    assert_non_null(rx);
    assert_non_null(wrong);
    for (int i = 0; i < 20; i++) {
        uint8_t pkt[400], payload[160], copy[400];
        for (int j = 0; j < 160; j++)
            payload[j] = (uint8_t)(i * 31 + j);
        size_t n = rtp_packet(pkt, (uint16_t)(seq0 + i), ssrc, payload, 160);
        int len = (int)n;
        srtp_err_status_t r = k.mki_len ? srtp_protect_mki(tx, pkt, &len, 1, 0) : srtp_protect(tx, pkt, &len);
        assert_int_equal(r, srtp_err_status_ok);
        assert_true(len > (int)n);
        memcpy(copy, pkt, (size_t)len);
        size_t out = 0;
        assert_int_equal(srtpdec_rtp(wrong, copy, (size_t)len, &out), SRTPDEC_AUTH);
        assert_memory_equal(copy, pkt, (size_t)len); /* nothing decrypted comes out */
        if (i == 7) { /* tampered: one bit of the payload */
            memcpy(copy, pkt, (size_t)len);
            copy[20] ^= 4;
            assert_int_equal(srtpdec_rtp(rx, copy, (size_t)len, &out), SRTPDEC_AUTH);
        }
        assert_int_equal(srtpdec_rtp(rx, pkt, (size_t)len, &out), SRTPDEC_OK);
        assert_int_equal(out, n);
        assert_memory_equal(pkt + 12, payload, 160);
    }
    /* SRTCP: a receiver report */
    uint8_t rtcp[64] = { 0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44 };
    int len = 8;
    srtp_err_status_t r = k.mki_len ? srtp_protect_rtcp_mki(tx, rtcp, &len, 1, 0) : srtp_protect_rtcp(tx, rtcp, &len);
    assert_int_equal(r, srtp_err_status_ok);
    size_t out = 0;
    assert_int_equal(srtpdec_rtcp(rx, rtcp, (size_t)len, &out), SRTPDEC_OK);
    assert_int_equal(out, 8);
    assert_int_equal(rtcp[1], 201);
    struct srtpdec_counts c;
    srtpdec_counts(rx, &c);
    assert_int_equal(c.rtp_ok, 20);
    assert_int_equal(c.rtcp_ok, 1);
    assert_int_equal(c.auth_failed, 1);
    srtpdec_counts(wrong, &c);
    assert_int_equal(c.rtp_ok, 0);
    assert_int_equal(c.auth_failed, 20);
    srtpdec_free(rx);
    srtpdec_free(wrong);
    srtp_dealloc(tx);
}

static void test_srtp_suites(void **state)
{
    (void)state;
    static const struct { const char *suite; size_t len; } s[] = {
        { "AES_CM_128_HMAC_SHA1_80", 30 }, { "AES_CM_128_HMAC_SHA1_32", 30 },
        { "AES_256_CM_HMAC_SHA1_80", 46 }, { "AES_256_CM_HMAC_SHA1_32", 46 },
        { "AEAD_AES_128_GCM", 28 }, { "AEAD_AES_256_GCM", 44 },
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        uint8_t key[46];
        char b64[80], line[200];
        for (int j = 0; j < 46; j++)
            key[j] = (uint8_t)(j * 11 + i);
        to_b64(key, s[i].len, b64);
        snprintf(line, sizeof line, "1 %s inline:%s", s[i].suite, b64);
        roundtrip(line, 0, 1000);
        snprintf(line, sizeof line, "1 %s inline:%s|2^31|1:1", s[i].suite, b64);
        roundtrip(line, 0, 1000);
    }
}

/* Streams that began before the capture: four rollovers in with the
 * sequence numbers wrapping during the capture, none in at a sequence
 * number above 2^15, three in at a low one, and sixteen in at a high one
 * (the sender's libsrtp2 estimates the index from both). */
static void test_srtp_roc_estimated(void **state)
{
    (void)state;
    static const struct { const char *suite; size_t len; } s[] = {
        { "AES_CM_128_HMAC_SHA1_80", 30 }, { "AES_CM_128_HMAC_SHA1_32", 30 },
        { "AES_256_CM_HMAC_SHA1_80", 46 }, { "AEAD_AES_128_GCM", 28 },
    };
    static const struct { uint32_t roc; uint16_t seq; } c[] = {
        { 4, 65530 }, { 0, 40000 }, { 3, 1000 }, { TS_SRTP_ROC_GUESS, 65000 },
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        uint8_t key[46];
        char b64[80], line[200];
        for (size_t j = 0; j < s[i].len; j++)
            key[j] = (uint8_t)(j + 100 + i);
        to_b64(key, s[i].len, b64);
        snprintf(line, sizeof line, "1 %s inline:%s", s[i].suite, b64);
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++)
            roundtrip(line, c[k].roc, c[k].seq);
    }
}

static uint32_t rnd(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*x >> 33);
}

/* srtpauth against libsrtp2 protecting: random keys of every HMAC suite,
 * payloads of 0 to 299 bytes, rollover counters 0 to TS_SRTP_ROC_GUESS and
 * any sequence number; the ROC found is the sender's, one flipped bit
 * anywhere (header, payload, tag) or a wrong guess range finds none; SRTCP
 * likewise. */
static void test_srtpauth_against_libsrtp(void **state)
{
    (void)state;
    static const struct { enum sdes_suite suite; uint8_t len; } s[] = {
        { SDES_AES_CM_128_HMAC_SHA1_80, 30 }, { SDES_AES_CM_128_HMAC_SHA1_32, 30 },
        { SDES_AES_256_CM_HMAC_SHA1_80, 46 }, { SDES_AES_256_CM_HMAC_SHA1_32, 46 },
    };
    uint64_t x = 42;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        for (int round = 0; round < 60; round++) {
            struct sdes_key k = { .tag = 1, .suite = s[i].suite, .key_len = s[i].len };
            for (size_t j = 0; j < k.key_len; j++)
                k.key[j] = (uint8_t)rnd(&x);
            const uint32_t ssrc = rnd(&x), roc = rnd(&x) % (TS_SRTP_ROC_GUESS + 1);
            srtp_t tx = sender(&k, ssrc, roc);
            struct srtpauth *a = srtpauth_new(&k);
            assert_non_null(a);
            uint8_t pkt[460], plain[460], payload[300];
            size_t pl = rnd(&x) % 300;
            for (size_t j = 0; j < pl; j++)
                payload[j] = (uint8_t)rnd(&x);
            uint16_t seq = (uint16_t)rnd(&x);
            /* CSRCs and a header extension, clear in SRTP as the 12 bytes */
            uint8_t cc = (uint8_t)(rnd(&x) % 4), xw = (uint8_t)(rnd(&x) % 3);
            bool ext = rnd(&x) % 2;
            size_t h = 12 + 4u * cc + (ext ? 4u + 4u * xw : 0);
            rtp_packet(pkt, seq, ssrc, payload, 0);
            pkt[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
            for (size_t j = 12; j < h; j++)
                pkt[j] = (uint8_t)rnd(&x);
            if (ext) {
                pkt[12 + 4u * cc + 2] = 0;
                pkt[12 + 4u * cc + 3] = xw;
            }
            memcpy(pkt + h, payload, pl);
            memcpy(plain, pkt, h + pl);
            int len = (int)(h + pl);
            assert_int_equal(srtp_protect(tx, pkt, &len), srtp_err_status_ok);
            /* libsrtp2's sender may take the ROC below at a high sequence
             * number (its index estimate): the ROC it used is what it reports */
            uint32_t used = 0, found = 0;
            assert_int_equal(srtp_get_stream_roc(tx, ssrc, &used), srtp_err_status_ok);
            assert_true(srtpauth_rtp(a, pkt, (size_t)len, 0, TS_SRTP_ROC_GUESS + 1, &found));
            assert_int_equal(found, used);
            assert_true(srtpauth_rtp(a, pkt, (size_t)len, used, 1, &found));
            if (used > 0) /* the right ROC is outside the guesses */
                assert_false(srtpauth_rtp(a, pkt, (size_t)len, 0, used, &found));
            assert_false(srtpauth_rtp(a, pkt, (size_t)len, used + 1, TS_SRTP_ROC_GUESS, &found));
            /* the payload opened is the one sent, the header untouched */
            uint8_t open[460];
            memcpy(open, pkt, (size_t)len);
            assert_true(srtpauth_cipher(a, &k));
            assert_true(srtpauth_decrypt_rtp(a, open, (size_t)len - tag_of(k.suite), used));
            assert_int_equal((size_t)len - tag_of(k.suite), h + pl);
            assert_memory_equal(open, plain, h + pl);
            /* a header that claims more than the packet holds */
            if (cc) {
                memcpy(open, pkt, (size_t)len);
                assert_false(srtpauth_decrypt_rtp(a, open, 12 + 4u * cc - 1, used));
            }
            size_t bit = rnd(&x) % ((size_t)len * 8);
            pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_false(srtpauth_rtp(a, pkt, (size_t)len, 0, TS_SRTP_ROC_GUESS + 1, &found));
            /* SRTCP: a receiver report with one report block */
            uint8_t rtcp[64] = { 0x81, 201, 0, 7 }, rtcp_plain[32];
            for (int j = 0; j < 4; j++)
                rtcp[4 + j] = (uint8_t)(ssrc >> (24 - 8 * j));
            for (int j = 8; j < 32; j++)
                rtcp[j] = (uint8_t)rnd(&x);
            memcpy(rtcp_plain, rtcp, 32);
            len = 32;
            assert_int_equal(srtp_protect_rtcp(tx, rtcp, &len), srtp_err_status_ok);
            assert_int_equal(len, 32 + 4 + 10);
            assert_true(srtpauth_rtcp(a, rtcp, (size_t)len));
            memcpy(open, rtcp, (size_t)len);
            assert_true(srtpauth_decrypt_rtcp(a, open, (size_t)len - 10));
            assert_memory_equal(open, rtcp_plain, 32);
            assert_true(open[32] & 0x80); /* libsrtp2 encrypts SRTCP */
            bit = rnd(&x) % ((size_t)len * 8);
            rtcp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_false(srtpauth_rtcp(a, rtcp, (size_t)len));
            /* too short to hold a header and a tag */
            assert_false(srtpauth_rtp(a, pkt, 12, 0, TS_SRTP_ROC_GUESS + 1, &found));
            assert_false(srtpauth_rtcp(a, rtcp, 8));
            assert_false(srtpauth_decrypt_rtcp(a, rtcp, 11));
            srtpauth_free(a);
            srtp_dealloc(tx);
        }
    }
    /* AEAD suites: the tag is the cipher's (srtpauth_open_aead_*), a key of
     * another length is refused */
    struct sdes_key g = { .tag = 1, .suite = SDES_AEAD_AES_128_GCM, .key_len = 28 };
    struct srtpauth *ga = srtpauth_new(&g);
    assert_non_null(ga);
    assert_true(srtpauth_aead(ga));
    srtpauth_free(ga);
    g.key_len = 30;
    assert_null(srtpauth_new(&g));
}

/* Reordering across a sequence number wrap opens every packet once; a
 * packet seen before, in the window or below it, is a replay; SRTCP too.
 * AES-CM (libcrypto) and AEAD (libsrtp2) answer alike. */
static void test_srtp_replay_reorder(void **state)
{
    (void)state;
    static const struct { enum sdes_suite suite; uint8_t len; } su[] = {
        { SDES_AES_CM_128_HMAC_SHA1_80, 30 }, { SDES_AES_256_CM_HMAC_SHA1_32, 46 },
        { SDES_AEAD_AES_128_GCM, 28 },
    };
    enum { N = 1200, SEQ0 = 65000 };
    static uint8_t pkts[N][200];
    static int lens[N];
    for (size_t u = 0; u < sizeof su / sizeof su[0]; u++) {
        struct sdes_key k = { .tag = 1, .suite = su[u].suite, .key_len = su[u].len };
        for (size_t j = 0; j < k.key_len; j++)
            k.key[j] = (uint8_t)(j * 7 + u);
        const uint32_t ssrc = 0xCAFE0000u + (uint32_t)u;
        srtp_t tx = sender(&k, ssrc, 2);
        uint8_t payload[160];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < 160; j++)
                payload[j] = (uint8_t)(i + j);
            lens[i] = (int)rtp_packet(pkts[i], (uint16_t)(SEQ0 + i), ssrc, payload, 160);
            assert_int_equal(srtp_protect(tx, pkts[i], &lens[i]), srtp_err_status_ok);
        }
        struct srtpdec *rx = srtpdec_new(&k);
        assert_non_null(rx);
        /* in order, but each pair around the wrap (seq 0 at 536) swapped */
        for (int i = 0; i < N; i++) {
            int at = (i >= 501 && i < 581) ? (i % 2 ? i + 1 : i - 1) : i;
            uint8_t b[200];
            memcpy(b, pkts[at], (size_t)lens[at]);
            size_t out = 0;
            assert_int_equal(srtpdec_rtp(rx, b, (size_t)lens[at], &out), SRTPDEC_OK);
            assert_int_equal(out, 172);
            assert_int_equal(b[12], (uint8_t)at);
            assert_int_equal(b[171], (uint8_t)(at + 159));
        }
        struct srtpdec_counts c;
        srtpdec_counts(rx, &c);
        assert_int_equal(c.rtp_ok, N);
        uint32_t sent_roc = 0; /* one wrap past the sender's first index's */
        assert_int_equal(srtp_get_stream_roc(tx, ssrc, &sent_roc), srtp_err_status_ok);
        assert_int_equal(c.roc, sent_roc);
        /* again: in the window, and below it */
        const int again[] = { N - 1, N - 2, N - 1000, 10, 0 };
        for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
            uint8_t b[200];
            int at = again[i];
            memcpy(b, pkts[at], (size_t)lens[at]);
            size_t out = 0;
            assert_int_equal(srtpdec_rtp(rx, b, (size_t)lens[at], &out), SRTPDEC_REPLAY);
            assert_memory_equal(b, pkts[at], (size_t)lens[at]); /* left as it came */
        }
        srtpdec_counts(rx, &c);
        assert_int_equal(c.replayed, 5);
        assert_int_equal(c.rtp_ok, N);
        /* SRTCP: two reports, the first one twice */
        uint8_t r1[64] = { 0x80, 201, 0, 1 }, r2[64];
        for (int j = 0; j < 4; j++)
            r1[4 + j] = (uint8_t)(ssrc >> (24 - 8 * j));
        memcpy(r2, r1, 8);
        int l1 = 8, l2 = 8;
        assert_int_equal(srtp_protect_rtcp(tx, r1, &l1), srtp_err_status_ok);
        assert_int_equal(srtp_protect_rtcp(tx, r2, &l2), srtp_err_status_ok);
        uint8_t b[64];
        size_t out = 0;
        memcpy(b, r1, (size_t)l1);
        assert_int_equal(srtpdec_rtcp(rx, b, (size_t)l1, &out), SRTPDEC_OK);
        assert_int_equal(out, 8);
        memcpy(b, r2, (size_t)l2);
        assert_int_equal(srtpdec_rtcp(rx, b, (size_t)l2, &out), SRTPDEC_OK);
        memcpy(b, r1, (size_t)l1);
        assert_int_equal(srtpdec_rtcp(rx, b, (size_t)l1, &out), SRTPDEC_REPLAY);
        srtpdec_counts(rx, &c);
        assert_int_equal(c.rtcp_ok, 2);
        assert_int_equal(c.replayed, 6);
        srtpdec_free(rx);
        srtp_dealloc(tx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdes_parse),
        cmocka_unit_test(test_srtp_suites),
        cmocka_unit_test(test_srtp_roc_estimated),
        cmocka_unit_test(test_srtpauth_against_libsrtp),
        cmocka_unit_test(test_srtp_replay_reorder),
    };
    if (srtp_init() != srtp_err_status_ok) /* the sender's; srtpdec initialises its own */
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
