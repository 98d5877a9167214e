/* G.722 through spandsp (ITU-T G.722 sub-band ADPCM at 64 kbit/s): each
 * payload byte is two 16 kHz samples (RFC 3551 4.5.2). spandsp is the
 * one G.722 decoder Debian ships as a library apart from libavcodec. */
#include "audio_codec.h"

#include <spandsp.h>

static void *g722_open(uint32_t rate)
{
    (void)rate;
    return g722_decode_init(NULL, 64000, 0);
}

static void g722_close(void *st)
{
    if (st)
        g722_decode_free(st);
}

static size_t g722_count(struct bv p, uint32_t rate)
{
    (void)rate;
    return p.len * 2;
}

static size_t g722_dec(void *st, struct bv p, int16_t *out, size_t cap)
{
    size_t n = p.len;
    if (n > cap / 2)
        n = cap / 2;
    if (n == 0 || n > 0x7fffffff)
        return 0;
    int r = g722_decode(st, out, p.p, (int)n);
    return r > 0 ? (size_t)r : 0;
}

const struct audio_codec_ops audio_ops_g722 = { g722_open, g722_close, g722_count, g722_dec };
