/* Quality that endpoints report about a leg, kept beside what we measure:
 * RFC 6035 vq-rtcpxr PUBLISH bodies (section 4.7; tied to the leg by their
 * CallID line) and the X-RTP-Stat / P-RTP-Stat headers of a BYE and its
 * 2xx. Parsing is dissect/vq.c; this keeps at most TS_CALLS_MAX_EPQ per
 * leg in its dialog's extension. */
#include "calls_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "../common/jsonw.h"
#include "../dissect/vq.h"

const char *calls_epq_source_name(enum calls_epq_source s)
{
    switch (s) {
    case CALLS_EPQ_VQ_RTCPXR: return "vq-rtcpxr";
    case CALLS_EPQ_X_RTP_STAT: return "x-rtp-stat";
    case CALLS_EPQ_P_RTP_STAT: return "p-rtp-stat";
    default: return NULL;
    }
}

static float f(double v) { return v >= 0 ? (float)v : -1.0f; }

/* Report r (its local metrics) from party into d: replaces an earlier one
 * of the same source and party, else takes a free slot. */
void epq_add(struct calls *c, struct dlg *d, const struct vq_report *r, uint8_t source,
                    uint8_t party)
{
    if (!d->ext && !(d->ext = calloc(1, sizeof *d->ext)))
        return;
    struct dlg_ext *x = d->ext;
    unsigned i = 0;
    while (i < x->nepq && !(x->epq[i].source == source && x->epq[i].party == party))
        i++;
    if (i == TS_CALLS_MAX_EPQ)
        return;
    if (i == x->nepq)
        x->nepq++;
    const struct vq_metrics *m = &r->local;
    struct calls_epq *e = &x->epq[i];
    *e = (struct calls_epq){
        .source = source, .party = party, .interval = r->interval,
        .mos_lq = f(m->mos_lq), .mos_cq = f(m->mos_cq),
        .r_factor = f(m->r_lq >= 0 ? m->r_lq : m->r_cq),
        .loss_pct = f(m->loss_pct), .discard_pct = f(m->discard_pct),
        .jitter_ms = f(m->jitter_ms), .rtt_ms = f(m->rtt_ms), .delay_ms = f(m->delay_ms),
        .packets = m->packets >= 0 ? (int64_t)m->packets : -1,
        .lost = m->lost >= 0 ? (int64_t)m->lost : -1,
    };
    calls_cp(e->codec, sizeof e->codec, r->codec);
    TS_INC(c->st, VQ_REPORTS);
}

void epq_headers(struct calls *c, struct dlg *d, const struct sip_msg *msg, uint8_t party)
{
    static const struct { const char *name; uint8_t source; } hdrs[] = {
        { "X-RTP-Stat", CALLS_EPQ_X_RTP_STAT }, { "P-RTP-Stat", CALLS_EPQ_P_RTP_STAT },
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        struct bv v = sip_hdr_get(msg, hdrs[i].name);
        if (!v.p)
            continue;
        struct vq_report r;
        if (vq_parse_stat(v, &r) != VQ_OK) {
            TS_INC(c->st, VQ_MALFORMED);
            continue;
        }
        epq_add(c, d, &r, hdrs[i].source, party);
    }
}

bool epq_publish_report(struct calls *c, const struct sip_msg *msg, struct vq_report *r)
{
    struct bv ct = sip_hdr_get(msg, "Content-Type");
    if (!ct.p || !vq_is_rtcpxr_type(ct))
        return false;
    if (vq_parse_rtcpxr(msg->body, r) != VQ_OK || !r->has_local) {
        TS_INC(c->st, VQ_MALFORMED);
        return false;
    }
    return true;
}

void epq_leg(const struct dlg *d, struct calls_leg *l)
{
    if (!d->ext)
        return;
    l->nepq = d->ext->nepq;
    memcpy(l->epq, d->ext->epq, d->ext->nepq * sizeof l->epq[0]);
}

static void kopt(struct jsonw *w, const char *k, double v, int decimals)
{
    if (v >= 0)
        jsonw_kdouble(w, k, v, decimals);
    else
        jsonw_knull(w, k);
}

void calls_epq_write(struct jsonw *w, const struct calls_leg *l)
{
    jsonw_arr_begin(w);
    for (unsigned i = 0; i < l->nepq && i < TS_CALLS_MAX_EPQ; i++) {
        const struct calls_epq *e = &l->epq[i];
        jsonw_obj_begin(w);
        jsonw_kstr(w, "source", calls_epq_source_name((enum calls_epq_source)e->source));
        if (e->party)
            jsonw_kstr(w, "reporter", calls_party_name((enum calls_party)e->party));
        else
            jsonw_knull(w, "reporter");
        jsonw_kbool(w, "interval", e->interval);
        kopt(w, "mos_lq", e->mos_lq, 2);
        kopt(w, "mos_cq", e->mos_cq, 2);
        kopt(w, "r_factor", e->r_factor, 1);
        kopt(w, "loss_pct", e->loss_pct, 2);
        kopt(w, "discard_pct", e->discard_pct, 2);
        kopt(w, "jitter_ms", e->jitter_ms, 1);
        kopt(w, "rtt_ms", e->rtt_ms, 1);
        kopt(w, "delay_ms", e->delay_ms, 1);
        kopt(w, "packets", (double)e->packets, 0);
        kopt(w, "lost", (double)e->lost, 0);
        if (e->codec[0])
            jsonw_kstr(w, "codec", e->codec);
        else
            jsonw_knull(w, "codec");
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

size_t calls_epq_json(const struct calls_leg *l, char *buf, size_t cap)
{
    if (!l->nepq || cap < 2)
        return 0;
    FILE *f = fmemopen(buf, cap, "w");
    if (!f)
        return 0;
    struct jsonw w;
    jsonw_init(&w, f, false);
    calls_epq_write(&w, l);
    enum jsonw_err err = jsonw_finish(&w);
    long n = ftell(f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (err != JSONW_OK || bad || n <= 0 || (size_t)n >= cap)
        return 0; /* did not fit: nothing rather than half a document */
    while (n > 0 && (buf[n - 1] == '\n'))
        n--;
    return (size_t)n;
}
