/* Finishing media streams: the last statistics window, the MOS and its
 * reason (E-model, emodel.c), the RTCP figures, the flags, the record to
 * the sink and the report list; and the capture-gap heuristic (losses on
 * several streams at once are the capture's, not the network's). */
#include "media_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- finishing streams ---- */

static double stream_mos(const struct media *m, struct media_stream *r, double ppl,
                         double burst, double *rf)
{
    enum emodel_codec c = emodel_codec_by_name(r->codec);
    if (c == EMODEL_UNKNOWN) {
        *rf = -1;
        return -1;
    }
    double ptime = r->mean_delta_ms > 0 && r->mean_delta_ms < 200 ? r->mean_delta_ms : 20;
    double net = r->rtcp.rtt_n ? r->rtcp.rtt_ms / 2 : 0;
    double delay = net + ptime + emodel_codec(c)->delay_ms + m->cfg.jb_ms;
    r->delay_ms = delay;
    *rf = emodel_r_for(c, delay, ppl, burst);
    return emodel_mos(*rf);
}

/* Which impairment took a stream under MEDIA_POOR_MOS: delay or codec when
 * the stream is poor even without loss, else late discards when they are
 * most of the bad packets, burst loss when the same loss at random would
 * not be poor, plain loss otherwise. */
static uint8_t stream_reason(const struct media_stream *r, const struct rtpstat *st)
{
    if (r->mos < 0 || r->mos >= MEDIA_POOR_MOS)
        return MEDIA_R_NONE;
    enum emodel_codec c = emodel_codec_by_name(r->codec);
    if (emodel_mos(emodel_r_for(c, r->delay_ms, 0, 1)) < MEDIA_POOR_MOS)
        return emodel_mos(emodel_r_for(c, 0, 0, 1)) < MEDIA_POOR_MOS ? MEDIA_R_CODEC
                                                                     : MEDIA_R_DELAY;
    uint32_t late = st->discarded, net = st->bad > late ? st->bad - late : 0;
    if (late > net)
        return MEDIA_R_LATE;
    if (r->burst_r > 1 && emodel_mos(emodel_r_for(c, r->delay_ms, r->ppl, 1)) >= MEDIA_POOR_MOS)
        return MEDIA_R_BURST_LOSS;
    return MEDIA_R_LOSS;
}

static void series_push(struct media *m, struct mstream *s, const struct media_series *pt)
{
    struct media_stream *r = &s->rec;
    if (r->nseries >= TS_MEDIA_MAX_SERIES) {
        if (!(r->flags & MEDIA_F_SERIES_FULL))
            TS_INC(m->st, RTP_SERIES_FULL);
        r->flags |= MEDIA_F_SERIES_FULL;
        return;
    }
    if (r->nseries == s->series_cap) {
        size_t cap = s->series_cap;
        struct media_series *ns = ts_grow(r->series, &cap, sizeof *ns, 16, TS_MEDIA_MAX_SERIES);
        if (!ns)
            return;
        r->series = ns;
        s->series_cap = (uint32_t)cap;
    }
    r->series[r->nseries++] = *pt;
}

void media_window_close(struct media *m, struct mstream *s)
{
    struct media_series pt = { 0 };
    uint32_t lost = s->st.win_lost - s->win_lost0;
    pt.packets = (uint16_t)(s->win_pkts > 65535 ? 65535 : s->win_pkts);
    pt.lost = (uint16_t)(lost > 65535 ? 65535 : lost);
    pt.jitter_ms = s->win_jitter;
    pt.mos = -1;
    enum emodel_codec c = emodel_codec_by_name(s->rec.codec);
    if (c != EMODEL_UNKNOWN && s->win_pkts) {
        double ppl = 100.0 * lost / (lost + s->win_pkts);
        double delay = 20 + emodel_codec(c)->delay_ms + m->cfg.jb_ms;
        pt.mos = (float)emodel_mos(emodel_r_for(c, delay, ppl, 1));
    }
    series_push(m, s, &pt);
    s->win_pkts = 0;
    s->win_lost0 = s->st.win_lost;
    s->win_jitter = 0;
}

static void copy_rtcp(struct media *m, struct media_stream *r)
{
    struct src_key k; /* its SSRC on its own hop */
    src_key_make(&k, r->ssrc, &r->src, &r->dst);
    struct ht_node *n = htab_find(&m->srcs, ts_hash(&k, sizeof k), src_eq, &k);
    r->rtcp.jitter_ms = -1;
    r->rtcp.xr_mos_lq = r->rtcp.xr_r_factor = -1;
    if (!n)
        return;
    const struct msrc *src = ts_container_of(n, struct msrc, node);
    r->rtcp = src->r;
    r->rtcp.jitter_ms = src->have_jitter && r->clock ? (float)(src->jitter_ts * 1000.0 / r->clock)
                                                     : -1.0f;
}

void media_stream_end(struct media *m, struct mstream *s, bool evicted)
{
    struct media_stream *r = &s->rec;
    const struct rtpstat *st = &s->st;
    if (evicted)
        r->flags |= MEDIA_F_EVICTED;
    r->expected = rtpstat_expected(st);
    r->lost = rtpstat_lost(st);
    r->lost_pct = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
    r->duplicates = st->duplicates;
    r->out_of_order = st->out_of_order;
    r->seq_resets = st->resets;
    r->seq_errors = st->seq_errors;
    r->discarded = st->discarded;
    r->min_delta_ms = st->min_delta;
    r->mean_delta_ms = st->mean_delta;
    r->max_delta_ms = st->max_delta;
    r->min_jitter_ms = st->min_jitter;
    r->mean_jitter_ms = st->mean_jitter;
    r->max_jitter_ms = st->max_jitter;
    r->problem = st->problem;
    copy_rtcp(m, r);

    /* E-model: network losses and late discards, as one loss pattern. */
    int64_t exp = rtpstat_rfc_expected(st);
    double total = exp > 0 ? (double)exp : (double)r->packets;
    double bad = st->bad;
    if (bad > total)
        bad = total;
    r->ppl = total > 0 ? 100.0 * bad / total : 0;
    r->burst_r = emodel_burst_r(bad, st->runs, total);
    r->mos = stream_mos(m, r, r->ppl, r->burst_r, &r->r_factor);
    r->mos_reason = stream_reason(r, st);

    if (s->win_pkts)
        media_window_close(m, s);

    /* Detections that need the leg's view. */
    struct magg *leg = agg_find(m, AGG_LEG, r->leg_ref);
    if (leg) {
        unsigned other = s->side ^ 1u;
        if (leg->answered_ns) {
            if (!s->audio_pkts)
                r->flags |= MEDIA_F_NO_AUDIO;
            if (leg->ep_set[0] && leg->ep_set[1] &&
                (leg->rx[other] == 0 || (s->audio_pkts && media_leg_nearly_one_way(leg))))
                r->flags |= MEDIA_F_ONE_WAY;
            if (r->first_ns > leg->answered_ns + LATE_MEDIA_NS &&
                leg->first_rx_ns[s->side] == r->first_ns)
                r->flags |= MEDIA_F_LATE_MEDIA;
        }
        if (leg->bye_ns && r->last_ns > leg->bye_ns + AFTER_BYE_NS)
            r->flags |= MEDIA_F_RTP_AFTER_BYE;
        media_quality_add(&leg->q, r);
        if (s->lg == leg) {
            leg->done_audio[s->side] += s->audio_pkts;
            leg->done_n[s->side]++;
        }
    }
    for (unsigned i = 0; i < s->nalso; i++) { /* the other legs it was counted on */
        struct magg *l = agg_find(m, AGG_LEG, s->also[i].leg);
        if (l) {
            l->done_audio[s->also[i].side] += s->audio_pkts;
            l->done_n[s->also[i].side]++;
        }
    }
    struct magg *call = agg_find(m, AGG_CALL, r->call_ref);
    if (call)
        media_quality_add(&call->q, r);

    m->emitted++;
    if (m->sink)
        m->sink(m->sink_ctx, r);
    if (m->nreport == m->report_cap && m->report_cap < m->cfg.max_report) {
        struct media_stream *nr =
            ts_grow(m->report, &m->report_cap, sizeof *nr, 64, m->cfg.max_report);
        if (nr)
            m->report = nr;
    }
    if (m->nreport < m->report_cap) {
        m->report[m->nreport++] = *r;
        r->series = NULL;
    } else if (m->cfg.max_report) {
        TS_INC(m->st, RTP_REPORT_DROPPED);
    }
    free(r->series);
    media_lg_detach(s);
    media_end_unlink(m, s);
    htab_remove(&m->streams, &s->node);
    media_srtp_drop(m, s);
    free(s);
}

/* ---- capture gaps ---- */

static void flag_live_since(struct media *m, uint64_t t0, uint64_t t1)
{
    /* Every stream: the LRU is ordered by queue time, not last use (a gap
     * is found at most once a second). */
    for (struct ht_node *n = m->streams.lru.lnext; n != &m->streams.lru; n = n->lnext) {
        struct mstream *s = ts_container_of(n, struct mstream, node);
        if (s->rec.last_ns >= t0 && s->rec.first_ns <= t1)
            s->rec.flags |= MEDIA_F_CAPTURE_GAP;
    }
}

void media_gap_note(struct media *m, const struct mstream *s, uint64_t t)
{
    m->gaps[m->gap_i++ % GAP_RING] = (struct gap_ev){ t, s->rec.id };
    if (t < m->last_gap_ns + NS_PER_S)
        return;
    uint64_t ids[GAP_RING];
    size_t n = 0;
    for (unsigned i = 0; i < GAP_RING; i++) {
        const struct gap_ev *g = &m->gaps[i];
        if (!g->stream_id || g->t_ns + GAP_WINDOW_NS < t || g->t_ns > t + GAP_WINDOW_NS)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = ids[j] == g->stream_id;
        if (!dup)
            ids[n++] = g->stream_id;
    }
    size_t live = m->streams.count;
    if (n >= GAP_MIN_STREAMS && n * 10 >= live * 8) {
        m->last_gap_ns = t;
        TS_INC(m->st, RTP_CAPTURE_GAPS);
        flag_live_since(m, t > NS_PER_S ? t - NS_PER_S : 0, t);
    }
}

void media_capture_gap(struct media *m, uint64_t t0_ns, uint64_t t1_ns)
{
    if (t1_ns < t0_ns)
        return;
    TS_INC(m->st, RTP_CAPTURE_GAPS);
    flag_live_since(m, t0_ns, t1_ns);
    for (size_t i = 0; i < m->nreport; i++) {
        struct media_stream *r = &m->report[i];
        if (r->first_ns <= t1_ns && r->last_ns >= t0_ns)
            r->flags |= MEDIA_F_CAPTURE_GAP;
    }
}

