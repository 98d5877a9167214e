/* Socket address helpers of the HEP sender and collector: "ADDR:PORT[/udp|/tcp]"
 * specifications and sockaddr <-> struct ts_addr. */
#ifndef TS_NETADDR_H
#define TS_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../capture/packet.h"

enum netaddr_err { NETADDR_OK = 0, NETADDR_ERR_SYNTAX, NETADDR_ERR_RESOLVE };

struct netaddr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool tcp;                 /* "/tcp" given (default UDP, unless the caller says) */
};

/* Parse "HOST:PORT", "[V6]:PORT", each optionally followed by "/udp" or
 * "/tcp", and resolve HOST (numeric or a name) into out. dflt_tcp is the
 * transport without a suffix. NETADDR_OK or an error with a one-line reason. */
int netaddr_parse(const char *spec, bool dflt_tcp, struct netaddr *out, char *err,
                  size_t errlen);
/* The IP address and port of a socket address (family 0 when neither v4 nor v6). */
void netaddr_to_ts(const struct sockaddr_storage *ss, struct ts_addr *a, uint16_t *port);
/* "1.2.3.4:5" / "[::1]:5" into buf (>= 56 bytes). */
const char *netaddr_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

#endif
