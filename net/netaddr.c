/* Parsing and formatting of the HEP endpoints' socket addresses. */
#include "netaddr.h"

#include "../common/num.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int netaddr_parse(const char *spec, bool dflt_tcp, struct netaddr *out, char *err,
                  size_t errlen)
{
    char buf[300];
    memset(out, 0, sizeof *out);
    out->tcp = dflt_tcp;
    if (!spec || strlen(spec) >= sizeof buf) {
        snprintf(err, errlen, "'%s': want ADDR:PORT[/udp|/tcp]", spec ? spec : "");
        return NETADDR_ERR_SYNTAX;
    }
    memcpy(buf, spec, strlen(spec) + 1);
    char *slash = strrchr(buf, '/');
    if (slash) {
        if (!strcmp(slash, "/udp"))
            out->tcp = false;
        else if (!strcmp(slash, "/tcp"))
            out->tcp = true;
        else {
            snprintf(err, errlen, "'%s': transport must be /udp or /tcp", spec);
            return NETADDR_ERR_SYNTAX;
        }
        *slash = 0;
    }
    char *host = buf, *colon;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "'%s': want [IPV6]:PORT", spec);
            return NETADDR_ERR_SYNTAX;
        }
        *close = 0;
        host = buf + 1;
        colon = close + 1;
    } else {
        colon = strrchr(buf, ':');
        if (!colon || strchr(buf, ':') != colon) {
            snprintf(err, errlen, "'%s': want ADDR:PORT (IPv6 in brackets)", spec);
            return NETADDR_ERR_SYNTAX;
        }
        *colon = 0;
    }
    const char *port = colon + 1;
    uint64_t p;
    if (!*host || !num_u64(port, 0, 65535, &p)) {
        snprintf(err, errlen, "'%s': want ADDR:PORT with a port 0..65535", spec);
        return NETADDR_ERR_SYNTAX;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = out->tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0 || !res) {
        snprintf(err, errlen, "'%s': %s", spec, gai_strerror(r));
        return NETADDR_ERR_RESOLVE;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return NETADDR_OK;
}

void netaddr_to_ts(const struct sockaddr_storage *ss, struct ts_addr *a, uint16_t *port)
{
    memset(a, 0, sizeof *a);
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;
        a->family = 4;
        memcpy(a->a, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;
        a->family = 6;
        memcpy(a->a, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
    }
}

const char *netaddr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    struct ts_addr a;
    uint16_t port;
    char ip[64];
    netaddr_to_ts(ss, &a, &port);
    if (!a.family) {
        snprintf(buf, cap, "?");
        return buf;
    }
    ts_addr_str(&a, ip, sizeof ip);
    snprintf(buf, cap, a.family == 6 ? "[%s]:%u" : "%s:%u", ip, port);
    return buf;
}
