/* Text table of the TLS status per peer pair, for analyze's text report. */
#ifndef TS_CLI_TLS_PRINT_H
#define TS_CLI_TLS_PRINT_H

#include <stdint.h>
#include <stdio.h>

struct tlspeers;

/* now_s: the time days to expiry count from. Prints nothing when no TLS
 * handshake was seen. */
void tls_print(FILE *f, const struct tlspeers *tp, int64_t now_s);

#endif
