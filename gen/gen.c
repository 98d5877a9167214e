/* Generator run loop: options, the fixed topology, the time-ordered event
 * heap, call lifetime, trunk keep-alives (RFC 3261 s11 OPTIONS) and
 * registrations (RFC 3261 s10). Frames are written by emit.c, names and
 * codec figures are in tables.c. */
#include "genint.h"

#include "../common/num.h"
#include "../common/opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Timer B, 64*T1 (RFC 3261 17.1.1.2), in the generator's microseconds. */
#define TIMER_B_US 32000000ull

/* What a capture cut at g->now shows of call c, open there: the planned
 * outcome once the first leg got its final response or a BYE went; else
 * in_progress when a leg was answered or the first leg had a provisional
 * response, cancelled once the caller sent CANCEL, pending while the first
 * INVITE waits for any response for less than Timer B, timeout after. The
 * truth then says what an analyser of the cut capture should say. */
static void cut_outcome(const struct gen *g, struct gen_call *c)
{
    const struct gen_leg *l0 = &c->leg[0];
    bool answered = false;
    for (int i = 0; i < c->nlegs; i++)
        answered |= c->leg[i].t_answer != 0;
    if (c->t_end)
        return;
    uint8_t o;
    if (answered || (l0->t_prov && !l0->t_cancel))
        o = OUT_IN_PROGRESS;
    else if (l0->t_cancel)
        o = OUT_CANCELLED;
    else if (!l0->t_invite || g->now < l0->t_invite + TIMER_B_US)
        o = OUT_PENDING;
    else
        o = OUT_TIMEOUT;
    c->outcome = o;
    if (o == OUT_IN_PROGRESS || o == OUT_PENDING || o == OUT_CANCELLED)
        c->fside = 0;
}

static const char usage_text[] =
    "usage: trunkscope gen -o FILE.pcap [options]\n"
    "  -o, --out FILE         capture to write (required; '-' = standard output)\n"
    "  --truth PATH           truth file (default FILE.truth.json next to FILE;\n"
    "                         none with -o - unless given)\n"
    "  --calls N              calls to generate (default 30; 0 = until --max-packets)\n"
    "  --cps R                call attempts per second (default 1)\n"
    "  --concurrency N        keep N calls up at once instead of --cps\n"
    "  --duration-mean S      mean talk time in seconds (default 20)\n"
    "  --max-packets N        stop after N packets; open calls are marked truncated\n"
    "  --seed S               PRNG seed (default 1)\n"
    "  --start SECONDS        first timestamp, Unix seconds (default 1700000000)\n"
    "  --mix K=W,...          weights of answered,hold,early,refer,busy,rejected,\n"
    "                         cancelled,failed,timeout (unlisted keys get 0)\n"
    "  --transport T          udp|tcp|tls|mix (default udp)\n"
    "  --ipv6                 SBC outside <-> ITSPs over IPv6\n"
    "  --vlan ID              802.1Q tag 1..4094 on every frame\n"
    "  --dup-rate F           SPAN duplicates: fraction of frames copied 2-8 us later\n"
    "  --itsps N              ITSPs 1..8 (default 2)\n"
    "  --branch               add a branch site (own PBX + SBC, or via the central MS)\n"
    "  --gateway              add a PSTN gateway behind the PBX\n"
    "  --inbound F            fraction of inbound calls (default 0.4)\n"
    "  --retrans F            fraction of UDP INVITEs sent twice, T1 apart (default 0.05)\n"
    "  --impair F             fraction of streams with an impairment (default 0.3)\n"
    "  --impairments LIST     subset of loss,burst,jitter,reorder,dup,ssrc_change,one_way\n"
    "  --loss F               loss rate of the 'loss' impairment (default 0.03)\n"
    "  --jitter-ms N          max extra delay of the 'jitter' impairment 1..18 (default 12)\n"
    "  --srtp F               fraction of calls with SRTP (default 0.05)\n"
    "  --bypass F             fraction of calls whose media bypasses the SBC (default 0.1)\n"
    "  --twin-rate F          fraction of calls given an indistinguishable twin (default 0.02)\n"
    "  --corr B=S,...         B: sbc|ms|branch-sbc, S: session-id|header|none (default seeded)\n"
    "  --corr-header NAME     correlation header name (default X-CID)\n"
    "  --map-503 CODE         status the SBC relays for an ITSP 503: 500|503 (default seeded)\n"
    "  --options-interval S   OPTIONS keep-alive period 1..3600 (default 30)\n"
    "  --fault-itsp N         ITSP N (1..--itsps) fails from --fault-from to --fault-to\n"
    "                         seconds after the start: every outbound call to it gets\n"
    "                         503 from the carrier, its OPTIONS go unanswered\n"
    "  --fault-from S, --fault-to S  the fault's start and end (default 0, forever)\n"
    "  --no-register          no REGISTER exchange with the ITSPs\n"
    "  --pretty               indent the truth file\n";

const char *gen_usage(void) { return usage_text; }

void gen_opts_default(struct gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->calls = 30;
    o->cps = 1.0;
    o->duration_mean = 20.0;
    o->seed = 1;
    o->start_us = 1700000000ull * 1000000ull;
    static const uint32_t mix[GEN_MIX_MAX] = { 40, 6, 6, 4, 10, 8, 12, 8, 6 };
    memcpy(o->mix, mix, sizeof mix);
    o->transport = GEN_TP_UDP;
    o->registrations = true;
    o->dup_rate = 0;
    o->inbound = 0.4;
    o->retrans = 0.05;
    o->impair = 0.3;
    o->loss = 0.03;
    o->srtp = 0.05;
    o->bypass = 0.1;
    o->twin_rate = 0.02;
    o->jitter_ms = 12;
    o->impair_mask = ((1u << GEN_IMP_MAX) - 1) & ~1u;
    o->itsps = 2;
    for (int i = 0; i < GEN_B2B_MAX; i++)
        o->corr[i] = -1;
    o->sbc_map_503 = 0;
    snprintf(o->xcid_name, sizeof o->xcid_name, "X-CID");
    o->options_interval_s = 30;
}

static int find_name(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
            return i;
    return -1;
}

static bool parse_mix(struct gen_opts *o, const char *s)
{
    uint32_t mix[GEN_MIX_MAX] = { 0 };
    uint64_t total = 0;
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq)
            return false;
        int k = find_name(gen_mix_names, GEN_MIX_MAX, s, (size_t)(eq - s));
        if (k < 0)
            return false;
        const char *comma = strchr(eq + 1, ',');
        size_t vl = comma ? (size_t)(comma - eq - 1) : strlen(eq + 1);
        char num[16];
        if (vl == 0 || vl >= sizeof num)
            return false;
        memcpy(num, eq + 1, vl);
        num[vl] = 0;
        uint64_t w;
        if (!num_u64(num, 0, 1000000, &w))
            return false;
        mix[k] = (uint32_t)w;
        total += w;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return false;
    }
    if (total == 0)
        return false;
    memcpy(o->mix, mix, sizeof mix);
    return true;
}

static bool parse_list(const char *s, const char *const *names, int n, uint32_t *mask)
{
    uint32_t m = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t l = comma ? (size_t)(comma - s) : strlen(s);
        int k = find_name(names, n, s, l);
        if (k <= 0)
            return false;
        m |= 1u << k;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return false;
    }
    if (!m)
        return false;
    *mask = m;
    return true;
}

static bool parse_corr(struct gen_opts *o, const char *s)
{
    static const char *const b2b[] = { "sbc", "ms", "branch-sbc" };
    static const char *const sty[] = { "none", "session-id", "header" };
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq)
            return false;
        int b = find_name(b2b, 3, s, (size_t)(eq - s));
        const char *comma = strchr(eq + 1, ',');
        size_t vl = comma ? (size_t)(comma - eq - 1) : strlen(eq + 1);
        int st = find_name(sty, 3, eq + 1, vl);
        if (b < 0 || st < 0)
            return false;
        o->corr[b] = st;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return false;
    }
    return true;
}

static bool valid_token(const char *s)
{
    if (!*s || strlen(s) >= 32)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* The option's name as the messages give it: "-o", or the long name. */
static const char *opt_name(const struct option *table, int c, char *buf, size_t len)
{
    for (const struct option *t = table; t->name; t++)
        if (t->val == c) {
            snprintf(buf, len, "--%s", t->name);
            return buf;
        }
    return "-o";
}

enum gen_err gen_parse_args(struct gen_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    bool have_cps = false, have_conc = false, have_calls = false;
    enum {
        O_IPV6 = 256, O_BRANCH, O_GATEWAY, O_NO_REGISTER, O_PRETTY, O_OUT, O_TRUTH,
        O_CALLS, O_CPS, O_CONCURRENCY, O_DURATION_MEAN, O_MAX_PACKETS, O_SEED, O_START,
        O_MIX, O_TRANSPORT, O_VLAN, O_DUP_RATE, O_ITSPS, O_INBOUND, O_RETRANS, O_IMPAIR,
        O_IMPAIRMENTS, O_LOSS, O_JITTER_MS, O_SRTP, O_BYPASS, O_TWIN_RATE, O_CORR,
        O_CORR_HEADER, O_MAP_503, O_OPTIONS_INTERVAL, O_FAULT_ITSP, O_FAULT_FROM, O_FAULT_TO,
    };
    static const struct option table[] = {
        { "help", no_argument, NULL, 'h' },
        { "ipv6", no_argument, NULL, O_IPV6 },
        { "branch", no_argument, NULL, O_BRANCH },
        { "gateway", no_argument, NULL, O_GATEWAY },
        { "no-register", no_argument, NULL, O_NO_REGISTER },
        { "pretty", no_argument, NULL, O_PRETTY },
        { "out", required_argument, NULL, O_OUT },
        { "truth", required_argument, NULL, O_TRUTH },
        { "calls", required_argument, NULL, O_CALLS },
        { "cps", required_argument, NULL, O_CPS },
        { "concurrency", required_argument, NULL, O_CONCURRENCY },
        { "duration-mean", required_argument, NULL, O_DURATION_MEAN },
        { "max-packets", required_argument, NULL, O_MAX_PACKETS },
        { "seed", required_argument, NULL, O_SEED },
        { "start", required_argument, NULL, O_START },
        { "mix", required_argument, NULL, O_MIX },
        { "transport", required_argument, NULL, O_TRANSPORT },
        { "vlan", required_argument, NULL, O_VLAN },
        { "dup-rate", required_argument, NULL, O_DUP_RATE },
        { "itsps", required_argument, NULL, O_ITSPS },
        { "inbound", required_argument, NULL, O_INBOUND },
        { "retrans", required_argument, NULL, O_RETRANS },
        { "impair", required_argument, NULL, O_IMPAIR },
        { "impairments", required_argument, NULL, O_IMPAIRMENTS },
        { "loss", required_argument, NULL, O_LOSS },
        { "jitter-ms", required_argument, NULL, O_JITTER_MS },
        { "srtp", required_argument, NULL, O_SRTP },
        { "bypass", required_argument, NULL, O_BYPASS },
        { "twin-rate", required_argument, NULL, O_TWIN_RATE },
        { "corr", required_argument, NULL, O_CORR },
        { "corr-header", required_argument, NULL, O_CORR_HEADER },
        { "map-503", required_argument, NULL, O_MAP_503 },
        { "options-interval", required_argument, NULL, O_OPTIONS_INTERVAL },
        { "fault-itsp", required_argument, NULL, O_FAULT_ITSP },
        { "fault-from", required_argument, NULL, O_FAULT_FROM },
        { "fault-to", required_argument, NULL, O_FAULT_TO },
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = "gen", .table = table, .shorts = "ho:", .err = err,
                       .errlen = errlen };
    const char *val;
    for (int c; (c = opts_next(&op, argc, argv, &val)) != OPTS_END;) {
        if (c == OPTS_ERROR)
            return GEN_EUSAGE;
        if (c == OPTS_OPERAND) {
            snprintf(err, errlen, "gen: %s '%s'",
                     val[0] == '-' ? "unknown option" : "unexpected argument", val);
            return GEN_EUSAGE;
        }
        uint64_t u;
        double d;
        bool ok = true;
        switch (c) {
        case 'h':
            snprintf(err, errlen, "help");
            return GEN_EUSAGE;
        case O_IPV6: o->ipv6 = true; break;
        case O_BRANCH: o->branch = true; break;
        case O_GATEWAY: o->gateway = true; break;
        case O_NO_REGISTER: o->registrations = false; break;
        case O_PRETTY: o->pretty = true; break;
        case 'o':
        case O_OUT: ok = *val != 0, o->out_path = val; break;
        case O_TRUTH: ok = *val != 0, o->truth_path = val; break;
        case O_CALLS:
            (ok = num_u64(val, 0, 100000000ull, &u)) ? (o->calls = u, have_calls = true) : 0;
            break;
        case O_CPS:
            (ok = num_double(val, 0.001, 100000, &d)) ? (o->cps = d, have_cps = true) : 0;
            break;
        case O_CONCURRENCY:
            (ok = num_u64(val, 1, 1000000, &u)) ? (o->concurrency = (uint32_t)u, have_conc = true) : 0;
            break;
        case O_DURATION_MEAN:
            (ok = num_double(val, 1, 86400, &d)) ? (o->duration_mean = d) : 0;
            break;
        case O_MAX_PACKETS:
            (ok = num_u64(val, 1, UINT64_MAX / 2, &u)) ? (o->max_packets = u) : 0;
            break;
        case O_SEED: (ok = num_u64(val, 0, UINT64_MAX, &u)) ? (o->seed = u) : 0; break;
        case O_START:
            (ok = num_u64(val, 0, 4000000000ull, &u)) ? (o->start_us = u * 1000000ull) : 0;
            break;
        case O_MIX: ok = parse_mix(o, val); break;
        case O_TRANSPORT: {
            static const char *const tp[] = { "udp", "tcp", "tls", "mix" };
            int k = find_name(tp, 4, val, strlen(val));
            (ok = k >= 0) ? (o->transport = k) : 0;
            break;
        }
        case O_VLAN: (ok = num_u64(val, 1, 4094, &u)) ? (o->vlan = (uint16_t)u) : 0; break;
        case O_DUP_RATE: ok = num_double(val, 0, 1, &o->dup_rate); break;
        case O_ITSPS: (ok = num_u64(val, 1, 8, &u)) ? (o->itsps = (uint32_t)u) : 0; break;
        case O_INBOUND: ok = num_double(val, 0, 1, &o->inbound); break;
        case O_RETRANS: ok = num_double(val, 0, 1, &o->retrans); break;
        case O_IMPAIR: ok = num_double(val, 0, 1, &o->impair); break;
        case O_IMPAIRMENTS: ok = parse_list(val, gen_imp_names, GEN_IMP_MAX, &o->impair_mask); break;
        case O_LOSS: ok = num_double(val, 0, 0.5, &o->loss); break;
        case O_JITTER_MS: (ok = num_u64(val, 1, 18, &u)) ? (o->jitter_ms = (uint32_t)u) : 0; break;
        case O_SRTP: ok = num_double(val, 0, 1, &o->srtp); break;
        case O_BYPASS: ok = num_double(val, 0, 1, &o->bypass); break;
        case O_TWIN_RATE: ok = num_double(val, 0, 0.5, &o->twin_rate); break;
        case O_CORR: ok = parse_corr(o, val); break;
        case O_CORR_HEADER:
            (ok = valid_token(val)) ? (void)snprintf(o->xcid_name, sizeof o->xcid_name, "%s", val) : (void)0;
            break;
        case O_MAP_503:
            (ok = num_u64(val, 500, 503, &u) && (u == 500 || u == 503)) ? (o->sbc_map_503 = (uint32_t)u) : 0;
            break;
        case O_OPTIONS_INTERVAL:
            (ok = num_u64(val, 1, 3600, &u)) ? (o->options_interval_s = (uint32_t)u) : 0;
            break;
        case O_FAULT_ITSP: (ok = num_u64(val, 1, 8, &u)) ? (o->fault_itsp = (uint32_t)u) : 0; break;
        case O_FAULT_FROM:
            (ok = num_u64(val, 0, 30u * 86400, &u)) ? (o->fault_from_s = (uint32_t)u) : 0;
            break;
        case O_FAULT_TO:
            (ok = num_u64(val, 1, 30u * 86400, &u)) ? (o->fault_to_s = (uint32_t)u) : 0;
            break;
        default: /* a table entry without a case: a bug */
            snprintf(err, errlen, "gen: option %d not handled", c);
            return GEN_EINTERNAL;
        }
        if (!ok) {
            char name[32];
            snprintf(err, errlen, "gen: bad value '%s' for %s", val, opt_name(table, c, name, sizeof name));
            return GEN_EUSAGE;
        }
    }
    if (!o->out_path) {
        snprintf(err, errlen, "gen: -o FILE is required");
        return GEN_EUSAGE;
    }
    if (have_cps && have_conc) {
        snprintf(err, errlen, "gen: --cps and --concurrency exclude each other");
        return GEN_EUSAGE;
    }
    if (o->calls == 0 && !o->max_packets) {
        snprintf(err, errlen, "gen: --calls 0 needs --max-packets");
        return GEN_EUSAGE;
    }
    if (!have_calls && o->max_packets)
        o->calls = 0; /* the packet cap alone decides */
    return GEN_OK;
}

/* ---- topology ---- */

static int add_if(struct gen *g, int node, const char *name, const char *addr)
{
    struct gen_if *f = &g->ifs[g->nif];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->node = (uint8_t)node;
    f->v6 = strchr(addr, ':') != NULL;
    if (inet_pton(f->v6 ? AF_INET6 : AF_INET, addr, f->ip) != 1)
        return -1;
    snprintf(f->ip_s, sizeof f->ip_s, "%s", addr);
    snprintf(f->host, sizeof f->host, f->v6 ? "[%s]" : "%s", addr);
    uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, (uint8_t)node, (uint8_t)g->nif };
    memcpy(f->mac, mac, 6);
    f->ipid = (uint16_t)rng_next(&g->rng);
    f->next_port = (uint16_t)(16384 + 2 * rng_below(&g->rng, 8000));
    struct gen_node *n = &g->nodes[node];
    n->ifs[n->nif++] = (uint8_t)g->nif;
    return g->nif++;
}

static int add_node(struct gen *g, const char *name, int role, const char *site,
                    int b2b, const char *ua)
{
    struct gen_node *n = &g->nodes[g->nnode];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->role = (uint8_t)role;
    n->site = site;
    n->b2b = b2b;
    n->ua = ua;
    if (b2b >= 0) {
        int c = g->o->corr[b2b];
        n->corr = c >= 0 ? c : (int)rng_below(&g->rng, 3);
        n->bypass = b2b == GEN_B2B_MS ? 0.5 : g->o->bypass;
    }
    return g->nnode++;
}

static int add_link(struct gen *g, int if0, int if1, int tp, int fmt, uint32_t rlo,
                    uint32_t rhi, bool trunk)
{
    struct gen_link *l = &g->links[g->nlink];
    memset(l, 0, sizeof *l);
    l->end[0] = (uint8_t)if0;
    l->end[1] = (uint8_t)if1;
    l->tp = (uint8_t)tp;
    l->fmt = (uint8_t)fmt;
    l->rtt_lo = rlo;
    l->rtt_hi = rhi;
    l->trunk = trunk;
    if (tp == GEN_TP_UDP) {
        l->port[0] = l->port[1] = 5060;
    } else {
        l->port[0] = (uint16_t)rng_range(&g->rng, 40000, 60999);
        l->port[1] = tp == GEN_TP_TLS ? 5061 : 5060;
    }
    l->seq[0] = (uint32_t)rng_next(&g->rng);
    l->seq[1] = (uint32_t)rng_next(&g->rng);
    return g->nlink++;
}

static int pick_tp(const struct gen_opts *o, int mixed)
{
    return o->transport == GEN_TP_MIX ? mixed : o->transport;
}

static bool build_topology(struct gen *g)
{
    const struct gen_opts *o = g->o;
    bool v6 = o->ipv6;
    g->n_pbx = add_node(g, "ms-pbx", ROLE_PBX, "hq", GEN_B2B_MS, "MediationServer/7.0");
    g->n_sbc = add_node(g, "sbc", ROLE_SBC, "hq", GEN_B2B_SBC, "EdgeSBC/9.2");
    int pbx_if = add_if(g, g->n_pbx, "ms-pbx", "10.1.0.10");
    int sbc_in = add_if(g, g->n_sbc, "sbc-inside", "10.1.0.1");
    int sbc_out = add_if(g, g->n_sbc, "sbc-outside", v6 ? "2001:db8:100::10" : "198.51.100.10");
    if (pbx_if < 0 || sbc_in < 0 || sbc_out < 0)
        return false;
    add_link(g, pbx_if, sbc_in, pick_tp(o, GEN_TP_TCP), FMT_E164, 300, 1500, false);
    g->n_itsps = (int)o->itsps;
    for (int k = 0; k < g->n_itsps; k++) {
        char name[24], addr[48];
        snprintf(name, sizeof name, "itsp-%d", k + 1);
        snprintf(addr, sizeof addr, v6 ? "2001:db8:113::%d" : "203.0.113.%d", k + 1);
        int n = add_node(g, name, ROLE_ITSP, "carrier", -1, "CarrierCore/3.1");
        if (k == 0)
            g->n_itsp0 = n;
        int fi = add_if(g, n, name, addr);
        if (fi < 0)
            return false;
        int mixed = k == 0 ? GEN_TP_UDP : k == 1 ? GEN_TP_TLS : GEN_TP_TCP;
        int fmt = k % 3 == 0 ? FMT_NATIONAL : k % 3 == 1 ? FMT_INTL00 : FMT_E164;
        add_link(g, sbc_out, fi, pick_tp(o, mixed), fmt, 15000, 40000, true);
    }
    g->n_gw = g->n_bpbx = g->n_bsbc = -1;
    if (o->gateway) {
        g->n_gw = add_node(g, "pstn-gw", ROLE_GW, "hq", -1, "PSTNGateway/15.4");
        int gi = add_if(g, g->n_gw, "pstn-gw", "10.1.0.20");
        add_link(g, pbx_if, gi, pick_tp(o, GEN_TP_TCP), FMT_NATIONAL, 500, 1500, false);
    }
    if (o->branch) {
        g->n_bpbx = add_node(g, "branch-pbx", ROLE_PBX, "branch", -1, "BranchPBX/5.5");
        g->n_bsbc = add_node(g, "branch-sbc", ROLE_SBC, "branch", GEN_B2B_BRANCH_SBC, "BranchSBC/4.0");
        int bp = add_if(g, g->n_bpbx, "branch-pbx", "10.2.0.10");
        int bi = add_if(g, g->n_bsbc, "branch-sbc-inside", "10.2.0.1");
        int bo = add_if(g, g->n_bsbc, "branch-sbc-outside", v6 ? "2001:db8:100::20" : "198.51.100.20");
        add_link(g, bp, pbx_if, pick_tp(o, GEN_TP_UDP), FMT_E164, 8000, 20000, false);
        add_link(g, bp, bi, pick_tp(o, GEN_TP_UDP), FMT_E164, 300, 1500, false);
        add_link(g, bo, g->nodes[g->n_itsp0].ifs[0], pick_tp(o, GEN_TP_UDP), FMT_NATIONAL,
                 15000, 40000, true);
    }
    return true;
}

/* ---- calls ---- */

static int pick_mix(struct gen *g)
{
    uint64_t r = rng_below(&g->rng, g->mix_total);
    for (int m = 0; m < GEN_MIX_MAX; m++) {
        if (r < g->o->mix[m])
            return m;
        r -= g->o->mix[m];
    }
    return 0;
}

static struct gen_call *new_call(struct gen *g, uint64_t t, const struct gen_call *twin_of)
{
    struct gen_call *c = calloc(1, sizeof *c);
    if (!c) {
        g->err = GEN_ENOMEM;
        g->stop = true;
        return NULL;
    }
    c->id = ++g->calls_spawned;
    rng_fork(&g->rng, &c->rng);
    c->mix = (uint8_t)(twin_of ? twin_of->mix : pick_mix(g));
    if (!scn_plan(g, c, t, twin_of)) {
        free(c);
        g->err = GEN_EINTERNAL;
        g->stop = true;
        return NULL;
    }
    c->next = g->live_head;
    if (g->live_head)
        g->live_head->prev = c;
    g->live_head = c;
    if (++g->live > g->peak_live)
        g->peak_live = g->live;
    gen_push(g, c->script[0].t, EV_SIP, c, 0, 0, 0);
    rtpgen_start(g, c);
    return c;
}

static void spawn(struct gen *g, bool ramp)
{
    const struct gen_opts *o = g->o;
    if (g->spawn_done)
        return;
    struct gen_call *c = new_call(g, g->now, NULL);
    if (c && c->twin && (!o->calls || g->calls_spawned < o->calls)) {
        struct gen_call *t = new_call(g, g->now + rng_range(&g->rng, 20000, 300000), c);
        (void)t;
    }
    if (o->calls && g->calls_spawned >= o->calls) {
        g->spawn_done = true;
        return;
    }
    if (o->concurrency) {
        /* ramp up over one mean duration (chain a=0); every call that ends
         * is replaced (a=1), so the live count settles at the target */
        if (ramp && ++g->ramp_spawned < o->concurrency)
            gen_push(g, g->now + (uint64_t)(o->duration_mean * 1e6 / o->concurrency) + 1,
                     EV_SPAWN, NULL, 0, 0, 0);
        return;
    }
    gen_push(g, g->now + (uint64_t)(rng_exp(&g->rng, 1e6 / o->cps)) + 1, EV_SPAWN, NULL, 0, 0, 0);
}

static void free_call(struct gen *g, struct gen_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->live_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->live--;
    free(c);
}

static void finish_call(struct gen *g, struct gen_call *c)
{
    truth_call(g, c);
    g->calls_done++;
    g->outcomes[c->outcome]++;
    free_call(g, c);
    if (g->o->concurrency && !g->spawn_done)
        gen_push(g, g->now + rng_range(&g->rng, 1000, 500000), EV_SPAWN, NULL, 1, 0, 0);
}

static void sip_event(struct gen *g, struct gen_call *c)
{
    const struct gen_sev *e = &c->script[c->cursor++];
    scn_emit(g, c, e);
    if (c->cursor < c->nscript)
        gen_push(g, c->script[c->cursor].t, EV_SIP, c, 0, 0, 0);
}

/* ---- trunk housekeeping ---- */

static bool idle_done(struct gen *g) { return g->spawn_done && g->live == 0; }

static void link_rtt(struct gen *g, struct gen_link *l, uint64_t *rtt)
{
    *rtt = rng_range(&g->rng, l->rtt_lo, l->rtt_hi);
}

static void options_event(struct gen *g, struct gen_link *l, bool resp)
{
    int li = (int)(l - g->links);
    if (resp) {
        /* a failing carrier leaves its keep-alives unanswered */
        if (!gen_fault_at(g, g->ifs[l->end[0]].node, g->now) &&
            !gen_fault_at(g, g->ifs[l->end[1]].node, g->now))
            scn_options(g, li, true);
        return;
    }
    if (idle_done(g))
        return;
    scn_options(g, li, false);
    uint64_t rtt;
    link_rtt(g, l, &rtt);
    gen_push(g, g->now + rtt, EV_OPT_RESP, l, 0, 0, 0);
    gen_push(g, g->now + (uint64_t)g->o->options_interval_s * 1000000ull, EV_OPT, l, 0, 0, 0);
}

static void register_event(struct gen *g, struct gen_link *l, uint32_t step)
{
    int li = (int)(l - g->links);
    if (step == 0 && idle_done(g))
        return;
    scn_register(g, li, (int)step);
    uint64_t rtt;
    link_rtt(g, l, &rtt);
    switch (step) {
    case 0: gen_push(g, g->now + rtt, EV_REG, l, 1, 0, 0); break;
    case 1: gen_push(g, g->now + rng_range(&g->rng, 1000, 5000), EV_REG, l, 2, 0, 0); break;
    case 2: gen_push(g, g->now + rtt, EV_REG, l, 3, 0, 0); break;
    default: gen_push(g, g->now + 1800ull * 1000000ull, EV_REG, l, 0, 0, 0); break;
    }
}

/* ---- run ---- */

static void dispatch(struct gen *g, const struct evq_ent *e)
{
    switch (e->kind) {
    case EV_SPAWN: spawn(g, e->a == 0); return;
    case EV_SIP: sip_event(g, e->obj); break;
    case EV_SLOT: rtpgen_slot(g, e->obj); break;
    case EV_PKT: rtpgen_pkt(g, e->obj, e->a, e->flags, e->b); break;
    case EV_RTCP: rtpgen_rtcp(g, e->obj); break;
    case EV_OPT: options_event(g, e->obj, false); return;
    case EV_OPT_RESP: options_event(g, e->obj, true); return;
    case EV_REG: register_event(g, e->obj, e->a); return;
    default: return;
    }
    struct gen_call *c = gen_ev_call(e->kind, e->obj);
    if (--c->refs == 0)
        finish_call(g, c);
}

enum gen_err gen_run(const struct gen_opts *o, FILE *pcap, FILE *truth, struct gen_result *res)
{
    struct gen *g = calloc(1, sizeof *g);
    if (!g)
        return GEN_ENOMEM;
    g->o = o;
    rng_seed(&g->rng, o->seed);
    evq_init(&g->q);
    for (int m = 0; m < GEN_MIX_MAX; m++)
        g->mix_total += o->mix[m];
    enum gen_err err = GEN_OK;
    if (g->mix_total == 0 || (!o->calls && !o->max_packets)) {
        err = GEN_EUSAGE;
        goto out;
    }
    if (o->dup_rate > 0 && !(g->span = calloc(GEN_SPAN_RING, sizeof *g->span))) {
        err = GEN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < sizeof g->payload; i += 8) {
        uint64_t r = rng_next(&g->rng);
        memcpy(g->payload + i, &r, 8);
    }
    g->salt = rng_next(&g->rng);
    g->map503 = (uint16_t)(o->sbc_map_503 ? o->sbc_map_503 : rng_chance(&g->rng, 0.5) ? 500 : 503);
    if (!build_topology(g)) {
        err = GEN_EINTERNAL;
        goto out;
    }
    if (!pcapw_open(&g->pw, pcap)) {
        err = GEN_ENOMEM;
        goto out;
    }
    g->truth = truth != NULL;
    if (truth)
        jsonw_init(&g->jw, truth, o->pretty);
    truth_begin(g);
    g->now = o->start_us;
    for (int i = 0; i < g->nlink; i++)
        if (g->links[i].tp != GEN_TP_UDP)
            gen_tcp_open(g, o->start_us + (uint64_t)i * 1000, &g->links[i]);
    uint64_t t_first = o->start_us + 50000;
    for (int i = 0; i < g->nlink; i++) {
        if (!g->links[i].trunk)
            continue;
        if (o->registrations)
            gen_push(g, t_first + (uint64_t)i * 7000, EV_REG, &g->links[i], 0, 0, 0);
        gen_push(g, t_first + 1000000 + (uint64_t)i * 211000, EV_OPT, &g->links[i], 0, 0, 0);
    }
    gen_push(g, o->start_us + 500000, EV_SPAWN, NULL, 0, 0, 0);

    struct evq_ent e;
    while (!g->stop && evq_pop(&g->q, &e)) {
        g->now = e.t;
        dispatch(g, &e);
        if (o->max_packets && g->packets >= o->max_packets)
            g->stop = true;
    }
    if (g->err) {
        err = g->err;
        goto close;
    }
    if (g->live == 0) {
        for (int i = 0; i < g->nlink; i++)
            if (g->links[i].tp != GEN_TP_UDP)
                gen_tcp_close(g, g->now + 1000 + (uint64_t)i * 1000, &g->links[i]);
    }
    /* a packet cap leaves calls open: report them as they stand */
    while (g->live_head) {
        struct gen_call *c = g->live_head;
        c->truncated = true;
        cut_outcome(g, c);
        truth_call(g, c);
        g->outcomes[c->outcome]++;
        free_call(g, c);
    }
close:
    if (g->span_n)
        gen_span_flush(g, UINT64_MAX);
    truth_end(g);
    if (!pcapw_close(&g->pw) && err == GEN_OK)
        err = GEN_EIO;
    if (truth && jsonw_finish(&g->jw) != JSONW_OK && err == GEN_OK)
        err = GEN_EIO;
out:
    if (res) {
        memset(res, 0, sizeof *res);
        res->frames = g->pw.frames;
        res->packets = g->packets;
        res->sip_messages = g->sip_msgs;
        res->rtp_packets = g->rtp_pkts;
        res->rtcp_packets = g->rtcp_pkts;
        res->calls = g->calls_spawned;
        res->peak_live_calls = g->peak_live;
        res->peak_events = g->q.peak;
        for (int i = 0; i < OUT_MAX; i++)
            res->outcomes[i] = g->outcomes[i];
    }
    while (g->live_head)
        free_call(g, g->live_head);
    evq_cleanup(&g->q);
    free(g->span);
    free(g);
    return err;
}

enum gen_err gen_run_files(const struct gen_opts *o, struct gen_result *res, char *err,
                           size_t errlen)
{
    char tpath[4096];
    const char *tp = o->truth_path;
    bool to_stdout = strcmp(o->out_path, "-") == 0;
    if (!tp && to_stdout) {
        tp = "/dev/null"; /* the capture goes to a pipe: no file to sit beside */
    } else if (!tp) {
        size_t n = strlen(o->out_path);
        if (n > 5 && strcmp(o->out_path + n - 5, ".pcap") == 0)
            n -= 5;
        if (n + 12 >= sizeof tpath) {
            snprintf(err, errlen, "gen: output path too long");
            return GEN_EUSAGE;
        }
        memcpy(tpath, o->out_path, n);
        memcpy(tpath + n, ".truth.json", 12);
        tp = tpath;
    }
    FILE *pf = to_stdout ? stdout : fopen(o->out_path, "wb");
    if (!pf) {
        snprintf(err, errlen, "gen: cannot open %s: %s", o->out_path, strerror(errno));
        return GEN_EIO;
    }
    FILE *tf = fopen(tp, "wb");
    if (!tf) {
        snprintf(err, errlen, "gen: cannot open %s: %s", tp, strerror(errno));
        if (!to_stdout)
            fclose(pf);
        return GEN_EIO;
    }
    setvbuf(tf, NULL, _IOFBF, 1 << 16);
    errno = 0;
    enum gen_err e = gen_run(o, pf, tf, res);
    int werr = errno; /* the write that failed set it (ENOSPC, EIO, ...) */
    const char *wpath = ferror(tf) ? tp : o->out_path;
    if ((to_stdout ? fflush(pf) : fclose(pf)) != 0 && e == GEN_OK) {
        e = GEN_EIO;
        werr = errno;
        wpath = o->out_path;
    }
    if (fclose(tf) != 0 && e == GEN_OK) {
        e = GEN_EIO;
        werr = errno;
        wpath = tp;
    }
    if (e == GEN_EIO)
        snprintf(err, errlen, "gen: cannot write %s: %s", wpath,
                 werr ? strerror(werr) : "write error");
    else if (e != GEN_OK)
        snprintf(err, errlen, "gen: %s", e == GEN_ENOMEM ? "out of memory"
                                         : e == GEN_EUSAGE ? "nothing to generate"
                                                           : "internal error");
    return e;
}
