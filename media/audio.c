/* Audio decode: a stream's RTP packets placed on the output timeline and
 * decoded in order (see audio.h). Timeline (RFC 3550 5.1, 6.4.1): the
 * first packet's arrival anchors its timestamp; later packets sit at
 * anchor + timestamp distance, and one that arrives more than
 * TS_AUDIO_JB_MS after that place is dropped as a de-jitter buffer of that
 * depth would. A place off by TS_AUDIO_RESYNC_MS (timestamp reset), or off
 * by more than the buffer TS_AUDIO_RESYNC_RUN times in a row (clock
 * drift, a lasting delay change), re-anchors. Comfort noise per RFC 3389 3.1 (level in -dBov) until the next
 * packet. A DTMF event (RFC 4733 2.3: its timestamp is the event's start,
 * its packets are sent as its duration grows) is placed as if it arrived
 * when it began, and rendered as the ITU-T Q.23 pair of sines for its
 * longest duration, at the event's volume (-dBm0, split evenly between
 * the two tones; 0 dBm0 is 3.17 dB under a full-scale sine, ITU-T G.711). Memory: the kept payloads (TS_AUDIO_MAX_BYTES) and two buffers
 * of one packet's samples. */
#include "audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/grow.h"
#include "../common/limits.h"
#include "audio_codec.h"

#define NS_PER_S 1000000000ll
#define CN_PT 13

enum { P_CN = 1, P_OTHER = 2, P_EVENT = 3 };

/* ITU-T Q.23: rows and columns of the keypad, events 0-15 (RFC 4733 3.2) */
static const uint16_t dtmf_lo[16] = { 941, 697, 697, 697, 770, 770, 770, 852,
                                      852, 852, 941, 941, 697, 770, 852, 941 };
static const uint16_t dtmf_hi[16] = { 1336, 1209, 1336, 1477, 1209, 1336, 1477, 1209,
                                      1336, 1477, 1209, 1477, 1633, 1633, 1633, 1633 };

struct pkt {
    uint64_t arrival_ns;
    int64_t ext;      /* unwrapped timestamp */
    int64_t pos;      /* output sample, -1 dropped */
    uint32_t off, len; /* payload in the arena */
    uint32_t idx;     /* arrival order */
    uint32_t cn_len;  /* comfort noise: samples to fill */
    uint16_t seq;
    uint8_t kind;     /* 0 audio, P_CN, P_OTHER, P_EVENT */
    uint8_t cn_level; /* P_CN; P_EVENT: the volume */
    uint8_t event;    /* P_EVENT: 0-15 */
    uint32_t ev_len;  /* P_EVENT: the duration so far, in RTP clock units */
};

struct audio_track {
    enum audio_codec codec;
    const struct audio_codec_ops *ops;
    void *dec;
    uint32_t clock, native, out_rate, up; /* up = out_rate / native */
    uint8_t pt;
    bool has_te;
    uint8_t te_pt;
    uint64_t origin_ns;
    struct pkt *pk;
    size_t n, cap;
    uint8_t *arena;
    size_t alen, acap;
    int64_t *pos_by_idx; /* after finish: pos per arrival index */
    size_t nadd;         /* packets kept by add */
    bool finished;
    /* render state */
    size_t cur;
    int16_t *tmp;      /* one packet, decoded at native rate */
    int16_t *up_buf;   /* ... upsampled */
    int16_t *pend;     /* samples past the last window, from pend_at */
    uint64_t pend_at;
    size_t pend_used;  /* pend[pend_used..] is all zero */
    int16_t last;      /* last decoded sample (interpolation history) */
    uint64_t cn_from, cn_to;
    double cn_amp;
    uint64_t tone_from, tone_to, tone_done; /* the DTMF tone playing, rendered up to tone_done */
    double tone_amp;
    uint8_t tone_ev;
    uint32_t rng;
    struct audio_stats st;
};

static const struct {
    const char *name;
    enum audio_codec c;
    uint8_t static_pt;
} codecs[] = {
    { "PCMU", AUDIO_PCMU, 0 }, { "PCMA", AUDIO_PCMA, 8 }, { "G722", AUDIO_G722, 9 },
    { "G729", AUDIO_G729, 18 }, { "G729A", AUDIO_G729, 0xff }, { "OPUS", AUDIO_OPUS, 0xff },
    { "L16", AUDIO_L16, 0xff },
};

enum audio_codec audio_codec_of(const char *name, uint8_t pt, uint32_t clock,
                                uint32_t *native_rate)
{
    enum audio_codec c = AUDIO_NONE;
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        if (name && *name ? strcasecmp(name, codecs[i].name) == 0 : pt == codecs[i].static_pt) {
            c = codecs[i].c;
            break;
        }
    }
    if (pt == 10 || pt == 11) /* RFC 3551 static L16 at 44.1 kHz: not ours */
        c = AUDIO_NONE;
    uint32_t r = 0;
    switch (c) {
    case AUDIO_PCMU:
    case AUDIO_PCMA:
    case AUDIO_G729:
        r = 8000;
        break;
    case AUDIO_G722:
        r = 16000;
        break;
    case AUDIO_OPUS:
        r = 48000;
        break;
    case AUDIO_L16:
        r = clock;
        if (r != 8000 && r != 16000 && r != 48000)
            c = AUDIO_NONE, r = 0;
        break;
    case AUDIO_NONE:
        break;
    }
    if (native_rate)
        *native_rate = r;
    return c;
}

const char *audio_codec_name(enum audio_codec c)
{
    switch (c) {
    case AUDIO_PCMU: return "PCMU";
    case AUDIO_PCMA: return "PCMA";
    case AUDIO_G722: return "G722";
    case AUDIO_G729: return "G729";
    case AUDIO_OPUS: return "opus";
    case AUDIO_L16: return "L16";
    case AUDIO_NONE: break;
    }
    return "none";
}

static const struct audio_codec_ops *ops_of(enum audio_codec c)
{
    switch (c) {
    case AUDIO_PCMU: return &audio_ops_pcmu;
    case AUDIO_PCMA: return &audio_ops_pcma;
    case AUDIO_G722: return &audio_ops_g722;
    case AUDIO_G729: return &audio_ops_g729;
    case AUDIO_OPUS: return &audio_ops_opus;
    case AUDIO_L16: return &audio_ops_l16;
    case AUDIO_NONE: break;
    }
    return NULL;
}

struct audio_track *audio_track_new(enum audio_codec c, uint32_t clock, uint8_t pt,
                                    uint32_t out_rate, uint64_t origin_ns)
{
    uint32_t native = 0;
    const struct audio_codec_ops *ops = ops_of(c);
    if (c == AUDIO_L16)
        native = clock;
    else
        audio_codec_of(audio_codec_name(c), 0xff, clock, &native);
    if (!ops || !native || clock == 0 || out_rate < native || out_rate % native)
        return NULL;
    struct audio_track *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->codec = c;
    t->ops = ops;
    t->clock = clock;
    t->native = native;
    t->out_rate = out_rate;
    t->up = out_rate / native;
    t->pt = pt;
    t->origin_ns = origin_ns;
    t->rng = 0x2545f491u;
    t->dec = ops->open(native);
    t->tmp = malloc(TS_AUDIO_MAX_PKT_SAMPLES * sizeof *t->tmp);
    t->up_buf = malloc(TS_AUDIO_MAX_PKT_SAMPLES * sizeof *t->up_buf);
    t->pend = calloc(TS_AUDIO_MAX_PKT_SAMPLES, sizeof *t->pend);
    if (!t->dec || !t->tmp || !t->up_buf || !t->pend) {
        audio_track_free(t);
        return NULL;
    }
    return t;
}

void audio_track_free(struct audio_track *t)
{
    if (!t)
        return;
    if (t->dec)
        t->ops->close(t->dec);
    free(t->pk);
    free(t->arena);
    free(t->pos_by_idx);
    free(t->tmp);
    free(t->up_buf);
    free(t->pend);
    free(t);
}

void audio_track_set_events(struct audio_track *t, uint8_t te_pt)
{
    t->has_te = true;
    t->te_pt = te_pt;
}

bool audio_track_add(struct audio_track *t, const struct audio_rtp *r, struct bv payload)
{
    t->st.packets++;
    if (t->finished || t->n >= TS_AUDIO_MAX_PKTS || payload.len > TS_AUDIO_MAX_BYTES - t->alen) {
        t->st.dropped++;
        return false;
    }
    if (t->n == t->cap) {
        struct pkt *np = ts_grow(t->pk, &t->cap, sizeof *np, 256, TS_AUDIO_MAX_PKTS);
        if (!np) {
            t->st.dropped++;
            return false;
        }
        t->pk = np;
    }
    if (t->alen + payload.len > t->acap) {
        size_t want = t->acap ? t->acap * 2 : 16384;
        while (want < t->alen + payload.len)
            want *= 2;
        if (want > TS_AUDIO_MAX_BYTES)
            want = TS_AUDIO_MAX_BYTES;
        uint8_t *na = realloc(t->arena, want);
        if (!na) {
            t->st.dropped++;
            return false;
        }
        t->arena = na;
        t->acap = want;
    }
    struct pkt *p = &t->pk[t->n];
    memset(p, 0, sizeof *p);
    p->arrival_ns = r->arrival_ns;
    p->ext = r->ts; /* unwrapped in finish */
    p->seq = r->seq;
    p->idx = (uint32_t)t->n;
    p->off = (uint32_t)t->alen;
    p->len = (uint32_t)payload.len;
    p->kind = r->pt == t->pt ? 0 : r->pt == CN_PT ? P_CN : P_OTHER;
    uint8_t ev, flags, d0, d1;
    if (p->kind == P_OTHER && t->has_te && r->pt == t->te_pt && bv_peek_u8(payload, 0, &ev) &&
        bv_peek_u8(payload, 1, &flags) && bv_peek_u8(payload, 2, &d0) &&
        bv_peek_u8(payload, 3, &d1) && ev < 16) {
        /* RFC 4733 2.3: event, E|R|volume, duration */
        p->kind = P_EVENT;
        p->event = ev;
        p->cn_level = flags & 0x3f;
        p->ev_len = (uint32_t)d0 << 8 | d1;
    }
    if (p->kind == P_CN) {
        uint8_t lvl = 127;
        if (!bv_peek_u8(payload, 0, &lvl))
            lvl = 127;
        p->cn_level = lvl & 0x7f;
    }
    if (payload.len)
        memcpy(t->arena + t->alen, payload.p, payload.len);
    t->alen += payload.len;
    t->n++;
    return true;
}

static int by_pos(const void *a, const void *b)
{
    const struct pkt *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Output samples of packet p (audio only). */
static uint64_t pkt_samples(const struct audio_track *t, const struct pkt *p)
{
    /* a track of empty payloads has no arena: no offset on a NULL pointer */
    const uint8_t *b = p->len ? t->arena + p->off : NULL;
    size_t n = t->ops->count(bv_make(b, p->len), t->native);
    uint64_t s = (uint64_t)n * t->up;
    return s > TS_AUDIO_MAX_PKT_SAMPLES ? TS_AUDIO_MAX_PKT_SAMPLES : s;
}

/* Output samples of a DTMF event's duration so far, capped. */
static uint64_t tone_samples(const struct audio_track *t, const struct pkt *p)
{
    uint64_t s = (uint64_t)p->ev_len * t->out_rate / t->clock;
    uint64_t cap = (uint64_t)TS_AUDIO_TONE_MAX_MS * t->out_rate / 1000;
    return s < cap ? s : cap;
}

uint64_t audio_track_finish(struct audio_track *t)
{
    const int64_t jb = (int64_t)TS_AUDIO_JB_MS * 1000000, resync = (int64_t)TS_AUDIO_RESYNC_MS * 1000000;
    const int64_t max_pos = (int64_t)TS_AUDIO_MAX_SECONDS * t->out_rate;
    int64_t a_arr = 0, a_ext = 0, prev_ext = 0, eseq = 0, seq_lo = 0, seq_hi = 0;
    uint32_t prev_ts = 0, off_run = 0;
    uint16_t prev_seq = 0;
    uint64_t end = 0;

    if (t->finished)
        return 0;
    t->finished = true;
    for (size_t i = 0; i < t->n; i++) {
        struct pkt *p = &t->pk[i];
        uint32_t ts = (uint32_t)p->ext;
        /* an event's packet leaves when its duration so far has passed */
        int64_t arr = (int64_t)p->arrival_ns;
        if (p->kind == P_EVENT)
            arr -= (int64_t)p->ev_len * NS_PER_S / (int64_t)t->clock;
        if (i == 0) {
            prev_ext = (int64_t)1 << 32;
            a_arr = arr;
            a_ext = prev_ext;
            eseq = seq_lo = seq_hi = (int64_t)1 << 20;
        } else {
            prev_ext += (int32_t)(ts - prev_ts);
            eseq += (int16_t)(uint16_t)(p->seq - prev_seq);
        }
        prev_ts = ts;
        prev_seq = p->seq;
        p->ext = prev_ext;
        if (eseq < seq_lo)
            seq_lo = eseq;
        if (eseq > seq_hi)
            seq_hi = eseq;
        int64_t due = a_arr + (p->ext - a_ext) * NS_PER_S / (int64_t)t->clock;
        int64_t off = arr - due;
        /* off by more than the buffer several times in a row: the clocks
         * drifted apart or the delay changed for good, so start again here
         * as a phone's buffer would; once is jitter (late: dropped) */
        off_run = off > jb || off < -jb ? off_run + 1 : 0;
        if (off > resync || off < -resync || off_run >= TS_AUDIO_RESYNC_RUN) {
            t->st.resyncs++;
            a_arr = arr;
            a_ext = p->ext;
            off_run = 0;
        } else if (off > jb) {
            t->st.late++;
            p->pos = -1;
            continue;
        }
        double base = (double)(a_arr - (int64_t)t->origin_ns) * t->out_rate / (double)NS_PER_S;
        p->pos = (int64_t)llround(base) + (p->ext - a_ext) * (int64_t)t->out_rate / (int64_t)t->clock;
        if (p->pos < 0 || p->pos >= max_pos) {
            t->st.dropped++;
            p->pos = -1;
        }
    }
    if (t->n)
        qsort(t->pk, t->n, sizeof *t->pk, by_pos);
    size_t first = 0;
    while (first < t->n && t->pk[first].pos < 0)
        first++;
    uint64_t unique = 0;
    int64_t kpos = -1;
    uint16_t kseq = 0;
    for (size_t i = first; i < t->n; i++) {
        struct pkt *p = &t->pk[i];
        if (unique && p->pos == kpos && p->seq == kseq) {
            t->st.duplicates++;
            p->pos = -1;
            continue;
        }
        kpos = p->pos;
        kseq = p->seq;
        unique++;
    }
    /* keep the placed packets, in timeline order */
    t->nadd = t->n;
    size_t k = 0;
    for (size_t i = first; i < t->n; i++)
        if (t->pk[i].pos >= 0)
            t->pk[k++] = t->pk[i];
    t->pos_by_idx = malloc((t->nadd ? t->nadd : 1) * sizeof *t->pos_by_idx);
    if (t->pos_by_idx)
        for (size_t i = 0; i < t->nadd; i++)
            t->pos_by_idx[i] = -1;
    for (size_t i = 0; i < k; i++) {
        struct pkt *p = &t->pk[i];
        if (p->pos < 0)
            continue;
        if (t->pos_by_idx)
            t->pos_by_idx[p->idx] = p->pos;
        uint64_t e;
        if (p->kind == P_CN) {
            int64_t next = i + 1 < k ? t->pk[i + 1].pos : p->pos;
            int64_t cap = (int64_t)TS_AUDIO_CN_MAX_MS * t->out_rate / 1000;
            int64_t len = next - p->pos;
            if (i + 1 == k)
                len = 0;
            p->cn_len = (uint32_t)(len < 0 ? 0 : len > cap ? cap : len);
            e = (uint64_t)p->pos + p->cn_len;
        } else if (p->kind == P_OTHER) {
            e = (uint64_t)p->pos;
        } else if (p->kind == P_EVENT) {
            e = (uint64_t)p->pos + tone_samples(t, p);
        } else {
            e = (uint64_t)p->pos + pkt_samples(t, p);
        }
        if (e > end)
            end = e;
    }
    t->n = k;
    t->cur = 0;
    if (t->n > 0 && seq_hi >= seq_lo && (uint64_t)(seq_hi - seq_lo + 1) > unique + t->st.late)
        t->st.lost = (uint64_t)(seq_hi - seq_lo + 1) - unique - t->st.late;
    return end;
}

static inline int16_t sat_add(int16_t a, int32_t b)
{
    int32_t s = a + b;
    return (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
}

/* Add samples s[0..len) that start at output sample pos to the window. */
static void place(struct audio_track *t, uint64_t from, int16_t *out, size_t n, uint64_t pos,
                  const int16_t *s, size_t len)
{
    uint64_t wend = from + n;
    for (size_t i = 0; i < len; i++) {
        uint64_t at = pos + i;
        if (at < from)
            continue;
        if (at < wend)
            out[at - from] = sat_add(out[at - from], s[i]);
        else if (at - wend < TS_AUDIO_MAX_PKT_SAMPLES) {
            t->pend[at - wend] = sat_add(t->pend[at - wend], s[i]);
            if (at - wend >= t->pend_used)
                t->pend_used = (size_t)(at - wend) + 1;
        }
    }
}

static void cn_fill(struct audio_track *t, uint64_t from, int16_t *out, size_t n)
{
    uint64_t a = t->cn_from > from ? t->cn_from : from;
    uint64_t b = t->cn_to < from + n ? t->cn_to : from + n;
    for (uint64_t i = a; i < b; i++) {
        t->rng = t->rng * 1664525u + 1013904223u;
        double u = (double)(t->rng >> 8) / (double)(1u << 24) * 2.0 - 1.0;
        out[i - from] = sat_add(out[i - from], (int32_t)(u * t->cn_amp));
    }
}

/* The DTMF tone's samples in the window not rendered yet. */
static void tone_fill(struct audio_track *t, uint64_t from, int16_t *out, size_t n)
{
    uint64_t a = t->tone_done > from ? t->tone_done : from;
    uint64_t b = t->tone_to < from + n ? t->tone_to : from + n;
    const double w1 = 2.0 * M_PI * dtmf_lo[t->tone_ev] / t->out_rate;
    const double w2 = 2.0 * M_PI * dtmf_hi[t->tone_ev] / t->out_rate;
    for (uint64_t i = a; i < b; i++) {
        double k = (double)(i - t->tone_from);
        out[i - from] = sat_add(out[i - from], (int32_t)lround(t->tone_amp * (sin(w1 * k) + sin(w2 * k))));
    }
    if (b > t->tone_done)
        t->tone_done = b;
}

static void decode_one(struct audio_track *t, const struct pkt *p, uint64_t from, int16_t *out,
                       size_t n)
{
    if (p->kind == P_EVENT) {
        /* the packets of one event share its start: each one extends it */
        if (t->tone_from != (uint64_t)p->pos || t->tone_ev != p->event || !t->tone_to) {
            t->st.tones++;
            t->tone_from = t->tone_done = t->tone_to = (uint64_t)p->pos;
            t->tone_ev = p->event;
            /* -volume dBm0 in all, half the power in each tone */
            t->tone_amp = 32767.0 * pow(10.0, (-3.17 - (double)p->cn_level) / 20.0) / sqrt(2.0);
        }
        uint64_t e = (uint64_t)p->pos + tone_samples(t, p);
        if (e > t->tone_to)
            t->tone_to = e;
        tone_fill(t, from, out, n);
        return;
    }
    if (p->kind == P_OTHER) {
        t->st.events++;
        return;
    }
    if (p->kind == P_CN) {
        /* RFC 3389 3.1: level in -dBov; uniform noise has rms amp/sqrt(3) */
        t->st.cn++;
        t->cn_from = (uint64_t)p->pos;
        t->cn_to = (uint64_t)p->pos + p->cn_len;
        t->cn_amp = 32767.0 * pow(10.0, -(double)p->cn_level / 20.0) * sqrt(3.0);
        cn_fill(t, from, out, n);
        return;
    }
    size_t cap = TS_AUDIO_MAX_PKT_SAMPLES / t->up;
    size_t got = t->ops->decode(t->dec, bv_make(p->len ? t->arena + p->off : NULL, p->len),
                                t->tmp, cap);
    if (got == 0) {
        t->st.bad++;
        return;
    }
    t->st.decoded++;
    /* the comfort noise stops where speech resumes */
    if (t->cn_to > (uint64_t)p->pos)
        t->cn_to = (uint64_t)p->pos;
    const int16_t *s = t->tmp;
    size_t len = got;
    if (t->up > 1) {
        /* linear interpolation from the previous sample: the codecs'
         * rates are integer fractions of the output rate */
        int32_t prev = t->last;
        for (size_t i = 0; i < got; i++) {
            int32_t cur = t->tmp[i];
            for (uint32_t j = 0; j < t->up; j++)
                t->up_buf[i * t->up + j] =
                    (int16_t)(prev + (cur - prev) * (int32_t)(j + 1) / (int32_t)t->up);
            prev = cur;
        }
        s = t->up_buf;
        len = got * t->up;
    }
    t->last = t->tmp[got - 1];
    place(t, from, out, n, (uint64_t)p->pos, s, len);
}

void audio_track_render(struct audio_track *t, uint64_t from, int16_t *out, size_t n)
{
    if (!t->finished || n == 0)
        return;
    /* carry what the previous window's packets decoded past its end */
    if (t->pend_used) {
        size_t keep = 0;
        if (from >= t->pend_at && from - t->pend_at < t->pend_used) {
            size_t skip = (size_t)(from - t->pend_at);
            size_t avail = t->pend_used - skip;
            size_t use = avail < n ? avail : n;
            for (size_t i = 0; i < use; i++)
                out[i] = sat_add(out[i], t->pend[skip + i]);
            keep = avail - use;
            memmove(t->pend, t->pend + skip + use, keep * sizeof *t->pend);
        }
        memset(t->pend + keep, 0, (t->pend_used - keep) * sizeof *t->pend);
        t->pend_used = keep;
    }
    t->pend_at = from + n;
    cn_fill(t, from, out, n);
    tone_fill(t, from, out, n);
    while (t->cur < t->n && (uint64_t)t->pk[t->cur].pos < from + n) {
        decode_one(t, &t->pk[t->cur], from, out, n);
        t->cur++;
    }
}

const struct audio_stats *audio_track_stats(const struct audio_track *t) { return &t->st; }

int64_t audio_track_pos(const struct audio_track *t, size_t i)
{
    return t->pos_by_idx && i < t->nadd ? t->pos_by_idx[i] : -1;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

void audio_wav_header(uint8_t h[44], uint32_t rate, uint16_t channels, uint32_t frames)
{
    uint32_t data = frames * channels * 2u;
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36u + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    h[20] = 1, h[21] = 0; /* PCM */
    h[22] = (uint8_t)channels, h[23] = (uint8_t)(channels >> 8);
    put_le32(h + 24, rate);
    put_le32(h + 28, rate * channels * 2u);
    h[32] = (uint8_t)(channels * 2u), h[33] = 0;
    h[34] = 16, h[35] = 0;
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data);
}
