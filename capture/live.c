/* Live capture through libpcap (pcap_create/pcap_activate: TPACKET_V3 ring
 * on Linux, nanosecond timestamps, BPF filter), one capture thread per
 * interface -> SPSC queue -> one analysis thread merging by timestamp. */
#include "live.h"

#include <pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "../common/queue.h"

/* libpcap read timeout: how long a partly filled ring block waits before it
 * is handed over. Bounds the latency of a quiet link, not the throughput. */
#define READ_TIMEOUT_MS 100
/* Kernel statistics poll period per capture thread. */
#define STATS_PERIOD_NS 1000000000ull
/* The analysis thread sleeps at most this long; idle ticks come this often. */
#define IDLE_WAIT_MS 200
/* Frames handled between looks at drops and sync requests. */
#define BATCH 256

struct live_if {
    struct live *lv;
    uint32_t idx;
    char name[64];
    pcap_t *p;
    int linktype;
    bool nano;
    struct queue *q;
    pthread_t th;
    bool started;
    /* written by the capture thread, read by anyone */
    _Atomic uint64_t received, bytes, kdrops, ifdrops, last_drop_ns;
    _Atomic bool done, failed;
    /* capture thread only */
    uint32_t ps_drop0, ps_ifdrop0;
    uint64_t next_stats_ns;
};

struct live {
    struct live_opts opt;
    struct live_if ifs[TS_LIVE_MAX_IFACES];
    size_t n;
    struct queue_bell *bell;
    struct live_cb cb;
    pthread_t ana;
    bool ana_started, stopped;
    bool default_filter; /* no filter given: LIVE_DEFAULT_FILTER */
    _Atomic bool stop_capture, producers_done, sync_req, ana_done;
    _Atomic uint64_t analysed;
    /* analysis thread only */
    uint64_t drops_seen, frame_no;
};

uint64_t live_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* libpcap's message on one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static const char *activate_reason(int rc, pcap_t *p)
{
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        return "no such device";
    case PCAP_ERROR_PERM_DENIED:
        return "permission denied (needs root or CAP_NET_RAW)";
    case PCAP_ERROR_IFACE_NOT_UP:
        return "interface is down";
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        return "no permission for promiscuous mode";
    default:
        return pcap_geterr(p);
    }
}

static int open_iface(struct live *lv, struct live_if *li, const char *name, char *err,
                      size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    const struct live_opts *o = &lv->opt;
    if (strlen(name) >= sizeof li->name) {
        snprintf(err, errlen, "%.64s...: interface name too long", name);
        return LIVE_ERR_OPEN;
    }
    memcpy(li->name, name, strlen(name) + 1);
    li->p = pcap_create(name, ebuf);
    if (!li->p) {
        one_line(ebuf);
        snprintf(err, errlen, "%s: %s", name, ebuf);
        return LIVE_ERR_OPEN;
    }
    pcap_set_snaplen(li->p, (int)o->snaplen);
    pcap_set_promisc(li->p, o->no_promisc ? 0 : 1);
    pcap_set_timeout(li->p, READ_TIMEOUT_MS);
    pcap_set_buffer_size(li->p, (int)((size_t)o->buffer_mb * 1024 * 1024));
    /* not every platform has it: microseconds are scaled up then */
    (void)pcap_set_tstamp_precision(li->p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(li->p);
    if (rc < 0) {
        char why[PCAP_ERRBUF_SIZE];
        snprintf(why, sizeof why, "%s", activate_reason(rc, li->p));
        one_line(why);
        snprintf(err, errlen, "%s: %s", name, why);
        return LIVE_ERR_OPEN;
    }
    if (rc > 0) {
        char why[PCAP_ERRBUF_SIZE];
        snprintf(why, sizeof why, "%s", rc == PCAP_WARNING_PROMISC_NOTSUP
                                             ? "promiscuous mode not supported"
                                             : pcap_geterr(li->p));
        one_line(why);
        log_msg(LOG_WARN, "%s: %s", name, why);
    }
    li->linktype = pcap_datalink(li->p);
    li->nano = pcap_get_tstamp_precision(li->p) == PCAP_TSTAMP_PRECISION_NANO;
    struct bpf_program prog;
    int crc = pcap_compile(li->p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN);
    /* "vlan" exists only on Ethernet-like links (not on tun, "any", ...):
     * the default then keeps its untagged half */
    if (crc != 0 && lv->default_filter)
        crc = pcap_compile(li->p, &prog, LIVE_L4, 1, PCAP_NETMASK_UNKNOWN);
    if (crc != 0) {
        char why[PCAP_ERRBUF_SIZE];
        snprintf(why, sizeof why, "%s", pcap_geterr(li->p));
        one_line(why);
        snprintf(err, errlen, "filter: %s", why);
        return LIVE_ERR_FILTER;
    }
    rc = pcap_setfilter(li->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        char why[PCAP_ERRBUF_SIZE];
        snprintf(why, sizeof why, "%s", pcap_geterr(li->p));
        one_line(why);
        snprintf(err, errlen, "%s: cannot set the filter: %s", name, why);
        return LIVE_ERR_FILTER;
    }
    li->q = queue_new(o->queue_bytes, lv->bell);
    if (!li->q) {
        snprintf(err, errlen, "%s: out of memory for the queue", name);
        return LIVE_ERR_NOMEM;
    }
    return LIVE_OK;
}

struct live *live_open(const struct live_opts *o, char *err, size_t errlen)
{
    if (o->nifaces == 0 || o->nifaces > TS_LIVE_MAX_IFACES) {
        snprintf(err, errlen, "between 1 and %d interfaces", TS_LIVE_MAX_IFACES);
        return NULL;
    }
    struct live *lv = calloc(1, sizeof *lv);
    if (!lv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lv->opt = *o;
    if (!lv->opt.filter) {
        lv->opt.filter = LIVE_DEFAULT_FILTER;
        lv->default_filter = true;
    }
    if (!lv->opt.buffer_mb)
        lv->opt.buffer_mb = TS_LIVE_BUFFER_MB_DEFAULT;
    if (lv->opt.buffer_mb > TS_LIVE_BUFFER_MB_MAX)
        lv->opt.buffer_mb = TS_LIVE_BUFFER_MB_MAX;
    if (!lv->opt.snaplen)
        lv->opt.snaplen = TS_SNAPLEN;
    if (!lv->opt.queue_bytes)
        lv->opt.queue_bytes = TS_LIVE_QUEUE_BYTES;
    lv->bell = queue_bell_new();
    if (!lv->bell) {
        snprintf(err, errlen, "out of memory");
        live_free(lv);
        return NULL;
    }
    for (size_t i = 0; i < o->nifaces; i++) {
        struct live_if *li = &lv->ifs[i];
        li->lv = lv;
        li->idx = (uint32_t)i;
        lv->n = i + 1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->ifaces[j], o->ifaces[i]) == 0) {
                snprintf(err, errlen, "%s: interface given twice", o->ifaces[i]);
                live_free(lv);
                return NULL;
            }
        }
        if (open_iface(lv, li, o->ifaces[i], err, errlen) != LIVE_OK) {
            live_free(lv);
            return NULL;
        }
    }
    return lv;
}

/* ---- capture threads ---- */

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct live_if *li = (struct live_if *)(void *)user;
    uint64_t sec = h->ts.tv_sec > 0 ? (uint64_t)h->ts.tv_sec : 0;
    uint64_t frac = h->ts.tv_usec > 0 ? (uint64_t)h->ts.tv_usec : 0;
    uint64_t ts = sec * 1000000000ull + (li->nano ? frac : frac * 1000ull);
    atomic_fetch_add_explicit(&li->received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&li->bytes, h->len, memory_order_relaxed);
    if (queue_push(li->q, ts, li->linktype, h->len, li->idx, data, h->caplen) != QUEUE_OK)
        atomic_store_explicit(&li->last_drop_ns, ts, memory_order_relaxed);
}

/* Kernel counters are 32-bit and wrap: accumulate the differences. */
static void poll_stats(struct live_if *li)
{
    struct pcap_stat ps;
    if (pcap_stats(li->p, &ps) != 0)
        return;
    uint32_t dd = (uint32_t)ps.ps_drop - li->ps_drop0;
    uint32_t di = (uint32_t)ps.ps_ifdrop - li->ps_ifdrop0;
    li->ps_drop0 = (uint32_t)ps.ps_drop;
    li->ps_ifdrop0 = (uint32_t)ps.ps_ifdrop;
    if (dd) {
        atomic_fetch_add(&li->kdrops, dd);
        atomic_store(&li->last_drop_ns, live_now_ns());
    }
    if (di)
        atomic_fetch_add(&li->ifdrops, di);
}

static void *capture_main(void *arg)
{
    struct live_if *li = arg;
    struct live *lv = li->lv;
    /* counters start at zero for this run (libpcap's accumulate from open) */
    struct pcap_stat ps;
    if (pcap_stats(li->p, &ps) == 0) {
        li->ps_drop0 = (uint32_t)ps.ps_drop;
        li->ps_ifdrop0 = (uint32_t)ps.ps_ifdrop;
    }
    li->next_stats_ns = mono_ns() + STATS_PERIOD_NS;
    while (!atomic_load(&lv->stop_capture)) {
        int n = pcap_dispatch(li->p, -1, on_packet, (u_char *)(void *)li);
        if (n == PCAP_ERROR) {
            char why[PCAP_ERRBUF_SIZE];
            snprintf(why, sizeof why, "%s", pcap_geterr(li->p));
            one_line(why);
            log_msg(LOG_ERROR, "%s: capture stopped: %s", li->name, why);
            atomic_store(&li->failed, true);
            break;
        }
        uint64_t now = mono_ns();
        if (now >= li->next_stats_ns) {
            poll_stats(li);
            li->next_stats_ns = now + STATS_PERIOD_NS;
        }
    }
    poll_stats(li);
    atomic_store(&li->done, true);
    queue_bell_ring(lv->bell);
    return NULL;
}

/* ---- analysis thread ---- */

static uint64_t drops_total(const struct live *lv, uint64_t *last_ns)
{
    uint64_t t = 0, last = 0;
    for (size_t i = 0; i < lv->n; i++) {
        struct live_if *li = (struct live_if *)&lv->ifs[i];
        t += atomic_load(&li->kdrops) + queue_drops(li->q);
        uint64_t l = atomic_load(&li->last_drop_ns);
        if (l > last)
            last = l;
    }
    if (last_ns)
        *last_ns = last;
    return t;
}

static void check_drops(struct live *lv)
{
    uint64_t last;
    uint64_t t = drops_total(lv, &last);
    if (t != lv->drops_seen) {
        if (lv->cb.drop)
            lv->cb.drop(lv->cb.ctx, last, t - lv->drops_seen);
        lv->drops_seen = t;
    }
}

/* The oldest head record across the interfaces' queues. */
static const struct queue_rec *next_rec(struct live *lv, size_t *which)
{
    const struct queue_rec *best = NULL;
    for (size_t i = 0; i < lv->n; i++) {
        const struct queue_rec *r = queue_peek(lv->ifs[i].q);
        if (r && (!best || r->ts_ns < best->ts_ns)) {
            best = r;
            *which = i;
        }
    }
    return best;
}

static bool all_failed(const struct live *lv)
{
    for (size_t i = 0; i < lv->n; i++)
        if (!atomic_load(&((struct live_if *)&lv->ifs[i])->failed))
            return false;
    return true;
}

static void *analysis_main(void *arg)
{
    struct live *lv = arg;
    uint64_t max = lv->opt.max_packets;
    for (;;) {
        bool finishing = atomic_load(&lv->producers_done);
        uint64_t epoch = queue_bell_epoch(lv->bell);
        size_t n = 0, which = 0;
        const struct queue_rec *r;
        while (n < BATCH && (r = next_rec(lv, &which)) != NULL) {
            uint64_t done = atomic_load_explicit(&lv->analysed, memory_order_relaxed);
            if (!max || done < max) {
                struct ts_frame f = {
                    .ts_ns = r->ts_ns,
                    .frame_no = ++lv->frame_no,
                    .file_idx = r->src,
                    .linktype = r->linktype,
                    .caplen = r->caplen,
                    .wirelen = r->wirelen,
                    .data = r->data,
                };
                lv->cb.frame(lv->cb.ctx, &f);
                atomic_store_explicit(&lv->analysed, done + 1, memory_order_relaxed);
                if (max && done + 1 >= max)
                    atomic_store(&lv->ana_done, true);
            }
            queue_release(lv->ifs[which].q);
            n++;
        }
        check_drops(lv);
        if (atomic_exchange(&lv->sync_req, false) && lv->cb.sync)
            lv->cb.sync(lv->cb.ctx);
        if (n)
            continue;
        if (finishing)
            break; /* producers ended before we found every queue empty */
        if (all_failed(lv))
            atomic_store(&lv->ana_done, true);
        if (!queue_bell_wait(lv->bell, epoch, IDLE_WAIT_MS) && lv->cb.tick)
            lv->cb.tick(lv->cb.ctx, live_now_ns());
    }
    check_drops(lv);
    return NULL;
}

int live_start(struct live *lv, const struct live_cb *cb, char *err, size_t errlen)
{
    if (!cb || !cb->frame) {
        snprintf(err, errlen, "no frame callback");
        return LIVE_ERR_THREAD;
    }
    lv->cb = *cb;
    if (pthread_create(&lv->ana, NULL, analysis_main, lv) != 0) {
        snprintf(err, errlen, "cannot start the analysis thread");
        return LIVE_ERR_THREAD;
    }
    lv->ana_started = true;
    for (size_t i = 0; i < lv->n; i++) {
        struct live_if *li = &lv->ifs[i];
        if (pthread_create(&li->th, NULL, capture_main, li) != 0) {
            snprintf(err, errlen, "%s: cannot start the capture thread", li->name);
            live_stop(lv);
            return LIVE_ERR_THREAD;
        }
        li->started = true;
    }
    return LIVE_OK;
}

void live_request_sync(struct live *lv)
{
    atomic_store(&lv->sync_req, true);
    queue_bell_ring(lv->bell);
}

bool live_done(const struct live *lv)
{
    return atomic_load(&((struct live *)lv)->ana_done);
}

void live_stop(struct live *lv)
{
    if (!lv || lv->stopped)
        return;
    lv->stopped = true;
    atomic_store(&lv->stop_capture, true);
    for (size_t i = 0; i < lv->n; i++)
        if (lv->ifs[i].started)
            pcap_breakloop(lv->ifs[i].p);
    for (size_t i = 0; i < lv->n; i++) {
        if (lv->ifs[i].started)
            pthread_join(lv->ifs[i].th, NULL);
        lv->ifs[i].started = false;
    }
    /* every push happened before this store: the analysis thread drains */
    atomic_store(&lv->producers_done, true);
    if (lv->bell)
        queue_bell_ring(lv->bell);
    if (lv->ana_started)
        pthread_join(lv->ana, NULL);
    lv->ana_started = false;
}

void live_free(struct live *lv)
{
    if (!lv)
        return;
    live_stop(lv);
    for (size_t i = 0; i < lv->n; i++) {
        if (lv->ifs[i].p)
            pcap_close(lv->ifs[i].p);
        queue_free(lv->ifs[i].q);
    }
    queue_bell_free(lv->bell);
    free(lv);
}

static void add_iface_stats(const struct live_if *c, struct live_stats *out)
{
    struct live_if *li = (struct live_if *)c;
    out->received += atomic_load_explicit(&li->received, memory_order_relaxed);
    out->bytes += atomic_load_explicit(&li->bytes, memory_order_relaxed);
    out->kernel_drops += atomic_load(&li->kdrops);
    out->if_drops += atomic_load(&li->ifdrops);
    out->queue_drops += li->q ? queue_drops(li->q) : 0;
    uint64_t l = atomic_load(&li->last_drop_ns);
    if (l > out->last_drop_ns)
        out->last_drop_ns = l;
    out->ifaces++;
    if (atomic_load(&li->failed))
        out->ifaces_failed++;
}

void live_stats_get(const struct live *lv, struct live_stats *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < lv->n; i++)
        add_iface_stats(&lv->ifs[i], out);
    out->analysed = atomic_load(&((struct live *)lv)->analysed);
}

size_t live_iface_count(const struct live *lv) { return lv->n; }

const char *live_iface_name(const struct live *lv, size_t i)
{
    return i < lv->n ? lv->ifs[i].name : "";
}

int live_iface_linktype(const struct live *lv, size_t i)
{
    return i < lv->n ? lv->ifs[i].linktype : -1;
}

void live_iface_stats(const struct live *lv, size_t i, struct live_stats *out)
{
    memset(out, 0, sizeof *out);
    if (i < lv->n)
        add_iface_stats(&lv->ifs[i], out);
}

/* ---- offline filter checks ---- */

struct live_filter {
    struct bpf_program prog;
};

struct live_filter *live_filter_new(const char *expr, int linktype, uint32_t snaplen, char *err,
                                    size_t errlen)
{
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(linktype, (int)(snaplen ? snaplen
                                                                                : TS_SNAPLEN),
                                                        PCAP_TSTAMP_PRECISION_NANO);
    if (!dead) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct live_filter *lf = calloc(1, sizeof *lf);
    if (!lf) {
        pcap_close(dead);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int crc = pcap_compile(dead, &lf->prog, expr ? expr : LIVE_DEFAULT_FILTER, 1,
                           PCAP_NETMASK_UNKNOWN);
    if (crc != 0 && !expr)
        crc = pcap_compile(dead, &lf->prog, LIVE_L4, 1, PCAP_NETMASK_UNKNOWN);
    if (crc != 0) {
        char why[PCAP_ERRBUF_SIZE];
        snprintf(why, sizeof why, "%s", pcap_geterr(dead));
        one_line(why);
        snprintf(err, errlen, "filter: %s", why);
        free(lf);
        pcap_close(dead);
        return NULL;
    }
    pcap_close(dead);
    return lf;
}

bool live_filter_match(const struct live_filter *lf, const struct ts_frame *f)
{
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = f->caplen;
    h.len = f->wirelen;
    return pcap_offline_filter(&lf->prog, &h, f->data) != 0;
}

void live_filter_free(struct live_filter *lf)
{
    if (!lf)
        return;
    pcap_freecode(&lf->prog);
    free(lf);
}
