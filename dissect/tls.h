/* TLS seen from outside (RFC 8446, RFC 5246, RFC 6066, RFC 7301, RFC 7627):
 * the record layer framed on a TCP stream (records split across segments,
 * several per segment), the plaintext handshake messages of both directions
 * reassembled across records, the hellos, certificate chains (TLS 1.2 and
 * earlier), certificate requests and alerts. No keys: what is encrypted
 * stays opaque; a decryptor sees every record and every plaintext handshake
 * message through struct tls_cb.
 *
 * Pure: no clock, I/O or globals. One struct tls_conn per TCP connection,
 * embedded or heap-held by its owner (tls_conn_init / tls_conn_cleanup). */
#ifndef TS_TLS_H
#define TS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/limits.h"
#include "../common/stats.h"

/* Record content types (RFC 8446 section 5.1). */
enum tls_ctype {
    TLS_CT_CCS = 20,
    TLS_CT_ALERT = 21,
    TLS_CT_HANDSHAKE = 22,
    TLS_CT_APPDATA = 23,
};

/* Handshake message types (RFC 8446 section 4, RFC 5246 section 7.4). */
enum tls_hs {
    TLS_HS_CLIENT_HELLO = 1,
    TLS_HS_SERVER_HELLO = 2,
    TLS_HS_NEW_SESSION_TICKET = 4,
    TLS_HS_ENCRYPTED_EXTENSIONS = 8,
    TLS_HS_CERTIFICATE = 11,
    TLS_HS_SERVER_KEY_EXCHANGE = 12,
    TLS_HS_CERTIFICATE_REQUEST = 13,
    TLS_HS_SERVER_HELLO_DONE = 14,
    TLS_HS_CERTIFICATE_VERIFY = 15,
    TLS_HS_CLIENT_KEY_EXCHANGE = 16,
    TLS_HS_FINISHED = 20,
};

enum tls_result { TLS_OK, TLS_TRUNCATED, TLS_MALFORMED, TLS_UNSUPPORTED };

/* Record header at the start of d: content type 20..23, major version 3,
 * minor 0..4 (SSL 3.0 .. the TLS 1.3 legacy value), length within the
 * largest ciphertext (RFC 5246 section 6.2.3). Needs 5 bytes. */
bool tls_record_plausible(struct bv d);
/* Stricter, for recognising TLS on any port: a plausible record of type
 * handshake whose first message (when its byte is there) is a ClientHello
 * or ServerHello. */
bool tls_looks_like_hello(struct bv d);

/* A ClientHello or ServerHello body (after the 4-byte handshake header). */
struct tls_hello {
    uint16_t legacy_version;  /* client_version / server_version */
    uint8_t random[32];
    uint8_t sid_len;
    uint8_t sid[32];
    /* ClientHello: suites offered (first TS_TLS_MAX_SUITES), total count */
    uint16_t suites[TS_TLS_MAX_SUITES];
    uint16_t nsuites, nsuites_total;
    uint16_t suite;           /* ServerHello: chosen */
    /* supported_versions (RFC 8446 4.2.1): client's list, or server's pick */
    uint16_t versions[TS_TLS_MAX_VERSIONS];
    uint8_t nversions;
    uint16_t selected_version; /* ServerHello supported_versions, else 0 */
    struct bv sni;            /* first host_name of server_name, view into input */
    struct bv alpn[TS_TLS_MAX_ALPN]; /* ClientHello: offered; ServerHello: one */
    uint8_t nalpn;
    bool ems;                 /* extended_master_secret (RFC 7627) */
    bool etm;                 /* encrypt_then_mac (RFC 7366) */
    bool ticket_ext;          /* session_ticket extension present */
    struct bv ticket;         /* ...and its (client) content: resumption when non-empty */
    bool psk;                 /* pre_shared_key (TLS 1.3 resumption) */
    bool hrr;                 /* ServerHello is a HelloRetryRequest */
    bool reneg_info;          /* renegotiation_info or the SCSV */
};

/* Parse a hello body; views point into body. */
enum tls_result tls_parse_hello(struct bv body, bool server, struct tls_hello *out);

/* DER certificates of a Certificate message body (TLS 1.2 layout, or TLS
 * 1.3's with a request context and per-entry extensions when tls13):
 * stores up to max views into body, sets *total to the count in the list. */
enum tls_result tls_cert_list(struct bv body, bool tls13, struct bv *certs, size_t max,
                              size_t *total);

/* Alert description name ("handshake_failure"), or NULL when unknown. */
const char *tls_alert_name(uint8_t desc);
/* IANA name of a common cipher suite ("TLS_AES_128_GCM_SHA256"), or NULL. */
const char *tls_suite_name(uint16_t id);
/* "TLS1.2", "TLS1.3", "SSL3.0", ... or NULL. */
const char *tls_version_name(uint16_t v);

/* ---- one TCP connection ---- */

/* Per direction framing state. */
struct tls_dir {
    uint8_t *rec;          /* a record split across segments (bounded) */
    size_t rec_len;
    uint8_t hdr[5];        /* a record header split across segments */
    uint8_t hdr_len;
    size_t skip;           /* body bytes of an opaque record still to pass */
    uint64_t rec_off;      /* stream offset of the current record's header */
    uint8_t *hs;           /* handshake bytes waiting for a whole message */
    size_t hs_len;
    uint64_t hs_off;       /* stream offset of the buffered message */
    uint64_t off;          /* stream bytes consumed in this direction */
    uint64_t records;
    bool encrypted;        /* past ChangeCipherSpec (or TLS 1.3 ServerHello) */
    bool finished;         /* TLS 1.2: an encrypted handshake record (Finished) sent */
    bool lost;             /* framing lost (gap, garbage): nothing more read */
    uint32_t appdata;      /* records of type 23 */
};

/* What the handshake showed; the facts a trunk summary needs. */
enum tls_state {
    TLS_ST_NONE,        /* no hello seen (mid-stream pick-up) */
    TLS_ST_CLIENT_HELLO,
    TLS_ST_SERVER_HELLO,
    TLS_ST_ESTABLISHED, /* encrypted data flowed both ways after the handshake */
    TLS_ST_FAILED,      /* fatal alert during the handshake, or closed before it ended */
};

struct tls_conn {
    struct tls_dir d[2];
    int client_dir;              /* direction of the ClientHello (-1: unknown) */
    enum tls_state state;
    struct tls_hello ch_scratch; /* scratch for parsing (views not kept) */
    /* ClientHello facts (copies) */
    bool have_ch;
    uint16_t ch_version;          /* legacy client_version */
    uint16_t offered[TS_TLS_MAX_VERSIONS]; /* supported_versions, else {ch_version} */
    uint8_t noffered;
    uint16_t suites[TS_TLS_MAX_SUITES];
    uint16_t nsuites, nsuites_total;
    char sni[TS_TLS_SNI_MAX + 1];
    char alpn_offered[TS_TLS_ALPN_TEXT_MAX + 1]; /* comma separated */
    uint8_t client_random[32];
    uint8_t client_sid[32];
    uint8_t client_sid_len;
    bool ch_ticket, ch_psk, ch_ems;
    /* ServerHello facts */
    bool have_sh;
    uint16_t version;             /* negotiated (supported_versions wins) */
    uint16_t suite;
    char alpn[TS_TLS_ALPN_TEXT_MAX + 1];
    uint8_t server_random[32];
    uint8_t server_sid[32];
    uint8_t server_sid_len;
    bool ems;                     /* both offered it */
    bool resumed;                 /* session id echoed, or PSK accepted */
    bool hrr;                     /* a HelloRetryRequest came first */
    /* raw positions in each direction's stream: where the ClientHello and
     * the ServerHello messages (4-byte header included) start, and lengths */
    uint64_t ch_off, sh_off;
    uint32_t ch_len, sh_len;
    /* certificates and client authentication */
    uint16_t server_certs;        /* in the server's Certificate message */
    bool cert_requested;          /* CertificateRequest seen (MTLS asked) */
    bool client_cert_sent;        /* client Certificate with >= 1 entry */
    uint16_t client_certs;
    /* alerts (plaintext ones carry level and description) */
    uint16_t alerts;
    uint8_t last_alert_level, last_alert_desc;
    int last_alert_dir;
    uint16_t encrypted_alerts;   /* type 21 after the cipher change: opaque */
    /* TLS 1.3 progress without keys: the client's encrypted records, and
     * the server's after the client's first (see tls.c) */
    uint16_t cl_flight, sv_after;
    /* malformed content counted once per connection */
    bool malformed;
    void *user;                  /* for a decryptor: the owner's per-connection state */
};

/* Events from tls_conn_feed; any pointer may be NULL. Views are valid only
 * during the call. off is the stream offset of the record header or of the
 * handshake message header in direction dir. */
struct tls_cb {
    void *ctx;
    /* every whole record (body encrypted or not) when want_records is set;
     * otherwise opaque bodies are skipped without buffering */
    bool want_records;
    void (*record)(void *ctx, struct tls_conn *c, int dir, uint8_t type, uint16_t version,
                   struct bv body, uint64_t off);
    /* every plaintext handshake message, 4-byte header included */
    void (*handshake)(void *ctx, struct tls_conn *c, int dir, uint8_t type, struct bv msg,
                      uint64_t off);
    /* a DER certificate of a Certificate message (index 0 = leaf), whose
     * sender is the server when from_server */
    void (*cert)(void *ctx, struct tls_conn *c, bool from_server, unsigned index, struct bv der);
    /* a plaintext alert */
    void (*alert)(void *ctx, struct tls_conn *c, int dir, uint8_t level, uint8_t desc);
};

void tls_conn_init(struct tls_conn *c);
void tls_conn_cleanup(struct tls_conn *c); /* frees buffers; the facts stay */
/* In-order stream bytes of direction dir (0 or 1). Counts records, alerts
 * and malformed content in st (may be NULL). */
void tls_conn_feed(struct tls_conn *c, int dir, struct bv data, const struct tls_cb *cb,
                   struct ts_stats *st);
/* Bytes were lost in direction dir: its framing is abandoned. */
void tls_conn_gap(struct tls_conn *c, int dir);
/* The connection ends: a handshake that did not finish is a failure when a
 * ClientHello was seen (counted in st, may be NULL). Buffers are freed; the
 * facts stay readable. */
void tls_conn_close(struct tls_conn *c, struct ts_stats *st);
/* Bytes held in buffers (for memory accounting). */
size_t tls_conn_buffered(const struct tls_conn *c);

#endif
