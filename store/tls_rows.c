/* The rows of the TLS and other-flows tables (schema versions 14 and 19,
 * created in schema.c): the status per TLS peer pair, one row per TLS connection, and
 * the other flows' inventory, written by the writer thread from copies
 * (store/writer.c queues them). */
#include "tls_rows.h"

#include <string.h>

/* Binds a statement's parameters in the order they stand (plain "?"s): the
 * next one each call, so no number is kept in step with a column list. */
struct binder {
    sqlite3_stmt *s;
    int i; /* the last one bound */
};

/* NULL or "" binds null. */
static void b_text(struct binder *b, const char *t)
{
    if (t && t[0])
        sqlite3_bind_text(b->s, ++b->i, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(b->s, ++b->i);
}

static void b_int(struct binder *b, int64_t v)
{
    sqlite3_bind_int64(b->s, ++b->i, v);
}

/* v, or null when absent. */
static void b_int_if(struct binder *b, bool present, int64_t v)
{
    if (present)
        b_int(b, v);
    else
        sqlite3_bind_null(b->s, ++b->i);
}

/* A capture time; 0 (none) binds null. */
static void b_ns(struct binder *b, uint64_t ns)
{
    b_int_if(b, ns != 0, (int64_t)ns);
}

/* n parameters left null. */
static void b_skip(struct binder *b, int n)
{
    b->i += n;
}

static bool prepare(sqlite3 *h, const char *sql, struct binder *b)
{
    b->i = 0;
    return sqlite3_prepare_v2(h, sql, -1, &b->s, NULL) == SQLITE_OK;
}

static bool step_done(struct binder *b)
{
    int rc = sqlite3_step(b->s);
    sqlite3_finalize(b->s);
    return rc == SQLITE_DONE;
}

/* The columns a connection's row and its peer pair's row share, first in
 * both statements and in this order. */
#define CONN_COLUMNS                                                                  \
    "client, server, server_port, site, version, suite, offered, sni, alpn, resumed," \
    " cert_requested, client_cert"
#define CONN_PARAMS "?,?,?,?,?,?,?,?,?,?,?,?"

static void bind_conn(struct binder *b, const struct st_tls_conn *c, const char *cl, const char *sv)
{
    b_text(b, cl);
    b_text(b, sv);
    b_int(b, c->sport);
    b_text(b, c->site);
    b_text(b, tls_version_name(c->version));
    b_int_if(b, c->suite != 0, c->suite);
    b_text(b, c->offered);
    b_text(b, c->sni);
    b_text(b, c->alpn);
    b_int(b, c->resumed);
    b_int(b, c->cert_requested);
    b_int(b, c->client_cert);
}

/* The peer pair's row: counts added; the facts of this handshake replace the
 * earlier ones when it showed them (a resumed or TLS 1.3 handshake shows no
 * certificate: the last one seen stays). */
static bool write_peer(sqlite3 *h, const struct st_tls_rec *r, const char *cl, const char *sv)
{
    static const char sql[] =
        "INSERT INTO tls_peers(" CONN_COLUMNS ", status, conns, established, failed,"
        " alerts, alert_level, alert_desc, alert_from, first_ts, last_ts, last_ok_ts,"
        " last_fail_ts, chain_len, cert_subject, cert_issuer, cert_sans, cert_not_before,"
        " cert_not_after, cert_key, cert_key_bits, cert_sig, cert_serial,"
        " client_cert_subject, client_cert_issuer, client_cert_not_after)"
        " VALUES(" CONN_PARAMS ",?,1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
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
    struct binder b;
    if (!prepare(h, sql, &b))
        return false;
    const struct st_tls_conn *c = &r->c;
    bool ok = r->established, fail = r->failed;
    bind_conn(&b, c, cl, sv);
    b_text(&b, ok ? "ok" : fail ? "failing" : "unknown");
    b_int(&b, ok);
    b_int(&b, fail);
    b_int(&b, r->alerts);
    if (r->have_alert) {
        b_text(&b, r->alert_level == 2 ? "fatal" : "warning");
        b_text(&b, c->alert);
        b_text(&b, r->alert_from_server ? "server" : "client");
    } else {
        b_skip(&b, 3);
    }
    b_ns(&b, c->first_ns);
    b_ns(&b, c->last_ns);
    b_ns(&b, ok ? c->last_ns : 0);
    b_ns(&b, fail ? c->last_ns : 0);
    b_int(&b, r->chain_len);
    if (r->have_cert[0]) {
        const struct x509_facts *f = &r->cert[0];
        b_text(&b, f->subject);
        b_text(&b, f->issuer);
        b_text(&b, f->sans);
        b_int(&b, f->not_before);
        b_int(&b, f->not_after);
        b_text(&b, f->key_type);
        b_int(&b, f->key_bits);
        b_text(&b, f->sig_alg);
        b_text(&b, f->serial);
    } else {
        b_skip(&b, 9);
    }
    if (r->have_cert[1]) {
        b_text(&b, r->cert[1].subject);
        b_text(&b, r->cert[1].issuer);
        b_int(&b, r->cert[1].not_after);
    }
    return step_done(&b);
}

bool st_tls_write_flow(sqlite3 *h, const struct oflow_done *x)
{
    static const char sql[] =
        "INSERT INTO other_flows(client, server, port, transport, protocol, category, guessed,"
        " flows, packets, bytes, first_ts, last_ts) VALUES(?,?,?,?,?,?,?,1,?,?,?,?)"
        " ON CONFLICT(client, server, port, transport, protocol) DO UPDATE SET"
        " category=excluded.category, guessed=guessed AND excluded.guessed, flows=flows+1,"
        " packets=packets+excluded.packets, bytes=bytes+excluded.bytes,"
        " first_ts=min(first_ts, excluded.first_ts), last_ts=max(last_ts, excluded.last_ts)";
    struct binder b;
    if (!prepare(h, sql, &b))
        return false;
    char c[64], sv[64];
    st_addr_text(&x->client, c, sizeof c);
    st_addr_text(&x->server, sv, sizeof sv);
    b_text(&b, c);
    b_text(&b, sv);
    b_int(&b, x->port);
    b_text(&b, x->l4 == TS_L4_TCP ? "tcp" : "udp");
    b_text(&b, x->proto[0] ? x->proto : "Unknown");
    b_text(&b, x->category);
    b_int(&b, x->guessed);
    b_int(&b, (int64_t)x->packets);
    b_int(&b, (int64_t)x->bytes);
    b_ns(&b, x->first_ns);
    b_ns(&b, x->last_ns);
    return step_done(&b);
}

/* A connection's decryption ended: the verdict on its row (written when its
 * handshake ended, found by its addresses and first time: tls_conns_ts)
 * and one more of it in its pair's counts. */
static bool write_decrypt_end(sqlite3 *h, const struct st_tls_rec *r, const char *cl,
                              const char *sv)
{
    const struct st_tls_conn *c = &r->c;
    struct binder b;
    if (!prepare(h, "UPDATE tls_conns SET decrypt=?, decrypt_records=?, decrypt_auth_failed=?,"
                    " decrypt_late=? WHERE ts=? AND client=?"
                    " AND client_port=? AND server=? AND server_port=?", &b))
        return false;
    b_text(&b, c->decrypt);
    b_int(&b, (int64_t)c->dec_records);
    b_int(&b, (int64_t)c->dec_auth_failed);
    b_int(&b, (int64_t)c->dec_late);
    b_int(&b, (int64_t)c->first_ns);
    b_text(&b, cl);
    b_int(&b, c->cport);
    b_text(&b, sv);
    b_int(&b, c->sport);
    if (!step_done(&b))
        return false;
    if (!prepare(h, "UPDATE tls_peers SET decrypt=json_set(coalesce(decrypt,'{}'), '$.'||?1,"
                    " coalesce(json_extract(decrypt, '$.'||?1), 0)+1)"
                    " WHERE client=?2 AND server=?3 AND server_port=?4", &b))
        return false;
    b_text(&b, c->decrypt);
    b_text(&b, cl);
    b_text(&b, sv);
    b_int(&b, c->sport);
    return step_done(&b);
}

bool st_tls_write_conn(sqlite3 *h, const struct st_tls_rec *r)
{
    const struct st_tls_conn *c = &r->c;
    char cl[64], sv[64];
    st_addr_text(&c->client, cl, sizeof cl);
    st_addr_text(&c->server, sv, sizeof sv);
    if (!r->first)
        return !r->dec_final || !c->decrypt || write_decrypt_end(h, r, cl, sv);
    static const char sql[] =
        "INSERT INTO tls_conns(" CONN_COLUMNS ", client_port, ts, end_ts, state, ems,"
        " alert_desc, cert_subject, cert_issuer, cert_not_after, decrypt, decrypt_records,"
        " decrypt_auth_failed, decrypt_late)"
        " VALUES(" CONN_PARAMS ",?,?,?,?,?,?,?,?,?,?,?,?,?)";
    struct binder b;
    if (!prepare(h, sql, &b))
        return false;
    bind_conn(&b, c, cl, sv);
    b_int(&b, c->cport);
    b_int(&b, (int64_t)c->first_ns);
    b_ns(&b, c->last_ns);
    b_text(&b, c->state);
    b_int(&b, c->ems);
    b_text(&b, c->alert);
    b_text(&b, c->cert_subject);
    b_text(&b, c->cert_issuer);
    b_int_if(&b, c->cert_not_after != 0, c->cert_not_after);
    b_text(&b, c->decrypt);
    b_int_if(&b, c->decrypt != NULL, (int64_t)c->dec_records);
    b_int_if(&b, c->decrypt != NULL, (int64_t)c->dec_auth_failed);
    b_int_if(&b, c->decrypt != NULL, (int64_t)c->dec_late);
    if (!step_done(&b))
        return false;
    /* the newest TS_STORE_TLS_CONNS_MAX rows are kept */
    if (!prepare(h, "DELETE FROM tls_conns WHERE id <= (SELECT max(id) FROM tls_conns) - ?", &b))
        return false;
    b_int(&b, TS_STORE_TLS_CONNS_MAX);
    if (!step_done(&b))
        return false;
    if (!write_peer(h, r, cl, sv))
        return false;
    return !r->dec_final || !c->decrypt || write_decrypt_end(h, r, cl, sv);
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
    r->first = !pc->again;
    r->dec_final = pc->dec_final;
    if (pc->keys) {
        out->decrypt = tlsdec_verdict_str(pc->dec.verdict);
        out->dec_records = pc->dec.records;
        out->dec_auth_failed = pc->dec.auth_failed;
        out->dec_late = pc->dec.late;
    }
    for (int i = 0; i < 2; i++)
        if (pc->cert[i]) {
            r->have_cert[i] = true;
            r->cert[i] = *pc->cert[i];
        }
}
