/* Other flows of the trunk links, classified by nDPI: the one file that
 * includes nDPI's headers. nDPI reads IP packets; the decoder has already
 * peeled link layers, tunnels and fragments, so each packet is handed over
 * as a plain IPv4 or IPv6 header built here from its addresses, its UDP or
 * TCP header, and at most TS_OFLOW_SNAP bytes of payload copied through
 * the byte view. A flow is given to nDPI until it decides (or for
 * TS_OFLOW_MAX_PACKETS packets, then nDPI's guess by port), then only
 * counted. */
#include "oflows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"

struct oflow {
    struct ht_node node;
    struct ts_addr a[2];        /* a[0]: the first packet's sender */
    uint16_t port[2];
    uint8_t l4;
    uint16_t fed;               /* packets given to nDPI */
    struct ndpi_flow_struct *nf; /* NULL once classified */
    int entry;                  /* inventory index once classified, else -1 */
    bool ours;                  /* nDPI found SIP or RTP: not inventoried */
    bool guessed;
    char proto[32], category[24];
    uint64_t first_ns, last_ns;
    uint64_t packets, bytes;    /* before classification */
    uint64_t all_packets, all_bytes; /* the flow's totals, for the sink */
};

struct oflows {
    struct ts_stats *st;
    struct ndpi_detection_module_struct *nd; /* made on the first flow */
    bool nd_failed;
    struct htab flows;
    struct oflow_entry *e;
    size_t ne;
    oflows_fn sink;
    void *sink_ctx;
    uint8_t pkt[40 + 20 + TS_OFLOW_SNAP]; /* the packet handed to nDPI */
};

void oflows_set_sink(struct oflows *o, oflows_fn fn, void *ctx)
{
    if (!o)
        return;
    o->sink = fn;
    o->sink_ctx = ctx;
}

struct oflows *oflows_new(struct ts_stats *st)
{
    struct oflows *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->st = st;
    o->e = calloc(TS_OFLOW_MAX_ENTRIES, sizeof *o->e);
    if (!o->e || htab_init(&o->flows, TS_OFLOW_MAX_FLOWS) != 0) {
        free(o->e);
        free(o);
        return NULL;
    }
    return o;
}

static bool module(struct oflows *o)
{
    if (o->nd || o->nd_failed)
        return o->nd != NULL;
    o->nd = ndpi_init_detection_module(ndpi_no_prefs);
    if (!o->nd) {
        o->nd_failed = true;
        return false;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(o->nd, &all);
    ndpi_finalize_initialization(o->nd);
    return true;
}

/* ---- the inventory ---- */

static int entry_for(struct oflows *o, const struct oflow *f, ndpi_protocol p, bool guessed)
{
    char name[sizeof o->e[0].proto];
    ndpi_protocol2name(o->nd, p, name, sizeof name);
    const char *cat = ndpi_category_get_name(o->nd, p.category);
    for (size_t i = 0; i < o->ne; i++) {
        struct oflow_entry *x = &o->e[i];
        if (x->l4 == f->l4 && x->port == f->port[1] && ts_addr_eq(&x->client, &f->a[0]) &&
            ts_addr_eq(&x->server, &f->a[1]) && !strncmp(x->proto, name, sizeof x->proto - 1))
            return (int)i;
    }
    if (o->ne == TS_OFLOW_MAX_ENTRIES) { /* replace the least recently seen */
        size_t old = 0;
        for (size_t i = 1; i < o->ne; i++)
            if (o->e[i].last_ns < o->e[old].last_ns)
                old = i;
        TS_INC(o->st, OFLOW_ENTRIES_EVICTED);
        /* flows pointing at entries after it move down with them */
        memmove(&o->e[old], &o->e[old + 1], (o->ne - old - 1) * sizeof *o->e);
        o->ne--;
        for (struct ht_node *n = o->flows.lru.lnext; n != &o->flows.lru; n = n->lnext) {
            struct oflow *g = ts_container_of(n, struct oflow, node);
            if (g->entry == (int)old)
                g->entry = -2; /* counted nowhere any more */
            else if (g->entry > (int)old)
                g->entry--;
        }
    }
    struct oflow_entry *x = &o->e[o->ne];
    memset(x, 0, sizeof *x);
    x->client = f->a[0];
    x->server = f->a[1];
    x->port = f->port[1];
    x->l4 = f->l4;
    memcpy(x->proto, name, sizeof x->proto);
    x->proto[sizeof x->proto - 1] = 0;
    snprintf(x->category, sizeof x->category, "%.23s", cat ? cat : "Unspecified");
    x->guessed = guessed;
    x->first_ns = f->first_ns;
    return (int)o->ne++;
}

/* The flow's protocol is known (or must be decided now): into its entry. */
static void classify(struct oflows *o, struct oflow *f, ndpi_protocol p, bool giveup)
{
    bool guessed = false;
    if (giveup) {
        uint8_t g = 0;
        p = ndpi_detection_giveup(o->nd, f->nf, 1, &g);
        guessed = g != 0;
    }
    ndpi_free_flow(f->nf);
    f->nf = NULL;
    if (p.master_protocol == NDPI_PROTOCOL_SIP || p.app_protocol == NDPI_PROTOCOL_SIP ||
        p.app_protocol == NDPI_PROTOCOL_RTP || p.app_protocol == NDPI_PROTOCOL_RTCP) {
        /* ours after all (a SIP stream found late by the engine): not inventoried */
        f->entry = -2;
        f->ours = true;
        TS_INC(o->st, OFLOW_OURS);
        return;
    }
    f->entry = entry_for(o, f, p, guessed);
    struct oflow_entry *x = &o->e[f->entry];
    memcpy(f->proto, x->proto, sizeof f->proto);
    memcpy(f->category, x->category, sizeof f->category);
    f->guessed = guessed;
    x->flows++;
    x->packets += f->packets;
    x->bytes += f->bytes;
    if (f->last_ns > x->last_ns)
        x->last_ns = f->last_ns;
    TS_INC(o->st, OFLOW_FLOWS);
    if (guessed)
        TS_INC(o->st, OFLOW_GUESSED);
}

static void flow_drop(struct oflows *o, struct oflow *f)
{
    if (f->nf)
        classify(o, f, (ndpi_protocol)NDPI_PROTOCOL_NULL, true);
    if (o->sink && !f->ours) {
        struct oflow_done d = { .client = f->a[0], .server = f->a[1], .port = f->port[1],
                                .l4 = f->l4, .guessed = f->guessed, .packets = f->all_packets,
                                .bytes = f->all_bytes, .first_ns = f->first_ns,
                                .last_ns = f->last_ns };
        memcpy(d.proto, f->proto, sizeof d.proto);
        memcpy(d.category, f->category, sizeof d.category);
        o->sink(o->sink_ctx, &d);
    }
    htab_remove(&o->flows, &f->node);
    free(f);
}

/* ---- the flow table ---- */

struct fkey {
    const struct pkt_meta *m;
};

static bool fl_eq(const struct ht_node *n, const void *key)
{
    const struct oflow *f = ts_container_of(n, struct oflow, node);
    const struct pkt_meta *m = ((const struct fkey *)key)->m;
    if (f->l4 != m->l4)
        return false;
    return (f->port[0] == m->sport && f->port[1] == m->dport && ts_addr_eq(&f->a[0], &m->src) &&
            ts_addr_eq(&f->a[1], &m->dst)) ||
           (f->port[0] == m->dport && f->port[1] == m->sport && ts_addr_eq(&f->a[0], &m->dst) &&
            ts_addr_eq(&f->a[1], &m->src));
}

/* Direction-free hash of the 5-tuple. */
static uint64_t fl_hash(const struct pkt_meta *m)
{
    uint8_t k[2 * 17 + 5];
    const struct ts_addr *x = &m->src, *y = &m->dst;
    uint16_t px = m->sport, py = m->dport;
    if (memcmp(x, y, sizeof *x) > 0 || (!memcmp(x, y, sizeof *x) && px > py)) {
        x = &m->dst;
        y = &m->src;
        px = m->dport;
        py = m->sport;
    }
    k[0] = x->family;
    memcpy(k + 1, x->a, 16);
    k[17] = y->family;
    memcpy(k + 18, y->a, 16);
    k[34] = (uint8_t)(px >> 8);
    k[35] = (uint8_t)px;
    k[36] = (uint8_t)(py >> 8);
    k[37] = (uint8_t)py;
    k[38] = m->l4;
    return ts_hash(k, sizeof k);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* The packet nDPI reads: IP header, UDP or TCP header, payload. */
static size_t build(struct oflows *o, const struct pkt_meta *m, const struct tcp_seg *tcp,
                    struct bv payload)
{
    uint8_t *p = o->pkt;
    size_t l4len = m->l4 == TS_L4_TCP ? 20 : 8;
    size_t n = payload.len < TS_OFLOW_SNAP ? payload.len : TS_OFLOW_SNAP;
    size_t ipl = m->ipver == 6 ? 40 : 20;
    memset(p, 0, ipl + l4len);
    if (m->ipver == 6) {
        p[0] = 0x60;
        put16(p + 4, (uint16_t)(l4len + n));
        p[6] = m->l4;
        p[7] = 64;
        memcpy(p + 8, m->src.a, 16);
        memcpy(p + 24, m->dst.a, 16);
    } else {
        p[0] = 0x45;
        put16(p + 2, (uint16_t)(ipl + l4len + n));
        p[8] = 64;
        p[9] = m->l4;
        memcpy(p + 12, m->src.a, 4);
        memcpy(p + 16, m->dst.a, 4);
    }
    uint8_t *l = p + ipl;
    put16(l, m->sport);
    put16(l + 2, m->dport);
    if (m->l4 == TS_L4_TCP) {
        put32(l + 4, tcp ? tcp->seq : 0);
        put32(l + 8, tcp ? tcp->ack : 0);
        l[12] = 5 << 4;
        l[13] = tcp ? tcp->flags : (TCP_F_ACK | TCP_F_PSH);
        put16(l + 14, tcp ? tcp->window : 65535);
    } else {
        put16(l + 4, (uint16_t)(8 + n));
    }
    struct bv b = payload;
    bv_copy(&b, l + l4len, n);
    return ipl + l4len + n;
}

void oflows_packet(struct oflows *o, const struct pkt_meta *m, const struct tcp_seg *tcp,
                   int dir, struct bv payload)
{
    if (!o || (m->l4 != TS_L4_UDP && m->l4 != TS_L4_TCP) || (m->ipver != 4 && m->ipver != 6))
        return;
    struct fkey key = { m };
    uint64_t h = fl_hash(m);
    struct ht_node *n = htab_find(&o->flows, h, fl_eq, &key);
    struct oflow *f;
    if (n) {
        f = ts_container_of(n, struct oflow, node);
        htab_touch(&o->flows, n);
    } else {
        if (!module(o))
            return;
        if (htab_full(&o->flows)) {
            TS_INC(o->st, OFLOW_EVICTED);
            flow_drop(o, ts_container_of(o->flows.lru.lnext, struct oflow, node));
        }
        f = calloc(1, sizeof *f);
        if (!f)
            return;
        f->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!f->nf) {
            free(f);
            return;
        }
        memset(f->nf, 0, SIZEOF_FLOW_STRUCT);
        f->a[0] = m->src;
        f->a[1] = m->dst;
        f->port[0] = m->sport;
        f->port[1] = m->dport;
        if (dir == 1) { /* the server spoke first */
            f->a[0] = m->dst;
            f->a[1] = m->src;
            f->port[0] = m->dport;
            f->port[1] = m->sport;
        }
        /* a capture that starts mid-flow: a well-known port answering an
         * ephemeral one is the server */
        if (f->port[0] < 1024 && f->port[1] >= 1024) {
            struct ts_addr ta = f->a[0];
            uint16_t tp = f->port[0];
            f->a[0] = f->a[1];
            f->port[0] = f->port[1];
            f->a[1] = ta;
            f->port[1] = tp;
        }
        f->l4 = m->l4;
        f->entry = -1;
        f->first_ns = m->ts_ns;
        htab_insert(&o->flows, &f->node, h);
    }
    f->last_ns = m->ts_ns;
    f->all_packets++;
    f->all_bytes += payload.len;
    if (!f->nf) { /* classified: counted in its entry */
        if (f->entry >= 0) {
            struct oflow_entry *x = &o->e[f->entry];
            x->packets++;
            x->bytes += payload.len;
            if (m->ts_ns > x->last_ns)
                x->last_ns = m->ts_ns;
        }
        return;
    }
    f->packets++;
    f->bytes += payload.len;
    size_t len = build(o, m, tcp, payload);
    ndpi_protocol p = ndpi_detection_process_packet(o->nd, f->nf, o->pkt, (unsigned short)len,
                                                    m->ts_ns / 1000000u);
    f->fed++;
    if (p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN) {
        /* TLS and QUIC keep looking for their server name a few packets more */
        if (!ndpi_extra_dissection_possible(o->nd, f->nf) || f->fed >= TS_OFLOW_MAX_PACKETS)
            classify(o, f, p, false);
    } else if (f->fed >= TS_OFLOW_MAX_PACKETS) {
        classify(o, f, p, true);
    }
}

void oflows_expire(struct oflows *o, uint64_t now_ns)
{
    if (!o)
        return;
    while (o->flows.count) {
        struct oflow *f = ts_container_of(o->flows.lru.lnext, struct oflow, node);
        if (f->last_ns + TS_OFLOW_IDLE_NS > now_ns)
            break;
        flow_drop(o, f);
    }
}

void oflows_finish(struct oflows *o)
{
    if (!o)
        return;
    while (o->flows.count)
        flow_drop(o, ts_container_of(o->flows.lru.lnext, struct oflow, node));
}

void oflows_free(struct oflows *o)
{
    if (!o)
        return;
    oflows_finish(o);
    htab_cleanup(&o->flows);
    if (o->nd)
        ndpi_exit_detection_module(o->nd);
    free(o->e);
    free(o);
}

size_t oflows_count(const struct oflows *o) { return o ? o->ne : 0; }

const struct oflow_entry *oflows_get(const struct oflows *o, size_t i)
{
    return o && i < o->ne ? &o->e[i] : NULL;
}
