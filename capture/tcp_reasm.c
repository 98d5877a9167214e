/* TCP stream reassembly in the RFC 9293 section 3.4 sequence space (serial
 * arithmetic, RFC 1982): ordered bytes per direction, gaps skipped, caps. */
#include "tcp_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"

/* Serial comparison of sequence numbers: valid while they are < 2^31 apart. */
static inline int32_t seq_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }
#define SEQ_LT(a, b) (seq_diff((a), (b)) < 0)
#define SEQ_GT(a, b) (seq_diff((a), (b)) > 0)

/* One buffered out-of-order range, with the meta of the segment it came in. */
struct oseg {
    struct oseg *next;
    uint32_t seq, len;
    struct pkt_meta m;
    uint8_t data[];
};

/* What a buffered range costs against TS_TCP_MAX_TOTAL_BYTES: its header
 * too, or 1-byte segments would hold many times the cap. */
#define OSEG_COST(len) (sizeof(struct oseg) + (len))

struct half {
    struct oseg *ooo;  /* sorted by seq, disjoint, every one after next */
    size_t ooo_bytes;
    unsigned ooo_segs;
    uint32_t next;     /* next sequence number to deliver */
    uint32_t isn, fin_seq;
    bool seq_known, syn_seen, fin_seen;
};

/* The endpoints in a fixed order, so that both directions find one entry. */
struct conn_key {
    struct ts_addr a, b;
    uint16_t pa, pb;
};

struct conn {
    struct ht_node node;
    struct conn_key key;
    struct ts_addr addr0; /* sender of direction 0 */
    uint16_t port0;
    uint64_t last_ns;
    void *user;           /* the consumer's slot */
    struct half h[2];
};

struct tcp_reasm {
    struct ts_stats *st;
    struct tcp_reasm_cb cb;
    struct htab tab; /* LRU order = idle order: touched on every segment */
    size_t bytes;    /* OSEG_COST of every buffered range */
};

static int ep_cmp(const struct ts_addr *x, uint16_t px, const struct ts_addr *y, uint16_t py)
{
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->a, y->a, sizeof x->a);
    if (c)
        return c;
    return px == py ? 0 : px < py ? -1 : 1;
}

static uint64_t key_make(const struct pkt_meta *m, struct conn_key *k)
{
    if (ep_cmp(&m->src, m->sport, &m->dst, m->dport) <= 0) {
        k->a = m->src, k->pa = m->sport, k->b = m->dst, k->pb = m->dport;
    } else {
        k->a = m->dst, k->pa = m->dport, k->b = m->src, k->pb = m->sport;
    }
    uint8_t buf[2 * (17 + 2)];
    buf[0] = k->a.family;
    memcpy(buf + 1, k->a.a, 16);
    memcpy(buf + 17, &k->pa, 2);
    buf[19] = k->b.family;
    memcpy(buf + 20, k->b.a, 16);
    memcpy(buf + 36, &k->pb, 2);
    return ts_hash(buf, sizeof buf);
}

static bool key_eq(const struct ht_node *n, const void *key)
{
    const struct conn *c = ts_container_of(n, const struct conn, node);
    const struct conn_key *k = key;
    return c->key.pa == k->pa && c->key.pb == k->pb &&
           ts_addr_eq(&c->key.a, &k->a) && ts_addr_eq(&c->key.b, &k->b);
}

static int conn_dir(const struct conn *c, const struct pkt_meta *m)
{
    return ts_addr_eq(&m->src, &c->addr0) && m->sport == c->port0 ? 0 : 1;
}

/* ---- delivery to the consumer ---- */

static void emit_data(struct tcp_reasm *t, struct conn *c, int dir,
                      const struct pkt_meta *m, struct bv v)
{
    if (v.len && t->cb.data)
        t->cb.data(t->cb.ctx, &c->user, dir, m, v);
}

static void emit_gap(struct tcp_reasm *t, struct conn *c, int dir, uint32_t n)
{
    if (!n)
        return;
    TS_INC(t->st, TCP_GAPS);
    TS_ADD(t->st, TCP_GAP_BYTES, n);
    if (t->cb.gap)
        t->cb.gap(t->cb.ctx, &c->user, dir, n);
}

/* Deliver buffered ranges that have become contiguous with next. Each range
 * is unlinked before the callback and freed after it returns. */
static void ooo_pump(struct tcp_reasm *t, struct conn *c, int dir)
{
    struct half *h = &c->h[dir];
    while (h->ooo && !SEQ_GT(h->ooo->seq, h->next)) {
        struct oseg *s = h->ooo;
        h->ooo = s->next;
        h->ooo_segs--;
        h->ooo_bytes -= s->len;
        t->bytes -= OSEG_COST(s->len);
        uint32_t end = s->seq + s->len;
        if (SEQ_GT(end, h->next)) {
            struct bv v = bv_from(bv_make(s->data, s->len), h->next - s->seq);
            h->next = end;
            emit_data(t, c, dir, &s->m, v);
        }
        free(s);
    }
}

/* Give up on the hole before the first buffered range. */
static void skip_hole(struct tcp_reasm *t, struct conn *c, int dir)
{
    struct half *h = &c->h[dir];
    emit_gap(t, c, dir, h->ooo->seq - h->next);
    h->next = h->ooo->seq;
    ooo_pump(t, c, dir);
}

/* The peer has everything before target: what we lack of it is a gap. */
static void advance_to(struct tcp_reasm *t, struct conn *c, int dir, uint32_t target)
{
    struct half *h = &c->h[dir];
    while (SEQ_LT(h->next, target)) {
        if (h->ooo && SEQ_LT(h->ooo->seq, target)) {
            skip_hole(t, c, dir);
        } else {
            emit_gap(t, c, dir, target - h->next);
            h->next = target;
            ooo_pump(t, c, dir);
        }
    }
}

/* Everything buffered goes out, holes become gaps (close and flush). */
static void drain(struct tcp_reasm *t, struct conn *c, int dir)
{
    struct half *h = &c->h[dir];
    while (h->ooo)
        skip_hole(t, c, dir);
    if (h->fin_seen && SEQ_LT(h->next, h->fin_seq)) {
        emit_gap(t, c, dir, h->fin_seq - h->next);
        h->next = h->fin_seq;
    }
}

/* Remove c from the table, deliver what it holds, tell the consumer, free.
 * The only place a connection ends, so close() runs exactly once. */
static void conn_close(struct tcp_reasm *t, struct conn *c)
{
    htab_remove(&t->tab, &c->node);
    drain(t, c, 0);
    drain(t, c, 1);
    if (t->cb.close)
        t->cb.close(t->cb.ctx, &c->user);
    free(c);
}

/* ---- out-of-order buffer ---- */

struct part {
    uint32_t seq, len;
};

/* Buffer the bytes of [seq, seq+len) not buffered yet (first data wins).
 * Returns 0 when stored, 1 when nothing was new, -1 when a cap would be
 * exceeded (nothing stored). */
static int ooo_insert(struct tcp_reasm *t, struct conn *c, int dir,
                      const struct pkt_meta *m, uint32_t seq, struct bv payload)
{
    struct half *h = &c->h[dir];
    uint32_t end = seq + (uint32_t)payload.len, cur = seq;
    struct part parts[TS_TCP_MAX_OOO_SEGS + 1];
    unsigned np = 0;
    size_t need = 0;
    bool inter = false;

    for (const struct oseg *s = h->ooo; s && SEQ_LT(cur, end); s = s->next) {
        uint32_t se = s->seq + s->len;
        if (!SEQ_GT(se, cur))
            continue;
        if (!SEQ_LT(s->seq, end))
            break;
        inter = true;
        if (SEQ_GT(s->seq, cur) && np < TS_TCP_MAX_OOO_SEGS + 1) {
            parts[np++] = (struct part){ cur, s->seq - cur };
            need += s->seq - cur;
        }
        cur = se;
    }
    if (SEQ_LT(cur, end) && np < TS_TCP_MAX_OOO_SEGS + 1) {
        parts[np++] = (struct part){ cur, end - cur };
        need += end - cur;
    }
    if (np == 0) {
        TS_INC(t->st, TCP_RETRANS);
        return 1;
    }
    if (h->ooo_segs + np > TS_TCP_MAX_OOO_SEGS ||
        h->ooo_bytes + need > TS_TCP_MAX_OOO_BYTES ||
        t->bytes + need + np * sizeof(struct oseg) > TS_TCP_MAX_TOTAL_BYTES)
        return -1;
    if (inter)
        TS_INC(t->st, TCP_OVERLAP);
    TS_INC(t->st, TCP_OUT_OF_ORDER);

    struct oseg **pp = &h->ooo;
    for (unsigned i = 0; i < np; i++) {
        struct bv src;
        struct oseg *s = malloc(sizeof *s + parts[i].len);
        if (!s)
            return 0; /* what was stored stays; the rest becomes a gap later */
        if (!bv_sub(payload, parts[i].seq - seq, parts[i].len, &src)) {
            free(s);
            return 0;
        }
        s->seq = parts[i].seq;
        s->len = parts[i].len;
        s->m = *m;
        bv_copy(&src, s->data, src.len);
        while (*pp && SEQ_LT((*pp)->seq, s->seq))
            pp = &(*pp)->next;
        s->next = *pp;
        *pp = s;
        h->ooo_segs++;
        h->ooo_bytes += s->len;
        t->bytes += OSEG_COST(s->len);
    }
    return 0;
}

/* ---- the segment path ---- */

/* Payload that starts at next: delivered from the packet itself, except
 * where buffered bytes came first (first data wins). */
static void deliver_live(struct tcp_reasm *t, struct conn *c, int dir,
                         const struct pkt_meta *m, uint32_t seq, struct bv payload)
{
    struct half *h = &c->h[dir];
    uint32_t end = seq + (uint32_t)payload.len;
    while (SEQ_LT(h->next, end)) {
        uint32_t upto = end;
        if (h->ooo && SEQ_LT(h->ooo->seq, end))
            upto = h->ooo->seq;
        struct bv part = bv_head(bv_from(payload, h->next - seq), upto - h->next);
        h->next = upto;
        emit_data(t, c, dir, m, part);
        ooo_pump(t, c, dir);
    }
}

static void half_data(struct tcp_reasm *t, struct conn *c, int dir,
                      const struct pkt_meta *m, uint32_t seq, struct bv payload)
{
    struct half *h = &c->h[dir];
    if (payload.len >= TS_TCP_MAX_WINDOW)
        return; /* not a real segment; serial arithmetic would break */
    for (;;) {
        uint32_t end = seq + (uint32_t)payload.len;
        if (h->fin_seen && SEQ_GT(end, h->fin_seq)) {
            /* Nothing follows a FIN. */
            TS_INC(t->st, TCP_OOO_DROPPED);
            if (!SEQ_GT(h->fin_seq, seq))
                return;
            payload = bv_head(payload, h->fin_seq - seq);
            continue;
        }
        if (!SEQ_GT(end, h->next)) {
            TS_INC(t->st, TCP_RETRANS);
            return;
        }
        if (SEQ_LT(seq, h->next)) {
            TS_INC(t->st, TCP_OVERLAP);
            payload = bv_from(payload, h->next - seq);
            seq = h->next;
        }
        if (seq == h->next) {
            deliver_live(t, c, dir, m, seq, payload);
            return;
        }
        if (ooo_insert(t, c, dir, m, seq, payload) >= 0)
            return;
        /* A cap is reached: stop waiting for the oldest hole, then retry. */
        TS_INC(t->st, TCP_OOO_FULL);
        if (h->ooo) {
            skip_hole(t, c, dir);
        } else {
            emit_gap(t, c, dir, seq - h->next);
            h->next = seq;
        }
    }
}

/* An ACK from the peer of dir: bytes it acknowledges that we never saw are
 * missing from the capture. */
static void ack_gap(struct tcp_reasm *t, struct conn *c, int dir, uint32_t ack)
{
    struct half *h = &c->h[dir];
    if (!h->seq_known)
        return;
    uint32_t target = ack;
    if (h->fin_seen && SEQ_GT(target, h->fin_seq))
        target = h->fin_seq; /* the FIN's own sequence number is not data */
    if (!SEQ_GT(target, h->next) || target - h->next > TS_TCP_MAX_WINDOW)
        return;
    advance_to(t, c, dir, target);
}

static bool half_done(const struct half *h)
{
    return h->fin_seen && h->next == h->fin_seq;
}

static struct conn *conn_new(struct tcp_reasm *t, const struct pkt_meta *m,
                             const struct tcp_seg *seg, const struct conn_key *k,
                             uint64_t hash)
{
    if (htab_full(&t->tab)) {
        TS_INC(t->st, TCP_EVICTED);
        conn_close(t, ts_container_of(htab_oldest(&t->tab), struct conn, node));
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->key = *k;
    if ((seg->flags & (TCP_F_SYN | TCP_F_ACK)) == (TCP_F_SYN | TCP_F_ACK)) {
        c->addr0 = m->dst; /* a SYN-ACK: its receiver opened the connection */
        c->port0 = m->dport;
    } else {
        c->addr0 = m->src;
        c->port0 = m->sport;
    }
    htab_insert(&t->tab, &c->node, hash);
    TS_INC(t->st, TCP_STREAMS);
    return c;
}

struct tcp_reasm *tcp_reasm_new(struct ts_stats *st, const struct tcp_reasm_cb *cb)
{
    struct tcp_reasm *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->st = st;
    t->cb = *cb;
    if (htab_init(&t->tab, TS_TCP_MAX_CONNS) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void close_all(struct tcp_reasm *t)
{
    struct ht_node *n;
    while ((n = htab_oldest(&t->tab)))
        conn_close(t, ts_container_of(n, struct conn, node));
}

void tcp_reasm_free(struct tcp_reasm *t)
{
    if (!t)
        return;
    close_all(t);
    htab_cleanup(&t->tab);
    free(t);
}

void tcp_reasm_flush(struct tcp_reasm *t)
{
    close_all(t);
}

void tcp_reasm_expire(struct tcp_reasm *t, uint64_t now_ns)
{
    struct ht_node *n;
    while ((n = htab_oldest(&t->tab))) {
        struct conn *c = ts_container_of(n, struct conn, node);
        if (now_ns < c->last_ns || now_ns - c->last_ns < TS_TCP_IDLE_NS)
            break;
        TS_INC(t->st, TCP_IDLE);
        conn_close(t, c);
    }
}

size_t tcp_reasm_conns(const struct tcp_reasm *t) { return t->tab.count; }
size_t tcp_reasm_bytes(const struct tcp_reasm *t) { return t->bytes; }
size_t tcp_reasm_seg_overhead(void) { return sizeof(struct oseg); }

void tcp_reasm_segment(struct tcp_reasm *t, const struct pkt_meta *m,
                       const struct tcp_seg *seg)
{
    bool syn = seg->flags & TCP_F_SYN, fin = seg->flags & TCP_F_FIN;
    bool rst = seg->flags & TCP_F_RST, ack = seg->flags & TCP_F_ACK;
    struct bv pl = seg->payload;

    tcp_reasm_expire(t, m->ts_ns);

    struct conn_key k;
    uint64_t hash = key_make(m, &k);
    struct ht_node *n = htab_find(&t->tab, hash, key_eq, &k);
    struct conn *c = n ? ts_container_of(n, struct conn, node) : NULL;

    if (c && syn && !rst) {
        /* A SYN with another ISN: the 4-tuple was reused. A pure SYN after
         * the peer sent data is one too (its old stream was mid-flight);
         * after only the peer's SYN it is a simultaneous open. */
        int d = conn_dir(c, m);
        const struct half *h = &c->h[d], *o = &c->h[!d];
        bool reused = h->syn_seen ? seg->seq != h->isn
                                  : h->seq_known && seg->seq + 1 != h->next;
        if (!h->seq_known && !ack && o->seq_known &&
            !(o->syn_seen && o->next == o->isn + 1))
            reused = true;
        if (reused) {
            TS_INC(t->st, TCP_REUSED);
            conn_close(t, c);
            c = NULL;
        }
    }
    if (!c) {
        /* Stray RSTs, ACKs and FINs of forgotten connections start nothing. */
        if (rst || (!syn && pl.len == 0))
            return;
        c = conn_new(t, m, seg, &k, hash);
        if (!c)
            return;
    } else {
        htab_touch(&t->tab, &c->node);
    }
    c->last_ns = m->ts_ns;

    if (rst) {
        TS_INC(t->st, TCP_CLOSED);
        conn_close(t, c);
        return;
    }

    int dir = conn_dir(c, m);
    struct half *h = &c->h[dir];
    uint32_t seq = seg->seq;
    if (syn) {
        if (!h->syn_seen) {
            h->syn_seen = true;
            h->isn = seq;
            if (!h->seq_known) {
                h->seq_known = true;
                h->next = seq + 1;
            }
        }
        seq++; /* the SYN occupies one sequence number */
    }
    if ((pl.len || fin) && !h->seq_known) {
        h->seq_known = true;
        h->next = seq;
        TS_INC(t->st, TCP_MIDSTREAM);
    }
    if (fin && !h->fin_seen && pl.len < TS_TCP_MAX_WINDOW) {
        h->fin_seen = true;
        h->fin_seq = seq + (uint32_t)pl.len;
    }
    if (pl.len)
        half_data(t, c, dir, m, seq, pl);
    if (ack)
        ack_gap(t, c, !dir, seg->ack);
    if (half_done(&c->h[0]) && half_done(&c->h[1])) {
        TS_INC(t->st, TCP_CLOSED);
        conn_close(t, c);
    }
}
