/* The Lync Server 2013 SIP trunk checklist from the wire (checklist.h).
 * Sources: "Planning for SIP trunking / M:N trunk routing / media bypass"
 * of the Lync Server 2013 planning guide and the parameters of
 * Set-CsTrunkConfiguration (SRTPMode, EnableFastFailoverTimer,
 * MaxEarlyDialogs, RTCPActiveCalls, RTCPCallsOnHold, EnableBypass,
 * RemovePlusFromUri). Calls are accumulated per directed (source,
 * destination) pair of a leg's INVITE; a trunk reads its two pairs. */
#include "checklist.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../calls/calls.h"
#include "../common/hash.h"
#include "../common/jsonw.h"
#include "../media/media.h"
#include "../store/alerts.h"

#define NS_PER_S 1000000000ull
/* EnableFastFailoverTimer: the Mediation Server waits 10 s for an answer */
#define CL_FAILOVER_NS (10ull * NS_PER_S)
/* a CANCEL this close to the timer is the timer's (capture and queue delays) */
#define CL_FAILOVER_EARLY_NS (9ull * NS_PER_S)
#define CL_FAILOVER_LATE_NS (13ull * NS_PER_S)
/* MaxEarlyDialogs default and the largest value Lync accepts */
#define CL_LYNC_EARLY_DIALOGS 20
/* RTCP every 5 s (RFC 3550 minimum): a leg up this long must have sent some */
#define CL_RTCP_MIN_NS (12ull * NS_PER_S)
/* RTCPActiveCalls / RTCPCallsOnHold: the Mediation Server drops a call
 * after 30 s without RTCP */
#define CL_RTCP_GAP_NS (30ull * NS_PER_S)

static const struct {
    const char *id, *title, *source;
} items[CL_N] = {
    [CL_TRANSPORT] = { "transport", "Signalling over TCP or TLS (never UDP)",
                       "Lync 2013 SIP trunking: Mediation Server to gateway transport "
                       "(New-CsPstnGateway -GatewaySipSignalingPort, TLS 5067 / TCP 5068)" },
    [CL_CODECS] = { "codecs", "Codecs G.711 A-law/u-law only, plus telephone-event and CN",
                    "Lync 2013 SIP trunking: codecs on the trunk (G.711; RFC 4733 DTMF; "
                    "RFC 3389 comfort noise)" },
    [CL_SRTP] = { "srtp", "SRTP if and only if the trunk is TLS",
                  "Set-CsTrunkConfiguration -SRTPMode (Required, Optional, NotSupported)" },
    [CL_PAIRS] = { "pairs", "Every (Mediation Server, gateway) pair carries successful calls",
                   "Lync 2013 M:N trunk routing (New-CsTrunk: a trunk is a Mediation Server "
                   "and a gateway)" },
    [CL_FAILOVER] = { "fast_failover",
                      "Outbound INVITEs unanswered after 10 s are cancelled and retried elsewhere",
                      "Set-CsTrunkConfiguration -EnableFastFailoverTimer" },
    [CL_EARLY] = { "early_dialogs", "Early dialogs per INVITE within 20",
                   "Set-CsTrunkConfiguration -MaxEarlyDialogs" },
    [CL_RTCP] = { "rtcp", "RTCP present on active and held calls, never 30 s without",
                  "Set-CsTrunkConfiguration -RTCPActiveCalls, -RTCPCallsOnHold" },
    [CL_BYPASS] = { "media_bypass",
                    "Media bypass: the Mediation Server's SDP carries a client's address",
                    "Set-CsTrunkConfiguration -EnableBypass (Lync 2013 media bypass planning)" },
    [CL_PLUS] = { "leading_plus", "A leading + handled the same way on every call",
                  "Set-CsTrunkConfiguration -RemovePlusFromUri" },
    [CL_PEERS] = { "known_peers", "No source at the Mediation Server but its known gateways",
                   "Lync 2013 SIP trunking: the gateway's address in the topology "
                   "(trunk = lines of the configuration)" },
};

const char *checklist_item_id(unsigned item) { return item < CL_N ? items[item].id : "?"; }
const char *checklist_item_title(unsigned item) { return item < CL_N ? items[item].title : "?"; }
const char *checklist_item_source(unsigned item) { return item < CL_N ? items[item].source : "?"; }

const char *checklist_status_name(unsigned st)
{
    static const char *const n[] = { "n/a", "pass", "info", "warn", "fail" };
    return st < sizeof n / sizeof n[0] ? n[st] : "?";
}

/* A count and the first calls behind it. */
struct cl_ev {
    uint64_t n;
    uint64_t ids[TS_CHECKLIST_CALLS];
    uint8_t nids;
};

static void ev_add(struct cl_ev *e, uint64_t call)
{
    e->n++;
    for (unsigned i = 0; i < e->nids; i++)
        if (e->ids[i] == call)
            return;
    if (e->nids < TS_CHECKLIST_CALLS)
        e->ids[e->nids++] = call;
}

struct cl_pair {
    struct ts_addr src, dst;    /* the INVITE's */
    uint64_t legs, answered;
    struct cl_ev any, failed;   /* every leg; legs not answered */
    uint64_t tp_udp, tp_tcp, tp_tls, tp_other;
    struct cl_ev udp;
    uint64_t sdp_legs;
    struct cl_ev bad_codec;
    char bad_codecs[64];
    uint64_t media_legs, srtp_legs;
    struct cl_ev srtp_no_tls, tls_no_srtp;
    uint32_t forks_max;
    struct cl_ev many_forks;
    uint64_t slow;              /* no 18x or final answer within 10 s */
    struct cl_ev failover, failover_alone, no_failover;
    uint64_t sdp_src, sdp_dst;  /* legs with the sender's / receiver's SDP */
    struct cl_ev bypass_src, bypass_dst;
    struct ts_addr bypass_src_addr, bypass_dst_addr;
    struct cl_ev ruri_plus, ruri_bare, from_plus, from_bare;
    uint64_t rtcp_active_n, rtcp_held_n, no_media;
    struct cl_ev rtcp_active, rtcp_held;
    struct cl_ev gap_active, gap_held;  /* more than 30 s without RTCP */
    uint64_t gap_max_ns;
    uint16_t dports[4];         /* the INVITEs' destination ports, first seen */
    uint8_t ndports;
};

/* A leg waiting for its streams (RTCP). */
struct cl_leg {
    uint64_t leg_ref, call_id;
    uint32_t pair;              /* UINT32_MAX: call not seen yet */
    uint32_t next;              /* bucket chain, UINT32_MAX: end */
    bool have_call, answered, held;
    uint64_t up_ns;             /* answer -> end */
    uint64_t rtp, rtcp;
    uint64_t rtcp_gap_ns;       /* the longest of its streams' */
    uint64_t seen_ns;           /* data time of its call's end or a stream's last packet */
};

#define PAIR_SLOTS (2 * TS_CHECKLIST_MAX_PAIRS)
#define LEG_BUCKETS TS_CHECKLIST_MAX_LEGS

struct checklist {
    struct cl_pair *pairs;
    size_t npairs;
    uint32_t *slot;             /* PAIR_SLOTS: pair index + 1, 0 empty */
    uint64_t unchecked;         /* legs on pairs beyond the limit */
    struct cl_leg *legs;        /* ring */
    uint32_t *bucket;
    size_t nlegs, oldest;
    uint64_t streams_alone;     /* stream entries evicted before their call came */
    bool live;                  /* results read while traffic goes on: no settling */
};

struct checklist *checklist_new(void)
{
    struct checklist *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->slot = calloc(PAIR_SLOTS, sizeof *cl->slot);
    cl->legs = calloc(TS_CHECKLIST_MAX_LEGS, sizeof *cl->legs);
    cl->bucket = malloc(LEG_BUCKETS * sizeof *cl->bucket);
    if (!cl->slot || !cl->legs || !cl->bucket) {
        checklist_free(cl);
        return NULL;
    }
    memset(cl->bucket, 0xff, LEG_BUCKETS * sizeof *cl->bucket);
    return cl;
}

void checklist_free(struct checklist *cl)
{
    if (!cl)
        return;
    free(cl->pairs);
    free(cl->slot);
    free(cl->legs);
    free(cl->bucket);
    free(cl);
}

/* The pair's index, created when new; UINT32_MAX when the table is full. */
static uint32_t pair_get(struct checklist *cl, const struct ts_addr *src, const struct ts_addr *dst)
{
    uint64_t h = ts_hash_mix(ts_hash(src, sizeof *src), dst, sizeof *dst);
    for (size_t k = 0; k < PAIR_SLOTS; k++) {
        size_t s = (size_t)((h + k) % PAIR_SLOTS);
        uint32_t v = cl->slot[s];
        if (v) {
            struct cl_pair *p = &cl->pairs[v - 1];
            if (ts_addr_eq(&p->src, src) && ts_addr_eq(&p->dst, dst))
                return v - 1;
            continue;
        }
        if (cl->npairs >= TS_CHECKLIST_MAX_PAIRS)
            return UINT32_MAX;
        if ((cl->npairs & (cl->npairs - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
            size_t cap = cl->npairs ? 2 * cl->npairs : 8;
            struct cl_pair *np = realloc(cl->pairs, cap * sizeof *np);
            if (!np)
                return UINT32_MAX;
            cl->pairs = np;
        }
        struct cl_pair *p = &cl->pairs[cl->npairs];
        memset(p, 0, sizeof *p);
        p->src = *src;
        p->dst = *dst;
        cl->slot[s] = (uint32_t)++cl->npairs;
        return (uint32_t)(cl->npairs - 1);
    }
    return UINT32_MAX;
}

static const struct cl_pair *pair_find(const struct checklist *cl, const struct ts_addr *src,
                                       const struct ts_addr *dst)
{
    uint64_t h = ts_hash_mix(ts_hash(src, sizeof *src), dst, sizeof *dst);
    for (size_t k = 0; k < PAIR_SLOTS; k++) {
        uint32_t v = cl->slot[(size_t)((h + k) % PAIR_SLOTS)];
        if (!v)
            return NULL;
        const struct cl_pair *p = &cl->pairs[v - 1];
        if (ts_addr_eq(&p->src, src) && ts_addr_eq(&p->dst, dst))
            return p;
    }
    return NULL;
}

/* ---- legs held for their streams ---- */

static uint32_t leg_bucket(uint64_t ref)
{
    /* leg refs are our own counters, not wire data */
    return (uint32_t)((ref * 0x9E3779B97F4A7C15ull) >> 32) & (LEG_BUCKETS - 1);
}

static struct cl_leg *leg_find(struct checklist *cl, uint64_t ref)
{
    for (uint32_t i = cl->bucket[leg_bucket(ref)]; i != UINT32_MAX; i = cl->legs[i].next)
        if (cl->legs[i].leg_ref == ref)
            return &cl->legs[i];
    return NULL;
}

/* A leg's RTCP verdict, into its pair. */
static void leg_judge(struct checklist *cl, const struct cl_leg *l)
{
    if (!l->have_call) {
        cl->streams_alone++;
        return;
    }
    if (l->pair == UINT32_MAX || !l->answered || l->up_ns < CL_RTCP_MIN_NS)
        return;
    struct cl_pair *p = &cl->pairs[l->pair];
    if (!l->rtp && !l->rtcp) {
        p->no_media++; /* media not captured here (or bypassing this point) */
        return;
    }
    if (l->rtcp_gap_ns > p->gap_max_ns)
        p->gap_max_ns = l->rtcp_gap_ns;
    bool gap = l->rtcp_gap_ns > CL_RTCP_GAP_NS;
    if (l->held) {
        p->rtcp_held_n++;
        if (!l->rtcp)
            ev_add(&p->rtcp_held, l->call_id);
        if (gap)
            ev_add(&p->gap_held, l->call_id);
    } else {
        p->rtcp_active_n++;
        if (!l->rtcp)
            ev_add(&p->rtcp_active, l->call_id);
        if (gap)
            ev_add(&p->gap_active, l->call_id);
    }
}

static void leg_drop_oldest(struct checklist *cl)
{
    struct cl_leg *o = &cl->legs[cl->oldest];
    uint32_t *pp = &cl->bucket[leg_bucket(o->leg_ref)];
    while (*pp != UINT32_MAX && *pp != cl->oldest)
        pp = &cl->legs[*pp].next;
    if (*pp == cl->oldest)
        *pp = o->next;
    leg_judge(cl, o);
    cl->oldest = (cl->oldest + 1) % TS_CHECKLIST_MAX_LEGS;
    cl->nlegs--;
}

static struct cl_leg *leg_get(struct checklist *cl, uint64_t ref)
{
    struct cl_leg *l = leg_find(cl, ref);
    if (l)
        return l;
    if (cl->nlegs == TS_CHECKLIST_MAX_LEGS)
        leg_drop_oldest(cl);
    size_t i = (cl->oldest + cl->nlegs) % TS_CHECKLIST_MAX_LEGS;
    l = &cl->legs[i];
    memset(l, 0, sizeof *l);
    l->leg_ref = ref;
    l->pair = UINT32_MAX;
    uint32_t b = leg_bucket(ref);
    l->next = cl->bucket[b];
    cl->bucket[b] = (uint32_t)i;
    cl->nlegs++;
    return l;
}

void checklist_settle(struct checklist *cl)
{
    while (cl->nlegs)
        leg_drop_oldest(cl);
}

void checklist_set_live(struct checklist *cl)
{
    cl->live = true;
}

void checklist_settle_before(struct checklist *cl, uint64_t before_ns)
{
    /* the ring is in arrival order: its oldest legs are the first done */
    while (cl->nlegs && cl->legs[cl->oldest].seen_ns < before_ns)
        leg_drop_oldest(cl);
}

static void leg_seen(struct cl_leg *l, uint64_t ns)
{
    if (ns > l->seen_ns)
        l->seen_ns = ns;
}

void checklist_stream(struct checklist *cl, const struct cl_stream *s)
{
    if (!s->leg_ref)
        return;
    struct cl_leg *l = leg_get(cl, s->leg_ref);
    l->rtp += s->packets;
    l->rtcp += s->rtcp;
    if (s->rtcp_gap_ns > l->rtcp_gap_ns)
        l->rtcp_gap_ns = s->rtcp_gap_ns;
    leg_seen(l, s->last_ns);
}

/* The longest stretch of a stream's life without RTCP from its SSRC: before
 * the first compound, between two, after the last; all of it without any.
 * Its life: first RTP packet to the last packet, RTP or RTCP. */
static uint64_t rtcp_gap(const struct media_stream *s)
{
    const struct media_rtcp *r = &s->rtcp;
    uint64_t start = s->first_ns, end = s->last_ns > r->last_ns ? s->last_ns : r->last_ns;
    if (!start || end < start)
        return 0;
    if (!r->first_ns)
        return end - start;
    uint64_t g = r->max_gap_ns;
    if (r->first_ns > start && r->first_ns - start > g)
        g = r->first_ns - start;
    if (end - r->last_ns > g)
        g = end - r->last_ns;
    return g;
}

void checklist_media(struct checklist *cl, const struct media_stream *s)
{
    checklist_stream(cl, &(struct cl_stream){
        .leg_ref = s->leg_ref, .packets = s->packets,
        .rtcp = (uint64_t)s->rtcp.sr + s->rtcp.rr + s->rtcp.xr + s->rtcp.sdes + s->rtcp.bye,
        .first_ns = s->first_ns, .last_ns = s->last_ns, .rtcp_gap_ns = rtcp_gap(s) });
}

/* ---- calls ---- */

static bool codec_allowed(const char *name, size_t len)
{
    static const char *const ok[] = { "PCMU", "PCMA", "telephone-event", "CN" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == len && strncasecmp(ok[i], name, len) == 0)
            return true;
    return false;
}

/* Codecs of list outside the allowed set, appended to bad (once each). */
static bool codecs_bad(const char *list, char *bad, size_t cap)
{
    bool any = false;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n && !codec_allowed(p, n)) {
            any = true;
            size_t have = strlen(bad);
            char item[24];
            snprintf(item, sizeof item, "%.*s", (int)(n < 20 ? n : 20), p);
            if (!strstr(bad, item) && have + strlen(item) + 2 < cap)
                snprintf(bad + have, cap - have, "%s%s", have ? "," : "", item);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return any;
}

/* A number of a request URI or From user: '+' first, or digits only. */
static int plus_form(const char *user)
{
    if (user[0] == '+')
        return 1;
    if (!user[0])
        return 0;
    for (const char *p = user; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '-' && *p != '.')
            return 0;
    return -1;
}

static bool sdp_addr_other(const struct calls_sdp *s, const struct ts_addr *sig)
{
    static const uint8_t zero[16];
    if (!s->present || !s->addr.family)
        return false;
    if (memcmp(s->addr.a, zero, 16) == 0)
        return false; /* hold by c=0.0.0.0 */
    return !ts_addr_eq(&s->addr, sig);
}

static uint64_t first_answer_ns(const struct calls_leg *l)
{
    uint64_t r = 0;
    const uint64_t t[] = { l->ring_ns, l->answer_ns, l->err_ns };
    for (size_t i = 0; i < 3; i++)
        if (t[i] && (!r || t[i] < r))
            r = t[i];
    return r;
}

/* EnableFastFailoverTimer: an outbound INVITE without a 18x or final
 * answer after 10 s is cancelled and sent to the next gateway. */
static void leg_failover(struct cl_pair *p, const struct calls_call *c, unsigned li)
{
    const struct calls_leg *l = &c->legs[li];
    uint64_t a = l->attempt_ns ? l->attempt_ns : l->invite_ns;
    uint64_t r = first_answer_ns(l);
    if (!a || (r && r - a <= CL_FAILOVER_NS))
        return;
    uint64_t end = l->end_ns;
    if (!r && end && end - a < CL_FAILOVER_EARLY_NS)
        return; /* given up before the timer (the caller hung up) */
    if (!r && !end)
        return; /* the capture ended first */
    p->slow++;
    if (l->cancelled && end && end - a >= CL_FAILOVER_EARLY_NS && end - a <= CL_FAILOVER_LATE_NS &&
        (!r || r >= end)) {
        for (unsigned j = 0; j < c->nlegs; j++) {
            const struct calls_leg *o = &c->legs[j];
            if (j != li && o->invite_ns >= a + CL_FAILOVER_EARLY_NS &&
                !ts_addr_eq(&o->dst, &l->dst)) {
                ev_add(&p->failover, c->id);
                return;
            }
        }
        ev_add(&p->failover_alone, c->id);
        return;
    }
    ev_add(&p->no_failover, c->id);
}

static void leg_into_pair(struct checklist *cl, struct cl_pair *p, const struct calls_call *c,
                          unsigned li, uint32_t pix, bool first_hop)
{
    const struct calls_leg *l = &c->legs[li];
    p->legs++;
    ev_add(&p->any, c->id);
    bool answered = l->answer_ns != 0;
    if (answered)
        p->answered++;
    else if (!calls_outcome_open(l->outcome))
        ev_add(&p->failed, c->id);

    bool tls = strcasecmp(l->transport, "TLS") == 0;
    if (strcasecmp(l->transport, "UDP") == 0) {
        p->tp_udp++;
        ev_add(&p->udp, c->id);
    } else if (strcasecmp(l->transport, "TCP") == 0) {
        p->tp_tcp++;
    } else if (tls) {
        p->tp_tls++;
    } else {
        p->tp_other++;
    }

    const struct calls_sdp *sd[2] = { &l->caller_sdp, &l->callee_sdp };
    bool sdp = false, bad = false;
    for (int k = 0; k < 2; k++) {
        if (!sd[k]->present)
            continue;
        sdp = true;
        bad |= codecs_bad(sd[k]->codecs, p->bad_codecs, sizeof p->bad_codecs);
    }
    if (sdp) {
        p->sdp_legs++;
        if (bad)
            ev_add(&p->bad_codec, c->id);
        /* negotiated: the answer's profile when there is one */
        bool srtp = l->callee_sdp.present ? l->callee_sdp.srtp && l->caller_sdp.srtp
                                          : l->caller_sdp.srtp;
        p->media_legs++;
        if (srtp)
            p->srtp_legs++;
        if (srtp && !tls)
            ev_add(&p->srtp_no_tls, c->id);
        if (!srtp && tls)
            ev_add(&p->tls_no_srtp, c->id);
    }

    if (l->forks > p->forks_max)
        p->forks_max = l->forks;
    if (l->forks > CL_LYNC_EARLY_DIALOGS)
        ev_add(&p->many_forks, c->id);

    leg_failover(p, c, li);

    if (l->caller_sdp.present) {
        p->sdp_src++;
        if (sdp_addr_other(&l->caller_sdp, &p->src)) {
            ev_add(&p->bypass_src, c->id);
            p->bypass_src_addr = l->caller_sdp.addr;
        }
    }
    if (l->callee_sdp.present) {
        p->sdp_dst++;
        if (sdp_addr_other(&l->callee_sdp, &p->dst)) {
            ev_add(&p->bypass_dst, c->id);
            p->bypass_dst_addr = l->callee_sdp.addr;
        }
    }

    int f = plus_form(l->ruri[0] ? l->ruri : l->to);
    if (f > 0)
        ev_add(&p->ruri_plus, c->id);
    else if (f < 0)
        ev_add(&p->ruri_bare, c->id);
    f = plus_form(l->from);
    if (f > 0)
        ev_add(&p->from_plus, c->id);
    else if (f < 0)
        ev_add(&p->from_bare, c->id);

    if (first_hop) {
        bool seen = false;
        for (unsigned i = 0; i < p->ndports; i++)
            seen |= p->dports[i] == l->dport;
        if (!seen && p->ndports < 4)
            p->dports[p->ndports++] = l->dport;
    }
    if (first_hop && l->leg_ref) {
        struct cl_leg *h = leg_get(cl, l->leg_ref);
        h->have_call = true;
        h->call_id = c->id;
        h->pair = pix;
        h->answered = answered;
        h->held = l->hold;
        h->up_ns = answered && l->end_ns > l->answer_ns ? l->end_ns - l->answer_ns : 0;
        leg_seen(h, l->end_ns ? l->end_ns : l->invite_ns);
    }
}

void checklist_call(struct checklist *cl, const struct calls_call *c)
{
    for (unsigned i = 0; i < c->nlegs; i++) {
        const struct calls_leg *l = &c->legs[i];
        unsigned nh = l->nhops ? l->nhops : 1;
        for (unsigned h = 0; h < nh && h < TS_CALLS_MAX_HOPS; h++) {
            const struct ts_addr *s = l->nhops ? &l->hop_src[h] : &l->src;
            const struct ts_addr *d = l->nhops ? &l->hop_dst[h] : &l->dst;
            uint32_t pix = pair_get(cl, s, d);
            if (pix == UINT32_MAX) {
                cl->unchecked++;
                continue;
            }
            leg_into_pair(cl, &cl->pairs[pix], c, i, pix, h == 0);
        }
    }
}

/* ---- results ---- */

static void num(struct cl_check *k, const char *key, double v)
{
    if (k->nnum < CL_NUMS)
        k->num[k->nnum++] = (struct cl_num){ key, v };
}

static void calls_of(struct cl_check *k, const struct cl_ev *e)
{
    for (unsigned i = 0; i < e->nids && k->ncalls < TS_CHECKLIST_CALLS; i++) {
        bool dup = false;
        for (unsigned j = 0; j < k->ncalls; j++)
            dup |= k->calls[j] == e->ids[i];
        if (!dup)
            k->calls[k->ncalls++] = e->ids[i];
    }
}

static void set(struct cl_check *k, enum cl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set(struct cl_check *k, enum cl_status st, const char *fmt, ...)
{
    k->status = (uint8_t)st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->detail, sizeof k->detail, fmt, ap);
    va_end(ap);
}

static const struct cl_pair zero_pair;

static unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

static void check_transport(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    uint64_t legs = o->legs + in->legs, udp = o->tp_udp + in->tp_udp;
    num(k, "legs", (double)legs);
    num(k, "udp", (double)udp);
    num(k, "tcp", (double)(o->tp_tcp + in->tp_tcp));
    num(k, "tls", (double)(o->tp_tls + in->tp_tls));
    if (!legs) {
        set(k, CL_NA, "no call on the trunk");
    } else if (udp) {
        calls_of(k, &o->udp);
        calls_of(k, &in->udp);
        set(k, CL_FAIL, "%llu of %llu legs signalled over UDP", ull(udp), ull(legs));
    } else {
        set(k, CL_PASS, "%llu legs over TCP or TLS", ull(legs));
    }
}

static void check_codecs(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    uint64_t n = o->sdp_legs + in->sdp_legs, bad = o->bad_codec.n + in->bad_codec.n;
    num(k, "legs_with_sdp", (double)n);
    num(k, "legs_other_codecs", (double)bad);
    if (!n) {
        set(k, CL_NA, "no SDP on the trunk");
    } else if (bad) {
        calls_of(k, &o->bad_codec);
        calls_of(k, &in->bad_codec);
        char all[64];
        snprintf(all, sizeof all, "%s", o->bad_codecs);
        codecs_bad(in->bad_codecs, all, sizeof all);
        set(k, CL_FAIL, "%llu of %llu legs offered or answered other codecs: %s", ull(bad), ull(n),
            all);
    } else {
        set(k, CL_PASS, "%llu legs with G.711 (and telephone-event, CN) only", ull(n));
    }
}

static void check_srtp(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    uint64_t n = o->media_legs + in->media_legs;
    uint64_t a = o->srtp_no_tls.n + in->srtp_no_tls.n, b = o->tls_no_srtp.n + in->tls_no_srtp.n;
    num(k, "legs_with_sdp", (double)n);
    num(k, "srtp", (double)(o->srtp_legs + in->srtp_legs));
    num(k, "srtp_without_tls", (double)a);
    num(k, "tls_without_srtp", (double)b);
    if (!n) {
        set(k, CL_NA, "no SDP on the trunk");
    } else if (a || b) {
        calls_of(k, &o->srtp_no_tls);
        calls_of(k, &in->srtp_no_tls);
        calls_of(k, &o->tls_no_srtp);
        calls_of(k, &in->tls_no_srtp);
        set(k, CL_FAIL, "%llu legs SRTP without TLS (keys in clear SDP), %llu TLS with plain RTP",
            ull(a), ull(b));
    } else {
        set(k, CL_PASS, "SRTP on the %llu TLS legs with SDP, RTP on the others",
            ull(o->srtp_legs + in->srtp_legs));
    }
}

/* M:N: the trunks with t's name are one logical trunk; every Mediation
 * Server (local end) with every gateway (peer) must answer calls. */
static void check_pairs(struct cl_check *k, const struct checklist *cl, const struct calls *c,
                        const struct calls_trunk *t)
{
    size_t nt = calls_trunk_count(c);
    struct ts_addr loc[16], peer[16];
    size_t nl = 0, np = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct calls_trunk *u = calls_trunk_get(c, i);
        if (strcmp(u->name, t->name) != 0)
            continue;
        bool fl = false, fp = false;
        for (size_t j = 0; j < nl; j++)
            fl |= ts_addr_eq(&loc[j], &u->local);
        for (size_t j = 0; j < np; j++)
            fp |= ts_addr_eq(&peer[j], &u->peer);
        if (!fl && nl < 16)
            loc[nl++] = u->local;
        if (!fp && np < 16)
            peer[np++] = u->peer;
    }
    size_t ok = 0, bad = 0;
    char first_bad[128] = "";
    for (size_t i = 0; i < nl; i++) {
        for (size_t j = 0; j < np; j++) {
            const struct calls_trunk *u = NULL;
            for (size_t x = 0; x < nt && !u; x++) {
                const struct calls_trunk *v = calls_trunk_get(c, x);
                if (ts_addr_eq(&v->local, &loc[i]) && ts_addr_eq(&v->peer, &peer[j]))
                    u = v;
            }
            if (u && u->all.answered) {
                ok++;
                continue;
            }
            bad++;
            if (!first_bad[0]) {
                char a[64], b[64];
                snprintf(first_bad, sizeof first_bad, "%s - %s: %llu attempts, 0 answered",
                         ts_addr_str(&loc[i], a, sizeof a), ts_addr_str(&peer[j], b, sizeof b),
                         ull(u ? u->all.attempts : 0));
            }
            const struct cl_pair *o = pair_find(cl, &loc[i], &peer[j]);
            const struct cl_pair *in = pair_find(cl, &peer[j], &loc[i]);
            if (o)
                calls_of(k, &o->failed);
            if (in)
                calls_of(k, &in->failed);
        }
    }
    num(k, "mediation_servers", (double)nl);
    num(k, "gateways", (double)np);
    num(k, "pairs", (double)(nl * np));
    num(k, "pairs_answering", (double)ok);
    if (!t->all.attempts && !t->all.answered)
        set(k, CL_NA, "no call on the trunk");
    else if (bad)
        set(k, CL_FAIL, "%zu of %zu (Mediation Server, gateway) pairs answered no call (%s)", bad,
            nl * np, first_bad);
    else
        set(k, CL_PASS, "all %zu (Mediation Server, gateway) pairs answered calls", nl * np);
}

static void check_failover(struct cl_check *k, const struct cl_pair *o)
{
    uint64_t fo = o->failover.n, alone = o->failover_alone.n, none = o->no_failover.n;
    num(k, "outbound_invites", (double)o->legs);
    num(k, "unanswered_10s", (double)o->slow);
    num(k, "failed_over", (double)fo);
    num(k, "cancelled_not_retried", (double)alone);
    num(k, "not_cancelled", (double)none);
    num(k, "failover_pct", o->legs ? 100.0 * (double)(fo + alone) / (double)o->legs : 0);
    if (!o->legs) {
        set(k, CL_NA, "no outbound INVITE on the trunk");
    } else if (none) {
        calls_of(k, &o->no_failover);
        set(k, CL_FAIL,
            "%llu outbound INVITEs had no 18x or final answer after 10 s and were not "
            "cancelled then (the fast failover timer is off, or the gateway outlasts it)",
            ull(none));
    } else if (fo || alone) {
        calls_of(k, &o->failover);
        calls_of(k, &o->failover_alone);
        set(k, CL_WARN,
            "%llu of %llu outbound INVITEs (%.1f %%) cancelled after 10 s without an answer: %llu "
            "retried at another gateway, %llu not",
            ull(fo + alone), ull(o->legs), 100.0 * (double)(fo + alone) / (double)o->legs,
            ull(fo), ull(alone));
    } else {
        set(k, CL_PASS, "every outbound INVITE answered within 10 s");
    }
}

static void check_early(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    uint64_t legs = o->legs + in->legs, bad = o->many_forks.n + in->many_forks.n;
    uint32_t mx = o->forks_max > in->forks_max ? o->forks_max : in->forks_max;
    num(k, "legs", (double)legs);
    num(k, "max_early_dialogs", mx);
    num(k, "legs_over_20", (double)bad);
    if (!legs) {
        set(k, CL_NA, "no call on the trunk");
    } else if (bad) {
        calls_of(k, &o->many_forks);
        calls_of(k, &in->many_forks);
        set(k, CL_FAIL, "%llu INVITEs had more than %d early dialogs (up to %u%s)", ull(bad),
            CL_LYNC_EARLY_DIALOGS, mx, mx >= TS_CALLS_MAX_FORKS ? " or more" : "");
    } else {
        set(k, CL_PASS, "at most %u early dialogs per INVITE", mx);
    }
}

static void check_rtcp(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    uint64_t an = o->rtcp_active_n + in->rtcp_active_n, hn = o->rtcp_held_n + in->rtcp_held_n;
    uint64_t am = o->rtcp_active.n + in->rtcp_active.n, hm = o->rtcp_held.n + in->rtcp_held.n;
    uint64_t ag = o->gap_active.n + in->gap_active.n, hg = o->gap_held.n + in->gap_held.n;
    uint64_t gmax = o->gap_max_ns > in->gap_max_ns ? o->gap_max_ns : in->gap_max_ns;
    num(k, "active_calls", (double)an);
    num(k, "active_without_rtcp", (double)am);
    num(k, "held_calls", (double)hn);
    num(k, "held_without_rtcp", (double)hm);
    num(k, "answered_without_media", (double)(o->no_media + in->no_media));
    num(k, "active_gap_over_30s", (double)ag);
    num(k, "held_gap_over_30s", (double)hg);
    num(k, "max_gap_s", (double)(gmax / 10000000) / 100.0);
    if (!an && !hn) {
        set(k, CL_NA, "no answered call of 12 s or more with media seen");
    } else if (am || hm || ag || hg) {
        /* no RTCP at all first, then the gaps */
        calls_of(k, &o->rtcp_held);
        calls_of(k, &in->rtcp_held);
        calls_of(k, &o->rtcp_active);
        calls_of(k, &in->rtcp_active);
        calls_of(k, &o->gap_held);
        calls_of(k, &in->gap_held);
        calls_of(k, &o->gap_active);
        calls_of(k, &in->gap_active);
        set(k, CL_FAIL,
            "no RTCP on %llu of %llu active and %llu of %llu held calls; more than 30 s without "
            "RTCP in %llu active and %llu held calls (longest %.1f s; Lync drops calls after 30 s)",
            ull(am), ull(an), ull(hm), ull(hn), ull(ag), ull(hg), (double)gmax / 1e9);
    } else {
        set(k, CL_PASS, "RTCP on all %llu active and %llu held calls, never more than 30 s apart "
                        "(longest %.1f s)", ull(an), ull(hn), (double)gmax / 1e9);
    }
}

static void check_bypass(struct cl_check *k, const struct cl_pair *o, const struct cl_pair *in)
{
    /* the Mediation Server's SDP: the offer of its INVITEs, the answer to the gateway's */
    uint64_t n = o->sdp_src + in->sdp_dst, b = o->bypass_src.n + in->bypass_dst.n;
    num(k, "legs_with_sdp", (double)n);
    num(k, "bypassed", (double)b);
    if (!n) {
        set(k, CL_NA, "no SDP from the Mediation Server");
    } else if (b) {
        calls_of(k, &o->bypass_src);
        calls_of(k, &in->bypass_dst);
        char a[64];
        ts_addr_str(o->bypass_src.n ? &o->bypass_src_addr : &in->bypass_dst_addr, a, sizeof a);
        set(k, CL_INFO,
            "media bypass on %llu of %llu legs: the Mediation Server's SDP names another "
            "address (e.g. %s)",
            ull(b), ull(n), a);
    } else {
        set(k, CL_PASS, "no bypass: the Mediation Server anchors the media of all %llu legs",
            ull(n));
    }
}

static void check_plus(struct cl_check *k, const struct cl_pair *o)
{
    num(k, "ruri_plus", (double)o->ruri_plus.n);
    num(k, "ruri_without_plus", (double)o->ruri_bare.n);
    num(k, "from_plus", (double)o->from_plus.n);
    num(k, "from_without_plus", (double)o->from_bare.n);
    bool rmix = o->ruri_plus.n && o->ruri_bare.n, fmix = o->from_plus.n && o->from_bare.n;
    if (!o->ruri_plus.n && !o->ruri_bare.n && !o->from_plus.n && !o->from_bare.n) {
        set(k, CL_NA, "no numeric user in the Mediation Server's INVITEs");
    } else if (rmix || fmix) {
        /* the minority are the calls to look at */
        if (rmix)
            calls_of(k, o->ruri_plus.n <= o->ruri_bare.n ? &o->ruri_plus : &o->ruri_bare);
        if (fmix)
            calls_of(k, o->from_plus.n <= o->from_bare.n ? &o->from_plus : &o->from_bare);
        set(k, CL_FAIL,
            "the leading + differs between calls: request URI %llu with, %llu without; "
            "From %llu with, %llu without",
            ull(o->ruri_plus.n), ull(o->ruri_bare.n), ull(o->from_plus.n), ull(o->from_bare.n));
    } else {
        set(k, CL_PASS, "request URI %s, From %s on every call",
            o->ruri_plus.n ? "with +" : o->ruri_bare.n ? "without +" : "not numeric",
            o->from_plus.n ? "with +" : o->from_bare.n ? "without +" : "not numeric");
    }
}

static bool configured_peer(const struct calls_config *cfg, const struct ts_addr *a)
{
    for (size_t i = 0; i < cfg->ntrunk_names; i++)
        if (ts_addr_eq(&cfg->trunk_names[i].addr, a))
            return true;
    for (size_t i = 0; i < cfg->nsbcs; i++)
        if (ts_addr_eq(&cfg->sbcs[i], a))
            return true;
    return false;
}

/* Lync's default gateway listening ports on the Mediation Server (TLS, TCP) */
static const uint16_t lync_ports[] = { 5067, 5068 };

static bool port_in(const uint16_t *ports, size_t n, const struct cl_pair *p)
{
    for (unsigned i = 0; i < p->ndports; i++)
        for (size_t j = 0; j < n; j++)
            if (p->dports[i] == ports[j])
                return true;
    return false;
}

/* Known peers are the configured trunk = (and sbc =) addresses. The
 * Mediation Server's trunk ports are where they send it INVITEs (Lync's
 * 5067/5068 when none did); any other address sending INVITEs to those
 * ports is a stranger on the trunk (its clients and pool use others). */
static void check_peers(struct cl_check *k, const struct checklist *cl, const struct calls *c,
                        const struct calls_trunk *t)
{
    const struct calls_config *cfg = calls_config_of(c);
    const struct ts_addr *ms = &t->local;
    uint16_t ports[16];
    size_t np = 0;
    for (size_t i = 0; i < cl->npairs; i++) {
        const struct cl_pair *p = &cl->pairs[i];
        if (!ts_addr_eq(&p->dst, ms) || !configured_peer(cfg, &p->src))
            continue;
        for (unsigned j = 0; j < p->ndports && np < 16; j++)
            ports[np++] = p->dports[j];
    }
    bool dflt = np == 0;
    if (dflt) {
        ports[0] = lync_ports[0];
        ports[1] = lync_ports[1];
        np = 2;
    }
    size_t unknown = 0;
    uint64_t invites = 0;
    char first[64] = "";
    for (size_t i = 0; i < cl->npairs; i++) {
        const struct cl_pair *p = &cl->pairs[i];
        if (!ts_addr_eq(&p->dst, ms) || configured_peer(cfg, &p->src) ||
            !port_in(ports, np, p))
            continue;
        unknown++;
        invites += p->legs;
        if (cfg->ntrunk_names)
            calls_of(k, &p->any);
        if (!first[0])
            ts_addr_str(&p->src, first, sizeof first);
    }
    num(k, "known_peers", (double)(cfg->ntrunk_names + cfg->nsbcs));
    num(k, "trunk_ports", (double)np);
    num(k, "unknown_sources", (double)unknown);
    num(k, "invites_from_unknown", (double)invites);
    if (!cfg->ntrunk_names && !cfg->nsbcs)
        set(k, CL_NA, "no trunk = peers in the configuration to compare with");
    else if (unknown)
        set(k, CL_FAIL,
            "%zu unknown sources sent %llu INVITEs to the Mediation Server's trunk port%s "
            "(e.g. %s)",
            unknown, ull(invites), dflt ? " (5067/5068)" : "", first);
    else
        set(k, CL_PASS, "INVITEs to the Mediation Server's trunk port%s came from known peers only",
            dflt ? " (5067/5068)" : "");
}

void checklist_trunk(struct checklist *cl, const struct calls *c, size_t i, struct cl_result *out)
{
    if (!cl->live)
        checklist_settle(cl);
    memset(out, 0, sizeof *out);
    const struct calls_trunk *t = calls_trunk_get(c, i);
    const struct cl_pair *o = pair_find(cl, &t->local, &t->peer);
    const struct cl_pair *in = pair_find(cl, &t->peer, &t->local);
    if (!o)
        o = &zero_pair;
    if (!in)
        in = &zero_pair;
    check_transport(&out->check[CL_TRANSPORT], o, in);
    check_codecs(&out->check[CL_CODECS], o, in);
    check_srtp(&out->check[CL_SRTP], o, in);
    check_pairs(&out->check[CL_PAIRS], cl, c, t);
    check_failover(&out->check[CL_FAILOVER], o);
    check_early(&out->check[CL_EARLY], o, in);
    check_rtcp(&out->check[CL_RTCP], o, in);
    check_bypass(&out->check[CL_BYPASS], o, in);
    check_plus(&out->check[CL_PLUS], o);
    check_peers(&out->check[CL_PEERS], cl, c, t);
    for (unsigned k = 0; k < CL_N; k++)
        if (out->check[k].status > out->status && out->check[k].status != CL_INFO)
            out->status = out->check[k].status;
    if (out->status == CL_NA) /* nothing but n/a and info */
        for (unsigned k = 0; k < CL_N; k++)
            if (out->check[k].status == CL_INFO)
                out->status = CL_PASS;
}

void checklist_json(struct jsonw *w, const struct cl_result *r, cl_map_fn map, void *ctx)
{
    jsonw_obj_begin(w);
    jsonw_kstr(w, "status", checklist_status_name(r->status));
    jsonw_key(w, "items");
    jsonw_arr_begin(w);
    for (unsigned i = 0; i < CL_N; i++) {
        const struct cl_check *k = &r->check[i];
        jsonw_obj_begin(w);
        jsonw_kstr(w, "id", items[i].id);
        jsonw_kstr(w, "title", items[i].title);
        jsonw_kstr(w, "source", items[i].source);
        jsonw_kstr(w, "status", checklist_status_name(k->status));
        jsonw_kstr(w, "detail", k->detail); /* our own text: addresses and numbers */
        jsonw_key(w, "evidence");
        jsonw_obj_begin(w);
        for (unsigned j = 0; j < k->nnum; j++) {
            double v = k->num[j].v;
            if (v == (double)(int64_t)v)
                jsonw_kint(w, k->num[j].key, (int64_t)v);
            else
                jsonw_kdouble(w, k->num[j].key, v, 2);
        }
        jsonw_obj_end(w);
        jsonw_key(w, "calls");
        jsonw_arr_begin(w);
        for (unsigned j = 0; j < k->ncalls; j++) {
            int64_t id = map ? map(ctx, k->calls[j]) : (int64_t)k->calls[j];
            if (id >= 0)
                jsonw_int(w, id);
        }
        jsonw_arr_end(w);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

void checklist_print(FILE *f, struct checklist *cl, const struct calls *c)
{
    size_t n = calls_trunk_count(c);
    if (!n)
        return;
    fprintf(f, "\nLync Server 2013 trunk checklist (from the wire)\n");
    for (size_t i = 0; i < n; i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        struct cl_result r;
        checklist_trunk(cl, c, i, &r);
        char a[64], b[64];
        fprintf(f, "  trunk %s (%s - %s): %s\n", t->name, ts_addr_str(&t->local, a, sizeof a),
                ts_addr_str(&t->peer, b, sizeof b), checklist_status_name(r.status));
        for (unsigned k = 0; k < CL_N; k++) {
            const struct cl_check *x = &r.check[k];
            fprintf(f, "    %-4s %-14s %s", checklist_status_name(x->status), items[k].id,
                    x->detail);
            for (unsigned j = 0; j < x->ncalls; j++)
                fprintf(f, "%s%llu", j ? "," : " (calls ", ull(x->calls[j]));
            fprintf(f, "%s\n", x->ncalls ? ")" : "");
        }
    }
    if (cl->unchecked)
        fprintf(f, "  %llu legs on pairs beyond the checklist's table were not checked\n",
                ull(cl->unchecked));
}

/* Tracker ids -> store ids, found once for all the trunks' calls. */
struct id_map {
    uint64_t tracker[CL_N * TS_CHECKLIST_CALLS];
    int64_t store[CL_N * TS_CHECKLIST_CALLS];
    size_t n;
};

static int64_t map_id(void *ctx, uint64_t tracker_id)
{
    const struct id_map *m = ctx;
    for (size_t i = 0; i < m->n; i++)
        if (m->tracker[i] == tracker_id)
            return m->store[i];
    return -1;
}

struct cl_snapshot {
    uint64_t emitted;           /* calls the tracker emitted: the store's newest rows */
    size_t n;
    struct cl_snap_trunk {
        struct ts_addr local, peer;
        struct cl_result r;
    } t[];
};

struct cl_snapshot *checklist_snapshot(struct checklist *cl, const struct calls *c)
{
    size_t n = calls_trunk_count(c);
    struct cl_snapshot *s = malloc(sizeof *s + n * sizeof s->t[0]);
    if (!s)
        return NULL;
    s->emitted = calls_emitted(c);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        s->t[i].local = t->local;
        s->t[i].peer = t->peer;
        checklist_trunk(cl, c, i, &s->t[i].r);
    }
    return s;
}

void checklist_snapshot_free(struct cl_snapshot *s)
{
    free(s);
}

int checklist_snapshot_store(const struct cl_snapshot *s, struct st_alerts *a)
{
    int rc = st_alerts_begin(a) == ST_OK ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        const struct cl_result *r = &s->t[i].r;
        struct id_map m = { .n = 0 };
        for (unsigned k = 0; k < CL_N; k++)
            for (unsigned j = 0; j < r->check[k].ncalls; j++)
                m.tracker[m.n++] = r->check[k].calls[j];
        if (st_alerts_call_ids(a, s->emitted, m.tracker, m.store, m.n) != ST_OK) {
            rc = -1;
            break;
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            rc = -1;
            break;
        }
        struct jsonw w;
        jsonw_init(&w, f, false);
        checklist_json(&w, r, map_id, &m);
        bool ok = jsonw_finish(&w) == JSONW_OK;
        ok &= fclose(f) == 0;
        if (!ok || st_alerts_checklist(a, &s->t[i].local, &s->t[i].peer,
                                       checklist_status_name(r->status), buf) != ST_OK)
            rc = -1;
        free(buf);
    }
    if (rc == 0 && st_alerts_commit(a) != ST_OK)
        rc = -1;
    if (rc != 0)
        st_alerts_rollback(a);
    return rc;
}

int checklist_snapshot_save(const struct cl_snapshot *s, const char *path, char *err,
                            size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct st_alerts *a = st_alerts_open(path, err, errlen);
    int rc = a ? checklist_snapshot_store(s, a) : -1;
    if (a && rc != 0)
        snprintf(err, errlen, "%s: cannot store the trunk checklist", path);
    st_alerts_close(a);
    return rc;
}
