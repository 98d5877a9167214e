/* Audio decode of RTP streams to 16-bit mono PCM on one timeline: G.711
 * A-law and mu-law (ITU-T G.711), G.722 (RFC 3551 4.5.2: 16 kHz audio on
 * an 8 kHz RTP clock), G.729 with Annex B SID frames (RFC 3551 4.5.6),
 * Opus (RFC 7587), L16 (RFC 3551 4.5.11), comfort noise (RFC 3389) and
 * telephone-event (RFC 4733: DTMF events 0-15 rendered as their ITU-T
 * Q.23 tone pairs at the event's volume, other events as silence). Packets are placed by
 * RTP timestamp, anchored at arrival time, through a fixed de-jitter
 * buffer: lost and late packets leave silence where they belonged, so gaps
 * sound like gaps. One track is one stream (5-tuple + SSRC); the caller
 * mixes tracks into channels. No I/O. */
#ifndef TS_AUDIO_H
#define TS_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"

enum audio_codec {
    AUDIO_NONE = 0, /* not decodable: silence */
    AUDIO_PCMU,
    AUDIO_PCMA,
    AUDIO_G722,
    AUDIO_G729,
    AUDIO_OPUS,
    AUDIO_L16,
};

/* The codec an rtpmap encoding name (case-insensitive; NULL/"" falls back
 * to the static payload type) and clock give, and the rate it decodes at
 * (G.722: 16000 on clock 8000; Opus: 48000; L16: its clock, which must be
 * 8000, 16000 or 48000). AUDIO_NONE when none of ours. */
enum audio_codec audio_codec_of(const char *name, uint8_t pt, uint32_t clock,
                                uint32_t *native_rate);
const char *audio_codec_name(enum audio_codec c);

/* Counters of one track (a stream's packets as decoded). */
struct audio_stats {
    uint64_t packets;      /* offered */
    uint64_t decoded;      /* decoded into the timeline */
    uint64_t late;         /* dropped by the de-jitter buffer */
    uint64_t duplicates;   /* same timestamp and sequence number again */
    uint64_t lost;         /* sequence numbers never seen (between first and last) */
    uint64_t cn;           /* RFC 3389 comfort noise packets */
    uint64_t events;       /* other payload types, non-DTMF events: silence */
    uint64_t tones;        /* DTMF events rendered as tones */
    uint64_t bad;          /* the codec refused the payload */
    uint64_t dropped;      /* past TS_AUDIO_MAX_BYTES / _PKTS / _SECONDS */
    uint64_t resyncs;      /* timeline restarted (timestamp jump) */
};

struct audio_track;

/* A track for one stream: codec c (audio_codec_of) on RTP clock `clock`,
 * payload type pt carries it, cn_pt comfort noise (13; 0xff none); output
 * at out_rate (8000, 16000 or 48000, a multiple of the codec's rate).
 * origin_ns: the capture time of output sample 0. NULL when out of memory
 * or the codec cannot be opened. */
struct audio_track *audio_track_new(enum audio_codec c, uint32_t clock, uint8_t pt,
                                    uint32_t out_rate, uint64_t origin_ns);
void audio_track_free(struct audio_track *t);
/* Payload type te_pt carries RFC 4733 telephone-events (on the track's
 * clock): DTMF digits are rendered as tones. Before the first add. */
void audio_track_set_events(struct audio_track *t, uint8_t te_pt);

/* One RTP packet's fields and payload (copied), packets in arrival order.
 * Returns false only when the packet was not kept (counted). */
struct audio_rtp {
    uint64_t arrival_ns;
    uint32_t ts;
    uint16_t seq;
    uint8_t pt;
    bool marker;
};
bool audio_track_add(struct audio_track *t, const struct audio_rtp *r, struct bv payload);

/* Place every packet on the timeline (de-jitter, duplicates, resync) and
 * return the end of the track in output samples. Call once, after the
 * last add and before the first render. */
uint64_t audio_track_finish(struct audio_track *t);

/* Mix (saturating add) the track's samples [from, from + n) into out.
 * Calls must ask for consecutive, increasing windows. */
void audio_track_render(struct audio_track *t, uint64_t from, int16_t *out, size_t n);

const struct audio_stats *audio_track_stats(const struct audio_track *t);
/* Where each decoded packet landed, for tests: the output sample of
 * packet i (in arrival order) or -1 when it was dropped. */
int64_t audio_track_pos(const struct audio_track *t, size_t i);

/* A 44-byte RIFF/WAVE header, 16-bit PCM (frames: samples per channel). */
void audio_wav_header(uint8_t h[44], uint32_t rate, uint16_t channels, uint32_t frames);

#endif
