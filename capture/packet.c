/* Address helpers for struct ts_addr. */
#include "packet.h"

#include <arpa/inet.h>
#include <string.h>

/* Decimal digits of v (0..65535) at p; returns the end. */
static char *dec16(char *p, unsigned v)
{
    char t[5];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

const char *ts_addr_str(const struct ts_addr *a, char *buf, unsigned cap)
{
    if (a->family != 6) { /* inet_ntop's text without its sprintf per byte */
        char t[16], *p = t;
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = dec16(p, a->a[i]);
        }
        size_t n = (size_t)(p - t);
        if (n >= cap) { /* inet_ntop's ENOSPC */
            if (cap)
                buf[0] = '\0';
            return buf;
        }
        memcpy(buf, t, n);
        buf[n] = '\0';
        return buf;
    }
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->a, buf, cap)) {
        if (cap)
            buf[0] = '\0';
    }
    return buf;
}

const char *ts_endpoint_str(const struct ts_addr *a, uint16_t port, char *buf, unsigned cap)
{
    char t[80], *p = t;
    if (a->family == 6)
        *p++ = '[';
    ts_addr_str(a, p, 64);
    p += strlen(p);
    if (a->family == 6)
        *p++ = ']';
    *p++ = ':';
    p = dec16(p, port);
    size_t n = (size_t)(p - t);
    if (cap) { /* as snprintf would: cut to cap - 1 bytes */
        if (n >= cap)
            n = cap - 1;
        memcpy(buf, t, n);
        buf[n] = '\0';
    }
    return buf;
}
