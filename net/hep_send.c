/* HEPv3 sender: a bounded single-producer ring of encoded packets (the
 * analysis thread never waits), drained by a sender thread over UDP or TCP
 * with reconnection and exponential backoff. */
#include "hep_send.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/limits.h"
#include "../common/queue.h"
#include "netaddr.h"

/* Socket send timeout: a stalled TCP peer must not hold the thread forever. */
#define SEND_TIMEOUT_MS 1000
#define CONNECT_TIMEOUT_MS 1000

struct hep_send {
    struct netaddr to;
    uint32_t flush_ms;
    struct queue *q;
    struct queue_bell *bell;
    pthread_t thr;
    bool started;
    atomic_bool stop;
    int fd;
    uint32_t backoff_ms;
    uint64_t next_try_ms;
    _Atomic uint64_t queued, sent, bytes, dropped_full, too_big, send_errors, unsent_at_exit,
        connects, connect_failures;
    atomic_bool connected;
    uint8_t enc[HEP_MAX_PACKET]; /* producer's scratch */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sock_close(struct hep_send *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    atomic_store(&s->connected, false);
}

/* Connect (TCP with a timeout); on failure schedule the next try. */
static bool sock_open(struct hep_send *s)
{
    int fd = socket(s->to.ss.ss_family, (s->to.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        goto fail;
    if (s->to.tcp) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int r = connect(fd, (const struct sockaddr *)&s->to.ss, s->to.len);
        if (r != 0 && errno != EINPROGRESS)
            goto fail;
        if (r != 0) {
            struct pollfd p = { fd, POLLOUT, 0 };
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1 ||
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
                goto fail;
        }
        fcntl(fd, F_SETFL, fl);
        struct timeval tv = { SEND_TIMEOUT_MS / 1000, (SEND_TIMEOUT_MS % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        atomic_fetch_add(&s->connects, 1);
    } else if (connect(fd, (const struct sockaddr *)&s->to.ss, s->to.len) != 0) {
        goto fail;
    }
    s->fd = fd;
    s->backoff_ms = 0;
    atomic_store(&s->connected, true);
    return true;
fail:
    if (fd >= 0)
        close(fd);
    atomic_fetch_add(&s->connect_failures, 1);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : TS_HEP_BACKOFF_MIN_MS;
    if (s->backoff_ms > TS_HEP_BACKOFF_MAX_MS)
        s->backoff_ms = TS_HEP_BACKOFF_MAX_MS;
    s->next_try_ms = now_ms() + s->backoff_ms;
    return false;
}

/* Send one packet whole. UDP: a failure loses it (counted). TCP: a failure
 * closes the connection and the packet is sent again on the next one, so
 * the stream always restarts at a packet boundary. Returns true when the
 * record is done with (sent or lost). */
static bool send_one(struct hep_send *s, const uint8_t *p, size_t n)
{
    if (!s->to.tcp) {
        ssize_t r = send(s->fd, p, n, MSG_NOSIGNAL);
        if (r == (ssize_t)n) {
            atomic_fetch_add(&s->sent, 1);
            atomic_fetch_add(&s->bytes, n);
        } else {
            atomic_fetch_add(&s->send_errors, 1);
        }
        return true;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t r = send(s->fd, p + off, n - off, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            sock_close(s);
            s->next_try_ms = now_ms();
            if (off) {
                /* the collector saw half a packet: it is lost with the stream */
                atomic_fetch_add(&s->send_errors, 1);
                return true;
            }
            return false;
        }
        off += (size_t)r;
    }
    atomic_fetch_add(&s->sent, 1);
    atomic_fetch_add(&s->bytes, n);
    return true;
}

static void *sender_main(void *arg)
{
    struct hep_send *s = arg;
    uint64_t deadline = 0;
    for (;;) {
        bool stopping = atomic_load(&s->stop);
        if (stopping && !deadline)
            deadline = now_ms() + s->flush_ms;
        uint64_t epoch = queue_bell_epoch(s->bell);
        const struct queue_rec *r = queue_peek(s->q);
        if (!r) {
            if (stopping)
                break;
            queue_bell_wait(s->bell, epoch, 200);
            continue;
        }
        if (stopping && now_ms() >= deadline) {
            /* what is left cannot be sent in time */
            while (queue_peek(s->q)) {
                atomic_fetch_add(&s->unsent_at_exit, 1);
                queue_release(s->q);
            }
            break;
        }
        if (s->fd < 0) {
            uint64_t now = now_ms();
            if (now < s->next_try_ms) {
                uint64_t wait = s->next_try_ms - now;
                struct timespec ts = { 0, (long)(wait < 200 ? wait : 200) * 1000000L };
                nanosleep(&ts, NULL);
                continue;
            }
            if (!sock_open(s))
                continue;
        }
        if (send_one(s, r->data, r->caplen))
            queue_release(s->q);
    }
    sock_close(s);
    return NULL;
}

struct hep_send *hep_send_new(const struct hep_send_opts *o, char *err, size_t errlen)
{
    struct hep_send *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fd = -1;
    if (netaddr_parse(o->target, o->tcp, &s->to, err, errlen) != NETADDR_OK) {
        free(s);
        return NULL;
    }
    s->flush_ms = o->flush_ms ? o->flush_ms : TS_HEP_FLUSH_MS;
    s->bell = queue_bell_new();
    s->q = s->bell ? queue_new(o->queue_bytes ? o->queue_bytes : TS_HEP_SEND_QUEUE_BYTES,
                               s->bell)
                   : NULL;
    if (!s->q) {
        snprintf(err, errlen, "out of memory (HEP send queue)");
        hep_send_free(s);
        return NULL;
    }
    if (!s->to.tcp)
        sock_open(s); /* UDP: no handshake; a failure is retried by the thread */
    if (pthread_create(&s->thr, NULL, sender_main, s) != 0) {
        snprintf(err, errlen, "cannot start the HEP sender thread");
        hep_send_free(s);
        return NULL;
    }
    s->started = true;
    return s;
}

void hep_send_stop(struct hep_send *s)
{
    if (s->started) {
        atomic_store(&s->stop, true);
        queue_bell_ring(s->bell);
        pthread_join(s->thr, NULL);
        s->started = false;
    }
    sock_close(s);
}

void hep_send_free(struct hep_send *s)
{
    if (!s)
        return;
    hep_send_stop(s);
    queue_free(s->q);
    queue_bell_free(s->bell);
    free(s);
}

bool hep_send_raw(struct hep_send *s, struct bv pkt)
{
    if (atomic_load(&s->stop)) {
        atomic_fetch_add(&s->dropped_full, 1);
        return false;
    }
    if (!pkt.len || pkt.len > HEP_MAX_PACKET) {
        atomic_fetch_add(&s->too_big, 1);
        return false;
    }
    if (queue_push(s->q, 0, 0, (uint32_t)pkt.len, 0, pkt.p, (uint32_t)pkt.len) != QUEUE_OK) {
        atomic_fetch_add(&s->dropped_full, 1);
        return false;
    }
    atomic_fetch_add(&s->queued, 1);
    return true;
}

bool hep_send_msg(struct hep_send *s, const struct hep_msg *m)
{
    size_t n = hep_encode(m, s->enc, sizeof s->enc);
    if (!n) {
        atomic_fetch_add(&s->too_big, 1);
        return false;
    }
    return hep_send_raw(s, bv_make(s->enc, n));
}

void hep_send_stats(struct hep_send *s, struct hep_send_stats *o)
{
    memset(o, 0, sizeof *o);
    o->queued = atomic_load(&s->queued);
    o->sent = atomic_load(&s->sent);
    o->bytes = atomic_load(&s->bytes);
    o->dropped_full = atomic_load(&s->dropped_full);
    o->too_big = atomic_load(&s->too_big);
    o->send_errors = atomic_load(&s->send_errors);
    o->unsent_at_exit = atomic_load(&s->unsent_at_exit);
    o->connects = atomic_load(&s->connects);
    o->connect_failures = atomic_load(&s->connect_failures);
    o->connected = atomic_load(&s->connected);
}
