/* G.729 / G.729A through bcg729 (ITU-T G.729, Annex B): a payload is zero
 * or more 10-byte frames of 10 ms, optionally followed by one 2-byte SID
 * frame (RFC 3551 4.5.6). Other lengths are refused. */
#include "audio_codec.h"

#include <bcg729/decoder.h>

#define G729_FRAME 10
#define G729_SID 2
#define G729_SAMPLES 80

static void *g729_open(uint32_t rate)
{
    (void)rate;
    return initBcg729DecoderChannel();
}

static void g729_close(void *st)
{
    if (st)
        closeBcg729DecoderChannel(st);
}

static size_t g729_count(struct bv p, uint32_t rate)
{
    size_t frames = p.len / G729_FRAME, rest = p.len % G729_FRAME;
    (void)rate;
    if (rest != 0 && rest != G729_SID)
        return 0;
    return (frames + (rest ? 1 : 0)) * G729_SAMPLES;
}

static size_t g729_dec(void *st, struct bv p, int16_t *out, size_t cap)
{
    size_t n = 0;
    struct bv fr;
    if (g729_count(p, 8000) == 0)
        return 0;
    while (n + G729_SAMPLES <= cap && bv_take(&p, G729_FRAME, &fr)) {
        bcg729Decoder(st, fr.p, G729_FRAME, 0, 0, 0, out + n);
        n += G729_SAMPLES;
    }
    if (p.len == G729_SID && n + G729_SAMPLES <= cap) {
        bcg729Decoder(st, p.p, G729_SID, 0, 1, 0, out + n);
        n += G729_SAMPLES;
    }
    return n;
}

const struct audio_codec_ops audio_ops_g729 = { g729_open, g729_close, g729_count, g729_dec };
