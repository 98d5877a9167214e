/* The analyze progress line: redrawn in place with '\r' at most twice a
 * second of wall time (the clock is read once per 4096 frames), cleared at
 * the end so that the report's own output starts on a clean line. */
#include "progress.h"

#include <stdlib.h>
#include <time.h>

#define PROGRESS_EVERY 4096     /* frames between clock reads */
#define PROGRESS_PERIOD_S 0.5   /* between redraws */
#define PROGRESS_RECORD_HDR 16  /* pcap record header: read with every frame */

struct progress {
    FILE *f;
    uint64_t total, bytes, packets;
    uint32_t until_check;
    double t0, last;
    int drawn; /* width of the line on screen */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress *progress_new(FILE *f, uint64_t total)
{
    struct progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->f = f;
    p->total = total;
    p->t0 = p->last = mono_s();
    p->until_check = PROGRESS_EVERY;
    return p;
}

/* "1.23 G" style: three significant digits and a unit prefix. */
static void human(char *b, size_t cap, double v)
{
    const char *u = "";
    if (v >= 1e9) {
        v /= 1e9;
        u = " G";
    } else if (v >= 1e6) {
        v /= 1e6;
        u = " M";
    } else if (v >= 1e3) {
        v /= 1e3;
        u = " k";
    }
    snprintf(b, cap, v >= 100 || !u[0] ? "%.0f%s" : "%.2f%s", v, u);
}

static void draw(struct progress *p, double now)
{
    double el = now - p->t0;
    char pk[32], by[32], rate[32], line[160];
    human(pk, sizeof pk, (double)p->packets);
    human(by, sizeof by, (double)p->bytes);
    human(rate, sizeof rate, el > 0 ? (double)p->packets / el : 0);
    int n;
    if (p->total) {
        double frac = (double)p->bytes / (double)p->total;
        if (frac > 0.999)
            frac = 0.999; /* the estimate runs ahead of pcapng's larger headers */
        double left = frac > 0 ? el * (1 - frac) / frac : 0;
        n = snprintf(line, sizeof line,
                     "%s packets  %sB  %.1f %%  %s packets/s  %d:%02d left", pk, by,
                     frac * 100, rate, (int)(left / 60), (int)left % 60);
    } else {
        n = snprintf(line, sizeof line, "%s packets  %sB  %s packets/s", pk, by, rate);
    }
    if (n < 0)
        return;
    int pad = p->drawn > n ? p->drawn - n : 0;
    fprintf(p->f, "\r%s%*s", line, pad, "");
    fflush(p->f);
    p->drawn = n;
}

void progress_frame(struct progress *p, uint32_t caplen)
{
    p->packets++;
    p->bytes += caplen + PROGRESS_RECORD_HDR;
    if (--p->until_check)
        return;
    p->until_check = PROGRESS_EVERY;
    double now = mono_s();
    if (now - p->last < PROGRESS_PERIOD_S)
        return;
    p->last = now;
    draw(p, now);
}

void progress_free(struct progress *p)
{
    if (!p)
        return;
    if (p->drawn) {
        fprintf(p->f, "\r%*s\r", p->drawn, "");
        fflush(p->f);
    }
    free(p);
}
