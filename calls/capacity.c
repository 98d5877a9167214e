/* Capacity planning: the busy hour (ITU-T E.600: the 60 consecutive minutes
 * with the most traffic), its traffic in Erlangs (calls x mean holding time
 * / 3600), BHCA, and Erlang B channel counts; the planning rule of the Lync
 * Server 2013 SIP trunking guide for bandwidth. */
#include "capacity.h"

#include <math.h>
#include <string.h>

#include "../common/limits.h"

#define MIN_NS (60ll * 1000000000ll)

void capacity_init(struct capacity *c)
{
    memset(c, 0, sizeof *c);
    c->first_ns = -1;
    c->bh_start_ns = -1;
}

static void window_check(struct capacity *c)
{
    /* the busiest by holding time; with none answered, by attempts */
    bool better = c->bh_start_ns < 0 || c->w_hold_s > c->bh_hold_s ||
                  (c->w_hold_s == c->bh_hold_s && c->w_attempts > c->bh_attempts);
    if (!better)
        return;
    int64_t start = c->last_ns - (CAPACITY_HOUR_MIN - 1) * MIN_NS;
    c->bh_start_ns = start > c->first_ns ? start : c->first_ns;
    c->bh_attempts = c->w_attempts;
    c->bh_answered = c->w_answered;
    c->bh_hold_s = c->w_hold_s;
}

void capacity_add(struct capacity *c, int64_t start_ns, uint64_t attempts, uint64_t answered,
                  double hold_s)
{
    if (start_ns < 0)
        return;
    int64_t m = start_ns - start_ns % MIN_NS;
    if (!(hold_s >= 0) || !isfinite(hold_s))
        hold_s = 0;
    if (c->first_ns < 0) {
        c->first_ns = m;
    } else if (m < c->last_ns) {
        return; /* out of order: the caller feeds ascending minutes */
    }
    if (c->n && c->last_ns == m) {
        struct capacity_min *e = &c->ring[(c->head + c->n - 1) % CAPACITY_HOUR_MIN];
        e->attempts += attempts;
        e->answered += answered;
        e->hold_s += hold_s;
    } else {
        /* drop the minutes that leave the hour ending at m */
        while (c->n && c->ring[c->head].minute_ns <= m - CAPACITY_HOUR_MIN * MIN_NS) {
            struct capacity_min *o = &c->ring[c->head];
            c->w_attempts -= o->attempts;
            c->w_answered -= o->answered;
            c->w_hold_s -= o->hold_s;
            c->head = (c->head + 1) % CAPACITY_HOUR_MIN;
            c->n--;
        }
        if (!c->n)
            c->w_hold_s = 0; /* no drift from subtracting sums */
        struct capacity_min *e = &c->ring[(c->head + c->n) % CAPACITY_HOUR_MIN];
        e->minute_ns = m;
        e->attempts = attempts;
        e->answered = answered;
        e->hold_s = hold_s;
        c->n++;
    }
    c->last_ns = m;
    c->w_attempts += attempts;
    c->w_answered += answered;
    c->w_hold_s += hold_s;
    window_check(c);
}

void capacity_finish(const struct capacity *c, struct capacity_result *r)
{
    memset(r, 0, sizeof *r);
    r->bh_start_ns = -1;
    r->mean_hold_s = -1;
    if (c->first_ns < 0 || c->bh_start_ns < 0)
        return;
    double span_s = (double)(c->last_ns - c->first_ns + MIN_NS) / 1e9;
    r->window_s = span_s < 3600.0 ? span_s : 3600.0;
    r->bh_start_ns = c->bh_start_ns;
    r->bh_attempts = c->bh_attempts;
    r->bh_answered = c->bh_answered;
    r->erlangs = c->bh_hold_s / r->window_s;
    r->bhca = (double)c->bh_attempts * 3600.0 / r->window_s;
    if (c->bh_answered)
        r->mean_hold_s = c->bh_hold_s / (double)c->bh_answered;
    r->channels_1pct = capacity_channels(r->erlangs, 0.01);
    r->channels_01pct = capacity_channels(r->erlangs, 0.001);
}

double capacity_erlang_b(double a, unsigned n)
{
    if (!(a > 0))
        return n ? 0.0 : 1.0;
    double b = 1.0;
    for (unsigned m = 1; m <= n; m++)
        b = a * b / ((double)m + a * b);
    return b;
}

unsigned capacity_channels(double a, double p)
{
    if (!(a > 0) || !isfinite(a))
        return 0;
    double b = 1.0;
    unsigned m = 0;
    while (b > p && m < TS_CAPACITY_MAX_CHANNELS) {
        m++;
        b = a * b / ((double)m + a * b);
    }
    return m;
}

double capacity_l2_kbps(uint64_t rtp_bytes, uint64_t packets, double duration_s, int ipv6)
{
    if (!(duration_s >= 1.0))
        return -1;
    double per_pkt = (ipv6 ? 40.0 : 20.0) + 8.0 + 18.0;
    return ((double)rtp_bytes + (double)packets * per_pkt) * 8.0 / duration_s / 1000.0;
}
