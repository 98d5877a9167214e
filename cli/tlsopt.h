/* --tls-keylog FILE and --tls-key ADDR:PORT=FILE.pem of analyze and
 * capture: the key material for decrypting SIP over TLS, read before the
 * analysis starts. */
#ifndef TS_CLI_TLSOPT_H
#define TS_CLI_TLSOPT_H

#include <stdbool.h>

struct tlskeys;

/* Adds one option's key file to *keys (created on first use). Returns 0,
 * or 2 after one line on stderr ("PROG: FILE: reason"); a file readable
 * by group or others earns a one-line warning. */
int cli_tls_option(struct tlskeys **keys, const char *prog, bool keylog, const char *val);

#endif
