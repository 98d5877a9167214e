/* Unit tests for the audio decoder (media/audio.c): G.711 expansion
 * against the values of ITU-T G.711 tables 1a/2a (16-bit scale: mu-law
 * +-32124 / 0, A-law +-32256 / +-8), the timeline (loss leaves silence at
 * the lost packet's place, late packets dropped by the de-jitter buffer,
 * duplicates, timestamp wrap and resync), comfort noise level, rendering
 * in windows equal to one pass, and the WAV header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../media/audio.h"

#define MS 1000000ull
#define T0 (1700000000ull * 1000000000ull)

static int16_t dec1(enum audio_codec c, uint8_t byte)
{
    struct audio_track *t = audio_track_new(c, 8000, c == AUDIO_PCMU ? 0 : 8, 8000, T0);
    assert_non_null(t);
    uint8_t p[160];
    memset(p, byte, sizeof p);
    struct audio_rtp r = { .arrival_ns = T0, .ts = 0, .seq = 1, .pt = c == AUDIO_PCMU ? 0 : 8 };
    assert_true(audio_track_add(t, &r, bv_make(p, sizeof p)));
    assert_int_equal(audio_track_finish(t), 160);
    int16_t out[160] = { 0 };
    audio_track_render(t, 0, out, 160);
    audio_track_free(t);
    return out[80];
}

static void test_g711_values(void **state)
{
    (void)state;
    assert_int_equal(dec1(AUDIO_PCMU, 0x00), -32124);
    assert_int_equal(dec1(AUDIO_PCMU, 0x80), 32124);
    assert_int_equal(dec1(AUDIO_PCMU, 0xff), 0);
    assert_int_equal(dec1(AUDIO_PCMU, 0x7f), 0);
    assert_int_equal(dec1(AUDIO_PCMU, 0xfe), 8);
    assert_int_equal(dec1(AUDIO_PCMA, 0xd5), 8);
    assert_int_equal(dec1(AUDIO_PCMA, 0x55), -8);
    assert_int_equal(dec1(AUDIO_PCMA, 0xaa), 32256);
    assert_int_equal(dec1(AUDIO_PCMA, 0x2a), -32256);
}

static void test_codec_of(void **state)
{
    (void)state;
    uint32_t r;
    assert_int_equal(audio_codec_of("PCMU", 0, 8000, &r), AUDIO_PCMU);
    assert_int_equal(r, 8000);
    assert_int_equal(audio_codec_of(NULL, 8, 8000, &r), AUDIO_PCMA);
    assert_int_equal(audio_codec_of("g722", 9, 8000, &r), AUDIO_G722);
    assert_int_equal(r, 16000);
    assert_int_equal(audio_codec_of("opus", 111, 48000, &r), AUDIO_OPUS);
    assert_int_equal(r, 48000);
    assert_int_equal(audio_codec_of("L16", 96, 16000, &r), AUDIO_L16);
    assert_int_equal(r, 16000);
    assert_int_equal(audio_codec_of("L16", 96, 44100, &r), AUDIO_NONE);
    assert_int_equal(audio_codec_of("telephone-event", 101, 8000, &r), AUDIO_NONE);
    assert_int_equal(audio_codec_of(NULL, 18, 8000, &r), AUDIO_G729);
}

/* n PCMU packets of 20 ms, each a constant byte; skip/late/dup lists. */
static struct audio_track *stream(size_t n, size_t lost, size_t late, size_t dup, uint32_t ts0,
                                  uint64_t *end)
{
    struct audio_track *t = audio_track_new(AUDIO_PCMU, 8000, 0, 8000, T0);
    assert_non_null(t);
    uint8_t p[160];
    memset(p, 0x80, sizeof p); /* +32124 */
    for (size_t i = 0; i < n; i++) {
        if (i == lost)
            continue;
        struct audio_rtp r = { .arrival_ns = T0 + 500 * MS + i * 20 * MS,
                               .ts = ts0 + (uint32_t)(i * 160), .seq = (uint16_t)(65530 + i),
                               .pt = 0 };
        if (i == late)
            r.arrival_ns += 300 * MS;
        audio_track_add(t, &r, bv_make(p, sizeof p));
        if (i == dup)
            audio_track_add(t, &r, bv_make(p, sizeof p));
    }
    *end = audio_track_finish(t);
    return t;
}

static void test_timeline_loss(void **state)
{
    (void)state;
    uint64_t end;
    /* timestamps wrap at packet 3 */
    struct audio_track *t = stream(50, 10, 20, 30, 0xffffffffu - 400, &end);
    assert_int_equal(end, 4000 + 50 * 160);
    const struct audio_stats *st = audio_track_stats(t);
    assert_int_equal(st->late, 1);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->lost, 1);
    assert_int_equal(st->resyncs, 0);
    int16_t *out = calloc(end, sizeof *out);
    assert_non_null(out);
    /* in uneven windows: the same as one pass */
    for (uint64_t at = 0; at < end;) {
        size_t n = (size_t)(end - at < 333 ? end - at : 333);
        audio_track_render(t, at, out + at, n);
        at += n;
    }
    for (uint64_t i = 0; i < end; i++) {
        uint64_t pk = i < 4000 ? 99 : (i - 4000) / 160;
        int16_t want = (i < 4000 || pk == 10 || pk == 20) ? 0 : 32124;
        if (out[i] != want)
            fail_msg("sample %llu: %d, want %d", (unsigned long long)i, out[i], want);
    }
    audio_track_free(t);
    free(out);
}

static void test_resync_and_cn(void **state)
{
    (void)state;
    struct audio_track *t = audio_track_new(AUDIO_PCMU, 8000, 0, 16000, T0);
    assert_non_null(t);
    uint8_t p[160];
    memset(p, 0xff, sizeof p);
    struct audio_rtp r = { .arrival_ns = T0, .ts = 1000, .seq = 1, .pt = 0 };
    audio_track_add(t, &r, bv_make(p, sizeof p));
    /* comfort noise at -40 dBov for 1 s */
    uint8_t cn = 40;
    r = (struct audio_rtp){ .arrival_ns = T0 + 20 * MS, .ts = 1160, .seq = 2, .pt = 13 };
    audio_track_add(t, &r, bv_make(&cn, 1));
    /* the timestamp jumps by an hour one second later: resync */
    r = (struct audio_rtp){ .arrival_ns = T0 + 1020 * MS, .ts = 1160 + 8000u * 3600u, .seq = 3,
                            .pt = 0 };
    audio_track_add(t, &r, bv_make(p, sizeof p));
    uint64_t end = audio_track_finish(t);
    assert_int_equal(audio_track_stats(t)->resyncs, 1);
    assert_int_equal(audio_track_pos(t, 2), 16320);
    assert_int_equal(end, 16320 + 320);
    int16_t *out = calloc(end, sizeof *out);
    audio_track_render(t, 0, out, end);
    double e = 0;
    for (size_t i = 320; i < 16320; i++)
        e += (double)out[i] * out[i];
    double dbov = 20 * log10(sqrt(e / 16000) / 32767.0);
    assert_true(dbov > -41 && dbov < -39);
    for (size_t i = 16320; i < end; i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(audio_track_stats(t)->cn, 1);
    free(out);
    audio_track_free(t);
}

/* The sender's clock 5 % slow against the capture's: packets fall behind
 * their places by 1 ms each; once five in a row are past the buffer the
 * timeline starts again, so only those few are lost, not the rest. */
static void test_drift(void **state)
{
    (void)state;
    struct audio_track *t = audio_track_new(AUDIO_PCMU, 8000, 0, 8000, T0);
    assert_non_null(t);
    uint8_t p[160];
    memset(p, 0x80, sizeof p);
    for (size_t i = 0; i < 500; i++) {
        struct audio_rtp r = { .arrival_ns = T0 + i * 21 * MS, .ts = (uint32_t)(i * 160),
                               .seq = (uint16_t)i, .pt = 0 };
        audio_track_add(t, &r, bv_make(p, sizeof p));
    }
    uint64_t end = audio_track_finish(t);
    const struct audio_stats *st = audio_track_stats(t);
    assert_true(st->resyncs >= 3 && st->resyncs <= 5);
    assert_true(st->late <= 4 * (st->resyncs + 1)); /* the last run may not end in one */
    /* a late packet sits near its arrival time (within the buffer), not 1 s off */
    int64_t last = audio_track_pos(t, 495);
    assert_true(last >= (int64_t)(495 * 21 * 8) - 1000 && last <= (int64_t)(495 * 21 * 8));
    int16_t *out = calloc(end, sizeof *out);
    assert_non_null(out);
    audio_track_render(t, 0, out, (size_t)end);
    assert_true(st->decoded >= 480);
    free(out);
    audio_track_free(t);
}

static void test_g729_and_bad(void **state)
{
    (void)state;
    struct audio_track *t = audio_track_new(AUDIO_G729, 8000, 18, 8000, T0);
    assert_non_null(t);
    uint8_t p[22] = { 0 };
    struct audio_rtp r = { .arrival_ns = T0, .ts = 0, .seq = 1, .pt = 18 };
    audio_track_add(t, &r, bv_make(p, 22)); /* 2 frames + SID */
    r = (struct audio_rtp){ .arrival_ns = T0 + 30 * MS, .ts = 240, .seq = 2, .pt = 18 };
    audio_track_add(t, &r, bv_make(p, 7)); /* no G.729 length */
    r = (struct audio_rtp){ .arrival_ns = T0 + 60 * MS, .ts = 480, .seq = 3, .pt = 101 };
    audio_track_add(t, &r, bv_make(p, 4)); /* telephone-event */
    assert_int_equal(audio_track_finish(t), 480); /* the event still ends the track */
    int16_t out[600];
    memset(out, 0, sizeof out);
    audio_track_render(t, 0, out, 600);
    assert_int_equal(audio_track_stats(t)->decoded, 1);
    assert_int_equal(audio_track_stats(t)->bad, 1);
    assert_int_equal(audio_track_stats(t)->events, 1);
    audio_track_free(t);
}

/* Goertzel power of f Hz in x[0..n) at 8 kHz. */
static double goertzel(const int16_t *x, size_t n, double f)
{
    double w = 2.0 * M_PI * f / 8000.0, c = 2.0 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/* RFC 4733 DTMF: digit 5 (event 5) at -10 dBm0 for 160 ms between silent
 * PCMU packets, sent as a phone does (a packet each 20 ms with the
 * duration so far, the end three times) with jitter: the tone is the
 * ITU-T Q.23 pair 770 + 1336 Hz from the event's timestamp for exactly its
 * duration, at its level; the audio around it is not moved or dropped; an
 * event that is not DTMF stays silent. */
static void test_dtmf(void **state)
{
    (void)state;
    struct audio_track *t = audio_track_new(AUDIO_PCMU, 8000, 0, 8000, T0);
    assert_non_null(t);
    audio_track_set_events(t, 101);
    uint8_t sil[160];
    memset(sil, 0xff, sizeof sil);
    uint16_t seq = 100;
    for (uint32_t i = 0; i < 10; i++) { /* 0..200 ms */
        struct audio_rtp r = { .arrival_ns = T0 + i * 20 * MS + (i % 3) * MS, .ts = 160 * i,
                               .seq = seq++, .pt = 0 };
        assert_true(audio_track_add(t, &r, bv_make(sil, sizeof sil)));
    }
    for (uint32_t d = 160; d <= 1280; d += 160) { /* event 5 from ts 1600, 160 ms */
        for (int rep = 0; rep < (d == 1280 ? 3 : 1); rep++) {
            uint8_t ev[4] = { 5, (uint8_t)((d == 1280 ? 0x80 : 0) | 10), (uint8_t)(d >> 8),
                              (uint8_t)d };
            struct audio_rtp r = { .arrival_ns = T0 + 200 * MS + d / 8 * MS + (d % 3) * MS +
                                                 (uint64_t)rep * 20 * MS,
                                   .ts = 1600, .seq = seq++, .pt = 101, .marker = d == 160 };
            assert_true(audio_track_add(t, &r, bv_make(ev, sizeof ev)));
        }
    }
    for (uint32_t i = 0; i < 10; i++) { /* 360..560 ms */
        struct audio_rtp r = { .arrival_ns = T0 + 360 * MS + i * 20 * MS + (i % 2) * MS,
                               .ts = 2880 + 160 * i, .seq = seq++, .pt = 0 };
        assert_true(audio_track_add(t, &r, bv_make(sil, sizeof sil)));
    }
    /* event 16 (flash, not DTMF: RFC 4733 3.2) at 540 ms: silence */
    uint8_t flash[4] = { 16, 0x80 | 10, 0, 160 };
    struct audio_rtp fr = { .arrival_ns = T0 + 560 * MS, .ts = 4320, .seq = seq++, .pt = 101 };
    assert_true(audio_track_add(t, &fr, bv_make(flash, sizeof flash)));
    uint64_t end = audio_track_finish(t);
    assert_int_equal(end, 4480);
    int16_t out[4800] = { 0 };
    for (uint64_t at = 0; at < 4800; at += 333) /* windows that cut the tone */
        audio_track_render(t, at, out + at, at + 333 <= 4800 ? 333 : 4800 - at);
    const struct audio_stats *st = audio_track_stats(t);
    assert_int_equal(st->late, 0);
    assert_int_equal(st->resyncs, 0);
    assert_int_equal(st->tones, 1);
    for (size_t i = 0; i < 1600; i++)
        assert_int_equal(out[i], 0);
    for (size_t i = 2880; i < 4800; i++)
        assert_int_equal(out[i], 0);
    assert_true(out[1601] != 0 && out[2879] != 0);
    const int16_t *tone = out + 1600;
    double e = 0;
    for (size_t i = 0; i < 1280; i++)
        e += (double)tone[i] * tone[i];
    /* -10 dBm0 over both tones: the power of a sine of peak
     * 32767 * 10^(-13.17/20) = 7178, rms 5076 */
    double rms_db = 20.0 * log10(sqrt(e / 1280) / (7178.0 / sqrt(2.0)));
    assert_true(fabs(rms_db) < 0.2);
    static const double rows[] = { 697, 770, 852, 941 }, cols[] = { 1209, 1336, 1477, 1633 };
    double p770 = goertzel(tone, 1280, 770), p1336 = goertzel(tone, 1280, 1336);
    for (size_t i = 0; i < 4; i++) {
        if (rows[i] != 770)
            assert_true(goertzel(tone, 1280, rows[i]) * 100 < p770);
        if (cols[i] != 1336)
            assert_true(goertzel(tone, 1280, cols[i]) * 100 < p1336);
    }
    assert_true(p770 > 0.5 * p1336 && p1336 > 0.5 * p770);
    audio_track_free(t);
}

static void test_wav_header(void **state)
{
    (void)state;
    uint8_t h[44];
    audio_wav_header(h, 16000, 2, 16000);
    assert_memory_equal(h, "RIFF", 4);
    assert_int_equal(h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24, 36 + 64000);
    assert_memory_equal(h + 8, "WAVEfmt ", 8);
    assert_int_equal(h[22], 2);
    assert_int_equal(h[24] | h[25] << 8, 16000);
    assert_int_equal(h[32], 4);
    assert_memory_equal(h + 36, "data", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_g711_values),  cmocka_unit_test(test_codec_of),
        cmocka_unit_test(test_timeline_loss), cmocka_unit_test(test_resync_and_cn),
        cmocka_unit_test(test_g729_and_bad), cmocka_unit_test(test_wav_header),
        cmocka_unit_test(test_drift),        cmocka_unit_test(test_dtmf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
