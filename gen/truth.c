/* The truth file: what the generator wrote, streamed as JSON while calls
 * finish, so memory stays flat however long the run. */
#include "genint.h"

#include <stdio.h>
#include <string.h>

static const char *role_name(int r)
{
    static const char *const n[] = { "pbx", "sbc", "itsp", "gateway" };
    return n[r];
}

static const char *corr_name(int c)
{
    return c == GEN_CORR_SESSION_ID ? "session_id" : c == GEN_CORR_HEADER ? "header" : "none";
}

static const char *tp_str(int tp)
{
    return tp == GEN_TP_UDP ? "udp" : tp == GEN_TP_TCP ? "tcp" : "tls";
}

static const char *fmt_name(int f)
{
    return f == FMT_E164 ? "e164" : f == FMT_NATIONAL ? "national" : "international_00";
}

static void kaddr(struct gen *g, const char *k, int ifx, unsigned port)
{
    char b[80];
    snprintf(b, sizeof b, "%s:%u", g->ifs[ifx].host, port);
    jsonw_kstr(&g->jw, k, b);
}

static void ktime(struct gen *g, const char *k, uint64_t t)
{
    if (t)
        jsonw_kdouble(&g->jw, k, (double)t / 1e6, 6);
    else
        jsonw_knull(&g->jw, k);
}

void truth_begin(struct gen *g)
{
    if (!g->truth)
        return;
    struct jsonw *w = &g->jw;
    const struct gen_opts *o = g->o;
    jsonw_obj_begin(w);
    jsonw_kstr(w, "generator", "trunkscope gen");
    jsonw_kint(w, "format_version", 1);
    jsonw_key(w, "params");
    jsonw_obj_begin(w);
    jsonw_kuint(w, "seed", o->seed);
    jsonw_kuint(w, "calls", o->calls);
    jsonw_kuint(w, "concurrency", o->concurrency);
    jsonw_kdouble(w, "cps", o->concurrency ? 0 : o->cps, 3);
    jsonw_kdouble(w, "duration_mean_s", o->duration_mean, 3);
    jsonw_kuint(w, "max_packets", o->max_packets);
    jsonw_kdouble(w, "start", (double)o->start_us / 1e6, 6);
    jsonw_key(w, "mix");
    jsonw_obj_begin(w);
    for (int m = 0; m < GEN_MIX_MAX; m++)
        jsonw_kuint(w, gen_mix_name(m), o->mix[m]);
    jsonw_obj_end(w);
    static const char *const tps[] = { "udp", "tcp", "tls", "mix" };
    jsonw_kstr(w, "transport", tps[o->transport]);
    jsonw_kbool(w, "ipv6", o->ipv6);
    jsonw_kuint(w, "vlan", o->vlan);
    jsonw_kdouble(w, "dup_rate", o->dup_rate, 4);
    jsonw_kuint(w, "itsps", o->itsps);
    jsonw_kbool(w, "branch", o->branch);
    jsonw_kbool(w, "gateway", o->gateway);
    jsonw_kdouble(w, "inbound", o->inbound, 4);
    jsonw_kdouble(w, "retrans", o->retrans, 4);
    jsonw_kdouble(w, "impair", o->impair, 4);
    jsonw_kdouble(w, "loss", o->loss, 4);
    jsonw_kuint(w, "jitter_ms", o->jitter_ms);
    jsonw_kdouble(w, "srtp", o->srtp, 4);
    jsonw_kdouble(w, "bypass", o->bypass, 4);
    jsonw_kdouble(w, "twin_rate", o->twin_rate, 4);
    jsonw_kstr(w, "correlation_header", o->xcid_name);
    jsonw_kuint(w, "options_interval_s", o->options_interval_s);
    jsonw_kbool(w, "registrations", o->registrations);
    if (o->fault_itsp) {
        char nm[16];
        snprintf(nm, sizeof nm, "itsp-%u", o->fault_itsp);
        jsonw_kstr(w, "fault_itsp", nm);
        jsonw_kuint(w, "fault_from_s", o->fault_from_s);
        if (o->fault_to_s)
            jsonw_kuint(w, "fault_to_s", o->fault_to_s);
        else
            jsonw_knull(w, "fault_to_s");
    }
    jsonw_obj_end(w);

    jsonw_key(w, "topology");
    jsonw_obj_begin(w);
    jsonw_kuint(w, "sbc_maps_503_to", g->map503);
    jsonw_key(w, "nodes");
    jsonw_arr_begin(w);
    for (int i = 0; i < g->nnode; i++) {
        const struct gen_node *n = &g->nodes[i];
        jsonw_obj_begin(w);
        jsonw_kstr(w, "name", n->name);
        jsonw_kstr(w, "role", role_name(n->role));
        jsonw_kstr(w, "site", n->site);
        jsonw_key(w, "addresses");
        jsonw_arr_begin(w);
        for (int k = 0; k < n->nif; k++) {
            jsonw_obj_begin(w);
            jsonw_kstr(w, "name", g->ifs[n->ifs[k]].name);
            jsonw_kstr(w, "ip", g->ifs[n->ifs[k]].ip_s);
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
        jsonw_kbool(w, "b2bua", n->b2b >= 0);
        if (n->b2b >= 0) {
            jsonw_kstr(w, "correlation", corr_name(n->corr));
            jsonw_kdouble(w, "media_bypass_rate", n->bypass, 3);
        }
        jsonw_kstr(w, "user_agent", n->ua);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "links");
    jsonw_arr_begin(w);
    for (int i = 0; i < g->nlink; i++) {
        const struct gen_link *l = &g->links[i];
        jsonw_obj_begin(w);
        jsonw_kstr(w, "a", g->ifs[l->end[0]].name);
        jsonw_kstr(w, "b", g->ifs[l->end[1]].name);
        kaddr(g, "a_addr", l->end[0], l->port[0]);
        kaddr(g, "b_addr", l->end[1], l->port[1]);
        jsonw_kstr(w, "transport", tp_str(l->tp));
        jsonw_kstr(w, "number_format", fmt_name(l->fmt));
        jsonw_kbool(w, "trunk", l->trunk);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    jsonw_key(w, "calls");
    jsonw_arr_begin(w);
}

static void evidence(struct jsonw *w, uint8_t e)
{
    jsonw_arr_begin(w);
    if (e & EVD_SESSION_ID)
        jsonw_str(w, "session_id");
    if (e & EVD_HEADER)
        jsonw_str(w, "header");
    if (e & EVD_MEDIA)
        jsonw_str(w, "media");
    if (e & EVD_TIMING)
        jsonw_str(w, "timing_numbers");
    jsonw_arr_end(w);
}

static void stream_json(struct gen *g, struct gen_call *c, struct gen_stream *s)
{
    struct jsonw *w = &g->jw;
    jsonw_obj_begin(w);
    kaddr(g, "src", s->src.ifx, s->src.port);
    kaddr(g, "dst", s->dst.ifx, s->dst.port);
    jsonw_kstr(w, "direction", s->dir ? "callee_to_caller" : "caller_to_callee");
    jsonw_key(w, "legs");
    jsonw_arr_begin(w);
    for (int j = 0; j < c->nlegs; j++)
        if (s->legs & (1u << j))
            jsonw_int(w, j);
    jsonw_arr_end(w);
    if (s->origin)
        jsonw_kint(w, "relay_of", s->origin - c->st);
    else
        jsonw_knull(w, "relay_of");
    jsonw_kuint(w, "relay_delay_us", s->delay_us);
    jsonw_kint(w, "payload_type", s->pt);
    jsonw_kstr(w, "codec", gen_codec_name(s->codec));
    uint32_t pk = 0, dups = 0;
    int64_t lost = 0;
    jsonw_key(w, "ssrcs");
    jsonw_arr_begin(w);
    for (int k = 0; k < 2; k++) {
        const struct gen_seg *sg = &s->seg[k];
        if (!sg->pkts)
            continue;
        jsonw_obj_begin(w);
        jsonw_kuint(w, "ssrc", sg->ssrc);
        jsonw_kuint(w, "packets", sg->pkts);
        jsonw_kint(w, "lost", rtpgen_seg_lost(sg));
        jsonw_kuint(w, "duplicates", sg->dups);
        jsonw_kuint(w, "first_seq", sg->first_ext & 0xffff);
        jsonw_kuint(w, "last_seq", sg->max_ext & 0xffff);
        jsonw_key(w, "expected_seq_range");
        jsonw_arr_begin(w);
        jsonw_uint(w, sg->first_ext);
        jsonw_uint(w, sg->max_ext);
        jsonw_arr_end(w);
        jsonw_kbool(w, "wraps", (sg->max_ext >> 16) != (sg->first_ext >> 16));
        jsonw_obj_end(w);
        pk += sg->pkts - sg->dups;
        dups += sg->dups;
        lost += rtpgen_seg_lost(sg);
    }
    jsonw_arr_end(w);
    jsonw_kuint(w, "packets_sent", pk);
    jsonw_kint(w, "packets_lost", lost);
    jsonw_kuint(w, "duplicates", dups);
    jsonw_kuint(w, "reordered", (s->origin ? s->origin : s)->reordered);
    jsonw_kstr(w, "impairment", gen_imp_name(s->imp));
    jsonw_kbool(w, "one_way", s->muted);
    jsonw_kbool(w, "ssrc_change", (s->origin ? s->origin : s)->chg_slot != UINT32_MAX && s->seg[1].pkts > 0);
    jsonw_kbool(w, "srtp", s->srtp);
    jsonw_kuint(w, "rtcp_packets", s->rtcp_n);
    jsonw_obj_end(w);
}

void truth_call(struct gen *g, struct gen_call *c)
{
    for (int i = 0; i < c->nst; i++)
        for (int k = 0; k < 2; k++)
            if (c->st[i].seg[k].pkts)
                g->rtp_streams++;
    if (!g->truth)
        return;
    struct jsonw *w = &g->jw;
    jsonw_obj_begin(w);
    jsonw_kuint(w, "id", c->id);
    jsonw_kstr(w, "direction", c->dir ? "inbound" : "outbound");
    jsonw_kstr(w, "site", c->site ? "branch" : "hq");
    jsonw_kstr(w, "scenario", gen_mix_name(c->mix));
    jsonw_kstr(w, "outcome", gen_outcome_name(c->outcome));
    static const char *const sides[] = { NULL, "enterprise", "sbc", "itsp" };
    jsonw_kstr(w, "failure_side", sides[c->fside]);
    jsonw_kbool(w, "truncated", c->truncated);
    jsonw_kbool(w, "twin", c->twin);
    char num[24];
    scn_fmt_number(num, sizeof num, c->caller, FMT_E164);
    jsonw_kstr(w, "caller", num);
    scn_fmt_number(num, sizeof num, c->callee, FMT_E164);
    jsonw_kstr(w, "callee", num);
    jsonw_key(w, "path");
    jsonw_arr_begin(w);
    for (int i = 0; i <= c->nlegs; i++)
        jsonw_str(w, g->nodes[c->node[i]].name);
    jsonw_arr_end(w);
    jsonw_key(w, "final_status");
    jsonw_arr_begin(w);
    for (int i = 0; i < c->nlegs; i++)
        if (c->leg[i].final_status)
            jsonw_uint(w, c->leg[i].final_status);
        else
            jsonw_null(w);
    jsonw_arr_end(w);
    ktime(g, "setup_time", c->t_setup);
    ktime(g, "answer_time", c->t_answer);
    ktime(g, "end_time", c->t_end);
    /* a call still up at the cut lasted until then */
    uint64_t t_end = c->outcome == OUT_IN_PROGRESS && !c->t_end ? g->now : c->t_end;
    jsonw_kdouble(w, "duration_s",
                  c->t_answer && t_end > c->t_answer ? (double)(t_end - c->t_answer) / 1e6 : 0, 3);
    if (c->t_18x && c->t_setup)
        jsonw_kuint(w, "pdd_ms", (c->t_18x - c->t_setup) / 1000);
    else
        jsonw_knull(w, "pdd_ms");
    if (c->outcome == OUT_ANSWERED)
        jsonw_kstr(w, "hangup_by", c->by_callee ? "callee" : "caller");
    else
        jsonw_knull(w, "hangup_by");
    jsonw_kstr(w, "codec", gen_codec_name(c->codec));
    jsonw_kbool(w, "srtp", c->srtp);
    jsonw_kuint(w, "sip_messages", c->sip_msgs);
    jsonw_key(w, "legs");
    jsonw_arr_begin(w);
    for (int i = 0; i < c->nlegs; i++) {
        const struct gen_leg *L = &c->leg[i];
        const struct gen_link *lk = &g->links[L->link];
        int a_if = lk->end[L->a_end], b_if = lk->end[!L->a_end];
        jsonw_obj_begin(w);
        jsonw_kint(w, "index", i);
        jsonw_kstr(w, "call_id", L->callid);
        jsonw_kstr(w, "from", L->from_num);
        jsonw_kstr(w, "to", L->to_num);
        jsonw_kstr(w, "ruri", L->to_num);
        jsonw_kstr(w, "transport", tp_str(lk->tp));
        kaddr(g, "src", a_if, lk->port[L->a_end]);
        kaddr(g, "dst", b_if, lk->port[!L->a_end]);
        jsonw_kstr(w, "caller_node", g->nodes[L->a_node].name);
        jsonw_kstr(w, "callee_node", g->nodes[L->b_node].name);
        if (L->final_status)
            jsonw_kuint(w, "final_status", L->final_status);
        else
            jsonw_knull(w, "final_status");
        ktime(g, "invite_time", L->t_invite);
        ktime(g, "ring_time", L->t_ring);
        ktime(g, "answer_time", L->t_answer);
        ktime(g, "final_time", L->t_final);
        ktime(g, "bye_time", L->t_bye);
        if (L->t_bye)
            jsonw_kstr(w, "bye_by", L->bye_b ? "callee" : "caller");
        else
            jsonw_knull(w, "bye_by");
        jsonw_kbool(w, "visible", lk->tp != GEN_TP_TLS);
        jsonw_kuint(w, "invite_transmissions", L->invite_tx);
        jsonw_kbool(w, "session_id", L->sid);
        if (L->sid) {
            jsonw_kstr(w, "session_uuid_caller", c->uuid_a);
            jsonw_kstr(w, "session_uuid_callee", c->uuid_b);
        }
        if (L->xcid[0])
            jsonw_kstr(w, "correlation_header", L->xcid);
        else
            jsonw_knull(w, "correlation_header");
        kaddr(g, "media_caller", L->am.ifx, L->am.port);
        kaddr(g, "media_callee", L->bm.ifx, L->bm.port);
        jsonw_key(w, "link_to_previous");
        if (i == 0) {
            jsonw_null(w);
        } else {
            jsonw_obj_begin(w);
            jsonw_kstr(w, "via", g->nodes[L->a_node].name);
            jsonw_key(w, "evidence");
            evidence(w, L->evidence);
            jsonw_kbool(w, "indistinguishable", L->indist);
            jsonw_obj_end(w);
        }
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "streams");
    jsonw_arr_begin(w);
    for (int i = 0; i < c->nst; i++)
        stream_json(g, c, &c->st[i]);
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

void truth_end(struct gen *g)
{
    if (!g->truth)
        return;
    struct jsonw *w = &g->jw;
    jsonw_arr_end(w); /* calls */
    jsonw_key(w, "registrations");
    jsonw_arr_begin(w);
    for (uint32_t i = 0; i < g->nreg; i++) {
        const struct gen_reglog *r = &g->reglog[i];
        const struct gen_link *l = &g->links[r->link];
        jsonw_obj_begin(w);
        jsonw_kstr(w, "from", g->ifs[l->end[0]].name);
        jsonw_kstr(w, "to", g->ifs[l->end[1]].name);
        jsonw_kstr(w, "call_id", l->reg_callid);
        ktime(g, "time", r->t);
        jsonw_kbool(w, "challenged", r->challenged);
        jsonw_kuint(w, "status", r->status);
        jsonw_kuint(w, "cseq", r->cseq);
        jsonw_kstr(w, "transport", tp_str(l->tp));
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "options");
    jsonw_arr_begin(w);
    for (int i = 0; i < g->nlink; i++) {
        const struct gen_link *l = &g->links[i];
        if (!l->trunk)
            continue;
        jsonw_obj_begin(w);
        jsonw_kstr(w, "from", g->ifs[l->end[0]].name);
        jsonw_kstr(w, "to", g->ifs[l->end[1]].name);
        jsonw_kstr(w, "transport", tp_str(l->tp));
        jsonw_kuint(w, "sent", l->opt_sent);
        jsonw_kuint(w, "answered", l->opt_ok);
        jsonw_kuint(w, "interval_s", g->o->options_interval_s);
        ktime(g, "first", l->opt_first);
        ktime(g, "last", l->opt_last);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "totals");
    jsonw_obj_begin(w);
    jsonw_kuint(w, "calls", g->calls_spawned);
    jsonw_kuint(w, "calls_truncated", g->calls_spawned - g->calls_done);
    jsonw_key(w, "outcomes");
    jsonw_obj_begin(w);
    for (int i = 0; i < OUT_MAX; i++)
        jsonw_kuint(w, gen_outcome_name(i), g->outcomes[i]);
    jsonw_obj_end(w);
    jsonw_kuint(w, "sip_messages", g->sip_msgs);
    jsonw_kuint(w, "sip_retransmissions", g->sip_retrans);
    jsonw_kuint(w, "sip_udp_datagrams", g->sip_udp);
    jsonw_kuint(w, "tcp_data_segments", g->tcp_data);
    jsonw_kuint(w, "tcp_control_segments", g->tcp_ctrl);
    jsonw_kuint(w, "tls_records", g->tls_records);
    jsonw_kuint(w, "call_ids", g->call_ids);
    jsonw_kuint(w, "call_ids_tls", g->call_ids_tls);
    jsonw_kuint(w, "rtp_streams", g->rtp_streams);
    jsonw_kuint(w, "rtp_packets", g->rtp_pkts);
    jsonw_kuint(w, "rtp_network_duplicates", g->rtp_dups);
    jsonw_kuint(w, "srtp_packets", g->srtp_pkts);
    jsonw_kuint(w, "rtcp_packets", g->rtcp_pkts);
    jsonw_kuint(w, "total_packets", g->packets);
    jsonw_kuint(w, "span_duplicates", g->span_dups);
    jsonw_kuint(w, "frames", g->packets + g->span_dups);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
}
