/* TLS status per peer pair: what the handshakes between a client address
 * and a server address:port showed (last handshake fine or failing, alerts,
 * version, suite, SNI, ALPN, MTLS, the server's and the client's leaf
 * certificates). A trunk shows the entry whose two addresses are its own.
 * Bounded (TS_TLS_MAX_PEERS, the least recently seen replaced); the
 * analysis thread only. */
#ifndef TS_CALLS_TLSPEERS_H
#define TS_CALLS_TLSPEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/limits.h"
#include "../crypto/tlsdec.h"
#include "../crypto/x509.h"
#include "../dissect/tls.h"

/* One connection's facts, as the engine hands them over when its
 * handshake ends (established or failed) or the connection closes. */
struct tlspeer_conn {
    struct ts_addr client, server;
    uint16_t cport, sport;
    uint64_t first_ns, last_ns;   /* first byte, and when the handshake ended */
    const struct tls_conn *tls;
    const struct x509_facts *cert[2]; /* leaf of the server [0] and client [1], or NULL */
    bool cert_bad[2];             /* a certificate was sent that libcrypto could not read */
    const char *site;
    /* handed over when the handshake ends and, with keys, again when the
     * connection ends: again, an earlier hand-over gave its handshake (its
     * row, its pair's handshake counts); dec_final, the decryption's
     * verdict is final */
    bool again;
    bool keys;                    /* keys were given: dec is this connection's decryption */
    bool dec_final;
    struct tlsdec_facts dec;
};

/* One connection whose decryption ended (with keys), as analyze lists
 * them (tls_connections[]). */
struct tlspeer_connrec {
    struct ts_addr client, server;
    uint16_t cport, sport;
    uint64_t first_ns, last_ns;
    uint16_t version, suite;
    uint8_t state;                /* enum tls_state */
    struct tlsdec_facts dec;
};

enum tlspeer_status { TLSPEER_UNKNOWN = 0, TLSPEER_OK, TLSPEER_FAILING };

struct tlspeer {
    struct ts_addr client, server;
    uint16_t sport;
    uint64_t first_ns, last_ns;
    uint32_t conns, established, failed, resumed, alerts;
    uint8_t status;               /* enum tlspeer_status: of the last handshake */
    uint64_t last_ok_ns, last_fail_ns;
    /* the last plaintext alert: level (1 warning, 2 fatal), description */
    bool have_alert;
    uint8_t alert_level, alert_desc;
    bool alert_from_server;
    /* the last handshake's facts */
    uint16_t version, suite;
    char offered[48];             /* versions offered, "TLS1.3,TLS1.2" */
    char sni[TS_TLS_SNI_MAX + 1];
    char alpn[TS_TLS_ALPN_TEXT_MAX + 1];
    bool cert_requested, client_cert_sent; /* MTLS when both */
    bool have_cert[2];
    struct x509_facts cert[2];    /* server leaf [0], client leaf [1] */
    uint16_t chain_len;           /* certificates the server sent */
    char site[TS_SITE_LEN];
    uint32_t dec[TLSDEC_NSTATUS]; /* connections ended, by decryption verdict (with keys) */
};

struct tlspeers;

struct tlspeers *tlspeers_new(void);
void tlspeers_free(struct tlspeers *t);
/* Fold one connection's facts into its peer pair (a new entry replaces the
 * least recently seen one when the table is full): its handshake on its
 * first hand-over, its decryption verdict on the final one (also kept in
 * the list of connections, the newest TS_TLS_CONN_LIST_MAX). */
void tlspeers_add(struct tlspeers *t, const struct tlspeer_conn *c);
/* Connections whose decryption ended, oldest first; dropped: how many older
 * ones the list let go. */
size_t tlspeers_conn_count(const struct tlspeers *t);
const struct tlspeer_connrec *tlspeers_conn_get(const struct tlspeers *t, size_t i);
uint64_t tlspeers_conns_dropped(const struct tlspeers *t);
size_t tlspeers_count(const struct tlspeers *t);
/* Entries in first-seen order. */
const struct tlspeer *tlspeers_get(const struct tlspeers *t, size_t i);
/* The entry between a and b (either one the server), or NULL. */
const struct tlspeer *tlspeers_between(const struct tlspeers *t, const struct ts_addr *a,
                                       const struct ts_addr *b);
uint64_t tlspeers_evicted(const struct tlspeers *t);

/* "ok", "failing", "unknown". */
const char *tlspeers_status_str(uint8_t s);
/* MTLS: the server asked for a client certificate and the client sent one. */
bool tlspeers_mtls(const struct tlspeer *p);
/* Days from now_s until the server certificate expires; false when there
 * is none. A trunk is warned under TS_TLS_EXPIRY_WARN_DAYS. */
bool tlspeers_days_left(const struct tlspeer *p, int64_t now_s, int64_t *days);

#endif
