/* libFuzzer target: the audio decode path (media/audio.c and the codec
 * borders): codec payloads (G.711, G.722, G.729 frame lengths and SID,
 * Opus TOC and frames, L16), comfort noise levels, telephone-event and
 * other payload types, on any timeline (timestamp jumps and wraps,
 * reordering, duplicates, late arrivals). Input: [u8 codec][u8 rate; bit 7:
 * 101 carries DTMF events rendered as tones] then
 * records [u8 ctl][u8 dt ms][u16 len][payload]; ctl bits 0-1 pick the
 * payload type (the codec's, CN 13, telephone-event 101, another), bit 2
 * repeats the last timestamp, bits 3-4 scale the step, bit 5 skips a
 * sequence number, bits 6-7 = 3 jump the timestamp by 2^31. Every packet
 * placed must lie inside the track, and rendering stays bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../media/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RENDER_MAX_S 3 /* keeps one input fast */
#define WINDOW 4000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum audio_codec codecs[] = { AUDIO_PCMU, AUDIO_PCMA, AUDIO_G722,
                                               AUDIO_G729, AUDIO_OPUS, AUDIO_L16 };
    static const uint8_t pts[] = { 0, 8, 9, 18, 111, 96 };
    static const uint32_t rates[] = { 8000, 16000, 48000 };
    if (size < 2)
        return 0;
    size_t ci = data[0] % (sizeof codecs / sizeof codecs[0]);
    uint32_t native = 0;
    const char *name = ci == 5 ? "L16" : audio_codec_name(codecs[ci]);
    uint32_t clock = ci == 4 ? 48000 : ci == 5 ? rates[(data[1] >> 4) % 3] : 8000;
    if (audio_codec_of(name, pts[ci], clock, &native) != codecs[ci])
        abort();
    uint32_t rate = rates[data[1] % 3];
    if (rate < native)
        rate = native;
    const uint64_t origin = 1700000000ull * 1000000000ull;
    struct audio_track *t = audio_track_new(codecs[ci], clock, pts[ci], rate, origin);
    if (!t)
        return 0;
    if (data[1] & 0x80) /* telephone-events as DTMF tones (RFC 4733) */
        audio_track_set_events(t, 101);
    struct bv in = bv_make(data + 2, size - 2);
    uint64_t at = origin;
    uint32_t ts = 0xfffff000u;
    uint16_t seq = 65500;
    size_t added = 0;
    for (;;) {
        uint8_t ctl, dt;
        uint16_t len;
        struct bv p;
        if (!bv_u8(&in, &ctl) || !bv_u8(&in, &dt) || !bv_be16(&in, &len) || !bv_take(&in, len, &p))
            break;
        static const uint8_t other[] = { 0, 13, 101, 34 };
        struct audio_rtp r = { .arrival_ns = at, .ts = ts, .seq = seq,
                               .pt = (ctl & 3) == 0 ? pts[ci] : other[ctl & 3],
                               .marker = (ctl & 0x20) != 0 };
        if (audio_track_add(t, &r, p))
            added++;
        at += (uint64_t)dt * 1000000u;
        if (!(ctl & 4))
            ts += (clock / 50u) * (1u + ((ctl >> 3) & 3u));
        seq = (uint16_t)(seq + 1 + ((ctl >> 5) & 1));
        if ((ctl >> 6) == 3)
            ts += 0x80000000u;
    }
    uint64_t end = audio_track_finish(t);
    for (size_t i = 0; i < added; i++) {
        int64_t pos = audio_track_pos(t, i);
        if (pos < -1 || (pos >= 0 && (uint64_t)pos > end))
            abort();
    }
    uint64_t stop = end < (uint64_t)RENDER_MAX_S * rate ? end : (uint64_t)RENDER_MAX_S * rate;
    static int16_t buf[WINDOW];
    for (uint64_t w = 0; w < stop; w += WINDOW) {
        memset(buf, 0, sizeof buf);
        audio_track_render(t, w, buf, WINDOW);
    }
    const struct audio_stats *st = audio_track_stats(t);
    if (st->decoded + st->bad + st->late + st->duplicates > st->packets)
        abort();
    audio_track_free(t);
    return 0;
}
