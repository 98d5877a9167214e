/* Decryption of one TLS connection seen from the side: records and
 * plaintext handshake messages of each direction in (framed by
 * dissect/tls.c), the application data of each direction out. The
 * handshake messages that carry key facts are read (hellos,
 * ClientKeyExchange, NewSessionTicket; decrypted TLS 1.3 Finished and
 * KeyUpdate), keys come from tlskeys (key log, RSA key, earlier session of
 * the capture) and records are opened by tlsrec. TLS 1.0 to 1.3. Nothing
 * here is fatal: a connection that cannot be decrypted says why
 * (tlsdec_status) and its bytes are dropped. */
#ifndef TS_CRYPTO_TLSDEC_H
#define TS_CRYPTO_TLSDEC_H

#include <stdbool.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/bv.h"
#include "../common/stats.h"
#include "tlskeys.h"

enum tlsdec_status {
    TLSDEC_HANDSHAKE = 0, /* no verdict yet (handshake under way) */
    TLSDEC_DECRYPTING,    /* keys found, records open */
    TLSDEC_NO_HANDSHAKE,  /* the capture started after the handshake */
    TLSDEC_NO_KEY,        /* neither the key log nor an RSA key has this connection's keys */
    TLSDEC_FORWARD_SECRET,/* an RSA key for the server, but (EC)DHE key exchange: needs a key log */
    TLSDEC_RSA_MISMATCH,  /* the RSA key is not this server's */
    TLSDEC_UNSUPPORTED,   /* a version or cipher suite this tool cannot decrypt */
    TLSDEC_AUTH_FAILED,   /* records fail to authenticate with the keys found */
    TLSDEC_LOST,          /* bytes lost (capture gap) or records broken: stopped */
    TLSDEC_NSTATUS
};

/* "handshake", "decrypting", "no_handshake", "no_key", "forward_secret",
 * "rsa_key_mismatch", "unsupported", "auth_failed", "lost". */
const char *tlsdec_status_str(enum tlsdec_status s);

struct tlsdec;

/* One connection's state; keys and st outlive it. NULL without memory. */
struct tlsdec *tlsdec_new(struct tlskeys *keys, struct ts_stats *st);
/* Counts the connection's final status (tls.decrypt.*) and wipes its keys. */
void tlsdec_free(struct tlsdec *d);

/* Application data of direction dir (the TCP direction); m is the meta of
 * the segment that carried its record (a record held for its keys keeps
 * its own time and frame, and its direction's addresses), NULL when the
 * caller gave none. */
typedef void (*tlsdec_data_fn)(void *ctx, int dir, const struct pkt_meta *m, struct bv plain);

/* The connection's records come framed by dissect/tls.c (struct tls_cb):
 * every plaintext handshake message (its 4-byte header included) of TCP
 * direction dir, and every whole record. m is the segment's meta (the
 * ClientHello's destination is the server). */
void tlsdec_handshake(struct tlsdec *d, int dir, const struct pkt_meta *m, struct bv msg);
void tlsdec_record(struct tlsdec *d, int dir, const struct pkt_meta *m, uint8_t type,
                   uint16_t version, struct bv body, tlsdec_data_fn fn, void *ctx);
/* Bytes of direction dir were lost: record boundaries and sequence numbers
 * are gone, that direction stops. */
void tlsdec_gap(struct tlsdec *d, int dir);

enum tlsdec_status tlsdec_status(const struct tlsdec *d);

/* What one connection's decryption came to, per connection (the counters
 * tls.decrypt.* add them up when it ends). */
struct tlsdec_facts {
    enum tlsdec_status verdict; /* as it would be counted if the connection ended now:
                                 * TLSDEC_DECRYPTING is "decrypted", TLSDEC_HANDSHAKE
                                 * "incomplete" */
    uint64_t records;           /* records decrypted */
    uint64_t auth_failed;       /* records that failed to authenticate */
    uint64_t late;              /* records that waited for their keys, then decrypted */
};
void tlsdec_facts(const struct tlsdec *d, struct tlsdec_facts *out);
/* The verdict's name, as its counter names it: "decrypted", "incomplete",
 * "no_handshake", "no_key", "forward_secret", "rsa_key_mismatch",
 * "unsupported", "auth_failed", "lost". */
const char *tlsdec_verdict_str(enum tlsdec_status s);
/* Negotiated version (0x0301..0x0304) and cipher suite, 0 until known. */
uint16_t tlsdec_version(const struct tlsdec *d);
uint16_t tlsdec_suite(const struct tlsdec *d);

#endif
