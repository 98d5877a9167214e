/* --tls-keylog FILE and --tls-key ADDR:PORT=FILE.pem of analyze and
 * capture: the key material for decrypting SIP over TLS, read before the
 * analysis starts. */
#ifndef TS_CLI_TLSOPT_H
#define TS_CLI_TLSOPT_H

#include <stdbool.h>
#include <stddef.h>

struct tlskeys;
struct engine;
struct pcapng_secrets_counts;

/* Adds one option's key file to *keys (created on first use). Returns 0,
 * or 2 after one line on stderr ("PROG: FILE: reason"); a file readable
 * by group or others earns a one-line warning. */
int cli_tls_option(struct tlskeys **keys, const char *prog, bool keylog, const char *val);

/* The TLS key logs of the input files' pcapng Decryption Secrets Blocks
 * into *keys (created when one is found), before the analysis; counts in
 * *c. Standard input is not scanned (it can be read once only). Returns 2
 * after a line on stderr when out of memory, else 0. */
int cli_tls_secrets(struct tlskeys **keys, const char *prog, const char *const *files, size_t n,
                    struct pcapng_secrets_counts *c);
/* Those counts into the engine's counters (pcapng.*). */
void cli_tls_secrets_count(struct engine *e, const struct pcapng_secrets_counts *c);

#endif
