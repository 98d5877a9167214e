/* TLS status per peer pair (client address, server address and port): each
 * connection's handshake folded into its pair when it ends. A linear table:
 * handshakes are rare next to packets, and TS_TLS_MAX_PEERS is small. */
#include "tlspeers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tlspeers {
    struct tlspeer *p;
    size_t n;
    uint64_t evicted;
    struct tlspeer_connrec *conns; /* a ring of ended decryptions, allocated on first use */
    size_t nconns, head;
    uint64_t conns_dropped;
};

struct tlspeers *tlspeers_new(void)
{
    struct tlspeers *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->p = calloc(TS_TLS_MAX_PEERS, sizeof *t->p);
    if (!t->p) {
        free(t);
        return NULL;
    }
    return t;
}

void tlspeers_free(struct tlspeers *t)
{
    if (!t)
        return;
    free(t->p);
    free(t->conns);
    free(t);
}

static void versions_text(const struct tls_conn *c, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = 0;
    for (unsigned i = 0; i < c->noffered; i++) {
        const char *v = tls_version_name(c->offered[i]);
        if (!v) /* GREASE and unknown values are not versions a person needs */
            continue;
        size_t k = strlen(v);
        if (n + k + 2 > cap)
            break;
        if (n)
            dst[n++] = ',';
        memcpy(dst + n, v, k + 1);
        n += k;
    }
}

static void conn_done(struct tlspeers *t, struct tlspeer *p, const struct tlspeer_conn *c)
{
    if ((unsigned)c->dec.verdict < TLSDEC_NSTATUS)
        p->dec[c->dec.verdict]++;
    if (!t->conns && !(t->conns = calloc(TS_TLS_CONN_LIST_MAX, sizeof *t->conns)))
        return;
    struct tlspeer_connrec *r;
    if (t->nconns == TS_TLS_CONN_LIST_MAX) { /* the oldest gives way */
        r = &t->conns[t->head];
        t->head = (t->head + 1) % TS_TLS_CONN_LIST_MAX;
        t->conns_dropped++;
    } else {
        r = &t->conns[(t->head + t->nconns++) % TS_TLS_CONN_LIST_MAX];
    }
    r->client = c->client;
    r->server = c->server;
    r->cport = c->cport;
    r->sport = c->sport;
    r->first_ns = c->first_ns;
    r->last_ns = c->last_ns;
    r->version = c->tls->version;
    r->suite = c->tls->suite;
    r->state = (uint8_t)c->tls->state;
    r->dec = c->dec;
}

size_t tlspeers_conn_count(const struct tlspeers *t) { return t ? t->nconns : 0; }

const struct tlspeer_connrec *tlspeers_conn_get(const struct tlspeers *t, size_t i)
{
    return t && i < t->nconns ? &t->conns[(t->head + i) % TS_TLS_CONN_LIST_MAX] : NULL;
}

uint64_t tlspeers_conns_dropped(const struct tlspeers *t) { return t ? t->conns_dropped : 0; }

void tlspeers_add(struct tlspeers *t, const struct tlspeer_conn *c)
{
    struct tlspeer *p = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->p[i].sport == c->sport && ts_addr_eq(&t->p[i].client, &c->client) &&
            ts_addr_eq(&t->p[i].server, &c->server)) {
            p = &t->p[i];
            break;
        }
    if (!p) {
        if (t->n == TS_TLS_MAX_PEERS) { /* replace the least recently seen */
            size_t old = 0;
            for (size_t i = 1; i < t->n; i++)
                if (t->p[i].last_ns < t->p[old].last_ns)
                    old = i;
            memmove(&t->p[old], &t->p[old + 1], (t->n - old - 1) * sizeof *t->p);
            t->n--;
            t->evicted++;
        }
        p = &t->p[t->n++];
        memset(p, 0, sizeof *p);
        p->client = c->client;
        p->server = c->server;
        p->sport = c->sport;
        p->first_ns = c->first_ns;
        if (c->site)
            snprintf(p->site, sizeof p->site, "%s", c->site);
    }
    if (c->keys && c->dec_final)
        conn_done(t, p, c);
    if (c->again)
        return;
    const struct tls_conn *tc = c->tls;
    p->conns++;
    if (c->last_ns > p->last_ns)
        p->last_ns = c->last_ns;
    p->alerts += tc->alerts;
    if (tc->alerts) {
        p->have_alert = true;
        p->alert_level = tc->last_alert_level;
        p->alert_desc = tc->last_alert_desc;
        p->alert_from_server = tc->last_alert_dir >= 0 && tc->last_alert_dir != tc->client_dir;
    }
    if (tc->state == TLS_ST_ESTABLISHED) {
        p->established++;
        p->status = TLSPEER_OK;
        p->last_ok_ns = c->last_ns;
    } else if (tc->state == TLS_ST_FAILED) {
        p->failed++;
        p->status = TLSPEER_FAILING;
        p->last_fail_ns = c->last_ns;
    }
    if (tc->resumed)
        p->resumed++;
    if (tc->have_ch) {
        versions_text(tc, p->offered, sizeof p->offered);
        memcpy(p->sni, tc->sni, sizeof p->sni);
        p->cert_requested = tc->cert_requested;
        p->client_cert_sent = tc->client_cert_sent;
    }
    if (tc->have_sh) {
        p->version = tc->version;
        p->suite = tc->suite;
        memcpy(p->alpn, tc->alpn, sizeof p->alpn);
    }
    /* a resumed or TLS 1.3 handshake shows no certificate: the last one seen stays */
    if (tc->server_certs)
        p->chain_len = tc->server_certs;
    for (int i = 0; i < 2; i++)
        if (c->cert[i]) {
            p->cert[i] = *c->cert[i];
            p->have_cert[i] = true;
        }
}

size_t tlspeers_count(const struct tlspeers *t) { return t ? t->n : 0; }

const struct tlspeer *tlspeers_get(const struct tlspeers *t, size_t i)
{
    return t && i < t->n ? &t->p[i] : NULL;
}

const struct tlspeer *tlspeers_between(const struct tlspeers *t, const struct ts_addr *a,
                                       const struct ts_addr *b)
{
    const struct tlspeer *best = NULL;
    for (size_t i = 0; t && i < t->n; i++) {
        const struct tlspeer *p = &t->p[i];
        if ((ts_addr_eq(&p->client, a) && ts_addr_eq(&p->server, b)) ||
            (ts_addr_eq(&p->client, b) && ts_addr_eq(&p->server, a)))
            if (!best || p->last_ns > best->last_ns)
                best = p;
    }
    return best;
}

uint64_t tlspeers_evicted(const struct tlspeers *t) { return t ? t->evicted : 0; }

const char *tlspeers_status_str(uint8_t s)
{
    return s == TLSPEER_OK ? "ok" : s == TLSPEER_FAILING ? "failing" : "unknown";
}

bool tlspeers_mtls(const struct tlspeer *p)
{
    return p->cert_requested && p->client_cert_sent;
}

bool tlspeers_days_left(const struct tlspeer *p, int64_t now_s, int64_t *days)
{
    if (!p->have_cert[0])
        return false;
    *days = x509_days_left(&p->cert[0], now_s);
    return true;
}
