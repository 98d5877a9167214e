/* The key material of one analysis: an NSS key log (keylog.h), RSA private
 * keys per server address for TLS_RSA_* key exchange, and the sessions seen
 * in this capture for resumption by session ID (RFC 5246 section 7.3) and by
 * ticket (RFC 5077). Shared by every TLS connection of one engine; the
 * analysis thread only. Nothing here is ever written out: the store, the
 * logs, HEP and the API see connection facts, never a secret. */
#ifndef TS_CRYPTO_TLSKEYS_H
#define TS_CRYPTO_TLSKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "keylog.h"

struct tlskeys;

struct tlskeys *tlskeys_new(void);
void tlskeys_free(struct tlskeys *k); /* wipes every secret; NULL is fine */

/* Reads an NSS key log now and again as it grows (tlskeys_refresh). 0, or
 * -1 with a one-line reason in err. *warn is set when the file is readable
 * by group or others. */
int tlskeys_add_keylog(struct tlskeys *k, const char *path, bool *warn, char *err, size_t errlen);
/* An RSA private key (PEM, PKCS#1 or PKCS#8) for the server at addr:port
 * (addr family 0: any address; port 0: any port). 0, or -1 with a reason in
 * err (unreadable, not PEM, not RSA). */
int tlskeys_add_rsa(struct tlskeys *k, const struct ts_addr *addr, uint16_t port, const char *path,
                    bool *warn, char *err, size_t errlen);
/* Parses "ADDR:PORT=FILE" ("[V6]:PORT=FILE", "*:PORT=FILE", "ADDR:*=FILE")
 * and adds the key. 0, or -1 with a reason. */
int tlskeys_add_rsa_spec(struct tlskeys *k, const char *spec, bool *warn, char *err, size_t errlen);
/* Key log lines from memory (tests, fuzzing); a last line without its
 * line end counts. */
void tlskeys_feed_keylog(struct tlskeys *k, struct bv text);
bool tlskeys_empty(const struct tlskeys *k);

/* Reads what the key log gained, at most once per second of now_ns (a live
 * sensor's keys can arrive after their handshake). */
void tlskeys_refresh(struct tlskeys *k, uint64_t now_ns);

/* TS_TLS_MAX_RECORD bytes where one record at a time is opened (the
 * analysis thread's; the plaintext is handed on before the next). */
uint8_t *tlskeys_scratch(struct tlskeys *k);
const struct keylog *tlskeys_keylog(const struct tlskeys *k);
/* The premaster secret of an RSA ClientKeyExchange for the server at
 * addr:port: 1 done (48 bytes in pms), 0 no key for that server, -1 the key
 * does not decrypt it (another server's key). */
int tlskeys_rsa_decrypt(const struct tlskeys *k, const struct ts_addr *addr, uint16_t port,
                        const uint8_t *enc, size_t enc_len, uint8_t pms[48]);
bool tlskeys_have_rsa(const struct tlskeys *k, const struct ts_addr *addr, uint16_t port);

/* Sessions for resumption: id is a session ID or a ticket (kind 0/1). */
void tlskeys_session_put(struct tlskeys *k, int kind, const uint8_t *id, size_t id_len,
                         const uint8_t ms[48]);
bool tlskeys_session_get(struct tlskeys *k, int kind, const uint8_t *id, size_t id_len,
                         uint8_t ms[48]);

#endif
