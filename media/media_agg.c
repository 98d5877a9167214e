/* Media aggregates of legs and calls: the streams toward each side of a
 * leg, their audio, the worst quality of the finished ones (RFC 3550 6.4
 * figures, the E-model's MOS) and the one-way / no-audio verdict of a leg
 * once it has ended. */
#include "media_int.h"

#include <stdlib.h>

double media_stream_leg_mos(const struct media_stream *s, uint8_t *reason)
{
    if (s->flags & MEDIA_F_ONE_WAY) {
        *reason = MEDIA_R_ONE_WAY;
        return 1.0;
    }
    *reason = s->mos >= 0 && s->mos < MEDIA_POOR_MOS ? s->mos_reason : MEDIA_R_NONE;
    return s->mos;
}

/* ---- aggregates ---- */

/* A leg's live streams: ended soon after the leg (see LEG_END_GRACE_NS). */
void media_lg_attach(struct mstream *s, struct magg *leg)
{
    if (s->lg)
        return;
    s->lg = leg;
    s->lg_next = leg->streams;
    if (leg->streams)
        leg->streams->lg_pprev = &s->lg_next;
    s->lg_pprev = &leg->streams;
    leg->streams = s;
}

void media_lg_detach(struct mstream *s)
{
    if (!s->lg)
        return;
    *s->lg_pprev = s->lg_next;
    if (s->lg_next)
        s->lg_next->lg_pprev = s->lg_pprev;
    s->lg = NULL;
    s->lg_next = NULL;
    s->lg_pprev = NULL;
}

void media_end_unlink(struct media *m, struct mstream *s)
{
    if (!s->ending)
        return;
    if (s->end_prev)
        s->end_prev->end_next = s->end_next;
    else
        m->end_head = s->end_next;
    if (s->end_next)
        s->end_next->end_prev = s->end_prev;
    else
        m->end_tail = s->end_prev;
    s->end_next = s->end_prev = NULL;
    s->ending = false;
}

/* Look at s again at time at: it ends then unless it is still sending. */
void media_end_append(struct media *m, struct mstream *s, uint64_t at)
{
    if (s->ending)
        return;
    s->ending = true;
    s->end_ns = at;
    s->end_next = NULL;
    s->end_prev = m->end_tail;
    if (m->end_tail)
        m->end_tail->end_next = s;
    else
        m->end_head = s;
    m->end_tail = s;
}

static void agg_free(struct magg *a)
{
    for (struct mstream *s = a->streams, *next; s; s = next) {
        next = s->lg_next;
        s->lg = NULL;
        s->lg_next = NULL;
        s->lg_pprev = NULL;
    }
    free(a);
}

struct magg *media_agg_get(struct media *m, uint8_t kind, uint64_t ref)
{
    if (!ref)
        return NULL;
    struct magg *a = agg_find(m, kind, ref);
    if (a) {
        htab_touch(&m->aggs, &a->node);
        return a;
    }
    if (htab_full(&m->aggs)) {
        struct ht_node *o = htab_oldest(&m->aggs);
        htab_remove(&m->aggs, o);
        agg_free(ts_container_of(o, struct magg, node));
        TS_INC(m->st, RTP_AGG_EVICTED);
    }
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->kind = kind;
    a->ref = ref;
    a->q.mos = a->q.r_factor = -1;
    htab_insert(&m->aggs, &a->node, hash_agg(kind, ref));
    return a;
}

/* The worst MOS wins, with its R and its reason. */
static void quality_worst(struct media_quality *q, double mos, double rf, uint8_t reason)
{
    if (mos >= 0 && (q->mos < 0 || mos < q->mos)) {
        q->mos = mos;
        q->r_factor = rf;
        q->reason = mos < MEDIA_POOR_MOS ? reason : MEDIA_R_NONE;
    }
}

void media_quality_add(struct media_quality *q, const struct media_stream *s)
{
    q->streams++;
    q->packets += s->packets;
    q->lost += s->lost;
    uint8_t reason;
    double mos = media_stream_leg_mos(s, &reason);
    quality_worst(q, mos, mos == s->mos ? s->r_factor : 0, reason);
    if (s->max_jitter_ms > q->max_jitter_ms)
        q->max_jitter_ms = s->max_jitter_ms;
    q->flags |= s->flags & ~(uint32_t)(MEDIA_F_EVICTED | MEDIA_F_SERIES_FULL);
}

/* Audio packets toward side of the leg so far: finished streams and (up to
 * TS_MEDIA_LEG_WALK) live ones; *complete when every stream the leg was
 * told of (rx) was among them (a stream carried for another leg, see
 * leg_also, is not in its list until it ends). */
static uint64_t leg_side_audio(const struct magg *leg, unsigned side, bool *complete)
{
    uint64_t n = leg->done_audio[side], seen = leg->done_n[side];
    unsigned k = 0;
    for (const struct mstream *x = leg->streams; x && k < TS_MEDIA_LEG_WALK; x = x->lg_next, k++)
        if (x->side == side) {
            n += x->audio_pkts;
            seen++;
        }
    *complete = seen >= leg->rx[side] && k < TS_MEDIA_LEG_WALK;
    return n;
}

/* A direction is nearly empty when the other carried at least this many
 * audio packets (5 s at 20 ms) and it less than a twentieth of them:
 * a few packets (a greeting, NAT pinholes) are not a conversation. */
#define NEAR_EMPTY_MIN 250
#define NEAR_EMPTY_DIV 20

bool media_leg_nearly_one_way(const struct magg *leg)
{
    if (!leg->ep_set[0] || !leg->ep_set[1])
        return false;
    bool ca, cb;
    uint64_t a = leg_side_audio(leg, 0, &ca), b = leg_side_audio(leg, 1, &cb);
    uint64_t hi = a > b ? a : b, lo = a > b ? b : a;
    return ca && cb && hi >= NEAR_EMPTY_MIN && lo * NEAR_EMPTY_DIV < hi;
}

/* Leg-level verdicts once a leg ended (or the input did): a one-way or
 * silent leg scores MOS 1.0, whatever the working direction scored. */
void media_leg_evaluate(struct media *m, struct magg *leg)
{
    if (!leg->answered_ns || leg->evaluated)
        return;
    leg->evaluated = true;
    uint32_t f = 0;
    bool a = leg->audio_rx[0] > 0, b = leg->audio_rx[1] > 0;
    if (!a && !b)
        f |= MEDIA_F_NO_AUDIO;
    else if ((a != b || media_leg_nearly_one_way(leg)) && leg->ep_set[0] && leg->ep_set[1])
        f |= MEDIA_F_ONE_WAY;
    if (!f)
        return;
    uint8_t why = (f & MEDIA_F_NO_AUDIO) ? MEDIA_R_NO_AUDIO : MEDIA_R_ONE_WAY;
    leg->q.flags |= f;
    quality_worst(&leg->q, 1.0, 0, why);
    struct magg *call = agg_find(m, AGG_CALL, leg->call_ref);
    if (call) {
        call->q.flags |= f;
        quality_worst(&call->q, 1.0, 0, why);
    }
}

