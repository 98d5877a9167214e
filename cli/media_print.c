/* Text stream table of the media analysis (see media_print.h). */
#include "media_print.h"

#include <stdlib.h>
#include <string.h>

#include "../media/media.h"

static void flags_str(uint32_t flags, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; media_flag_name(i); i++) {
        if (!(flags & (1u << i)))
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", media_flag_name(i));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static const struct media *g_sort_media; /* qsort has no context argument */

static int by_mos(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = media_get(g_sort_media, i)->mos, y = media_get(g_sort_media, j)->mos;
    if (x < 0)
        x = 99; /* unscored streams after every scored one */
    if (y < 0)
        y = 99;
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j; /* stable: the order they ended */
}

void media_print(FILE *f, const struct media *m, size_t top)
{
    if (!m)
        return;
    size_t n = media_count(m);
    fprintf(f, "\nRTP streams: %zu", n);
    if (media_emitted(m) > n)
        fprintf(f, " (of %llu; the rest only reached the store)",
                (unsigned long long)media_emitted(m));
    fprintf(f, "\n");
    size_t ow = media_legs_flagged(m, MEDIA_F_ONE_WAY), na = media_legs_flagged(m, MEDIA_F_NO_AUDIO);
    if (ow || na)
        fprintf(f, "Legs with one-way audio: %zu, without audio: %zu (leg and call MOS 1.0)\n", ow,
                na);
    if (!n || !top) /* no streams, or --summary */
        return;
    /* capped: the worst streams by MOS (those without a score last), else
     * every stream in the order they ended */
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n > top) {
        g_sort_media = m;
        qsort(order, n, sizeof *order, by_mos);
        fprintf(f, "the %zu worst by MOS (--top N for more, --json for all)\n", top);
    }
    fprintf(f, "%-23s %-23s %-10s %-10s %7s %14s %9s %9s %9s %5s %-13s %s\n", "Source",
            "Destination", "SSRC", "Codec", "Pkts", "Lost", "MaxDelta", "MeanJit", "MaxJit", "MOS",
            "Why", "Flags");
    for (size_t k = 0; k < n && k < top; k++) {
        const struct media_stream *s = media_get(m, order[k]);
        char src[80], dst[80], lost[32], mos[16], fl[256];
        media_endpoint_str(&s->src, s->sport, src, sizeof src);
        media_endpoint_str(&s->dst, s->dport, dst, sizeof dst);
        snprintf(lost, sizeof lost, "%lld (%.1f%%)", (long long)s->lost, s->lost_pct);
        if (s->mos >= 0)
            snprintf(mos, sizeof mos, "%.2f", s->mos);
        else
            snprintf(mos, sizeof mos, "-");
        flags_str(s->flags, fl, sizeof fl);
        const char *why = media_reason_name(s->mos_reason);
        fprintf(f, "%-23s %-23s 0x%08X %-10s %7llu %14s %9.3f %9.3f %9.3f %5s %-13s %s\n", src,
                dst, s->ssrc, s->codec[0] ? s->codec : "-", (unsigned long long)s->packets, lost,
                s->max_delta_ms, s->mean_jitter_ms, s->max_jitter_ms, mos, why ? why : "-", fl);
        if (s->dtmf_events)
            fprintf(f, "    DTMF: %s\n", s->dtmf);
    }
    free(order);
}
