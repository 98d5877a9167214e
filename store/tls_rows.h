/* Private to store/: the TLS and other-flows tables (schema version 14) and
 * the rows the writer thread writes into them from its copies. */
#ifndef TS_STORE_TLS_ROWS_H
#define TS_STORE_TLS_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "../calls/tlspeers.h"
#include "../engine/oflows.h"
#include "store_int.h"

/* One connection as tls_conns stores it (a copy: no views). */
struct st_tls_conn {
    struct ts_addr client, server;
    uint16_t cport, sport;
    uint64_t first_ns, last_ns;
    char site[TS_SITE_LEN];
    const char *state;            /* a constant */
    uint16_t version, suite;
    char offered[48];
    char sni[TS_TLS_SNI_MAX + 1];
    char alpn[TS_TLS_ALPN_TEXT_MAX + 1];
    bool resumed, ems, cert_requested, client_cert;
    char alert[32];
    char cert_subject[TS_X509_NAME_MAX + 1], cert_issuer[TS_X509_NAME_MAX + 1];
    int64_t cert_not_after;
    const char *decrypt;          /* the decryption's verdict (a constant), NULL without keys */
    uint64_t dec_records, dec_auth_failed, dec_late;
};

/* What a queued TLS record holds: the connection and what its peer pair's
 * row takes from it. */
struct st_tls_rec {
    struct st_tls_conn c;
    bool established, failed;
    bool have_alert, alert_from_server;
    uint8_t alert_level;
    uint16_t alerts, chain_len;
    bool have_cert[2];
    struct x509_facts cert[2];    /* server leaf [0], client leaf [1] */
    bool first;                   /* the connection's first record: its row, its pair's counts */
    bool dec_final;               /* its decryption ended: the row's verdict, the pair's count */
};

void st_tls_rec_of(const struct tlspeer_conn *pc, struct st_tls_rec *out);
/* One connection: its tls_conns row (the newest TS_STORE_TLS_CONNS_MAX
 * kept) and its peer pair's tls_peers row (counts added, the last
 * handshake's facts replacing the earlier ones, a certificate kept until
 * another is seen) when first; when its decryption ended, the row's
 * verdict and the pair's count of it. false when SQLite refused. */
bool st_tls_write_conn(sqlite3 *h, const struct st_tls_rec *r);
/* One forgotten other flow added to its other_flows row. */
bool st_tls_write_flow(sqlite3 *h, const struct oflow_done *f);

#endif
