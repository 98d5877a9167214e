/* Which frames belong to a call: its SIP messages (by frame number in an
 * analysed capture, by time and ports in a spool) and its media (SDP
 * endpoints, RFC 3550 section 11: RTCP on port + 1, within the call's time
 * range). Below both export paths (export.c, spool_export.c). */
#include <stdlib.h>

#include "../capture/decode.h"
#include "export_int.h"

bool export_ep_match(const struct exporter *x, const struct ts_addr *a, uint16_t port)
{
    for (size_t i = 0; i < x->neps; i++)
        if (x->eps[i].port == port && ts_addr_eq(&x->eps[i].addr, a))
            return true;
    return false;
}

static void on_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    struct exporter *x = ctx;
    if (x->nkeys && export_sip_key(x, m)) {
        x->sip_hit = true;
        return;
    }
    if (m->l4 != TS_L4_UDP ||
        !(export_ep_match(x, &m->src, m->sport) || export_ep_match(x, &m->dst, m->dport)))
        return;
    x->media_hit = true;
    if (x->media && m->ts_ns >= x->lo && m->ts_ns <= x->hi)
        x->media(x->sink_ctx, m, payload);
}

static void on_tcp(void *ctx, const struct pkt_meta *m, const struct tcp_seg *seg)
{
    struct exporter *x = ctx;
    (void)seg;
    if (x->nkeys && export_sip_key(x, m))
        x->sip_hit = true;
}

int export_key_cmp(const void *a, const void *b)
{
    const struct sip_key *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->sport != y->sport)
        return x->sport < y->sport ? -1 : 1;
    return (x->dport > y->dport) - (x->dport < y->dport);
}

bool export_sip_key(const struct exporter *x, const struct pkt_meta *m)
{
    struct sip_key k = { m->ts_ns, m->sport, m->dport };
    return bsearch(&k, x->keys, x->nkeys, sizeof k, export_key_cmp) != NULL;
}

void export_decode(struct exporter *x, const struct ts_frame *f)
{
    x->media_hit = x->sip_hit = false;
    if (!x->nkeys && (!x->neps || f->ts_ns < x->lo || f->ts_ns > x->hi))
        return;
    decoder_frame(x->dec, f);
    if (x->sip_hit) {
        x->st->sip_frames++;
        if (x->sink)
            x->sink(x->sink_ctx, f, true);
    } else if (x->media_hit && f->ts_ns >= x->lo && f->ts_ns <= x->hi) {
        x->st->media_frames++;
        if (x->sink)
            x->sink(x->sink_ctx, f, false);
    }
}

struct decoder *export_decoder_new(struct exporter *x, struct ts_stats *st)
{
    struct decode_cb cb = { .ctx = x, .udp = on_udp, .tcp = on_tcp };
    return decoder_new(st, &cb);
}
