/* HEP collector sockets: UDP (one HEP packet per datagram) and TCP (a stream
 * of HEP3 packets delimited by their length field, HEP3 specification), the
 * auth-key chunk check, per-sender counters and token buckets in a bounded
 * LRU table keyed by the seeded hash of the source address. */
#include "hep_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "netaddr.h"

/* Datagrams taken per recvmmsg call, and calls per socket per poll round
 * (so that one busy socket cannot starve the others). */
#define UDP_BATCH 32
#define UDP_ROUNDS 8
#define UDP_SLOT 65536
#define DEFAULT_RCVBUF (32 * 1024 * 1024)

struct sender_ent {
    struct ht_node n;
    struct hep_sender s;
    double tokens;
    uint64_t tb_ns;
};

struct listener {
    int fd;
    bool tcp;
    uint16_t port;
};

struct conn {
    int fd;
    struct ts_addr from;
    uint8_t *buf;             /* HEP_MAX_PACKET bytes */
    size_t len;
};

struct hep_listen {
    hep_listen_fn fn;
    void *ctx;
    uint8_t key[TS_HEP_AUTH_KEY_MAX];
    size_t keylen;
    bool check_key, unlimited;
    double rate, burst;
    struct listener ls[TS_HEP_MAX_LISTEN];
    size_t nls;
    struct conn conns[TS_HEP_MAX_CONNS];
    size_t nconns;
    struct htab senders;
    struct sender_ent *ents;
    size_t nents, max_ents;
    struct hep_listen_stats st;
    uint8_t *udp_bufs;        /* UDP_BATCH * UDP_SLOT */
    uint8_t zbuf[TS_SIP_MAX_MSG]; /* inflated payloads */
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- sender table ---- */

static bool ent_eq(const struct ht_node *n, const void *key)
{
    const struct sender_ent *e = ts_container_of(n, struct sender_ent, n);
    return ts_addr_eq(&e->s.addr, key);
}

static struct sender_ent *sender_get(struct hep_listen *l, const struct ts_addr *a,
                                     uint64_t now)
{
    size_t alen = a->family == 6 ? 16 : 4;
    uint8_t key[17];
    key[0] = a->family;
    memcpy(key + 1, a->a, alen);
    uint64_t h = ts_hash(key, alen + 1);
    struct ht_node *n = htab_find(&l->senders, h, ent_eq, a);
    if (n) {
        htab_touch(&l->senders, n);
        return ts_container_of(n, struct sender_ent, n);
    }
    struct sender_ent *e;
    if (l->nents < l->max_ents) {
        e = &l->ents[l->nents++];
    } else {
        /* reuse the least recently heard sender's slot: the array stays dense */
        struct ht_node *old = htab_oldest(&l->senders);
        if (!old)
            return NULL;
        htab_remove(&l->senders, old);
        e = ts_container_of(old, struct sender_ent, n);
        l->st.senders_evicted++;
    }
    memset(e, 0, sizeof *e);
    e->s.addr = *a;
    e->s.first_ns = now;
    e->tokens = l->burst;
    e->tb_ns = now;
    htab_insert(&l->senders, &e->n, h);
    return e;
}

static bool bucket_take(struct hep_listen *l, struct sender_ent *e, uint64_t now)
{
    if (l->unlimited)
        return true;
    if (now > e->tb_ns) {
        e->tokens += (double)(now - e->tb_ns) * l->rate / 1e9;
        if (e->tokens > l->burst)
            e->tokens = l->burst;
        e->tb_ns = now;
    }
    if (e->tokens < 1.0)
        return false;
    e->tokens -= 1.0;
    return true;
}

/* Compare without an early exit, so timing does not reveal the key. */
static bool key_ok(const struct hep_listen *l, struct bv k)
{
    if (k.len != l->keylen)
        return false;
    uint8_t d = 0;
    for (size_t i = 0; i < k.len; i++)
        d |= (uint8_t)(bv_at(k, i) ^ l->key[i]);
    return d == 0;
}

#define BUMP(l, e, f) ((e)->s.f++, (l)->st.total.f++)

bool hep_listen_input(struct hep_listen *l, const struct ts_addr *from, struct bv pkt,
                      uint64_t now_ns)
{
    struct sender_ent *e = sender_get(l, from, now_ns);
    if (!e)
        return false;
    BUMP(l, e, packets);
    e->s.bytes += pkt.len;
    l->st.total.bytes += pkt.len;
    e->s.last_ns = now_ns;
    if (!bucket_take(l, e, now_ns)) {
        BUMP(l, e, rate_limited);
        return false;
    }
    struct hep_msg h;
    switch (hep_parse(pkt, &h, l->zbuf, sizeof l->zbuf)) {
    case HEP_OK:
        break;
    case HEP_TRUNCATED:
        BUMP(l, e, truncated);
        return false;
    case HEP_UNSUPPORTED:
        BUMP(l, e, unsupported);
        return false;
    default:
        BUMP(l, e, malformed);
        return false;
    }
    if (l->check_key && !key_ok(l, h.auth_key)) {
        BUMP(l, e, unauthenticated);
        return false;
    }
    BUMP(l, e, accepted);
    e->s.node_id = h.node_id;
    size_t nl = h.node_name.len < TS_SITE_LEN - 1 ? h.node_name.len : TS_SITE_LEN - 1;
    for (size_t i = 0; i < nl; i++) {
        int ch = bv_at(h.node_name, i);
        e->s.node_name[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    e->s.node_name[nl] = 0;
    if (l->fn)
        l->fn(l->ctx, &h, &e->s, now_ns);
    return true;
}

long hep_listen_frame(struct bv b)
{
    static const char magic[4] = { 'H', 'E', 'P', '3' };
    for (size_t i = 0; i < 4 && i < b.len; i++)
        if (bv_at(b, i) != magic[i])
            return -1;
    uint16_t total;
    if (!bv_peek_be16(b, 4, &total))
        return 0;
    if (total < 6)
        return -1;
    return b.len >= total ? (long)total : 0;
}

/* ---- sockets ---- */

static int open_listener(struct listener *ls, const struct netaddr *na, int rcvbuf, char *err,
                         size_t errlen, const char *spec)
{
    int fd = socket(na->ss.ss_family, (na->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC |
                                          SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!na->tcp) {
        /* bursts of a whole site: as deep a queue as the system allows */
        int want = rcvbuf ? rcvbuf : DEFAULT_RCVBUF;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    if (bind(fd, (const struct sockaddr *)&na->ss, na->len) != 0 ||
        (na->tcp && listen(fd, 64) != 0)) {
        snprintf(err, errlen, "%s: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct ts_addr a;
    ls->port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        netaddr_to_ts(&ss, &a, &ls->port);
    ls->fd = fd;
    ls->tcp = na->tcp;
    return 0;
}

struct hep_listen *hep_listen_new(const struct hep_listen_opts *o, hep_listen_fn fn, void *ctx,
                                  char *err, size_t errlen)
{
    struct hep_listen *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->fn = fn;
    l->ctx = ctx;
    if (o->auth_key.len) {
        if (o->auth_key.len > sizeof l->key) {
            snprintf(err, errlen, "auth key longer than %d bytes", TS_HEP_AUTH_KEY_MAX);
            free(l);
            return NULL;
        }
        memcpy(l->key, o->auth_key.p, o->auth_key.len);
        l->keylen = o->auth_key.len;
        l->check_key = true;
    }
    l->unlimited = o->unlimited;
    l->rate = o->rate ? o->rate : TS_HEP_RATE_DEFAULT;
    l->burst = o->burst ? o->burst : TS_HEP_BURST_DEFAULT;
    l->max_ents = o->max_senders && o->max_senders < TS_HEP_MAX_SENDERS ? o->max_senders
                                                                         : TS_HEP_MAX_SENDERS;
    l->ents = calloc(l->max_ents, sizeof *l->ents);
    if (!l->ents || htab_init(&l->senders, l->max_ents) != 0) {
        snprintf(err, errlen, "out of memory");
        hep_listen_free(l);
        return NULL;
    }
    for (size_t i = 0; i < o->nspecs && i < TS_HEP_MAX_LISTEN; i++) {
        struct netaddr na;
        if (netaddr_parse(o->specs[i], false, &na, err, errlen) != NETADDR_OK ||
            open_listener(&l->ls[l->nls], &na, o->rcvbuf, err, errlen, o->specs[i]) != 0) {
            hep_listen_free(l);
            return NULL;
        }
        l->nls++;
        if (!na.tcp && !l->udp_bufs) {
            l->udp_bufs = malloc((size_t)UDP_BATCH * UDP_SLOT);
            if (!l->udp_bufs) {
                snprintf(err, errlen, "out of memory");
                hep_listen_free(l);
                return NULL;
            }
        }
    }
    return l;
}

static void conn_close(struct hep_listen *l, size_t i)
{
    close(l->conns[i].fd);
    free(l->conns[i].buf);
    l->conns[i] = l->conns[--l->nconns];
    l->st.tcp_closed++;
}

void hep_listen_free(struct hep_listen *l)
{
    if (!l)
        return;
    while (l->nconns)
        conn_close(l, l->nconns - 1);
    for (size_t i = 0; i < l->nls; i++)
        close(l->ls[i].fd);
    htab_cleanup(&l->senders);
    free(l->ents);
    free(l->udp_bufs);
    free(l);
}

static size_t read_udp(struct hep_listen *l, int fd)
{
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct sockaddr_storage from[UDP_BATCH];
    size_t acc = 0;
    for (int round = 0; round < UDP_ROUNDS; round++) {
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i].iov_base = l->udp_bufs + (size_t)i * UDP_SLOT;
            iov[i].iov_len = UDP_SLOT;
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_hdr.msg_name = &from[i];
            mm[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int n = recvmmsg(fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                l->st.socket_errors++;
            break;
        }
        uint64_t now = wall_ns();
        for (int i = 0; i < n; i++) {
            struct ts_addr a;
            uint16_t port;
            netaddr_to_ts(&from[i], &a, &port);
            /* a datagram cut by the slot is truncated: hep_parse says so */
            size_t len = mm[i].msg_len < UDP_SLOT ? mm[i].msg_len : UDP_SLOT;
            acc += hep_listen_input(l, &a, bv_make(iov[i].iov_base, len), now);
        }
        if (n < UDP_BATCH)
            break;
    }
    return acc;
}

static void accept_tcp(struct hep_listen *l, int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        uint8_t *buf = l->nconns < TS_HEP_MAX_CONNS ? malloc(HEP_MAX_PACKET) : NULL;
        if (!buf) {
            l->st.tcp_refused++;
            close(fd);
            continue;
        }
        struct conn *c = &l->conns[l->nconns++];
        c->fd = fd;
        c->buf = buf;
        c->len = 0;
        uint16_t port;
        netaddr_to_ts(&ss, &c->from, &port);
        l->st.tcp_accepted++;
    }
}

/* One read per connection per round. Returns false when it was closed. */
static bool read_tcp(struct hep_listen *l, size_t ci, size_t *acc)
{
    struct conn *c = &l->conns[ci];
    ssize_t r = read(c->fd, c->buf + c->len, HEP_MAX_PACKET - c->len);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    if (r <= 0) {
        if (c->len) { /* the stream ended inside a packet */
            struct sender_ent *e = sender_get(l, &c->from, wall_ns());
            if (e) {
                BUMP(l, e, packets);
                BUMP(l, e, truncated);
            }
        }
        conn_close(l, ci);
        return false;
    }
    c->len += (size_t)r;
    uint64_t now = wall_ns();
    size_t off = 0;
    for (;;) {
        struct bv rest = bv_make(c->buf + off, c->len - off);
        long n = hep_listen_frame(rest);
        if (n < 0) {
            l->st.tcp_framing_errors++;
            conn_close(l, ci);
            return false;
        }
        if (n == 0)
            break;
        *acc += hep_listen_input(l, &c->from, bv_head(rest, (size_t)n), now);
        off += (size_t)n;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    return true;
}

size_t hep_listen_poll(struct hep_listen *l, int timeout_ms)
{
    struct pollfd pf[TS_HEP_MAX_LISTEN + TS_HEP_MAX_CONNS];
    size_t n = 0;
    for (size_t i = 0; i < l->nls; i++)
        pf[n++] = (struct pollfd){ l->ls[i].fd, POLLIN, 0 };
    size_t nc = l->nconns;
    for (size_t i = 0; i < nc; i++)
        pf[n++] = (struct pollfd){ l->conns[i].fd, POLLIN, 0 };
    if (!n) {
        if (timeout_ms > 0) {
            struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        return 0;
    }
    int r = poll(pf, (nfds_t)n, timeout_ms);
    if (r <= 0)
        return 0;
    size_t acc = 0;
    /* connections first, from the last, so closing one (swap with the last)
     * does not disturb the indexes still to visit */
    for (size_t i = nc; i-- > 0;)
        if (pf[l->nls + i].revents)
            read_tcp(l, i, &acc);
    for (size_t i = 0; i < l->nls; i++) {
        if (!pf[i].revents)
            continue;
        if (l->ls[i].tcp)
            accept_tcp(l, l->ls[i].fd);
        else
            acc += read_udp(l, l->ls[i].fd);
    }
    return acc;
}

uint16_t hep_listen_port(const struct hep_listen *l, size_t i)
{
    return i < l->nls ? l->ls[i].port : 0;
}

void hep_listen_stats(const struct hep_listen *l, struct hep_listen_stats *out)
{
    *out = l->st;
}

size_t hep_listen_sender_count(const struct hep_listen *l) { return l->nents; }

const struct hep_sender *hep_listen_sender(const struct hep_listen *l, size_t i)
{
    return i < l->nents ? &l->ents[i].s : NULL;
}
