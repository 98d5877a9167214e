/* G.711 mu-law and A-law (ITU-T G.711 tables 1a/1b and 2a/2b, expanded
 * by their segment formulas) and L16 (RFC 3551 4.5.11: big-endian 16-bit
 * two's complement): one sample per byte or pair, no state. */
#include "audio_codec.h"

static int16_t ulaw(uint8_t u)
{
    u = (uint8_t)~u;
    int t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static int16_t alaw(uint8_t a)
{
    a ^= 0x55;
    int t = (a & 0x0f) << 4;
    int seg = (a & 0x70) >> 4;
    if (seg == 0)
        t += 8;
    else
        t = (t + 0x108) << (seg - 1);
    return (int16_t)((a & 0x80) ? t : -t);
}

static int token;

static void *pcm_open(uint32_t rate)
{
    (void)rate;
    return &token;
}

static void pcm_close(void *st) { (void)st; }

static size_t g711_count(struct bv p, uint32_t rate)
{
    (void)rate;
    return p.len;
}

static size_t l16_count(struct bv p, uint32_t rate)
{
    (void)rate;
    return p.len / 2;
}

/* One G.711 payload: a sample per byte through the law's expansion. */
static size_t g711_decode(struct bv p, int16_t *out, size_t cap, int16_t (*expand)(uint8_t))
{
    size_t n = 0;
    uint8_t b;
    while (n < cap && bv_u8(&p, &b))
        out[n++] = expand(b);
    return n;
}

static size_t ulaw_decode(void *st, struct bv p, int16_t *out, size_t cap)
{
    (void)st;
    return g711_decode(p, out, cap, ulaw);
}

static size_t alaw_decode(void *st, struct bv p, int16_t *out, size_t cap)
{
    (void)st;
    return g711_decode(p, out, cap, alaw);
}

static size_t l16_decode(void *st, struct bv p, int16_t *out, size_t cap)
{
    size_t n = 0;
    uint16_t v;
    (void)st;
    while (n < cap && bv_be16(&p, &v))
        out[n++] = (int16_t)v;
    return n;
}

const struct audio_codec_ops audio_ops_pcmu = { pcm_open, pcm_close, g711_count, ulaw_decode };
const struct audio_codec_ops audio_ops_pcma = { pcm_open, pcm_close, g711_count, alaw_decode };
const struct audio_codec_ops audio_ops_l16 = { pcm_open, pcm_close, l16_count, l16_decode };
