/* REGISTER (RFC 3261 10, digest challenges 22) and OPTIONS keep-alives
 * (11) per peer: attempts, successes, challenges, failures, timeouts and
 * response times. A transaction is (Call-ID, CSeq, method); one without a
 * final response after 64*T1 = 32 s (Timer F) is a timeout. */
#include "calls_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"
#include "../common/hash.h"

#define REG_TXN_TIMEOUT_NS (32ull * NS_PER_S)

static bool pend_eq(const struct ht_node *n, const void *key)
{
    const struct pend *p = ts_container_of(n, struct pend, n);
    return p->key == *(const uint64_t *)key;
}

static int32_t reg_get(struct calls *c, const struct ts_addr *client,
                       const struct ts_addr *server, uint8_t method)
{
    uint64_t h = ts_hash(client, sizeof *client);
    h = ts_hash_mix(h, server, sizeof *server);
    h = ts_hash_mix(h, &method, 1);
    for (struct ht_node *n = c->reg_ix.buckets[h & c->reg_ix.mask]; n; n = n->hnext) {
        if (n->hash != h)
            continue;
        struct tnode *tn = ts_container_of(n, struct tnode, n);
        struct calls_reg *r = &c->regs[tn->idx];
        if (r->method == method && ts_addr_eq(&r->client, client) &&
            ts_addr_eq(&r->server, server))
            return (int32_t)tn->idx;
    }
    if (c->nregs >= TS_CALLS_MAX_PEERS) {
        TS_INC(c->st, CALLS_PEERS_FULL);
        return -1;
    }
    if (c->nregs == c->regs_cap) {
        struct calls_reg *nr = ts_grow(c->regs, &c->regs_cap, sizeof *nr, 8, TS_CALLS_MAX_PEERS);
        if (!nr)
            return -1;
        c->regs = nr;
    }
    struct calls_reg *r = &c->regs[c->nregs];
    memset(r, 0, sizeof *r);
    r->client = *client;
    r->server = *server;
    r->method = method;
    struct tnode *tn = &c->rnodes[c->nregs];
    tn->idx = (uint32_t)c->nregs;
    htab_insert(&c->reg_ix, &tn->n, h);
    return (int32_t)c->nregs++;
}

static void pend_drop(struct calls *c, struct pend *p)
{
    htab_remove(&c->pend, &p->n);
    free(p);
}

void reg_msg(struct calls *c, const struct pkt_meta *m, const struct sip_msg *msg)
{
    uint8_t meth = (uint8_t)(msg->is_request ? msg->method : msg->cseq_method);
    uint64_t key = ts_hash(msg->call_id.p, msg->call_id.len);
    key = ts_hash_mix(key, &msg->cseq, sizeof msg->cseq);
    key = ts_hash_mix(key, &meth, 1);
    struct ht_node *hn = htab_find(&c->pend, key, pend_eq, &key);
    struct pend *p = hn ? ts_container_of(hn, struct pend, n) : NULL;
    if (msg->is_request) {
        if (p) {
            TS_INC(c->st, CALLS_RETRANS);
            return;
        }
        int32_t ri = reg_get(c, &m->src, &m->dst, meth);
        if (ri < 0)
            return;
        struct calls_reg *r = &c->regs[ri];
        r->attempts++;
        if (!r->first_ns)
            r->first_ns = m->ts_ns;
        r->last_ns = m->ts_ns;
        size_t it = 0;
        struct bv v;
        struct sip_nameaddr to;
        if (sip_hdr_next(msg, SIP_H_TO, &it, &v) && sip_nameaddr_parse(v, &to))
            calls_cp(r->aor, sizeof r->aor, to.u.user.len ? to.u.user : to.u.host);
        if (htab_full(&c->pend)) {
            struct ht_node *old = htab_oldest(&c->pend);
            if (old) {
                TS_INC(c->st, CALLS_REG_EVICTED);
                pend_drop(c, ts_container_of(old, struct pend, n));
            }
        }
        p = calloc(1, sizeof *p);
        if (!p)
            return;
        p->key = key;
        p->reg = (uint32_t)ri;
        p->req_ns = m->ts_ns;
        htab_insert(&c->pend, &p->n, key);
        TS_INC(c->st, CALLS_REG_TXN);
        return;
    }
    if (!p || msg->status < 200)
        return;   /* provisional, or a retransmitted / unknown final */
    struct calls_reg *r = &c->regs[p->reg];
    uint64_t rt = m->ts_ns >= p->req_ns ? (m->ts_ns - p->req_ns) / NS_PER_MS : 0;
    r->rt_sum_ms += (double)rt;
    r->rt_n++;
    if (rt > r->rt_max_ms)
        r->rt_max_ms = rt > UINT32_MAX ? UINT32_MAX : (uint32_t)rt;
    r->last_status = msg->status;
    r->last_ns = m->ts_ns;
    if (msg->status < 300) {
        r->successes++;
        r->last_ok_ns = m->ts_ns;
        if (r->method == SIP_M_REGISTER)
            topo_hint_register(c, &r->client, &r->server);
        /* an outside address registered with an outside registrar: the
         * trunk registration of our edge (a phone would register inside) */
        if (r->method == SIP_M_REGISTER && !calls_config_internal(&c->cfg, &r->client) &&
            !trunk_ours(c, &r->server))
            trunk_learn_sbc(c, &r->client);
    } else if (msg->status == 401 || msg->status == 407) {
        r->challenges++;
        if (r->method == SIP_M_REGISTER)
            topo_hint_register(c, &r->client, &r->server);
    } else {
        r->failures++;
    }
    pend_drop(c, p);
}

void reg_tick(struct calls *c, uint64_t now)
{
    struct ht_node *n;
    while ((n = htab_oldest(&c->pend)) != NULL) {
        struct pend *p = ts_container_of(n, struct pend, n);
        if (now != UINT64_MAX && p->req_ns + REG_TXN_TIMEOUT_NS > now)
            break;
        c->regs[p->reg].timeouts++;
        pend_drop(c, p);
    }
}

void reg_free_all(struct calls *c)
{
    struct ht_node *n;
    if (c->pend.buckets)
        while ((n = htab_oldest(&c->pend)) != NULL)
            pend_drop(c, ts_container_of(n, struct pend, n));
    free(c->regs);
    c->regs = NULL;
    c->nregs = c->regs_cap = 0;
}
