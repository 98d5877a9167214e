/* Per-stream RTP statistics. The first half mirrors Wireshark 4.0's
 * rtppacket_analyse() (ui/tap-rtp-analysis.c) step by step, including its
 * quirks (integer kHz clock, deltas only of "regular" packets, means over all
 * packets); the second half is RFC 3550 A.1 (sequence validation), A.3
 * (expected/lost) and a de-jitter buffer simulation for the E-model
 * (RFC 3551 4.1 talkspurts). */
#include "rtpstat.h"

#include <math.h>
#include <float.h>
#include <string.h>
#include <strings.h>

#define PT_CN 13
#define PT_CN_OLD 19
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define SEQ_MOD 65536u

/* Wireshark's clock_map (IANA static payload types). */
static uint32_t static_clock(uint8_t pt)
{
    switch (pt) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 7: case 8: case 9:
    case 12: case 13: case 15: case 18: case 19:
        return 8000;
    case 6: return 16000;
    case 10: case 11: return 44100;
    case 16: return 11025;
    case 17: return 22050;
    case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34:
        return 90000;
    default: return 0;
    }
}

/* Wireshark's mimetype_and_clock_map: a prefix match, longest names first. */
static uint32_t dyn_clock(const char *name)
{
    static const struct { const char *n; uint32_t c; } map[] = {
        { "AMR", 8000 }, { "AMR-WB", 16000 }, { "BMPEG", 90000 }, { "BT656", 90000 },
        { "DV", 90000 }, { "EVRC", 8000 }, { "EVRC0", 8000 }, { "EVRC1", 8000 },
        { "EVRCB", 8000 }, { "EVRCB0", 8000 }, { "EVRCB1", 8000 }, { "EVRCWB", 16000 },
        { "EVRCWB0", 16000 }, { "EVRCWB1", 16000 }, { "EVS", 16000 }, { "G7221", 16000 },
        { "G726-16", 8000 }, { "G726-24", 8000 }, { "G726-32", 8000 }, { "G726-40", 8000 },
        { "G729D", 8000 }, { "G729E", 8000 }, { "GSM-EFR", 8000 }, { "H263-1998", 90000 },
        { "H263-2000", 90000 }, { "H264", 90000 }, { "MP1S", 90000 }, { "MP2P", 90000 },
        { "MP4V-ES", 90000 }, { "mpa-robust", 90000 }, { "opus", 48000 },
        { "pointer", 90000 }, { "raw", 90000 }, { "red", 1000 }, { "SMV", 8000 },
        { "SMV0", 8000 }, { "t140", 1000 }, { "telephone-event", 8000 },
    };
    for (int i = (int)(sizeof map / sizeof map[0]) - 1; i >= 0; i--)
        if (strncasecmp(map[i].n, name, strlen(map[i].n)) == 0)
            return map[i].c;
    return 0;
}

uint32_t rtpstat_clock(uint8_t pt, const char *name, uint32_t sdp_rate)
{
    if (pt < 96)
        return static_clock(pt);
    if (!name || !*name)
        return 0;
    if (strncasecmp(name, "telephone-event", 15) == 0)
        return 0;
    return sdp_rate ? sdp_rate : dyn_clock(name);
}

void rtpstat_init(struct rtpstat *s)
{
    memset(s, 0, sizeof *s);
    s->ext_ts = 0x100000000ull;  /* as the RTP dissector's conversations start */
    s->min_delta = -1;
    s->min_jitter = -1;
    s->bad_seq = SEQ_MOD + 1;
}

/* Wireshark's calculate_extended_timestamp(). */
static uint64_t extend_ts(uint64_t prev, uint32_t raw)
{
    uint64_t t = (prev & 0xffffffff00000000ull) | raw;
    if (t + 0x80000000ull < prev)
        t += 0x100000000ull;
    else if (prev + 0x80000000ull < t)
        t -= 0x100000000ull;
    return t;
}

static bool is_cn(uint8_t pt) { return pt == PT_CN || pt == PT_CN_OLD; }

static int64_t ts_diff(uint64_t a, uint64_t b) { return (int64_t)b - (int64_t)a; }

/* The tshark-compatible part (Wireshark 4.0 rtppacket_analyse). */
static void ws_packet(struct rtpstat *s, const struct rtpstat_pkt *p, uint64_t ets)
{
    double now = p->t_ms;
    if (!s->started) {
        s->started = true;
        s->start_seq = s->stop_seq = p->seq;
        s->seq_num = p->seq;
        s->time_ms = now;
        s->first_ts = ets;
        s->last_nominal = 0;
        s->pt = p->pt;
        s->total_nr = 1;
        return;
    }
    bool wrong_ts = false, marker = p->marker, pt_cn = false, follow_cn = false;
    /* In time: within half the timestamp range after the first packet. */
    bool in_time;
    if (s->first_ts <= ets && ts_diff(s->first_ts, ets) < 0x80000000ll)
        in_time = true;
    else if (s->first_ts > ets && ts_diff(ets, s->first_ts) > 0x80000000ll)
        in_time = true;
    else
        in_time = false;
    if (!in_time)
        wrong_ts = true;

    if (p->seq < s->start_seq && in_time && !s->under) {
        s->seq_cycles++;
        s->under = true;
    } else if (p->seq == 0 && s->stop_seq == 65535 && in_time && !s->under) {
        s->seq_cycles++;
        s->under = true;
    } else if (p->seq > s->start_seq && in_time && s->under) {
        s->under = false;
    }

    bool wrong_seq = false;
    if (in_time && s->seq_num + 1 == p->seq) {
        s->seq_num = p->seq;
    } else if (in_time && s->seq_num == 65535 && p->seq == 0) {
        s->seq_num = p->seq;
    } else if (in_time && (s->seq_num + 1 < p->seq || s->seq_num - p->seq > 0xFF00)) {
        s->seq_num = p->seq;
        wrong_seq = true;
    } else if (s->seq_num + 1 > p->seq) {
        wrong_seq = true;
    }
    if (wrong_seq)
        s->seq_errors++;

    if (is_cn(p->pt))
        pt_cn = true;
    if (is_cn(s->pt))
        follow_cn = true;
    s->pt = p->pt;

    /* Upstream divides by the clock in integer kHz; the nominal time of
     * the last packet with a known clock is what the next one is held to. */
    uint32_t khz = p->clock / 1000;
    double current_jitter = 0;
    if (in_time) {
        double nominal = (double)ts_diff(s->first_ts, ets);
        if (khz) {
            nominal /= (double)khz;
            double expected = s->time_ms + (nominal - s->last_nominal);
            double diff = fabs(now - expected);
            current_jitter = (15 * s->jitter + diff) / 16;
            s->delta = now - s->time_ms;
            s->jitter = current_jitter;
            s->last_nominal = nominal;
        } else {
            s->delta = now - s->time_ms;
        }
    }

    if (!marker && !pt_cn && !wrong_ts && !follow_cn) {
        if (s->delta > s->max_delta)
            s->max_delta = s->delta;
        if (s->min_delta == -1 || s->delta < s->min_delta)
            s->min_delta = s->delta;
        s->mean_delta = (s->mean_delta * (s->total_nr - 1) + s->delta) / s->total_nr;
        if (khz) {
            if (s->jitter > s->max_jitter)
                s->max_jitter = s->jitter;
            s->mean_jitter = (s->mean_jitter * (s->total_nr - 1) + current_jitter) / s->total_nr;
            if (s->min_jitter == -1 || s->jitter < s->min_jitter)
                s->min_jitter = s->jitter;
        }
    }
    if (wrong_ts || wrong_seq)
        s->problem = true;
    if (in_time)
        s->time_ms = now;
    s->stop_seq = p->seq;
    s->total_nr++;
}

/* Mark ext (an extended sequence number near max) as received; returns
 * true when it had been seen already. */
static bool seen_mark(struct rtpstat *s, uint32_t ext, uint32_t ext_max)
{
    uint32_t back = ext_max - ext;
    if (back >= 128)
        return false;
    uint64_t bit = 1ull << (back & 63);
    uint64_t *w = &s->seen[back >> 6];
    bool was = (*w & bit) != 0;
    *w |= bit;
    return was;
}

/* Shift the window when the highest sequence advances by n. */
static void seen_advance(struct rtpstat *s, uint32_t n)
{
    if (n >= 128) {
        s->seen[0] = s->seen[1] = 0;
    } else if (n >= 64) {
        s->seen[1] = s->seen[0] << (n - 64);
        s->seen[0] = 0;
    } else if (n > 0) {
        s->seen[1] = (s->seen[1] << n) | (s->seen[0] >> (64 - n));
        s->seen[0] <<= n;
    }
}

static void loss_event(struct rtpstat *s, uint32_t n)
{
    if (!n)
        return;
    if (!s->in_run)
        s->runs++;
    s->in_run = true;
    s->bad += n;
}

/* ---- de-jitter buffer ----
 * A fixed-depth playout buffer as a receiver runs it: the playout timeline
 * is anchored on one packet (its arrival and RTP timestamp), a packet whose
 * transit exceeds the reference transit by more than the depth comes too
 * late and is discarded. The reference is the smallest transit over a
 * sliding window (RTPSTAT_JB_SLOTS slots), not since the stream began, and
 * the timeline is re-anchored where a real buffer re-synchronises: at a
 * talkspurt start (RFC 3551 4.1: marker after silence), at a sequence
 * restart (RFC 3550 A.1) and at a timestamp discontinuity between
 * consecutive packets. */

/* A marked packet after this much silence (no packets, or a timestamp step
 * this large) starts a talkspurt: two 20 ms frames' worth. */
#define JB_SILENCE_MS 40.0
/* A timestamp step this much larger than the arrival step is a jump of the
 * sender's clock, not a packet that was early. */
#define JB_JUMP_MS 1000.0

static double jb_nominal(const struct rtpstat *s, uint64_t ets, uint32_t clock)
{
    return (double)(int64_t)(ets - s->jb_ts0) * 1000.0 / clock;
}

static void jb_anchor(struct rtpstat *s, const struct rtpstat_pkt *p)
{
    if (s->jb_started)
        s->jb_resyncs++;
    s->jb_started = true;
    s->jb_clock = p->jb_clock;
    s->jb_ts0 = s->ext_ts;
    s->jb_t0 = p->t_ms;
    s->jb_last_t = p->t_ms;
    s->jb_last_ts = s->ext_ts;
    memset(s->jb_slot, 0, sizeof s->jb_slot);
}

/* The timestamp step from the previous in-order packet does not fit the
 * arrival step: it went back, or ahead by far more than time passed. */
static bool jb_ts_jump(const struct rtpstat *s, const struct rtpstat_pkt *p)
{
    double d_nom = (double)(int64_t)(s->ext_ts - s->jb_last_ts) * 1000.0 / p->jb_clock;
    double d_arr = p->t_ms - s->jb_last_t;
    return d_nom < 0 || d_nom > d_arr + JB_JUMP_MS;
}

/* Is the packet (at s->ext_ts) later than the buffer allows? in_order: it
 * advanced the highest sequence number, so it may re-anchor the timeline. */
static bool jb_late(struct rtpstat *s, const struct rtpstat_pkt *p, double jb_ms, bool in_order)
{
    if (!p->jb_clock)
        return false;
    if (!s->jb_started || s->jb_clock != p->jb_clock) {
        jb_anchor(s, p); /* first packet, or a payload with another clock */
    } else if (in_order) {
        double d_nom = (double)(int64_t)(s->ext_ts - s->jb_last_ts) * 1000.0 / p->jb_clock;
        double d_arr = p->t_ms - s->jb_last_t;
        bool talkspurt = p->marker && (d_arr >= JB_SILENCE_MS || d_nom >= JB_SILENCE_MS);
        if (talkspurt || jb_ts_jump(s, p))
            jb_anchor(s, p);
    }
    if (in_order) {
        s->jb_last_t = p->t_ms;
        s->jb_last_ts = s->ext_ts;
    }
    double rel = p->t_ms - s->jb_t0;
    /* Capture times are the sender's word: a packet decades away from the
     * anchor must not overflow the slot number or the float transit. */
    double span = (double)(UINT32_MAX - 2) * RTPSTAT_JB_SLOT_MS;
    if (rel > span)
        rel = span;
    double tr = rel - jb_nominal(s, s->ext_ts, p->jb_clock);
    float transit = (float)(tr > FLT_MAX ? FLT_MAX : tr < -FLT_MAX ? -FLT_MAX : tr);
    uint32_t slot = (uint32_t)(rel > 0 ? rel / RTPSTAT_JB_SLOT_MS : 0) + 1; /* 0: empty */
    unsigned i = slot % RTPSTAT_JB_SLOTS;
    if (s->jb_slot[i] != slot) {
        s->jb_slot[i] = slot;
        s->jb_min[i] = transit;
    } else if (transit < s->jb_min[i]) {
        s->jb_min[i] = transit;
    }
    float ref = transit;
    for (unsigned k = 0; k < RTPSTAT_JB_SLOTS; k++)
        if (s->jb_slot[k] && slot - s->jb_slot[k] < RTPSTAT_JB_SLOTS && s->jb_min[k] < ref)
            ref = s->jb_min[k];
    return transit - ref > jb_ms;
}

static void jb_packet(struct rtpstat *s, const struct rtpstat_pkt *p, double jb_ms)
{
    if (jb_late(s, p, jb_ms, true)) {
        s->discarded++;
        loss_event(s, 1);
    } else {
        s->in_run = false;
    }
}

static void rfc_packet(struct rtpstat *s, const struct rtpstat_pkt *p, double jb_ms)
{
    if (s->received == 0) {
        s->base_seq = p->seq;
        s->max_seq = p->seq;
        s->received = 1;
        s->seen[0] = 1;
        jb_packet(s, p, jb_ms);
        return;
    }
    uint16_t udelta = (uint16_t)(p->seq - s->max_seq);
    s->received++;
    if (udelta == 0) {
        s->duplicates++;
        return;
    }
    if (udelta < MAX_DROPOUT) {
        if (p->seq < s->max_seq)
            s->cycles += SEQ_MOD;
        s->max_seq = p->seq;
        seen_advance(s, udelta);
        s->seen[0] |= 1;
        s->bad_seq = SEQ_MOD + 1;
        /* a gap whose timestamp went back is a sender restart, not loss */
        if (!(udelta > 1 && p->jb_clock && s->jb_started && s->jb_clock == p->jb_clock &&
              jb_ts_jump(s, p))) {
            loss_event(s, udelta - 1u);
            s->win_lost += udelta - 1u;
        }
        jb_packet(s, p, jb_ms);
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        /* A large jump: two in a row restart the sequence (A.1). */
        if (p->seq == s->bad_seq) {
            s->resets++;
            /* keep the totals: the new run is counted from here */
            s->base_seq = (uint32_t)p->seq - (s->cycles + s->max_seq - s->base_seq + 1);
            s->cycles = 0;
            s->max_seq = p->seq;
            s->seen[0] = 1;
            s->seen[1] = 0;
            s->bad_seq = SEQ_MOD + 1;
            s->in_run = false;
            if (p->jb_clock) /* a new timeline for the buffer too */
                jb_anchor(s, p);
        } else {
            s->bad_seq = (p->seq + 1u) & (SEQ_MOD - 1);
        }
    } else {
        uint32_t ext_max = s->cycles + s->max_seq;
        uint32_t ext = ext_max - (uint16_t)(s->max_seq - p->seq);
        if (seen_mark(s, ext, ext_max)) {
            s->duplicates++;
        } else {
            s->out_of_order++;
            /* Counted lost when the gap opened; in time for playout it
             * is not lost after all. */
            if (s->bad && !jb_late(s, p, jb_ms, false))
                s->bad--;
        }
    }
}

void rtpstat_packet(struct rtpstat *s, const struct rtpstat_pkt *p, double jb_ms)
{
    uint64_t ets = extend_ts(s->ext_ts, p->ts);
    s->ext_ts = ets;
    ws_packet(s, p, ets);
    rfc_packet(s, p, jb_ms);
}

int64_t rtpstat_expected(const struct rtpstat *s)
{
    if (!s->started)
        return 0;
    /* 32-bit arithmetic as upstream */
    uint32_t e = (uint32_t)s->stop_seq + s->seq_cycles * 0x10000u - s->start_seq + 1;
    return (int64_t)e;
}

int64_t rtpstat_lost(const struct rtpstat *s)
{
    if (!s->started)
        return 0;
    return (int32_t)((uint32_t)rtpstat_expected(s) - s->total_nr);
}

int64_t rtpstat_rfc_expected(const struct rtpstat *s)
{
    if (!s->received)
        return 0;
    return (int64_t)s->cycles + s->max_seq - (int64_t)(int32_t)s->base_seq + 1;
}
