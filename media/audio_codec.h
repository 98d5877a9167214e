/* The codec border of the audio decoder: one table of functions per codec,
 * each in its own file so that every codec library's header stays in one
 * place (spandsp: audio_g722.c, bcg729: audio_g729.c, libopus:
 * audio_opus.c; G.711 and L16 are a few lines of our own: audio_pcm.c). */
#ifndef TS_AUDIO_CODEC_H
#define TS_AUDIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"

struct audio_codec_ops {
    /* Decoder state for output at rate (mono); NULL on failure. Stateless
     * codecs return a non-NULL token that close ignores. */
    void *(*open)(uint32_t rate);
    void (*close)(void *st);
    /* Samples at rate that payload decodes to; 0: not decodable. */
    size_t (*count)(struct bv payload, uint32_t rate);
    /* Decode into out (cap samples); samples written, 0 when refused. */
    size_t (*decode)(void *st, struct bv payload, int16_t *out, size_t cap);
};

extern const struct audio_codec_ops audio_ops_pcmu, audio_ops_pcma, audio_ops_l16;
extern const struct audio_codec_ops audio_ops_g722, audio_ops_g729, audio_ops_opus;

#endif
