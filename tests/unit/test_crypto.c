/* Unit tests of crypto/: the key log parser and its bounded table (N-1, N,
 * N+1), the file read again as it grows; the TLS 1.2 PRF against the
 * published SHA-256 vector; HKDF-Expand-Label and the record layer against
 * RFC 8448 section 3 (simple 1-RTT handshake); CBC+HMAC (TLS 1.0 chained
 * IVs, TLS 1.2 explicit IVs, encrypt-then-MAC), GCM, CCM and ChaCha20
 * records sealed here with OpenSSL's EVP and opened by tlsrec; a flipped
 * bit is an authentication failure, never plaintext. The decryptor
 * (tlsdec) holding both directions' records until the key log has their
 * keys hands them on in the order they came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "../../common/limits.h"
#include "../../common/stats.h"
#include "../../crypto/keylog.h"
#include "../../crypto/tlsdec.h"
#include "../../crypto/tlskdf.h"
#include "../../crypto/tlskeys.h"
#include "../../crypto/tlsrec.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v = bv_hexval((unsigned char)*s);
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
    uint8_t w[256];
    size_t wl = unhex(want, w, sizeof w);
    assert_int_equal(n, wl);
    assert_memory_equal(got, w, wl);
}

#define R32 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define S48 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_keylog_lines(void **state)
{
    (void)state;
    struct keylog_line l;
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32 " " S48), &l), KEYLOG_OK);
    assert_int_equal(l.label, KEYLOG_CLIENT_RANDOM);
    assert_int_equal(l.secret_len, 48);
    assert_int_equal(l.random[0], 0x01);
    assert_int_equal(keylog_parse_line(bv_cstr("SERVER_TRAFFIC_SECRET_0\t" R32 "  " R32 "\r"), &l),
                     KEYLOG_OK);
    assert_int_equal(l.label, KEYLOG_SERVER_AP);
    assert_int_equal(l.secret_len, 32);
    assert_int_equal(keylog_parse_line(bv_cstr("# comment"), &l), KEYLOG_SKIP);
    assert_int_equal(keylog_parse_line(bv_cstr("   "), &l), KEYLOG_SKIP);
    assert_int_equal(keylog_parse_line(bv_cstr("EXPORTER_SECRET " R32 " " R32), &l), KEYLOG_SKIP);
    /* bad: unknown label, short random, odd or non-hex secret, 47-byte
     * master secret, a fourth field, a missing field */
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOMX " R32 " " S48), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM 0123 " S48), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32 " " S48 "0"), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32 " zz" S48), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32 " " R32 "0011"), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32 " " S48 " x"), &l), KEYLOG_BAD);
    assert_int_equal(keylog_parse_line(bv_cstr("CLIENT_RANDOM " R32), &l), KEYLOG_BAD);
}

static void test_keylog_feed_and_file(void **state)
{
    (void)state;
    struct keylog *k = keylog_new();
    assert_non_null(k);
    const char *text = "CLIENT_RANDOM " R32 " " S48 "\nbroken line\nCLIENT_HANDSHAKE_TRAFFIC_SECRET " R32 " " R32 "\n";
    /* split anywhere: the same result */
    for (size_t i = 0; text[i]; i += 7)
        keylog_feed(k, bv_make(text + i, strlen(text + i) < 7 ? strlen(text + i) : 7));
    struct keylog_counts c;
    keylog_counts(k, &c);
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.bad, 1);
    assert_int_equal(c.clients, 1);
    uint8_t rnd[32], sec[64];
    size_t len;
    unhex(R32, rnd, sizeof rnd);
    assert_true(keylog_find(k, rnd, KEYLOG_CLIENT_RANDOM, sec, &len));
    assert_int_equal(len, 48);
    assert_hex(sec, len, S48);
    assert_true(keylog_find(k, rnd, KEYLOG_CLIENT_HS, sec, &len));
    assert_false(keylog_find(k, rnd, KEYLOG_SERVER_HS, sec, &len));
    rnd[0] ^= 1;
    assert_false(keylog_find(k, rnd, KEYLOG_CLIENT_RANDOM, sec, &len));
    keylog_free(k);

    /* a file that grows, half a line at a time, then is replaced */
    char path[] = "/tmp/ts_keylog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    k = keylog_new();
    assert_int_equal(keylog_open(k, path), 0);
    assert_int_equal(keylog_refresh(k), 0);
    const char *l1 = "CLIENT_RANDOM " R32 " " S48 "\n";
    assert_int_equal(write(fd, l1, 20), 20);
    assert_int_equal(keylog_refresh(k), 0);
    assert_int_equal(write(fd, l1 + 20, strlen(l1) - 20), (ssize_t)(strlen(l1) - 20));
    assert_int_equal(keylog_refresh(k), 1);
    assert_int_equal(keylog_refresh(k), 0);
    close(fd);
    unlink(path);
    assert_int_equal(keylog_refresh(k), 0); /* gone: nothing, no error */
    keylog_free(k);
    k = keylog_new();
    assert_int_equal(keylog_open(k, "/nonexistent/keylog"), -1);
    assert_int_equal(keylog_open(k, "/tmp"), -1);
    keylog_free(k);
}

/* The table holds TS_TLS_KEYLOG_MAX clients: N-1 and N all kept, N+1
 * forgets the oldest. */
static void test_keylog_bounded(void **state)
{
    (void)state;
    struct keylog *k = keylog_new();
    struct keylog_line l = { .label = KEYLOG_CLIENT_RANDOM, .secret_len = 48 };
    struct keylog_counts c;
    uint8_t sec[64];
    size_t len;
    for (uint32_t i = 0; i <= TS_TLS_KEYLOG_MAX; i++) {
        memcpy(l.random, &i, sizeof i);
        keylog_add(k, &l);
        keylog_counts(k, &c);
        if (i == TS_TLS_KEYLOG_MAX - 2)
            assert_int_equal(c.clients, TS_TLS_KEYLOG_MAX - 1);
        if (i == TS_TLS_KEYLOG_MAX - 1) {
            assert_int_equal(c.clients, TS_TLS_KEYLOG_MAX);
            assert_int_equal(c.evicted, 0);
        }
    }
    keylog_counts(k, &c);
    assert_int_equal(c.clients, TS_TLS_KEYLOG_MAX);
    assert_int_equal(c.evicted, 1);
    uint32_t first = 0, second = 1;
    memset(l.random, 0, sizeof l.random);
    memcpy(l.random, &first, 4);
    assert_false(keylog_find(k, l.random, KEYLOG_CLIENT_RANDOM, sec, &len));
    memcpy(l.random, &second, 4);
    assert_true(keylog_find(k, l.random, KEYLOG_CLIENT_RANDOM, sec, &len));
    keylog_free(k);
}

/* The TLS 1.2 PRF (SHA-256) test vector published for the IETF TLS WG. */
static void test_prf_vector(void **state)
{
    (void)state;
    uint8_t secret[16], seed[16], out[100];
    unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35", secret, sizeof secret);
    unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c", seed, sizeof seed);
    assert_true(tlskdf_prf(TLSKDF_SHA256, secret, 16, "test label", seed, 16, NULL, 0, out, 100));
    assert_hex(out, 100,
               "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a"
               "6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab"
               "4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01"
               "87 34 7b 66");
    /* the seed split in two gives the same bytes (label + randoms) */
    uint8_t out2[100];
    assert_true(tlskdf_prf(TLSKDF_SHA256, secret, 16, "test label", seed, 5, seed + 5, 11, out2, 100));
    assert_memory_equal(out, out2, 100);
}

/* RFC 8448 section 3: early secret, handshake traffic keys, and the
 * client's Finished record opened with them. */
static void test_rfc8448(void **state)
{
    (void)state;
    uint8_t zeros[32] = { 0 }, out[64], secret[48];
    assert_true(tlskdf_extract(TLSKDF_SHA256, NULL, 0, zeros, 32, out));
    assert_hex(out, 32, "33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a");
    uint8_t salt[32];
    unhex("43 de 77 e0 c7 77 13 85 9a 94 4d b9 db 25 90 b5 31 90 a6 5b 3e e2 e4 f1 2d d7 a0 bb 7c e2 54 b4", salt, 32);
    assert_true(tlskdf_extract(TLSKDF_SHA256, salt, 32, zeros, 32, out));
    assert_hex(out, 32, "18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47 80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19");

    unhex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38", secret, 32);
    assert_true(tlskdf_expand_label(TLSKDF_SHA256, secret, 32, "key", NULL, 0, out, 16));
    assert_hex(out, 16, "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc");
    assert_true(tlskdf_expand_label(TLSKDF_SHA256, secret, 32, "iv", NULL, 0, out, 12));
    assert_hex(out, 12, "5d 31 3e b2 67 12 76 ee 13 00 0b 30");

    unhex("b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21", secret, 32);
    struct tlsrec r = { 0 };
    assert_true(tlsrec_init13(&r, tlsrec_suite(0x1301), secret, 32));
    assert_hex(r.key, 16, "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01");
    assert_hex(r.iv, 12, "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f");
    uint8_t rec[64], plain[64];
    size_t rl = unhex("17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc 44"
                      "d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46", rec, sizeof rec);
    assert_int_equal(rl, 58);
    size_t pl = 0;
    uint8_t type = 0;
    assert_int_equal(tlsrec_open(&r, rec, rec + 5, rl - 5, plain, &pl, &type), TLSREC_OK);
    assert_int_equal(type, 22);
    assert_hex(plain, pl, "14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce 61");
    /* the same record again is sequence number 1: it fails to authenticate */
    assert_int_equal(tlsrec_open(&r, rec, rec + 5, rl - 5, plain, &pl, &type), TLSREC_AUTH);
    tlsrec_cleanup(&r);
    /* a flipped bit at sequence 0 */
    assert_true(tlsrec_init13(&r, tlsrec_suite(0x1301), secret, 32));
    rec[30] ^= 0x40;
    assert_int_equal(tlsrec_open(&r, rec, rec + 5, rl - 5, plain, &pl, &type), TLSREC_AUTH);
    tlsrec_cleanup(&r);
}

/* ---- records sealed here with EVP, opened by tlsrec ---- */

static size_t hmac_len(int mac) { return mac == TLSREC_SHA1 ? 20 : mac == TLSREC_SHA256 ? 32 : 48; }

static void seal_hmac(int mac, const uint8_t *key, const uint8_t *a, size_t al, const uint8_t *b,
                      size_t bl, uint8_t *out)
{
    const char *md = mac == TLSREC_SHA1 ? "SHA1" : mac == TLSREC_SHA256 ? "SHA256" : "SHA384";
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(m);
    OSSL_PARAM p[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
                        OSSL_PARAM_construct_end() };
    size_t n;
    assert_true(EVP_MAC_init(c, key, hmac_len(mac), p) && EVP_MAC_update(c, a, al) &&
                EVP_MAC_update(c, b, bl) && EVP_MAC_final(c, out, &n, 64));
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
}

/* A CBC record of version ver: returns its length (header included). */
static size_t seal_cbc(const struct tlsrec_suite *s, uint16_t ver, bool etm, const uint8_t *key,
                       uint8_t *iv, const uint8_t *mac_key, uint64_t seq, const uint8_t *msg,
                       size_t ml, uint8_t *rec)
{
    size_t mlen = hmac_len(s->mac);
    uint8_t buf[1024], mh[13];
    for (int i = 0; i < 8; i++)
        mh[i] = (uint8_t)(seq >> (56 - 8 * i));
    mh[8] = 23;
    mh[9] = (uint8_t)(ver >> 8);
    mh[10] = (uint8_t)ver;
    memcpy(buf, msg, ml);
    size_t n = ml;
    if (!etm) {
        mh[11] = (uint8_t)(ml >> 8);
        mh[12] = (uint8_t)ml;
        seal_hmac(s->mac, mac_key, mh, 13, msg, ml, buf + n);
        n += mlen;
    }
    uint8_t pad = (uint8_t)(15 - n % 16);
    for (int i = 0; i <= pad; i++)
        buf[n++] = pad;
    size_t off = 5;
    uint8_t rec_iv[16];
    memcpy(rec_iv, iv, 16);
    if (ver >= 0x0302) {
        for (int i = 0; i < 16; i++)
            rec_iv[i] = (uint8_t)(0xa0 + i + seq);
        memcpy(rec + off, rec_iv, 16);
        off += 16;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int o1 = 0, o2 = 0;
    assert_true(EVP_EncryptInit_ex(c, s->key_len == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc(), NULL,
                                   key, rec_iv));
    EVP_CIPHER_CTX_set_padding(c, 0);
    assert_true(EVP_EncryptUpdate(c, rec + off, &o1, buf, (int)n) && EVP_EncryptFinal_ex(c, rec + off + o1, &o2));
    EVP_CIPHER_CTX_free(c);
    off += n;
    if (ver < 0x0302)
        memcpy(iv, rec + off - 16, 16); /* chained */
    if (etm) {
        size_t cl = off - 5;
        mh[11] = (uint8_t)(cl >> 8);
        mh[12] = (uint8_t)cl;
        seal_hmac(s->mac, mac_key, mh, 13, rec + 5, cl, rec + off);
        off += mlen;
    }
    rec[0] = 23;
    rec[1] = (uint8_t)(ver >> 8);
    rec[2] = (uint8_t)ver;
    rec[3] = (uint8_t)((off - 5) >> 8);
    rec[4] = (uint8_t)(off - 5);
    return off;
}

static void test_cbc_records(void **state)
{
    (void)state;
    static const struct { uint16_t suite, ver; bool etm; } cases[] = {
        { 0x002f, 0x0301, false }, /* TLS 1.0: implicit, chained IV */
        { 0x0035, 0x0302, false }, /* TLS 1.1: explicit IV */
        { 0x003c, 0x0303, false }, { 0xc028, 0x0303, false }, { 0xc014, 0x0303, true },
        { 0x0035, 0x0301, true },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct tlsrec_suite *s = tlsrec_suite(cases[k].suite);
        assert_non_null(s);
        uint8_t key[32], iv[16], siv[16], mk[48], rec[1200], out[1200];
        for (int i = 0; i < 48; i++) {
            if (i < 32)
                key[i] = (uint8_t)(i * 7 + k);
            if (i < 16)
                iv[i] = siv[i] = (uint8_t)(0x30 + i);
            mk[i] = (uint8_t)(i * 3 + 1);
        }
        struct tlsrec r = { 0 };
        assert_true(tlsrec_init(&r, s, cases[k].ver, cases[k].etm, key, iv, mk));
        for (uint64_t seq = 0; seq < 3; seq++) {
            char msg[600];
            int ml = snprintf(msg, sizeof msg, "INVITE sip:%llu@example.com SIP/2.0\r\n\r\n",
                              (unsigned long long)seq);
            size_t rl = seal_cbc(s, cases[k].ver, cases[k].etm, key, siv, mk, seq, (uint8_t *)msg,
                                 (size_t)ml + seq * 100, rec);
            size_t pl = 0;
            uint8_t type;
            assert_int_equal(tlsrec_open(&r, rec, rec + 5, rl - 5, out, &pl, &type), TLSREC_OK);
            assert_int_equal(pl, (size_t)ml + seq * 100);
            assert_memory_equal(out, msg, (size_t)ml);
        }
        /* tampering: one bit of the last record, at the next sequence number */
        size_t rl = seal_cbc(s, cases[k].ver, cases[k].etm, key, siv, mk, 3, (const uint8_t *)"BYE", 3, rec);
        rec[rl - 1] ^= 1;
        size_t pl = 0;
        uint8_t type;
        assert_int_equal(tlsrec_open(&r, rec, rec + 5, rl - 5, out, &pl, &type), TLSREC_AUTH);
        tlsrec_cleanup(&r);
    }
}

/* TLS 1.2 AEAD records: GCM and CCM with the explicit nonce, ChaCha20 with
 * the sequence number XORed into the IV (RFC 7905). */
static void test_aead_records(void **state)
{
    (void)state;
    static const uint16_t ids[] = { 0xc02f, 0xc030, 0xc0ac, 0xc0ae, 0xcca8, 0x009d };
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        const struct tlsrec_suite *s = tlsrec_suite(ids[k]);
        assert_non_null(s);
        uint8_t key[32], iv[12];
        for (int i = 0; i < 32; i++)
            key[i] = (uint8_t)(0x11 * i + k);
        for (int i = 0; i < 12; i++)
            iv[i] = (uint8_t)(0x55 + i);
        struct tlsrec r = { 0 };
        assert_true(tlsrec_init(&r, s, 0x0303, false, key, iv, NULL));
        for (uint64_t seq = 0; seq < 3; seq++) {
            const char *msg = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
            size_t ml = strlen(msg);
            uint8_t nonce[12], aad[13], rec[256], out[256];
            bool chacha = s->cipher == TLSREC_CHACHA;
            size_t off = 5;
            memcpy(nonce, iv, 12);
            if (chacha) {
                for (int i = 0; i < 8; i++)
                    nonce[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
            } else {
                for (int i = 0; i < 8; i++)
                    nonce[4 + i] = (uint8_t)(0x70 + i + seq);
                memcpy(rec + off, nonce + 4, 8);
                off += 8;
            }
            for (int i = 0; i < 8; i++)
                aad[i] = (uint8_t)(seq >> (56 - 8 * i));
            aad[8] = 23;
            aad[9] = 3;
            aad[10] = 3;
            aad[11] = 0;
            aad[12] = (uint8_t)ml;
            EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
            const EVP_CIPHER *ci = chacha ? EVP_chacha20_poly1305()
                                 : s->cipher == TLSREC_AES_CCM ? (s->key_len == 32 ? EVP_aes_256_ccm() : EVP_aes_128_ccm())
                                 : (s->key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm());
            int o = 0;
            assert_true(EVP_EncryptInit_ex(c, ci, NULL, NULL, NULL));
            assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL));
            if (s->cipher == TLSREC_AES_CCM) {
                assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, s->tag_len, NULL));
                assert_true(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce));
                assert_true(EVP_EncryptUpdate(c, NULL, &o, NULL, (int)ml));
            } else {
                assert_true(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce));
            }
            assert_true(EVP_EncryptUpdate(c, NULL, &o, aad, 13));
            assert_true(EVP_EncryptUpdate(c, rec + off, &o, (const uint8_t *)msg, (int)ml));
            assert_true(EVP_EncryptFinal_ex(c, rec + off + o, &o));
            off += ml;
            assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, s->tag_len, rec + off));
            off += s->tag_len;
            EVP_CIPHER_CTX_free(c);
            rec[0] = 23;
            rec[1] = 3;
            rec[2] = 3;
            rec[3] = 0;
            rec[4] = (uint8_t)(off - 5);
            if (seq == 2)
                rec[off - 1] ^= 0x80; /* tampered tag */
            size_t pl = 0;
            uint8_t type;
            enum tlsrec_result res = tlsrec_open(&r, rec, rec + 5, off - 5, out, &pl, &type);
            if (seq == 2) {
                assert_int_equal(res, TLSREC_AUTH);
            } else {
                assert_int_equal(res, TLSREC_OK);
                assert_int_equal(pl, ml);
                assert_memory_equal(out, msg, ml);
            }
        }
        tlsrec_cleanup(&r);
    }
    assert_null(tlsrec_suite(0x000a)); /* 3DES: not decrypted */
}

/* ---- the decryptor: records held until the key log has their keys ---- */

struct held_run {
    char log[256];
    char when[256]; /* each message's ms after 1 s of capture time, its sender's port */
};

static void on_plain(void *ctx, int dir, const struct pkt_meta *m, struct bv plain)
{
    struct held_run *r = ctx;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "%s%d:%.*s", n ? " " : "", dir, (int)plain.len,
             (const char *)plain.p);
    n = strlen(r->when);
    snprintf(r->when + n, sizeof r->when - n, "%s%llu/%u", n ? " " : "",
             (unsigned long long)(m->ts_ns / 1000000 - 1000), m->sport);
}

/* The meta of a segment of direction dir: client 10.0.0.1:40000, server
 * 10.0.0.2:5061. */
static void meta_dir(struct pkt_meta *m, int dir)
{
    m->src.family = m->dst.family = 4;
    m->src.a[3] = (uint8_t)(dir ? 2 : 1);
    m->dst.a[3] = (uint8_t)(dir ? 1 : 2);
    m->sport = dir ? 5061 : 40000;
    m->dport = dir ? 40000 : 5061;
}

/* A TLS 1.2 AES-128-GCM record (RFC 5288): explicit nonce = seq. */
static size_t seal_gcm(const uint8_t key[16], const uint8_t salt[4], uint64_t seq, uint8_t type,
                       const uint8_t *msg, size_t ml, uint8_t *body)
{
    uint8_t nonce[12], aad[13];
    memcpy(nonce, salt, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = aad[i] = (uint8_t)(seq >> (56 - 8 * i));
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11] = (uint8_t)(ml >> 8);
    aad[12] = (uint8_t)ml;
    memcpy(body, nonce + 4, 8);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int o = 0;
    assert_true(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce));
    assert_true(EVP_EncryptUpdate(c, NULL, &o, aad, 13));
    assert_true(EVP_EncryptUpdate(c, body + 8, &o, msg, (int)ml));
    assert_true(EVP_EncryptFinal_ex(c, body + 8 + ml, &o));
    assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, body + 8 + ml));
    EVP_CIPHER_CTX_free(c);
    return 8 + ml + 16;
}

/* A live sensor reads the key log as it grows: the records of both
 * directions wait for it, then come out in the order they were sent (a
 * request, its response, the next request...), not one direction first
 * (found on a Python ssl UAS behind Kamailio, where the live sensor made
 * the answered call a timeout: its 200 came after its BYE). */
static void test_tlsdec_held_order(void **state)
{
    (void)state;
    uint8_t cr[32], sr[32], ms[48], kb[40];
    for (int i = 0; i < 32; i++) {
        cr[i] = (uint8_t)(0xc0 + i);
        sr[i] = (uint8_t)(0x50 + i);
    }
    for (int i = 0; i < 48; i++)
        ms[i] = (uint8_t)(0x33 * i + 1);
    /* key block: the client's and server's keys, then their 4-byte salts
     * (RFC 5246 6.3, MAC keys empty for AEAD), by OpenSSL's own TLS1-PRF */
    uint8_t seed[13 + 64];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32);
    memcpy(seed + 45, cr, 32);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM prm[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, ms, 48),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
        OSSL_PARAM_construct_end(),
    };
    assert_int_equal(EVP_KDF_derive(kc, kb, sizeof kb, prm), 1);
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);

    struct ts_stats st = { { 0 } };
    struct tlskeys *keys = tlskeys_new();
    struct tlsdec *d = tlsdec_new(keys, &st);
    assert_non_null(d);
    struct held_run run = { "", "" };
    struct pkt_meta m = { .ts_ns = 1000000000ull };
    meta_dir(&m, 0);
    /* hellos: TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, no extensions */
    uint8_t ch[4 + 2 + 32 + 1 + 4 + 2 + 2] = { 1, 0, 0, 43, 3, 3 };
    memcpy(ch + 6, cr, 32);
    memcpy(ch + 38, (const uint8_t[]){ 0, 0, 2, 0xc0, 0x2f, 1, 0, 0, 0 }, 9);
    uint8_t sh[4 + 2 + 32 + 1 + 2 + 1 + 2] = { 2, 0, 0, 40, 3, 3 };
    memcpy(sh + 6, sr, 32);
    memcpy(sh + 38, (const uint8_t[]){ 0, 0xc0, 0x2f, 0, 0, 0 }, 6);
    tlsdec_handshake(d, 0, &m, bv_make(ch, sizeof ch));
    tlsdec_handshake(d, 1, &m, bv_make(sh, sizeof sh));
    static const uint8_t ccs = 1;
    uint8_t fin[16] = { 20, 0, 0, 12 };
    uint8_t body[128];
    uint64_t seq[2] = { 0, 0 };
    /* each side: ChangeCipherSpec, Finished; then the calls' messages */
    struct { int dir; uint8_t type; const char *text; } feed[] = {
        { 0, 20, NULL }, { 0, 22, NULL }, { 1, 20, NULL }, { 1, 22, NULL },
        { 0, 23, "INVITE1" }, { 1, 23, "200-1" }, { 0, 23, "BYE1" }, { 1, 23, "200-2" },
    };
    for (size_t k = 0; k < sizeof feed / sizeof feed[0]; k++) {
        int dir = feed[k].dir;
        m.ts_ns += 1000000;
        meta_dir(&m, dir);
        if (feed[k].type == 20) {
            tlsdec_record(d, dir, &m, 20, 0x0303, bv_make(&ccs, 1), on_plain, &run);
            continue;
        }
        const uint8_t *msg = feed[k].text ? (const uint8_t *)feed[k].text : fin;
        size_t ml = feed[k].text ? strlen(feed[k].text) : sizeof fin;
        size_t n = seal_gcm(kb + 16 * dir, kb + 32 + 4 * dir, seq[dir]++, feed[k].type, msg, ml, body);
        tlsdec_record(d, dir, &m, feed[k].type, 0x0303, bv_make(body, n), on_plain, &run);
    }
    assert_string_equal(run.log, ""); /* no keys yet: everything waits */
    char line[200] = "CLIENT_RANDOM ";
    for (int i = 0; i < 32; i++)
        snprintf(line + strlen(line), 3, "%02x", cr[i]);
    strcat(line, " ");
    for (int i = 0; i < 48; i++)
        snprintf(line + strlen(line), 3, "%02x", ms[i]);
    strcat(line, "\n");
    tlskeys_feed_keylog(keys, bv_cstr(line));
    m.ts_ns += 1000000000ull;
    meta_dir(&m, 0);
    size_t n = seal_gcm(kb, kb + 32, seq[0]++, 23, (const uint8_t *)"INVITE2", 7, body);
    tlsdec_record(d, 0, &m, 23, 0x0303, bv_make(body, n), on_plain, &run);
    assert_string_equal(run.log, "0:INVITE1 1:200-1 0:BYE1 1:200-2 0:INVITE2");
    /* the held messages keep their own packets' times and senders, not
     * those of the record that released them (1008 ms, the client's) */
    assert_string_equal(run.when, "5/40000 6/5061 7/40000 8/5061 1008/40000");
    m.ts_ns += 1000000;
    meta_dir(&m, 1);
    n = seal_gcm(kb + 16, kb + 36, seq[1]++, 23, (const uint8_t *)"100-3", 5, body);
    tlsdec_record(d, 1, &m, 23, 0x0303, bv_make(body, n), on_plain, &run);
    assert_string_equal(run.log, "0:INVITE1 1:200-1 0:BYE1 1:200-2 0:INVITE2 1:100-3");
    assert_string_equal(run.when, "5/40000 6/5061 7/40000 8/5061 1008/40000 1009/5061");
    assert_int_equal(tlsdec_status(d), TLSDEC_DECRYPTING);
    assert_int_equal(st.v[TS_TLS_DEC_RECORDS], 8); /* 2 Finished, 6 messages */
    assert_int_equal(st.v[TS_TLS_DEC_AUTH_FAILED], 0);
    tlsdec_free(d);
    tlskeys_free(keys);
    assert_int_equal(st.v[TS_TLS_DEC_CONNS], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keylog_lines),
        cmocka_unit_test(test_keylog_feed_and_file),
        cmocka_unit_test(test_keylog_bounded),
        cmocka_unit_test(test_prf_vector),
        cmocka_unit_test(test_rfc8448),
        cmocka_unit_test(test_cbc_records),
        cmocka_unit_test(test_aead_records),
        cmocka_unit_test(test_tlsdec_held_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
