/* The rows of the TLS and other-flows tables (schema version 14, created in
 * schema.c): the status per TLS peer pair, one row per TLS connection, and
 * the other flows' inventory, written by the writer thread from copies
 * (store/writer.c queues them). */
#include "tls_rows.h"

#include <string.h>

static void b_text(sqlite3_stmt *s, int i, const char *t)
{
    if (t && t[0])
        sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void b_ns(sqlite3_stmt *s, int i, uint64_t ns)
{
    if (ns)
        sqlite3_bind_int64(s, i, (sqlite3_int64)ns);
    else
        sqlite3_bind_null(s, i);
}

static bool step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE;
}

/* The peer pair's row: counts added; the facts of this handshake replace the
 * earlier ones when it showed them (a resumed or TLS 1.3 handshake shows no
 * certificate: the last one seen stays). */
static bool write_peer(sqlite3 *h, const struct st_tls_rec *r, const char *cl, const char *sv)
{
    static const char sql[] =
        "INSERT INTO tls_peers(client, server, server_port, site, status, version, suite,"
        " offered, sni, alpn, cert_requested, client_cert, conns, established, failed,"
        " resumed, alerts, alert_level, alert_desc, alert_from, first_ts, last_ts,"
        " last_ok_ts, last_fail_ts, chain_len, cert_subject, cert_issuer, cert_sans,"
        " cert_not_before, cert_not_after, cert_key, cert_key_bits, cert_sig, cert_serial,"
        " client_cert_subject, client_cert_issuer, client_cert_not_after)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,1,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
        "?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36)"
        " ON CONFLICT(client, server, server_port) DO UPDATE SET"
        " site=coalesce(excluded.site, site),"
        " status=CASE WHEN excluded.status='unknown' THEN status ELSE excluded.status END,"
        " version=coalesce(excluded.version, version), suite=coalesce(excluded.suite, suite),"
        " offered=coalesce(excluded.offered, offered), sni=excluded.sni, alpn=excluded.alpn,"
        " cert_requested=excluded.cert_requested, client_cert=excluded.client_cert,"
        " conns=conns+1, established=established+excluded.established,"
        " failed=failed+excluded.failed, resumed=resumed+excluded.resumed,"
        " alerts=alerts+excluded.alerts,"
        " alert_level=coalesce(excluded.alert_level, alert_level),"
        " alert_desc=CASE WHEN excluded.alert_level IS NULL THEN alert_desc ELSE excluded.alert_desc END,"
        " alert_from=CASE WHEN excluded.alert_level IS NULL THEN alert_from ELSE excluded.alert_from END,"
        " first_ts=min(first_ts, excluded.first_ts), last_ts=max(last_ts, excluded.last_ts),"
        " last_ok_ts=coalesce(excluded.last_ok_ts, last_ok_ts),"
        " last_fail_ts=coalesce(excluded.last_fail_ts, last_fail_ts),"
        " chain_len=CASE WHEN excluded.chain_len>0 THEN excluded.chain_len ELSE chain_len END,"
        " cert_subject=coalesce(excluded.cert_subject, cert_subject),"
        " cert_issuer=CASE WHEN excluded.cert_subject IS NULL THEN cert_issuer ELSE excluded.cert_issuer END,"
        " cert_sans=CASE WHEN excluded.cert_subject IS NULL THEN cert_sans ELSE excluded.cert_sans END,"
        " cert_not_before=coalesce(excluded.cert_not_before, cert_not_before),"
        " cert_not_after=coalesce(excluded.cert_not_after, cert_not_after),"
        " cert_key=coalesce(excluded.cert_key, cert_key),"
        " cert_key_bits=coalesce(excluded.cert_key_bits, cert_key_bits),"
        " cert_sig=coalesce(excluded.cert_sig, cert_sig),"
        " cert_serial=coalesce(excluded.cert_serial, cert_serial),"
        " client_cert_subject=coalesce(excluded.client_cert_subject, client_cert_subject),"
        " client_cert_issuer=coalesce(excluded.client_cert_issuer, client_cert_issuer),"
        " client_cert_not_after=coalesce(excluded.client_cert_not_after, client_cert_not_after)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
        return false;
    const struct st_tls_conn *c = &r->c;
    bool ok = r->established, fail = r->failed;
    b_text(s, 1, cl);
    b_text(s, 2, sv);
    sqlite3_bind_int(s, 3, c->sport);
    b_text(s, 4, c->site);
    b_text(s, 5, ok ? "ok" : fail ? "failing" : "unknown");
    b_text(s, 6, tls_version_name(c->version));
    if (c->suite)
        sqlite3_bind_int(s, 7, c->suite);
    b_text(s, 8, c->offered);
    b_text(s, 9, c->sni);
    b_text(s, 10, c->alpn);
    sqlite3_bind_int(s, 11, c->cert_requested);
    sqlite3_bind_int(s, 12, c->client_cert);
    sqlite3_bind_int(s, 13, ok);
    sqlite3_bind_int(s, 14, fail);
    sqlite3_bind_int(s, 15, c->resumed);
    sqlite3_bind_int(s, 16, r->alerts);
    if (r->have_alert) {
        b_text(s, 17, r->alert_level == 2 ? "fatal" : "warning");
        b_text(s, 18, c->alert);
        b_text(s, 19, r->alert_from_server ? "server" : "client");
    }
    b_ns(s, 20, c->first_ns);
    b_ns(s, 21, c->last_ns);
    if (ok)
        b_ns(s, 22, c->last_ns);
    if (fail)
        b_ns(s, 23, c->last_ns);
    sqlite3_bind_int(s, 24, r->chain_len);
    if (r->have_cert[0]) {
        const struct x509_facts *f = &r->cert[0];
        b_text(s, 25, f->subject);
        b_text(s, 26, f->issuer);
        b_text(s, 27, f->sans);
        sqlite3_bind_int64(s, 28, f->not_before);
        sqlite3_bind_int64(s, 29, f->not_after);
        b_text(s, 30, f->key_type);
        sqlite3_bind_int64(s, 31, f->key_bits);
        b_text(s, 32, f->sig_alg);
        b_text(s, 33, f->serial);
    }
    if (r->have_cert[1]) {
        b_text(s, 34, r->cert[1].subject);
        b_text(s, 35, r->cert[1].issuer);
        sqlite3_bind_int64(s, 36, r->cert[1].not_after);
    }
    return step_done(s);
}

bool st_tls_write_flow(sqlite3 *h, const struct oflow_done *x)
{
    static const char sql[] =
        "INSERT INTO other_flows(client, server, port, transport, protocol, category, guessed,"
        " flows, packets, bytes, first_ts, last_ts) VALUES(?1,?2,?3,?4,?5,?6,?7,1,?8,?9,?10,?11)"
        " ON CONFLICT(client, server, port, transport, protocol) DO UPDATE SET"
        " category=excluded.category, guessed=guessed AND excluded.guessed, flows=flows+1,"
        " packets=packets+excluded.packets, bytes=bytes+excluded.bytes,"
        " first_ts=min(first_ts, excluded.first_ts), last_ts=max(last_ts, excluded.last_ts)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
        return false;
    char c[64], sv[64];
    st_addr_text(&x->client, c, sizeof c);
    st_addr_text(&x->server, sv, sizeof sv);
    b_text(s, 1, c);
    b_text(s, 2, sv);
    sqlite3_bind_int(s, 3, x->port);
    b_text(s, 4, x->l4 == TS_L4_TCP ? "tcp" : "udp");
    b_text(s, 5, x->proto[0] ? x->proto : "Unknown");
    b_text(s, 6, x->category);
    sqlite3_bind_int(s, 7, x->guessed);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)x->packets);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)x->bytes);
    b_ns(s, 10, x->first_ns);
    b_ns(s, 11, x->last_ns);
    return step_done(s);
}

bool st_tls_write_conn(sqlite3 *h, const struct st_tls_rec *r)
{
    const struct st_tls_conn *c = &r->c;
    static const char sql[] =
        "INSERT INTO tls_conns(ts, end_ts, client, client_port, server, server_port, site,"
        " state, version, suite, offered, sni, alpn, resumed, ems, cert_requested, client_cert,"
        " alert_desc, cert_subject, cert_issuer, cert_not_after)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
        return false;
    char cl[64], sv[64];
    st_addr_text(&c->client, cl, sizeof cl);
    st_addr_text(&c->server, sv, sizeof sv);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)c->first_ns);
    b_ns(s, 2, c->last_ns);
    b_text(s, 3, cl);
    sqlite3_bind_int(s, 4, c->cport);
    b_text(s, 5, sv);
    sqlite3_bind_int(s, 6, c->sport);
    b_text(s, 7, c->site);
    b_text(s, 8, c->state);
    b_text(s, 9, tls_version_name(c->version));
    if (c->suite)
        sqlite3_bind_int(s, 10, c->suite);
    b_text(s, 11, c->offered);
    b_text(s, 12, c->sni);
    b_text(s, 13, c->alpn);
    sqlite3_bind_int(s, 14, c->resumed);
    sqlite3_bind_int(s, 15, c->ems);
    sqlite3_bind_int(s, 16, c->cert_requested);
    sqlite3_bind_int(s, 17, c->client_cert);
    b_text(s, 18, c->alert);
    b_text(s, 19, c->cert_subject);
    b_text(s, 20, c->cert_issuer);
    if (c->cert_not_after)
        sqlite3_bind_int64(s, 21, c->cert_not_after);
    if (!step_done(s))
        return false;
    /* the newest TS_STORE_TLS_CONNS_MAX rows are kept */
    sqlite3_stmt *d;
    if (sqlite3_prepare_v2(h, "DELETE FROM tls_conns WHERE id <= (SELECT max(id) FROM tls_conns) - ?1",
                           -1, &d, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(d, 1, TS_STORE_TLS_CONNS_MAX);
    if (!step_done(d))
        return false;
    return write_peer(h, r, cl, sv);
}

void st_tls_rec_of(const struct tlspeer_conn *pc, struct st_tls_rec *r)
{
    const struct tls_conn *t = pc->tls;
    memset(r, 0, sizeof *r);
    struct st_tls_conn *out = &r->c;
    out->client = pc->client;
    out->server = pc->server;
    out->cport = pc->cport;
    out->sport = pc->sport;
    out->first_ns = pc->first_ns;
    out->last_ns = pc->last_ns;
    if (pc->site)
        snprintf(out->site, sizeof out->site, "%s", pc->site);
    out->state = t->state == TLS_ST_ESTABLISHED ? "established"
               : t->state == TLS_ST_FAILED    ? "failed"
                                               : "incomplete";
    out->version = t->version;
    out->suite = t->suite;
    size_t k = 0;
    for (unsigned i = 0; i < t->noffered; i++) {
        const char *v = tls_version_name(t->offered[i]);
        if (v && k + strlen(v) + 2 < sizeof out->offered)
            k += (size_t)snprintf(out->offered + k, sizeof out->offered - k, "%s%s", k ? "," : "", v);
    }
    memcpy(out->sni, t->sni, sizeof out->sni);
    memcpy(out->alpn, t->alpn, sizeof out->alpn);
    out->resumed = t->resumed;
    out->ems = t->ems;
    out->cert_requested = t->cert_requested;
    out->client_cert = t->client_cert_sent;
    if (t->alerts) {
        const char *a = tls_alert_name(t->last_alert_desc);
        snprintf(out->alert, sizeof out->alert, "%s", a ? a : "unknown");
    }
    if (pc->cert[0]) {
        snprintf(out->cert_subject, sizeof out->cert_subject, "%s", pc->cert[0]->subject);
        snprintf(out->cert_issuer, sizeof out->cert_issuer, "%s", pc->cert[0]->issuer);
        out->cert_not_after = pc->cert[0]->not_after;
    }
    r->established = t->state == TLS_ST_ESTABLISHED;
    r->failed = t->state == TLS_ST_FAILED;
    r->alerts = t->alerts;
    r->have_alert = t->alerts > 0;
    r->alert_level = t->last_alert_level;
    r->alert_from_server = t->last_alert_dir >= 0 && t->last_alert_dir != t->client_dir;
    r->chain_len = t->server_certs;
    for (int i = 0; i < 2; i++)
        if (pc->cert[i]) {
            r->have_cert[i] = true;
            r->cert[i] = *pc->cert[i];
        }
}
