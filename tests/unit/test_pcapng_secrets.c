/* Unit tests for the pcapng Decryption Secrets Block reader
 * (capture/pcapng_secrets.c): key logs found in sections of both byte
 * orders, other secrets types, malformed and truncated blocks, the
 * per-file byte limit at N-1, N and N+1, and the file wrapper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "../../capture/pcapng_secrets.h"
#include "../../common/limits.h"

struct buf {
    uint8_t *p;
    size_t len, cap;
    int be;
};

static void put32(struct buf *b, uint32_t v)
{
    assert_true(b->len + 4 <= b->cap);
    for (int i = 0; i < 4; i++)
        b->p[b->len + (size_t)i] = (uint8_t)(b->be ? v >> (24 - 8 * i) : v >> (8 * i));
    b->len += 4;
}

static void shb(struct buf *b, int be)
{
    b->be = be;
    put32(b, 0x0A0D0D0A);
    put32(b, 28);
    put32(b, 0x1A2B3C4D);
    put32(b, 0x00000001); /* version 1.0 */
    put32(b, 0xffffffff);
    put32(b, 0xffffffff); /* section length unknown */
    put32(b, 28);
}

/* A Decryption Secrets Block of type t with n bytes (copied from s, or left
 * as they are when s is NULL); slen is what the block claims. */
static void dsb(struct buf *b, uint32_t t, const char *s, size_t n, uint32_t slen)
{
    size_t pad = (4 - n % 4) % 4;
    uint32_t len = (uint32_t)(20 + n + pad);
    put32(b, 0x0000000A);
    put32(b, len);
    put32(b, t);
    put32(b, slen);
    assert_true(b->len + n + pad <= b->cap);
    if (s)
        memcpy(b->p + b->len, s, n);
    memset(b->p + b->len + n, 0, pad);
    b->len += n + pad;
    put32(b, len);
}

static void other(struct buf *b, uint32_t type)
{
    put32(b, type);
    put32(b, 16);
    put32(b, 0);
    put32(b, 16);
}

struct seen {
    size_t n;
    char text[4][128];
    uint64_t bytes;
};

static void got(void *ctx, struct bv k)
{
    struct seen *s = ctx;
    if (s->n < 4 && k.len < sizeof s->text[0]) {
        memcpy(s->text[s->n], k.p, k.len);
        s->text[s->n][k.len] = 0;
    }
    s->n++;
    s->bytes += k.len;
}

#define TLSK 0x544c534bu

static void test_both_orders(void **st)
{
    (void)st;
    uint8_t mem[1024];
    struct buf b = { mem, 0, sizeof mem, 0 };
    const char *k1 = "CLIENT_RANDOM 01 02\n";
    const char *k2 = "SERVER_TRAFFIC_SECRET_0 aa bb";
    shb(&b, 0);
    other(&b, 1); /* an interface description */
    dsb(&b, TLSK, k1, strlen(k1), (uint32_t)strlen(k1));
    dsb(&b, 0x57474b4c, "wg", 2, 2); /* WireGuard: not ours */
    dsb(&b, TLSK, "x", 1, 99);      /* claims more than its block holds */
    other(&b, 6);
    shb(&b, 1); /* a second section, big-endian */
    dsb(&b, TLSK, k2, strlen(k2), (uint32_t)strlen(k2));
    struct seen s = { 0 };
    struct pcapng_secrets_counts c = { 0 };
    pcapng_secrets_scan(bv_make(mem, b.len), got, &s, &c);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], k1);
    assert_string_equal(s.text[1], k2);
    assert_int_equal(c.blocks, 2);
    assert_int_equal(c.unsupported, 1);
    assert_int_equal(c.malformed, 1);
    assert_int_equal(c.truncated, 0);

    /* cut inside the last block: truncated, the earlier ones kept */
    memset(&s, 0, sizeof s);
    memset(&c, 0, sizeof c);
    pcapng_secrets_scan(bv_make(mem, b.len - 4), got, &s, &c);
    assert_int_equal(c.blocks, 1);
    assert_int_equal(c.truncated, 1);
    /* a block length that is no multiple of 4 stops the walk */
    memset(&c, 0, sizeof c);
    mem[28 + 4] = 17;
    pcapng_secrets_scan(bv_make(mem, b.len), got, &s, &c);
    assert_int_equal(c.blocks, 0);
    assert_int_equal(c.malformed, 1);
    /* a classic pcap file is no error: nothing found */
    memset(&c, 0, sizeof c);
    static const uint8_t pcap[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    pcapng_secrets_scan(bv_make(pcap, sizeof pcap), got, &s, &c);
    pcapng_secrets_scan(bv_make(pcap, 3), got, &s, &c);
    assert_int_equal(c.blocks + c.malformed + c.truncated, 0);
}

static void test_trailer_and_magic(void **st)
{
    (void)st;
    uint8_t mem[256];
    struct buf b = { mem, 0, sizeof mem, 0 };
    shb(&b, 0);
    dsb(&b, TLSK, "abc", 3, 3);
    struct pcapng_secrets_counts c = { 0 };
    struct seen s = { 0 };
    mem[b.len - 4] ^= 4; /* trailing length differs */
    pcapng_secrets_scan(bv_make(mem, b.len), got, &s, &c);
    assert_int_equal(c.malformed, 1);
    assert_int_equal(s.n, 0);
    memset(&c, 0, sizeof c);
    mem[b.len - 4] ^= 4;
    mem[8] = 0x55; /* byte-order magic */
    pcapng_secrets_scan(bv_make(mem, b.len), got, &s, &c);
    assert_int_equal(c.malformed, 1);
    assert_int_equal(s.n, 0);
}

/* TS_PCAPNG_SECRETS_BYTES_MAX bytes of key log per file: N-1 then 1 more
 * (N) are taken, the next byte is not (N+1). */
static void test_limit(void **st)
{
    (void)st;
    const size_t lim = TS_PCAPNG_SECRETS_BYTES_MAX;
    struct buf b = { calloc(1, lim + 256), 0, lim + 256, 0 };
    assert_non_null(b.p);
    shb(&b, 0);
    dsb(&b, TLSK, NULL, lim - 1, (uint32_t)(lim - 1));
    dsb(&b, TLSK, "a", 1, 1);
    dsb(&b, TLSK, "b", 1, 1);
    struct seen s = { 0 };
    struct pcapng_secrets_counts c = { 0 };
    pcapng_secrets_scan(bv_make(b.p, b.len), got, &s, &c);
    assert_int_equal(c.blocks, 2);
    assert_int_equal(s.bytes, lim);
    assert_int_equal(c.over_limit, 1);
    /* one block of N+1 bytes at once */
    b.len = 0;
    shb(&b, 0);
    dsb(&b, TLSK, NULL, lim + 1, (uint32_t)(lim + 1));
    memset(&c, 0, sizeof c);
    pcapng_secrets_scan(bv_make(b.p, b.len), got, &s, &c);
    assert_int_equal(c.blocks, 0);
    assert_int_equal(c.over_limit, 1);
    free(b.p);
}

static void test_file(void **st)
{
    (void)st;
    char path[] = "/tmp/ts-secrets-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t mem[256];
    struct buf b = { mem, 0, sizeof mem, 0 };
    shb(&b, 1);
    dsb(&b, TLSK, "CLIENT_RANDOM", 13, 13);
    assert_int_equal(write(fd, mem, b.len), (ssize_t)b.len);
    close(fd);
    struct seen s = { 0 };
    struct pcapng_secrets_counts c = { 0 };
    assert_int_equal(pcapng_secrets_file(path, got, &s, &c), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "CLIENT_RANDOM");
    unlink(path);
    assert_int_equal(pcapng_secrets_file(path, got, &s, &c), -1);   /* gone */
    assert_int_equal(pcapng_secrets_file("/tmp", got, &s, &c), -1); /* a directory */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_orders),
        cmocka_unit_test(test_trailer_and_magic),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
