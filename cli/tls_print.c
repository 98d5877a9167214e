/* Text table of the TLS status per peer pair (see tls_print.h). */
#include "tls_print.h"

#include "../calls/tlspeers.h"
#include "../capture/packet.h"

void tls_print(FILE *f, const struct tlspeers *tp, int64_t now_s)
{
    size_t n = tlspeers_count(tp);
    if (!n)
        return;
    fprintf(f, "\nTLS peers: %zu\n", n);
    fprintf(f, "%-23s %-23s %-8s %-7s %-6s %-5s %5s %5s %6s  %s\n", "Client", "Server", "Status",
            "Version", "Suite", "MTLS", "Conns", "Fail", "Alerts", "Certificate");
    for (size_t i = 0; i < n; i++) {
        const struct tlspeer *p = tlspeers_get(tp, i);
        char c[64], s[64], sv[80], suite[8];
        ts_addr_str(&p->client, c, sizeof c);
        ts_addr_str(&p->server, s, sizeof s);
        snprintf(sv, sizeof sv, p->server.family == 6 ? "[%s]:%u" : "%s:%u", s, p->sport);
        snprintf(suite, sizeof suite, p->suite ? "%04x" : "-", p->suite);
        const char *v = tls_version_name(p->version);
        fprintf(f, "%-23s %-23s %-8s %-7s %-6s %-5s %5u %5u %6u  ", c, sv,
                tlspeers_status_str(p->status), v ? v : "-", suite, tlspeers_mtls(p) ? "yes" : "no",
                p->conns, p->failed, p->alerts);
        int64_t days;
        if (tlspeers_days_left(p, now_s, &days))
            fprintf(f, "%s (issuer %s), %lld days left%s\n", p->cert[0].subject,
                    p->cert[0].issuer, (long long)days,
                    days < TS_TLS_EXPIRY_WARN_DAYS ? "  WARNING: expires soon" : "");
        else
            fprintf(f, "-\n");
        if (p->sni[0] || p->alpn[0])
            fprintf(f, "    SNI %s, ALPN %s, offered %s\n", p->sni[0] ? p->sni : "-",
                    p->alpn[0] ? p->alpn : "-", p->offered[0] ? p->offered : "-");
        if (p->have_alert) {
            const char *d = tls_alert_name(p->alert_desc);
            fprintf(f, "    last alert: %s %s (%u) from the %s\n",
                    p->alert_level == 2 ? "fatal" : "warning", d ? d : "unknown", p->alert_desc,
                    p->alert_from_server ? "server" : "client");
        }
    }
}
