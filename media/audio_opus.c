/* Opus through libopus (RFC 6716; RTP payload RFC 7587: one Opus packet
 * per RTP packet, clock 48000). Decoded mono at the output rate: libopus
 * resamples itself and folds stereo streams down. */
#include "audio_codec.h"

#include <opus/opus.h>

static void *opus_open(uint32_t rate)
{
    int err = 0;
    OpusDecoder *d = opus_decoder_create((opus_int32)rate, 1, &err);
    return err == OPUS_OK ? d : NULL;
}

static void opus_close(void *st)
{
    if (st)
        opus_decoder_destroy(st);
}

static size_t opus_count(struct bv p, uint32_t rate)
{
    if (p.len == 0 || p.len > 0x7fffffff)
        return 0;
    int n = opus_packet_get_nb_samples(p.p, (opus_int32)p.len, (opus_int32)rate);
    return n > 0 ? (size_t)n : 0;
}

static size_t opus_dec(void *st, struct bv p, int16_t *out, size_t cap)
{
    if (p.len == 0 || p.len > 0x7fffffff || cap > 0x7fffffff)
        return 0;
    int n = opus_decode(st, p.p, (opus_int32)p.len, out, (int)cap, 0);
    return n > 0 ? (size_t)n : 0;
}

const struct audio_codec_ops audio_ops_opus = { opus_open, opus_close, opus_count, opus_dec };
