/* Topology learned from the traffic: which addresses are one B2BUA (an
 * INVITE reaches A and, within the correlation window, an INVITE with the
 * same calling and called numbers leaves B toward another peer, call after
 * call), which of those B2BUAs is the enterprise edge (SBC), and which
 * side of it each address is on. Role hints: User-Agent/Server (RFC 3261
 * 20.41, 20.35), REGISTER toward a carrier (RFC 3261 10), ms-diagnostics,
 * failover to an alternative peer, extension-length numbers; address ranges
 * only when nothing else is known. Bounded tables (common/limits.h). */
#include "calls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"

/* A pair is one B2BUA once TOPO_MIN_CALLS calls went through it and they
 * are not a coincidence among the addresses' traffic: at least 1/16 of the
 * INVITEs its ingress received or its egress sent (two unrelated calls with
 * the same numbers in one window are far rarer, whatever the load). */
#define TOPO_MIN_CALLS 3
#define TOPO_MIN_SHARE 16

static uint64_t addr_hash(const struct ts_addr *a)
{
    return ts_hash(a, sizeof *a);
}

static int find_addr(const struct topo *t, const struct ts_addr *a)
{
    if (!t->slots)
        return -1;
    size_t mask = TS_TOPO_MAX_ADDRS * 2 - 1;
    for (size_t i = addr_hash(a) & mask, k = 0; k <= mask; i = (i + 1) & mask, k++) {
        int32_t s = t->slots[i];
        if (s < 0)
            return -1;
        if (addr_eq(&t->addrs[s].a, a))
            return s;
    }
    return -1;
}

/* The address's entry, created on first use; -1 when the table is full. */
static int get_addr(struct calls *c, const struct ts_addr *a)
{
    struct topo *t = &c->topo;
    if (!t->slots) {
        t->slots = malloc(TS_TOPO_MAX_ADDRS * 2 * sizeof *t->slots);
        t->addrs = calloc(TS_TOPO_MAX_ADDRS, sizeof *t->addrs);
        t->score = calloc(2 * TS_TOPO_MAX_ADDRS, sizeof *t->score);
        if (!t->slots || !t->addrs || !t->score) {
            free(t->slots);
            free(t->addrs);
            free(t->score);
            t->slots = NULL;
            t->addrs = NULL;
            t->score = NULL;
            return -1;
        }
        for (size_t i = 0; i < TS_TOPO_MAX_ADDRS * 2; i++)
            t->slots[i] = -1;
    }
    int s = find_addr(t, a);
    if (s >= 0)
        return s;
    if (t->naddrs >= TS_TOPO_MAX_ADDRS) {
        TS_INC(c->st, CALLS_TOPO_FULL);
        return -1;
    }
    size_t mask = TS_TOPO_MAX_ADDRS * 2 - 1, i = addr_hash(a) & mask;
    while (t->slots[i] >= 0)
        i = (i + 1) & mask;
    s = (int)t->naddrs++;
    t->slots[i] = s;
    struct topo_addr *e = &t->addrs[s];
    memset(e, 0, sizeof *e);
    e->a = *a;
    e->parent = (uint16_t)s;
    e->node = -1;
    return s;
}

void topo_free(struct calls *c)
{
    free(c->topo.slots);
    free(c->topo.addrs);
    free(c->topo.score);
    memset(&c->topo, 0, sizeof c->topo);
}

/* The root without path compression (readers of a const topology). */
static int uf_find_c(const struct topo *t, int i)
{
    while (t->addrs[i].parent != i)
        i = t->addrs[i].parent;
    return i;
}

static int uf_find(struct topo *t, int i)
{
    while (t->addrs[i].parent != i) {
        t->addrs[i].parent = t->addrs[t->addrs[i].parent].parent;
        i = t->addrs[i].parent;
    }
    return i;
}

/* ---- role hints from what the wire says ---- */

static bool has_ci(struct bv v, const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i + n <= v.len; i++) {
        size_t k = 0;
        while (k < n) {
            uint8_t ch = (uint8_t)bv_at(v, i + k);
            if (ch >= 'A' && ch <= 'Z')
                ch = (uint8_t)(ch - 'A' + 'a');
            if (ch != (uint8_t)w[k])
                break;
            k++;
        }
        if (k == n)
            return true;
    }
    return false;
}

/* Product names as they announce themselves in User-Agent / Server. */
static uint8_t ua_role(struct bv v)
{
    static const struct {
        const char *w;
        uint8_t role;
    } words[] = {
        { "mediationserver", CALLS_ROLE_MEDIATION }, { "rtcc/", CALLS_ROLE_MEDIATION },
        { "mediation", CALLS_ROLE_MEDIATION },
        { "sbc", CALLS_ROLE_SBC }, { "session border", CALLS_ROLE_SBC },
        { "audiocodes", CALLS_ROLE_SBC }, { "ribbon", CALLS_ROLE_SBC },
        { "sonus", CALLS_ROLE_SBC }, { "acme packet", CALLS_ROLE_SBC },
        { "ingate", CALLS_ROLE_SBC }, { "anynode", CALLS_ROLE_SBC },
        { "carrier", CALLS_ROLE_CARRIER }, { "itsp", CALLS_ROLE_CARRIER },
        { "broadworks", CALLS_ROLE_CARRIER }, { "metaswitch", CALLS_ROLE_CARRIER },
        { "gateway", CALLS_ROLE_GATEWAY }, { "pstn", CALLS_ROLE_GATEWAY },
        { "pbx", CALLS_ROLE_PBX }, { "asterisk", CALLS_ROLE_PBX },
        { "freeswitch", CALLS_ROLE_PBX }, { "3cx", CALLS_ROLE_PBX },
        { "cucm", CALLS_ROLE_PBX }, { "cisco-cp", CALLS_ROLE_PBX }, { "avaya", CALLS_ROLE_PBX },
        { "mitel", CALLS_ROLE_PBX }, { "yealink", CALLS_ROLE_ENDPOINT },
        { "polycom", CALLS_ROLE_ENDPOINT }, { "snom", CALLS_ROLE_ENDPOINT },
        { "linphone", CALLS_ROLE_ENDPOINT }, { "zoiper", CALLS_ROLE_ENDPOINT },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (has_ci(v, words[i].w))
            return words[i].role;
    return CALLS_ROLE_NONE;
}

void topo_hint_ua(struct calls *c, const struct ts_addr *a, struct bv ua)
{
    if (!ua.len)
        return;
    int s = get_addr(c, a);
    if (s < 0)
        return;
    struct topo_addr *e = &c->topo.addrs[s];
    if (e->ua_seen)
        return;
    e->ua_seen = true;
    calls_cp(e->ua, sizeof e->ua, ua);
    e->ua_role = ua_role(ua);
    if (e->ua_role)
        c->topo.dirty = true;
}

void topo_hint_msdiag(struct calls *c, const struct ts_addr *a)
{
    int s = get_addr(c, a);
    if (s >= 0 && !c->topo.addrs[s].msdiag++)
        c->topo.dirty = true;
}

void topo_hint_register(struct calls *c, const struct ts_addr *client,
                        const struct ts_addr *server)
{
    int sc = get_addr(c, client), ss = get_addr(c, server);
    if (sc < 0 || ss < 0)
        return;
    struct topo_addr *e = &c->topo.addrs[ss];
    if (!e->registrar++) {
        e->reg_client = (uint16_t)sc;
        c->topo.dirty = true;
    } else if (e->reg_client != sc && !e->reg_many) {
        e->reg_many = true;   /* phones registering with a PBX */
        c->topo.dirty = true;
    }
    c->topo.addrs[sc].registers++;
}

void topo_hint_failover(struct calls *c, const struct ts_addr *failed, const struct ts_addr *alt)
{
    int a = get_addr(c, failed), b = get_addr(c, alt);
    if (a >= 0)
        c->topo.addrs[a].failover++;
    if (b >= 0)
        c->topo.addrs[b].failover++;
    c->topo.dirty = true;
}

/* ---- B2BUA evidence ---- */

/* The site that saw most INVITEs to or from the address, one vote per
 * INVITE (the majority vote needs no count per site). */
static void site_vote(struct topo_addr *e, const char *site)
{
    if (!site[0])
        return;
    if (!strncmp(e->site, site, sizeof e->site)) {
        e->site_votes++;
    } else if (!e->site_votes) {
        snprintf(e->site, sizeof e->site, "%s", site);
        e->site_votes = 1;
    } else {
        e->site_votes--;
    }
}

void topo_invite(struct calls *c, const struct dlg *d)
{
    int s = get_addr(c, &d->src), t = get_addr(c, &d->dst);
    const char *site = dlg_str(d, DS_SITE);
    if (s >= 0)
        site_vote(&c->topo.addrs[s], site);
    if (t >= 0)
        site_vote(&c->topo.addrs[t], site);
    if (s >= 0) {
        c->topo.addrs[s].inv_out++;
        /* an extension as calling number: the sender is inside */
        if (d->nd_len[ND_FROM] && d->nd_len[ND_FROM] < 6)
            c->topo.addrs[s].short_caller++;
    }
    if (t >= 0)
        c->topo.addrs[t].inv_in++;
    if (!c->topo.legs++)
        c->topo.first_ns = d->invite_ns;
}

/* Enough calls, and not a coincidence; with address ranges, a pair whose
 * two addresses lie on either side of them needs one call less often than
 * TOPO_MIN_CALLS (a branch SBC that relayed one call), and so does a pair
 * one of whose calls mirrored every transaction across it (topo_mirror). */
static bool pair_strong(const struct calls *c, const struct topo_pair *p)
{
    const struct topo *t = &c->topo;
    return p->n >= TOPO_MIN_CALLS || p->straddle ||
           calls_config_internal(&c->cfg, &t->addrs[p->a].a) !=
               calls_config_internal(&c->cfg, &t->addrs[p->b].a);
}

static bool pair_learned(const struct calls *c, const struct topo_pair *p)
{
    const struct topo *t = &c->topo;
    const struct topo_addr *a = &t->addrs[p->a], *b = &t->addrs[p->b];
    /* relays both ways count on one pair: its share of both addresses' traffic */
    uint64_t in = a->inv_in, out = b->inv_out;
    if (p->a != p->b) {
        in += b->inv_in;
        out += a->inv_out;
    }
    uint64_t base = in < out ? in : out;
    return (pair_strong(c, p) || p->mirrored) && (uint64_t)p->n * TOPO_MIN_SHARE >= base;
}

/* The pair of addresses a <= b, created (or the weakest pair not learned
 * replaced) on first use; NULL when there is no room. */
static struct topo_pair *get_pair(struct calls *c, int a, int b)
{
    struct topo *t = &c->topo;
    if (a > b) {   /* one pair for both directions */
        int x = a;
        a = b;
        b = x;
    }
    struct topo_pair *p = NULL;
    for (size_t i = 0; i < t->npairs; i++)
        if (t->pairs[i].a == a && t->pairs[i].b == b)
            return &t->pairs[i];
    if (t->npairs < TS_TOPO_MAX_PAIRS) {
        p = &t->pairs[t->npairs++];
    } else {
        /* full: the weakest pair not learned makes room */
        for (size_t i = 0; i < t->npairs; i++)
            if (!t->pairs[i].learned && (!p || t->pairs[i].n < p->n))
                p = &t->pairs[i];
        TS_INC(c->st, CALLS_TOPO_FULL);
        if (!p)
            return NULL;
    }
    memset(p, 0, sizeof *p);
    p->a = (uint16_t)a;
    p->b = (uint16_t)b;
    return p;
}

static void learn_check(struct calls *c, struct topo_pair *p)
{
    struct topo *t = &c->topo;
    if (!p->learned && pair_learned(c, p)) {
        p->learned = true;
        t->dirty = true;
        if (!p->ever) {
            t->changed = true;   /* unlinked legs retry once per new pair */
            t->gen++;
        }
        p->ever = true;
    }
}

void topo_relay(struct calls *c, const struct ts_addr *in, const struct ts_addr *out,
                const struct ts_addr *from, const struct ts_addr *to)
{
    struct topo *t = &c->topo;
    int a = get_addr(c, in), b = get_addr(c, out);
    if (a < 0 || b < 0)
        return;
    t->addrs[a].relay_in++;
    t->addrs[b].relay_out++;
    struct topo_pair *p = get_pair(c, a, b);
    if (!p)
        return;
    p->n++;
    /* its far ends on either side of the address ranges: a single-homed
     * or NATed edge */
    if (calls_config_internal(&c->cfg, from) != calls_config_internal(&c->cfg, to))
        p->straddle = true;
    learn_check(c, p);
}

void topo_mirror(struct calls *c, const struct ts_addr *in, const struct ts_addr *out, bool hint)
{
    int a = get_addr(c, in), b = get_addr(c, out);
    if (a < 0 || b < 0)
        return;
    struct topo_pair *p = get_pair(c, a, b);
    if (!p)
        return;
    p->mirrored++;
    if (hint)
        p->hinted++;
    if (p->n < p->mirrored)
        p->n = p->mirrored;   /* its relay evidence was lost with a replaced pair */
    TS_INC(c->st, CALLS_TOPO_MIRRORED);
    c->topo.dirty = true;   /* the node's evidence changed */
    learn_check(c, p);
}

bool topo_same_node(const struct calls *c, const struct ts_addr *x, const struct ts_addr *y)
{
    const struct topo *t = &c->topo;
    int a = find_addr(t, x), b = a < 0 ? -1 : find_addr(t, y);
    if (a < 0 || b < 0)
        return false;
    int na = t->addrs[a].node, nb = t->addrs[b].node;
    return na >= 0 && na == nb;
}

/* ---- roles and sides ---- */

static bool explicit_nets(const struct calls *c)
{
    return c->cfg.nets_set && c->cfg.nnets > 0;
}

static bool default_internal(const struct calls *c, const struct ts_addr *a)
{
    return calls_config_internal(&c->cfg, a);
}

/* How much a leaf (an address not part of a B2BUA) looks like a carrier:
 * positive carrier, negative enterprise, 0 nothing known. */
static int carrier_score(const struct calls *c, const struct topo_addr *e, bool ranges)
{
    int s = 0;
    const struct topo *t = &c->topo;
    if (e->registrar && !e->reg_many && t->addrs[e->reg_client].node >= 0)
        s += 4;   /* a B2BUA registers its trunk with it */
    else if (e->reg_many)
        s -= 2;   /* many clients register with it: an enterprise registrar */
    if (e->failover)
        s += 2;   /* calls are failed over between it and another peer */
    switch (e->ua_role) {
    case CALLS_ROLE_CARRIER: s += 3; break;
    case CALLS_ROLE_PBX: case CALLS_ROLE_MEDIATION: case CALLS_ROLE_GATEWAY:
    case CALLS_ROLE_ENDPOINT: s -= 3; break;
    default: break;
    }
    if (e->msdiag)
        s -= 3;   /* Lync/Skype/Teams servers are inside */
    if (e->inv_out >= 4 && e->short_caller * 2 > e->inv_out)
        s -= 2;   /* calls from extensions */
    if (e->registers >= 1 && !e->registrar)
        s -= 1;   /* registers somewhere: a phone or our own edge */
    int rw = explicit_nets(c) ? 10 : ranges ? 1 : 0;
    s += default_internal(c, &e->a) ? -rw : rw;
    return s;
}

static void set_side(struct topo *t, int i, uint8_t side, uint8_t how)
{
    struct topo_addr *e = &t->addrs[i];
    if (e->nside)
        return;
    e->nside = side;
    e->nhow = how;
}

/* Trunk ends (address pairs that exchanged an INVITE) are the adjacency. */
static int adj_end(const struct calls *c, size_t k, int which)
{
    const struct calls_trunk *tr = &c->trunks[k];
    return find_addr(&c->topo, which ? &tr->peer : &tr->local);
}

/* Works out nodes, the edge and every address's side again; true when a
 * side changed. */
bool topo_update(struct calls *c)
{
    struct topo *t = &c->topo;
    if (!t->dirty || !t->addrs)
        return false;
    t->dirty = false;
    size_t n = t->naddrs;
    for (size_t i = 0; i < n; i++) {
        t->addrs[i].parent = (uint16_t)i;
        t->addrs[i].node = -1;
        t->addrs[i].nside = CALLS_SIDE_NONE;
        t->addrs[i].nhow = 0;
        t->addrs[i].node_calls = 0;
        t->addrs[i].node_mirrored = 0;
        t->addrs[i].node_hinted = 0;
        t->addrs[i].node_strong = false;
    }
    for (size_t i = 0; i < t->npairs; i++) {
        struct topo_pair *p = &t->pairs[i];
        /* again: an early coincidence fades as the traffic grows */
        p->learned = pair_learned(c, p);
        if (!p->learned)
            continue;
        int ra = uf_find(t, p->a), rb = uf_find(t, p->b);
        if (ra != rb)
            t->addrs[ra].parent = (uint16_t)rb;
    }
    /* nodes: the roots of addresses that relayed */
    t->nnodes = 0;
    for (size_t i = 0; i < t->npairs; i++) {
        struct topo_pair *p = &t->pairs[i];
        if (!p->learned)
            continue;
        int r = uf_find(t, p->a);
        if (t->addrs[r].node < 0 && t->nnodes < TS_TOPO_MAX_NODES)
            t->addrs[r].node = (int16_t)t->nnodes++;
        t->addrs[r].node_calls += p->n;
        t->addrs[r].node_mirrored += p->mirrored;
        t->addrs[r].node_hinted += p->hinted;
        t->addrs[r].node_strong |= pair_strong(c, p);
    }
    for (size_t i = 0; i < n; i++)
        t->addrs[i].node = t->addrs[uf_find(t, (int)i)].node;
    bool ranges = c->cfg.nnets > 0;
    /* the edge: a node with a face (one of its addresses, or one peer of a
     * single-homed node) whose peers look like carriers, the other faces
     * not; a face toward another B2BUA is the deeper, enterprise side */
    int *face_score = t->score, *pos_score = t->score + TS_TOPO_MAX_ADDRS;
    for (size_t i = 0; i < n; i++)
        face_score[i] = pos_score[i] = 0;
    for (size_t k = 0; k < c->ntrunks; k++) {
        int x = adj_end(c, k, 0), y = adj_end(c, k, 1);
        if (x < 0 || y < 0)
            continue;
        for (int w = 0; w < 2; w++) {
            int me = w ? y : x, peer = w ? x : y;
            if (t->addrs[me].node < 0)
                continue;
            if (t->addrs[peer].node >= 0) {
                if (t->addrs[peer].node != t->addrs[me].node)
                    face_score[me] -= 3;
            } else {
                int cs = carrier_score(c, &t->addrs[peer], ranges);
                face_score[me] += cs;
                if (cs > 0)
                    pos_score[me] += cs;
            }
        }
    }
    for (int nd = 0; nd < t->nnodes; nd++) {
        int best = -1, nbest = 0, nfaces = 0;
        int32_t top = 0;
        uint32_t in_max = 0;
        for (size_t i = 0; i < n; i++) {
            if (t->addrs[i].node != nd)
                continue;
            nfaces++;
            if (best < 0 || face_score[i] > top) {
                top = face_score[i];
                best = (int)i;
                nbest = 1;
            } else if (face_score[i] == top) {
                nbest++;
            }
            if (t->addrs[i].relay_in > in_max)
                in_max = t->addrs[i].relay_in;
        }
        if (best < 0)
            continue;
        if (nfaces > 1 && nbest == 1 && top > 0) {
            /* dual-homed edge: best face toward the carriers */
            for (size_t i = 0; i < n; i++)
                if (t->addrs[i].node == nd)
                    set_side(t, (int)i, CALLS_SIDE_SBC, TOPO_HOW_RELAY);
            t->addrs[best].carrier_face = true;
            continue;
        }
        if (nfaces == 1 && pos_score[best] > 0) {
            /* single-homed edge: its peers are split one by one below */
            set_side(t, best, CALLS_SIDE_SBC, TOPO_HOW_RELAY);
            t->addrs[best].carrier_face = true;
            t->addrs[best].single = true;
        }
    }
    /* carriers: peers of an edge's carrier face; enterprise: the others */
    for (size_t k = 0; k < c->ntrunks; k++) {
        int x = adj_end(c, k, 0), y = adj_end(c, k, 1);
        if (x < 0 || y < 0)
            continue;
        for (int w = 0; w < 2; w++) {
            int me = w ? y : x, peer = w ? x : y;
            if (t->addrs[me].nside != CALLS_SIDE_SBC || t->addrs[peer].nside == CALLS_SIDE_SBC)
                continue;
            bool carrier = t->addrs[me].carrier_face;
            if (t->addrs[me].single)
                carrier = t->addrs[peer].node < 0 &&
                          carrier_score(c, &t->addrs[peer], ranges) > 0;
            set_side(t, peer, carrier ? CALLS_SIDE_ITSP : CALLS_SIDE_ENTERPRISE, TOPO_HOW_CHAIN);
        }
    }
    /* beyond: enterprise spreads inward through non-edge addresses, and
     * each node's addresses share its side */
    for (int round = 0; round < 8; round++) {
        bool more = false;
        for (size_t k = 0; k < c->ntrunks; k++) {
            int x = adj_end(c, k, 0), y = adj_end(c, k, 1);
            if (x < 0 || y < 0)
                continue;
            for (int w = 0; w < 2; w++) {
                int me = w ? y : x, peer = w ? x : y;
                uint8_t s = t->addrs[me].nside;
                if ((s == CALLS_SIDE_ENTERPRISE || s == CALLS_SIDE_ITSP) &&
                    !t->addrs[peer].nside) {
                    set_side(t, peer, s, TOPO_HOW_CHAIN);
                    more = true;
                }
            }
        }
        uint8_t node_side[TS_TOPO_MAX_NODES] = { 0 };
        for (size_t i = 0; i < n; i++) {
            int nd = t->addrs[i].node;
            if (nd >= 0 && t->addrs[i].nside && t->addrs[i].nside != CALLS_SIDE_SBC)
                node_side[nd] = t->addrs[i].nside;
        }
        for (size_t j = 0; j < n; j++) {
            int nd = t->addrs[j].node;
            if (nd >= 0 && !t->addrs[j].nside && node_side[nd]) {
                set_side(t, (int)j, node_side[nd], TOPO_HOW_CHAIN);
                more = true;
            }
        }
        if (!more)
            break;
    }
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        struct topo_addr *e = &t->addrs[i];
        if (e->side != e->nside) {
            if (e->nside == CALLS_SIDE_SBC)
                TS_INC(c->st, CALLS_SBC_LEARNED);
            e->side = e->nside;
            changed = true;
        }
        e->how = e->nhow;
    }
    return changed;
}

uint8_t topo_side(const struct calls *c, const struct ts_addr *a)
{
    int s = find_addr(&c->topo, a);
    return s < 0 ? CALLS_SIDE_NONE : c->topo.addrs[s].side;
}

bool topo_converged(const struct calls *c)
{
    return c->topo.converged;
}

/* ---- the picture: nodes for the API and the report ---- */

static uint8_t node_role(const struct topo *t, int i, bool b2bua)
{
    const struct topo_addr *e = &t->addrs[i];
    if (e->side == CALLS_SIDE_SBC)
        return CALLS_ROLE_SBC;
    if (e->side == CALLS_SIDE_ITSP)
        return CALLS_ROLE_CARRIER;
    if (e->ua_role == CALLS_ROLE_MEDIATION || e->msdiag)
        return CALLS_ROLE_MEDIATION;
    if (e->ua_role == CALLS_ROLE_GATEWAY)
        return CALLS_ROLE_GATEWAY;
    if (b2bua || e->ua_role == CALLS_ROLE_PBX)
        return CALLS_ROLE_PBX;
    if (e->ua_role)
        return e->ua_role;
    return CALLS_ROLE_ENDPOINT;
}

size_t calls_topo_nodes(const struct calls *c, struct calls_topo_node *out, size_t cap)
{
    const struct topo *t = &c->topo;
    size_t m = 0;
    if (!t->addrs)
        return 0;
    /* B2BUA nodes first (their addresses gathered), then single addresses
     * that took part in a trunk */
    for (int nd = 0; nd < t->nnodes && m < cap; nd++) {
        struct calls_topo_node *o = &out[m];
        memset(o, 0, sizeof *o);
        int first = -1;
        uint32_t site_legs = 0;
        for (size_t i = 0; i < t->naddrs; i++) {
            const struct topo_addr *e = &t->addrs[i];
            if (e->node != nd)
                continue;
            if (first < 0)
                first = (int)i;
            if (o->naddrs < CALLS_TOPO_NODE_ADDRS)
                o->addrs[o->naddrs++] = e->a;
            if (e->node_calls > o->calls)
                o->calls = e->node_calls;
            if (!o->ua[0] && e->ua[0])
                memcpy(o->ua, e->ua, sizeof o->ua);
            /* a dual-homed node: the site of its busiest address */
            if (e->site[0] && e->inv_in + e->inv_out > site_legs) {
                memcpy(o->site, e->site, sizeof o->site);
                site_legs = e->inv_in + e->inv_out;
            }
        }
        if (first < 0)
            continue;
        o->b2bua = true;
        o->role = node_role(t, first, true);
        o->side = t->addrs[first].side;
        const struct topo_addr *r = &t->addrs[uf_find_c(t, first)];
        if (r->node_strong) {
            o->how = TOPO_HOW_RELAY;
            o->confidence = (float)(1.0 - 1.0 / (1.0 + (double)o->calls));
        } else {
            /* from one or two mirrored calls: below what three relayed
             * calls give (0.75); a Via/Record-Route/User-Agent hint adds */
            uint32_t k = r->node_mirrored < 3 ? r->node_mirrored : 3;
            o->how = TOPO_HOW_MIRROR;
            o->confidence = 0.3f + 0.1f * (float)k + (r->node_hinted ? 0.1f : 0.0f);
        }
        m++;
    }
    uint8_t *listed = calloc(t->naddrs ? t->naddrs : 1, 1);
    for (size_t k = 0; k < c->ntrunks && listed; k++) {
        for (int w = 0; w < 2 && m < cap; w++) {
            int i = adj_end(c, k, w);
            if (i < 0 || t->addrs[i].node >= 0 || listed[i])
                continue;
            listed[i] = 1;
            struct calls_topo_node *o = &out[m++];
            const struct topo_addr *e = &t->addrs[i];
            memset(o, 0, sizeof *o);
            o->addrs[0] = e->a;
            o->naddrs = 1;
            o->role = node_role(t, (int)i, false);
            o->side = e->side;
            o->how = e->side ? e->how : TOPO_HOW_RANGES;
            o->calls = e->inv_in + e->inv_out;
            o->confidence = e->side ? 0.8f : 0.5f;
            memcpy(o->ua, e->ua, sizeof o->ua);
            memcpy(o->site, e->site, sizeof o->site);
        }
    }
    free(listed);
    for (size_t i = 0; i < m; i++) {
        struct calls_topo_node *o = &out[i];
        o->id = (uint32_t)i + 1;
        if (!o->side) {
            /* not learned: configuration or address ranges */
            bool sbc = false, in = false;
            for (unsigned j = 0; j < o->naddrs; j++) {
                for (size_t k = 0; k < c->nsbc; k++)
                    sbc |= addr_eq(&c->sbc[k], &o->addrs[j]);
                in |= calls_config_internal(&c->cfg, &o->addrs[j]);
            }
            in |= sbc;
            o->side = sbc ? CALLS_SIDE_SBC : in ? CALLS_SIDE_ENTERPRISE : CALLS_SIDE_ITSP;
            /* a node learned from one or two calls keeps saying so */
            if (sbc || o->how != TOPO_HOW_MIRROR)
                o->how = sbc ? TOPO_HOW_CONFIG : TOPO_HOW_RANGES;
            if (sbc)
                o->role = CALLS_ROLE_SBC;
            else if (!in)
                o->role = CALLS_ROLE_CARRIER;
            else if (o->role == CALLS_ROLE_CARRIER || o->role == CALLS_ROLE_SBC)
                o->role = o->b2bua ? CALLS_ROLE_PBX : CALLS_ROLE_ENDPOINT;
        }
        if (explicit_nets(c) && o->how != TOPO_HOW_CONFIG && o->how != TOPO_HOW_MIRROR &&
            o->side != CALLS_SIDE_SBC)
            o->how = TOPO_HOW_CONFIG;
    }
    return m;
}

const char *calls_role_name(enum calls_role r)
{
    static const char *const n[] = { "unknown", "endpoint", "pbx", "mediation_server", "sbc",
                                     "carrier", "gateway" };
    return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "unknown";
}

const char *calls_topo_how_name(unsigned how)
{
    static const char *const n[] = { "unknown", "relay", "chain", "ranges", "configuration",
                                     "mirror" };
    return how < sizeof n / sizeof n[0] ? n[how] : "unknown";
}
