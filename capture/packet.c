/* Address helpers for struct ts_addr. */
#include "packet.h"

#include <arpa/inet.h>
#include <string.h>

const char *ts_addr_str(const struct ts_addr *a, char *buf, unsigned cap)
{
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->a, buf, cap)) {
        if (cap)
            buf[0] = '\0';
    }
    return buf;
}

