/* Text table of the other flows (see other_print.h). */
#include "other_print.h"

#include "../capture/packet.h"
#include "../engine/oflows.h"

void other_print(FILE *f, const struct oflows *o)
{
    size_t n = oflows_count(o);
    if (!n)
        return;
    fprintf(f, "\nOther flows (neither SIP nor RTP; nDPI): %zu\n", n);
    fprintf(f, "%-23s %-23s %-5s %-24s %-14s %6s %9s %12s\n", "Client", "Server", "Proto",
            "Protocol", "Category", "Flows", "Packets", "Bytes");
    for (size_t i = 0; i < n; i++) {
        const struct oflow_entry *x = oflows_get(o, i);
        char c[64], s[64], sv[80];
        ts_addr_str(&x->client, c, sizeof c);
        ts_addr_str(&x->server, s, sizeof s);
        snprintf(sv, sizeof sv, x->server.family == 6 ? "[%s]:%u" : "%s:%u", s, x->port);
        fprintf(f, "%-23s %-23s %-5s %-24s %-14s %6llu %9llu %12llu%s\n", c, sv,
                x->l4 == TS_L4_TCP ? "tcp" : "udp", x->proto, x->category,
                (unsigned long long)x->flows, (unsigned long long)x->packets,
                (unsigned long long)x->bytes, x->guessed ? "  (guessed by port)" : "");
    }
}
