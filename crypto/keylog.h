/* TLS secrets from an NSS key log file (the SSLKEYLOGFILE format that
 * OpenSSL, NSS, curl, browsers and Kamailio write): CLIENT_RANDOM for TLS 1.0
 * to 1.2 (the master secret), and the TLS 1.3 traffic secrets
 * CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET and CLIENT/SERVER_TRAFFIC_SECRET_0
 * (RFC 8446 section 7.1), each keyed by the ClientHello random. A line that
 * does not parse is counted and the rest used. The table is bounded
 * (TS_TLS_KEYLOG_MAX clients, the oldest forgotten first); the file is read
 * again from where it ended as it grows, for the live sensor. */
#ifndef TS_CRYPTO_KEYLOG_H
#define TS_CRYPTO_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"

enum keylog_label {
    KEYLOG_CLIENT_RANDOM = 0,     /* master secret, 48 bytes */
    KEYLOG_CLIENT_HS,             /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
    KEYLOG_SERVER_HS,             /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
    KEYLOG_CLIENT_AP,             /* CLIENT_TRAFFIC_SECRET_0 */
    KEYLOG_SERVER_AP,             /* SERVER_TRAFFIC_SECRET_0 */
    KEYLOG_NLABELS
};

enum { KEYLOG_RANDOM_LEN = 32, KEYLOG_SECRET_LEN = 64 };

/* One parsed line. */
struct keylog_line {
    enum keylog_label label;
    uint8_t random[KEYLOG_RANDOM_LEN];
    uint8_t secret[KEYLOG_SECRET_LEN];
    uint8_t secret_len;
};

enum keylog_result { KEYLOG_OK = 0, KEYLOG_SKIP, KEYLOG_BAD };

/* Pure: one line without its line end. KEYLOG_SKIP for blank lines,
 * comments and labels this tool does not use (EXPORTER_SECRET,
 * CLIENT_EARLY_TRAFFIC_SECRET, ...), KEYLOG_BAD for anything else that is
 * not "LABEL <64 hex> <hex secret>". */
enum keylog_result keylog_parse_line(struct bv line, struct keylog_line *out);

struct keylog;

/* Empty table; NULL when out of memory. */
struct keylog *keylog_new(void);
void keylog_free(struct keylog *k); /* wipes the secrets; NULL is fine */

/* Adds one parsed line (a repeated line replaces the earlier secret). */
void keylog_add(struct keylog *k, const struct keylog_line *l);
/* Feeds bytes of a key log (lines may be split across calls: the partial
 * last line waits for the next). */
void keylog_feed(struct keylog *k, struct bv bytes);

/* Reads path from the start; later keylog_refresh() reads what was added.
 * Returns 0, or -1 with errno set when the file cannot be read (the
 * caller reports it and exits 2). */
int keylog_open(struct keylog *k, const char *path);
/* Reads what the file gained since the last read (from the start again when
 * it shrank: rotated). Returns the number of lines added. */
size_t keylog_refresh(struct keylog *k);

/* The secret of this label for this ClientHello random, or false. len is
 * set to its length. */
bool keylog_find(const struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN],
                 enum keylog_label label, uint8_t *secret, size_t *len);

struct keylog_counts {
    uint64_t lines;    /* lines used */
    uint64_t bad;      /* lines that did not parse */
    uint64_t evicted;  /* clients forgotten because the table was full */
    size_t clients;    /* ClientHello randoms held now */
};
void keylog_counts(const struct keylog *k, struct keylog_counts *out);

#endif
