/* --tls-keylog FILE and --tls-key ADDR:PORT=FILE.pem of analyze and
 * capture: the key material for decrypting SIP over TLS, read before the
 * analysis starts. */
#ifndef TS_CLI_TLSOPT_H
#define TS_CLI_TLSOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/limits.h"

struct tlskeys;
struct engine;
struct pcapng_secrets_counts;

/* The key options as given, in order: read once the hash seed is set (the
 * key table is hashed). */
struct cli_tls_opts {
    const char *val[TS_TLS_RSA_KEYS_MAX + 1];
    bool keylog[TS_TLS_RSA_KEYS_MAX + 1]; /* --tls-keylog, else --tls-key */
    size_t n;
};

/* Notes one --tls-keylog (keylog) or --tls-key option. Returns 0, or 2
 * after a line on stderr when there are too many. */
int cli_tls_opts_add(struct cli_tls_opts *o, const char *prog, bool keylog, const char *val);
/* Every noted option's key file, then the Decryption Secrets Blocks of the
 * n input files (none for a live capture), into *keys (created when one is
 * found; the caller frees it, failing or not). Returns 0, or 2 after one
 * line on stderr. */
int cli_tls_opts_load(const struct cli_tls_opts *o, struct tlskeys **keys, const char *prog,
                      const char *const *files, size_t n, struct pcapng_secrets_counts *c);

/* Those counts into the engine's counters (pcapng.*). */
void cli_tls_secrets_count(struct engine *e, const struct pcapng_secrets_counts *c);

#endif
