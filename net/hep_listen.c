/* HEP collector sockets: UDP (one HEP packet per datagram) and TCP (a stream
 * of HEP3 packets delimited by their length field, HEP3 specification), the
 * auth-key chunk check, per-sender counters and token buckets in a bounded
 * LRU table keyed by the seeded hash of the source address. Order of the
 * checks on a packet: cheap decode, key, the sender's bucket, inflate; the
 * kernel's receive-buffer drops come from SO_RXQ_OVFL (socket(7)). */
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

struct bucket {
    double tokens;
    uint64_t ns;              /* CLOCK_MONOTONIC of the last refill */
};

struct sender_ent {
    struct ht_node n;
    struct hep_sender s;
    struct bucket tb;
};

struct listener {
    int fd;
    bool tcp;
    uint16_t port;
    uint32_t ovfl;            /* the kernel's drop counter, last seen */
};

struct conn {
    int fd;
    struct ts_addr from;
    uint8_t *buf;             /* HEP_MAX_PACKET bytes */
    size_t len;
    uint64_t last_ns;         /* CLOCK_MONOTONIC of the last byte (or the accept) */
    bool delivered;           /* an accepted packet came over it */
};

struct hep_listen {
    hep_listen_fn fn;
    void *ctx;
    uint8_t key[TS_HEP_AUTH_KEY_MAX];
    size_t keylen;
    bool check_key, unlimited;
    double rate, burst;
    double unauth_rate, unauth_burst;
    struct bucket unauth;     /* shared by addresses not yet authenticated */
    uint64_t hello_ns, idle_ns, ahead_ns;
    size_t per_addr;
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

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- sender table ---- */

static bool ent_eq(const struct ht_node *n, const void *key)
{
    const struct sender_ent *e = ts_container_of(n, struct sender_ent, n);
    return ts_addr_eq(&e->s.addr, key);
}

static uint64_t addr_hash(const struct ts_addr *a)
{
    size_t alen = a->family == 6 ? 16 : 4;
    uint8_t key[17];
    key[0] = a->family;
    memcpy(key + 1, a->a, alen);
    return ts_hash(key, alen + 1);
}

/* The sender's record, or NULL when the address has none (not inserted). */
static struct sender_ent *sender_find(struct hep_listen *l, const struct ts_addr *a)
{
    struct ht_node *n = htab_find(&l->senders, addr_hash(a), ent_eq, a);
    return n ? ts_container_of(n, struct sender_ent, n) : NULL;
}

static struct sender_ent *sender_get(struct hep_listen *l, const struct ts_addr *a,
                                     uint64_t now)
{
    uint64_t h = addr_hash(a);
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
    e->tb.tokens = l->burst;
    e->tb.ns = now;
    htab_insert(&l->senders, &e->n, h);
    return e;
}

/* now is monotonic: a step of the wall clock neither stalls nor floods it. */
static bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now)
{
    if (now > b->ns) {
        b->tokens += (double)(now - b->ns) * rate / 1e9;
        if (b->tokens > burst)
            b->tokens = burst;
        b->ns = now;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
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

/* Counted in the totals, and on the sender's record when it has one. */
#define BUMP(l, e, f) ((e) ? (void)(e)->s.f++ : (void)0, (l)->st.total.f++)

static bool verdict_ok(struct hep_listen *l, struct sender_ent *e, enum hep_result r)
{
    switch (r) {
    case HEP_OK:
        return true;
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
}

/* stream: the packet came over TCP, whose handshake proved the address,
 * so the budget of unauthenticated (possibly spoofed) addresses is not spent */
static bool input(struct hep_listen *l, const struct ts_addr *from, struct bv pkt,
                  uint64_t mono_ns, uint64_t wall_ns, bool stream)
{
    /* Without a key every address is a sender from its first packet; with
     * one, only after it proved it has the key, so that spoofed addresses
     * neither evict real senders nor spend their tokens. */
    struct sender_ent *e = l->check_key ? sender_find(l, from) : sender_get(l, from, wall_ns);
    if (!l->check_key && !e)
        return false;
    if (e)
        htab_touch(&l->senders, &e->n);
    BUMP(l, e, packets);
    if (e) {
        e->s.bytes += pkt.len;
        e->s.last_ns = wall_ns;
    }
    l->st.total.bytes += pkt.len;
    if (l->check_key && !e && !stream &&
        !bucket_take(&l->unauth, l->unauth_rate, l->unauth_burst, mono_ns)) {
        BUMP(l, e, unauth_limited);
        return false;
    }
    struct hep_msg h;
    if (!verdict_ok(l, e, hep_parse_head(pkt, &h)))
        return false;
    if (l->check_key && !key_ok(l, h.auth_key)) {
        BUMP(l, e, unauthenticated);
        return false;
    }
    if (!e) {
        e = sender_get(l, from, wall_ns);
        if (!e)
            return false;
        e->s.packets++;
        e->s.bytes += pkt.len;
        e->s.last_ns = wall_ns;
    }
    if (!l->unlimited && !bucket_take(&e->tb, l->rate, l->burst, mono_ns)) {
        BUMP(l, e, rate_limited);
        return false;
    }
    if (!verdict_ok(l, e, hep_inflate(&h, l->zbuf, sizeof l->zbuf)))
        return false;
    if (wall_ns && h.ts_ns > wall_ns + l->ahead_ns) {
        BUMP(l, e, clock_ahead);
        h.ts_ns = 0; /* the receive time stands in */
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
        l->fn(l->ctx, &h, &e->s, wall_ns);
    return true;
}

bool hep_listen_input(struct hep_listen *l, const struct ts_addr *from, struct bv pkt,
                      uint64_t mono_ns, uint64_t wall_ns)
{
    return input(l, from, pkt, mono_ns, wall_ns, false);
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
        /* each datagram then carries the socket's count of dropped ones */
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
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
    if (!hep_listen_set_key(l, o->auth_key)) {
        snprintf(err, errlen, "auth key longer than %d bytes", TS_HEP_AUTH_KEY_MAX);
        free(l);
        return NULL;
    }
    l->unlimited = o->unlimited;
    l->rate = o->rate ? o->rate : TS_HEP_RATE_DEFAULT;
    l->burst = o->burst ? o->burst : TS_HEP_BURST_DEFAULT;
    l->unauth_rate = o->unauth_rate ? o->unauth_rate : TS_HEP_UNAUTH_RATE;
    l->unauth_burst = o->unauth_burst ? o->unauth_burst : TS_HEP_UNAUTH_BURST;
    l->unauth.tokens = l->unauth_burst;
    l->unauth.ns = 0;
    l->hello_ns = (uint64_t)(o->tcp_hello_ms ? o->tcp_hello_ms : TS_HEP_TCP_HELLO_MS) * 1000000ull;
    l->idle_ns = (uint64_t)(o->tcp_idle_ms ? o->tcp_idle_ms : TS_HEP_TCP_IDLE_MS) * 1000000ull;
    l->ahead_ns =
        (uint64_t)(o->clock_ahead_ms ? o->clock_ahead_ms : TS_HEP_CLOCK_AHEAD_MS) * 1000000ull;
    l->per_addr = o->max_conns_per_addr && o->max_conns_per_addr < TS_HEP_MAX_CONNS_PER_ADDR
                      ? o->max_conns_per_addr
                      : TS_HEP_MAX_CONNS_PER_ADDR;
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

/* The newest SO_RXQ_OVFL count of a batch; the difference to the last one
 * seen is what the kernel dropped meanwhile (it counts modulo 2^32). */
static void note_ovfl(struct hep_listen *l, struct listener *ls, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
            c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
            continue;
        uint32_t v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        l->st.kernel_drops += (uint32_t)(v - ls->ovfl);
        ls->ovfl = v;
    }
}

static size_t read_udp(struct hep_listen *l, struct listener *ls)
{
    int fd = ls->fd;
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct sockaddr_storage from[UDP_BATCH];
    union {
        struct cmsghdr h;
        uint8_t b[CMSG_SPACE(sizeof(uint32_t))];
    } ctl[UDP_BATCH];
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
            mm[i].msg_hdr.msg_control = ctl[i].b;
            mm[i].msg_hdr.msg_controllen = sizeof ctl[i].b;
        }
        int n = recvmmsg(fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                l->st.socket_errors++;
            break;
        }
        uint64_t mono = clock_ns(CLOCK_MONOTONIC), wall = clock_ns(CLOCK_REALTIME);
        for (int i = 0; i < n; i++) {
            struct ts_addr a;
            uint16_t port;
            netaddr_to_ts(&from[i], &a, &port);
            /* a datagram cut by the slot is truncated: hep_parse says so */
            size_t len = mm[i].msg_len < UDP_SLOT ? mm[i].msg_len : UDP_SLOT;
            acc += hep_listen_input(l, &a, bv_make(iov[i].iov_base, len), mono, wall);
        }
        note_ovfl(l, ls, &mm[n - 1].msg_hdr);
        if (n < UDP_BATCH)
            break;
    }
    return acc;
}

/* The connection to give up for a newcomer from `from`: the longest idle of
 * that address when it has per_addr of them; else, when the table is full,
 * the longest idle one that never delivered a packet, else the longest idle
 * of all. SIZE_MAX when there is room. */
static size_t conn_victim(const struct hep_listen *l, const struct ts_addr *from)
{
    size_t mine = 0, vm = SIZE_MAX, vq = SIZE_MAX, va = SIZE_MAX;
    for (size_t i = 0; i < l->nconns; i++) {
        const struct conn *c = &l->conns[i];
        if (ts_addr_eq(&c->from, from)) {
            mine++;
            if (vm == SIZE_MAX || c->last_ns < l->conns[vm].last_ns)
                vm = i;
        }
        if (!c->delivered && (vq == SIZE_MAX || c->last_ns < l->conns[vq].last_ns))
            vq = i;
        if (va == SIZE_MAX || c->last_ns < l->conns[va].last_ns)
            va = i;
    }
    if (mine >= l->per_addr)
        return vm;
    if (l->nconns < TS_HEP_MAX_CONNS)
        return SIZE_MAX;
    return vq != SIZE_MAX ? vq : va;
}

static void accept_tcp(struct hep_listen *l, int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct ts_addr from;
        uint16_t port;
        netaddr_to_ts(&ss, &from, &port);
        size_t v = conn_victim(l, &from);
        if (v != SIZE_MAX) {
            conn_close(l, v);
            l->st.tcp_evicted++;
        }
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
        c->from = from;
        c->last_ns = clock_ns(CLOCK_MONOTONIC);
        c->delivered = false;
        l->st.tcp_accepted++;
    }
}

/* Close connections past their hello or idle time (from the last, as a
 * close moves the last one into the hole). */
static void expire_conns(struct hep_listen *l, uint64_t now)
{
    for (size_t i = l->nconns; i-- > 0;) {
        const struct conn *c = &l->conns[i];
        uint64_t limit = c->delivered ? l->idle_ns : l->hello_ns;
        if (now > c->last_ns && now - c->last_ns > limit) {
            conn_close(l, i);
            l->st.tcp_idle_closed++;
        }
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
            struct sender_ent *e = sender_find(l, &c->from);
            BUMP(l, e, packets);
            BUMP(l, e, truncated);
        }
        conn_close(l, ci);
        return false;
    }
    c->len += (size_t)r;
    uint64_t mono = clock_ns(CLOCK_MONOTONIC), wall = clock_ns(CLOCK_REALTIME);
    c->last_ns = mono;
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
        if (input(l, &c->from, bv_head(rest, (size_t)n), mono, wall, true)) {
            (*acc)++;
            c->delivered = true;
        }
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
    if (r <= 0) {
        expire_conns(l, clock_ns(CLOCK_MONOTONIC));
        return 0;
    }
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
            acc += read_udp(l, &l->ls[i]);
    }
    expire_conns(l, clock_ns(CLOCK_MONOTONIC));
    return acc;
}

bool hep_listen_set_key(struct hep_listen *l, struct bv key)
{
    if (key.len > sizeof l->key)
        return false;
    if (key.len)
        memcpy(l->key, key.p, key.len);
    l->keylen = key.len;
    l->check_key = key.len > 0;
    return true;
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

size_t hep_listen_conn_count(const struct hep_listen *l) { return l->nconns; }

const struct hep_sender *hep_listen_sender(const struct hep_listen *l, size_t i)
{
    return i < l->nents ? &l->ents[i].s : NULL;
}
