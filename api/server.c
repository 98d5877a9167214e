/* HTTP server (libmicrohttpd, thread pool): request limits, per-client rate
 * limiting, bearer-token auth in constant time, read-only methods, static
 * dashboard files confined to their directory, security headers, optional
 * TLS. Under attack: a deadline for each request's headers and a cap on
 * connections per client (IPv4 address or IPv6 /64) that evicts the client's
 * oldest unfinished one (slowloris), Host checked against the bound address
 * and configured names (DNS rebinding), duplicate Content-Length,
 * Transfer-Encoding and NUL bytes refused (request smuggling), per-client
 * in-flight and per-query time budgets. RFC 9110 (semantics, status codes,
 * 7.2 Host, 15.5.20 421), RFC 9112 6.3 (message body length), RFC 6750
 * (bearer tokens). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/num.h"
#include "../store/query.h"
#include "../store/store.h"
#include "api_int.h"

/* media-src blob:: the call page plays the WAV it fetched with the token */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';" \
            " connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none';" \
            " form-action 'none'"

/* Per-request state, born in the URI callback (which sees the raw target). */
struct api_req {
    uint8_t client[16];  /* client_key */
    size_t uri_len;
    bool uri_bad;       /* %00 or raw control bytes in the target */
    bool seen;          /* the access handler ran once */
    bool body_too_big;
    size_t body;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The unit of per-client limits: an IPv4 address, or an IPv6 /64 (one host
 * gets a whole /64 and may rotate through it). IPv4-mapped IPv6 addresses
 * count as IPv4. */
static void client_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            memcpy(key, a->s6_addr + 12, 4);
        else
            memcpy(key, a->s6_addr, 8);
        key[15] = 6; /* never equal to an IPv4 key */
    }
}

/* ---- listen address ---- */

int api_parse_listen(const char *spec, char *addr, size_t cap, unsigned *port, bool *loopback,
                     char *err, size_t errlen)
{
    const char *colon;
    size_t alen;
    const char *a;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty listen address");
        return API_ERR_USAGE;
    }
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "bad listen address '%s' (want [ADDR]:PORT)", spec);
            return API_ERR_USAGE;
        }
        a = spec + 1;
        alen = (size_t)(rb - a);
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon) {
            snprintf(err, errlen, "bad listen address '%s' (want ADDR:PORT)", spec);
            return API_ERR_USAGE;
        }
        a = spec;
        alen = (size_t)(colon - spec);
    }
    if (alen == 0 || alen >= cap) {
        snprintf(err, errlen, "bad listen address '%s'", spec);
        return API_ERR_USAGE;
    }
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    if (strcmp(addr, "localhost") == 0)
        snprintf(addr, cap, "127.0.0.1");
    uint64_t p;
    if (!num_u64(colon + 1, 0, 65535, &p)) {
        snprintf(err, errlen, "bad port in '%s'", spec);
        return API_ERR_USAGE;
    }
    *port = (unsigned)p;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, addr, &v4) == 1) {
        *loopback = (ntohl(v4.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, addr, &v6) == 1) {
        *loopback = IN6_IS_ADDR_LOOPBACK(&v6);
    } else {
        snprintf(err, errlen, "bad listen address '%s' (numeric IPv4/IPv6 address)", addr);
        return API_ERR_USAGE;
    }
    return API_OK;
}

/* ---- files ---- */

/* Whole small file into a NUL-terminated buffer; NULL on error. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    char *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size <= max) {
        buf = malloc((size_t)sb.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t)sb.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
            if (n <= 0) {
                free(buf);
                buf = NULL;
                break;
            }
            got += (size_t)n;
        }
        if (buf) {
            buf[got] = '\0';
            if (len)
                *len = got;
        }
    }
    close(fd);
    return buf;
}

static int load_token(struct api_server *s, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *t = slurp(path, 4096, &len);
    if (!t) {
        snprintf(err, errlen, "%s: cannot read the token file", path);
        return -1;
    }
    while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' ||
                   t[len - 1] == '\t'))
        t[--len] = '\0';
    bool ok = len >= TS_API_TOKEN_MIN && len <= TS_API_TOKEN_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = t[i] > 0x20 && t[i] < 0x7f; /* RFC 6750 b64token is printable ASCII */
    if (!ok) {
        snprintf(err, errlen, "%s: the token must be %d to %d printable characters", path,
                 TS_API_TOKEN_MIN, TS_API_TOKEN_MAX);
        free(t);
        return -1;
    }
    memcpy(s->token, t, len + 1);
    s->token_len = len;
    memset(t, 0, len);
    free(t);
    return 0;
}

/* Constant time in the presented value: always walks our whole token. */
static bool token_ok(const struct api_server *s, const char *hdr)
{
    if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0)
        return false;
    const char *t = hdr + 7;
    size_t n = strnlen(t, TS_API_TOKEN_MAX + 1);
    unsigned diff = (unsigned)(n != s->token_len);
    for (size_t i = 0; i < s->token_len; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < n ? t[i] : 0);
    return diff == 0;
}

/* ---- rate limiting: one token bucket per client address (hashed slot) ---- */

static bool rate_ok(struct api_server *s, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (s->no_rate || !sa)
        return true;
    client_key(sa, key);
    size_t i = (size_t)(ts_hash(key, sizeof key) % TS_API_RATE_SLOTS);
    uint64_t now = mono_ns();
    bool ok;
    pthread_mutex_lock(&s->rl_mu);
    struct rl_slot *r = &s->rl[i];
    if (!r->used || memcmp(r->addr, key, sizeof key) != 0) {
        memcpy(r->addr, key, sizeof key);
        r->used = true;
        r->tokens = s->burst;
        r->last_ns = now;
        r->inflight = 0;
    }
    r->tokens += (double)(now - r->last_ns) / 1e9 * s->rate;
    if (r->tokens > s->burst)
        r->tokens = s->burst;
    r->last_ns = now;
    ok = r->tokens >= 1.0;
    if (ok)
        r->tokens -= 1.0;
    pthread_mutex_unlock(&s->rl_mu);
    return ok;
}

/* A client may have TS_API_INFLIGHT_PER_CLIENT requests answered at once
 * (each holds one of the few database connections); inflight_end undoes a
 * successful inflight_begin. Keyed like the rate slots. */
static bool inflight_begin(struct api_server *s, const uint8_t key[16])
{
    if (s->no_rate)
        return true;
    size_t i = (size_t)(ts_hash(key, 16) % TS_API_RATE_SLOTS);
    bool ok;
    pthread_mutex_lock(&s->rl_mu);
    struct rl_slot *r = &s->rl[i];
    if (!r->used || memcmp(r->addr, key, 16) != 0) {
        memcpy(r->addr, key, 16);
        r->used = true;
        r->tokens = s->burst;
        r->last_ns = mono_ns();
        r->inflight = 0;
    }
    ok = r->inflight < TS_API_INFLIGHT_PER_CLIENT;
    if (ok)
        r->inflight++;
    pthread_mutex_unlock(&s->rl_mu);
    return ok;
}

static void inflight_end(struct api_server *s, const uint8_t key[16])
{
    if (s->no_rate)
        return;
    size_t i = (size_t)(ts_hash(key, 16) % TS_API_RATE_SLOTS);
    pthread_mutex_lock(&s->rl_mu);
    struct rl_slot *r = &s->rl[i];
    if (r->used && memcmp(r->addr, key, 16) == 0 && r->inflight)
        r->inflight--;
    pthread_mutex_unlock(&s->rl_mu);
}

/* ---- connections: header deadline and per-client cap ---- */

static void conn_doom(struct conn_slot *c)
{
    if (c->fd >= 0 && !c->doomed) {
        shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
        c->doomed = true;
    }
}

/* The oldest connection still in its headers, of client key (NULL: any),
 * other than skip; NULL when none. conn_mu held. */
static struct conn_slot *oldest_unfinished(struct api_server *s, const uint8_t *key,
                                           const struct conn_slot *skip)
{
    struct conn_slot *best = NULL;
    for (size_t i = 0; i < TS_API_CONN_SLOTS; i++) {
        struct conn_slot *c = &s->conns[i];
        if (c->fd < 0 || c->doomed || c == skip || !c->in_headers ||
            (key && memcmp(c->key, key, 16) != 0))
            continue;
        if (!best || c->since_ns < best->since_ns)
            best = c;
    }
    return best;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct api_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        uintptr_t idx = (uintptr_t)*socket_context;
        if (idx) {
            pthread_mutex_lock(&s->conn_mu);
            s->conns[idx - 1].fd = -1;
            s->conns[idx - 1].doomed = false;
            pthread_mutex_unlock(&s->conn_mu);
            *socket_context = NULL;
        }
        return;
    }
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!fi)
        return;
    int fd = fi->connect_fd;
    uint8_t key[16];
    client_key(ai ? ai->client_addr : NULL, key);
    uint64_t now = mono_ns();
    pthread_mutex_lock(&s->conn_mu);
    struct conn_slot *mine = NULL;
    size_t total = 0, same = 0;
    for (size_t i = 0; i < TS_API_CONN_SLOTS; i++) {
        struct conn_slot *c = &s->conns[i];
        if (c->fd < 0) {
            if (!mine)
                mine = c;
            continue;
        }
        if (c->doomed)
            continue;
        total++;
        same += memcmp(c->key, key, 16) == 0;
    }
    if (!mine) { /* table full of closing connections: refuse */
        pthread_mutex_unlock(&s->conn_mu);
        shutdown(fd, SHUT_RDWR);
        atomic_fetch_add(&s->conns_evicted, 1);
        return;
    }
    mine->fd = fd;
    memcpy(mine->key, key, 16);
    mine->since_ns = now;
    mine->in_headers = true;
    mine->doomed = false;
    *socket_context = (void *)(uintptr_t)(mine - s->conns + 1);
    /* over the client's share, or over the total: the oldest connection that
     * has not finished its headers goes (this client's first); a newcomer
     * that cannot make room is refused */
    struct conn_slot *v = NULL;
    if (same >= TS_API_MAX_CONNS_PER_CLIENT)
        v = oldest_unfinished(s, key, mine);
    else if (total >= TS_API_MAX_CONNS)
        v = oldest_unfinished(s, NULL, mine);
    if ((same >= TS_API_MAX_CONNS_PER_CLIENT || total >= TS_API_MAX_CONNS) && !v)
        v = mine;
    if (v) {
        conn_doom(v);
        atomic_fetch_add(&s->conns_evicted, 1);
    }
    pthread_mutex_unlock(&s->conn_mu);
}

/* Headers complete (done false) or the answer sent (done true: the next
 * request's headers are waited for from now). */
static void conn_mark(struct api_server *s, struct MHD_Connection *mc, bool done)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    uintptr_t idx = ci ? (uintptr_t)ci->socket_context : 0;
    if (!idx || idx > TS_API_CONN_SLOTS)
        return;
    pthread_mutex_lock(&s->conn_mu);
    s->conns[idx - 1].in_headers = done;
    s->conns[idx - 1].since_ns = mono_ns();
    pthread_mutex_unlock(&s->conn_mu);
}

/* Every 200 ms: connections whose headers are not complete after
 * TS_API_HEADER_DEADLINE_MS are shut down, however slowly they trickle
 * (libmicrohttpd's own timeout restarts with every byte). The delay must be
 * the client's, not ours: not a connection whose bytes wait unread in the
 * socket (a worker busy with a long query), and a pass that comes late (the
 * process was stopped or starved) does not count the lost time. */
static void *watchdog_main(void *arg)
{
    struct api_server *s = arg;
    uint64_t last = mono_ns();
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
        uint64_t now = mono_ns(), limit = (uint64_t)TS_API_HEADER_DEADLINE_MS * 1000000ull;
        uint64_t late = now - last > 1000000000ull ? now - last : 0;
        last = now;
        pthread_mutex_lock(&s->conn_mu);
        for (size_t i = 0; i < TS_API_CONN_SLOTS; i++) {
            struct conn_slot *c = &s->conns[i];
            if (c->fd < 0 || c->doomed || !c->in_headers)
                continue;
            c->since_ns += late;
            int unread = 0;
            if (now - c->since_ns > limit && c->since_ns < now &&
                !(ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)) {
                conn_doom(c);
                atomic_fetch_add(&s->header_timeouts, 1);
            }
        }
        pthread_mutex_unlock(&s->conn_mu);
    }
    return NULL;
}


/* ---- request framing and Host ---- */

struct frame_ctx {
    unsigned content_length, transfer_encoding;
    bool nul;
    const char *host;
};

static enum MHD_Result header_it(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    struct frame_ctx *f = cls;
    (void)kind;
    if (!key || strlen(key) != key_size || (value && strlen(value) != value_size))
        f->nul = true;
    else if (strcasecmp(key, "Content-Length") == 0)
        f->content_length++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0)
        f->transfer_encoding++;
    else if (strcasecmp(key, "Host") == 0)
        f->host = value;
    return MHD_YES;
}

/* "name" or "name:port" equals want (case-insensitive), the port any digits. */
static bool host_is(const char *h, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(h, want, n) != 0)
        return false;
    if (!h[n])
        return true;
    if (h[n] != ':' || !h[n + 1])
        return false;
    for (const char *p = h + n + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* A Host naming us: the bound address, loopback names when bound to
 * loopback, any IP literal when bound to every address, or a configured
 * name. A name a stranger's DNS points at us (rebinding) is none of them. */
static bool host_ok(const struct api_server *s, const char *h)
{
    if (!h)
        return true; /* HTTP/1.0 without Host: nothing to rebind */
    char v6[sizeof s->bound + 2];
    snprintf(v6, sizeof v6, "[%s]", s->bound);
    if (host_is(h, strchr(s->bound, ':') ? v6 : s->bound))
        return true;
    if (s->bound_loopback && (host_is(h, "localhost") || host_is(h, "127.0.0.1") ||
                              host_is(h, "[::1]")))
        return true;
    for (unsigned i = 0; i < s->nhosts; i++)
        if (host_is(h, s->hosts[i]))
            return true;
    if (s->bound_any) {
        char lit[64];
        size_t n = strcspn(h, h[0] == '[' ? "]" : ":");
        struct in_addr a4;
        struct in6_addr a6;
        if (h[0] == '[' && n > 1 && n < sizeof lit && h[n] == ']') {
            memcpy(lit, h + 1, n - 1);
            lit[n - 1] = '\0';
            return inet_pton(AF_INET6, lit, &a6) == 1 && (!h[n + 1] || host_is(h + n + 1, ""));
        }
        if (n < sizeof lit) {
            memcpy(lit, h, n);
            lit[n] = '\0';
            return inet_pton(AF_INET, lit, &a4) == 1 && (!h[n] || host_is(h + n, ""));
        }
    }
    return false;
}

/* ---- static files ---- */

static const char *mime_of(const char *path)
{
    static const struct { const char *ext, *type; } T[] = {
        { ".html", "text/html; charset=utf-8" },  { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" }, { ".mjs", "text/javascript; charset=utf-8" },
        { ".json", "application/json" },          { ".svg", "image/svg+xml" },
        { ".png", "image/png" },                  { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },  { ".woff2", "font/woff2" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof T / sizeof T[0]; i++)
        if (strcmp(dot, T[i].ext) == 0)
            return T[i].type;
    return "application/octet-stream";
}

/* Only [A-Za-z0-9._-] segments, none starting with '.', then the resolved
 * path must stay under the root (symlinks out are refused). */
static void serve_static(struct api_call *a)
{
    struct api_server *s = a->srv;
    const char *p = strcmp(a->path, "/") == 0 ? "/index.html" : a->path;
    char rel[PATH_MAX], full[PATH_MAX], real[PATH_MAX];
    size_t n = strlen(p);
    if (!s->static_root[0]) {
        api_error(a, 404, "not_found", "no such resource");
        return;
    }
    if (n >= sizeof rel - 1 || n < 2) {
        api_error(a, 404, "not_found", "no such file");
        return;
    }
    bool seg_start = true;
    for (size_t i = 1; i < n; i++) {
        char c = p[i];
        bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-' || c == '/';
        if (!okc || (seg_start && (c == '.' || c == '/'))) {
            api_error(a, 404, "not_found", "no such file");
            return;
        }
        seg_start = c == '/';
    }
    snprintf(rel, sizeof rel, "%s", p + 1);
    if (snprintf(full, sizeof full, "%s/%s", s->static_root, rel) >= (int)sizeof full ||
        !realpath(full, real)) {
        api_error(a, 404, "not_found", "no such file");
        return;
    }
    size_t rl = strlen(s->static_root);
    if (strncmp(real, s->static_root, rl) != 0 || real[rl] != '/') {
        api_error(a, 404, "not_found", "no such file");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size > TS_API_MAX_STATIC_BYTES) {
        if (fd >= 0)
            close(fd);
        api_error(a, 404, "not_found", "no such file"); /* directories are never listed */
        return;
    }
    a->status = 200;
    a->fd = fd;
    a->fd_len = (uint64_t)sb.st_size;
    a->ctype = mime_of(real);
}

/* ---- request handling ---- */

struct params_ctx {
    struct api_call *a;
    bool too_many, nul, dup;
};

static enum MHD_Result param_it(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    struct params_ctx *pc = cls;
    (void)kind;
    if (!key || strlen(key) != key_size || (value && strlen(value) != value_size)) {
        pc->nul = true;
        return MHD_NO;
    }
    if (pc->a->nparams >= TS_API_MAX_PARAMS) {
        pc->too_many = true;
        return MHD_NO;
    }
    for (size_t i = 0; i < pc->a->nparams; i++)
        if (strcmp(pc->a->params[i].key, key) == 0)
            pc->dup = true;
    pc->a->params[pc->a->nparams++] = (struct api_param){ key, value ? value : "", false };
    return MHD_YES;
}

static void add_common_headers(struct MHD_Response *r, bool api)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", api ? "no-store" : "no-cache");
}

static enum MHD_Result send_call(struct api_server *s, struct MHD_Connection *c,
                                 struct api_call *a, bool api)
{
    struct MHD_Response *r = NULL;
    if (a->json) {
        char *txt = json_dumps(a->json, JSON_COMPACT | JSON_REAL_PRECISION(API_REAL_PRECISION));
        json_decref(a->json);
        a->json = NULL;
        if (!txt) {
            static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
            r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
            a->status = 500;
        } else {
            r = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
        }
        a->ctype = "application/json; charset=utf-8";
    } else if (a->fd >= 0) {
        r = MHD_create_response_from_fd((uint64_t)a->fd_len, a->fd);
        if (r)
            a->fd = -1; /* owned by the response now */
    } else {
        r = MHD_create_response_from_buffer(a->body_len, a->body ? a->body : (void *)"",
                                            a->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (r)
            a->body = NULL;
    }
    if (!r)
        return MHD_NO;
    add_common_headers(r, api);
    if (a->ctype)
        MHD_add_response_header(r, "Content-Type", a->ctype);
    if (a->filename[0]) {
        char cd[128];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", a->filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
    }
    if (a->status == 405)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    if (a->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"trunkscope\"");
    if (a->status == 429)
        MHD_add_response_header(r, "Retry-After", "1");
    int cls = a->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&s->by_class[cls], 1);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)a->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void call_cleanup(struct api_server *s, struct api_call *a)
{
    json_decref(a->json);
    free(a->body);
    if (a->fd >= 0)
        close(a->fd);
    api_db_put(s, a->q);
}

static enum MHD_Result reply_error(struct api_server *s, struct MHD_Connection *c, int status,
                                   const char *code, const char *msg)
{
    struct api_call a = { .srv = s, .fd = -1 };
    api_error(&a, status, code, "%s", msg);
    enum MHD_Result r = send_call(s, c, &a, true);
    call_cleanup(s, &a);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct api_server *s = cls;
    struct api_req *rq = *con_cls;
    (void)version;
    (void)upload_data;
    if (!rq)
        return MHD_NO;
    if (!rq->seen) {
        rq->seen = true;
        conn_mark(s, c, false);
        if (rq->uri_len > TS_API_MAX_URL)
            return reply_error(s, c, 414, "uri_too_long", "request target too long");
        struct frame_ctx fc = { 0 };
        MHD_get_connection_values_n(c, MHD_HEADER_KIND, header_it, &fc);
        if (fc.nul)
            return reply_error(s, c, 400, "bad_request", "NUL byte in a header");
        if (fc.content_length > 1 || fc.transfer_encoding)
            return reply_error(s, c, 400, "bad_request",
                               "one Content-Length at most and no Transfer-Encoding");
        if (!host_ok(s, fc.host)) {
            atomic_fetch_add(&s->host_refused, 1);
            return reply_error(s, c, 421, "misdirected_request",
                               "Host names neither this server's address nor an allowed name");
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        client_key(ci ? ci->client_addr : NULL, rq->client);
        if (!rate_ok(s, ci ? ci->client_addr : NULL))
            return reply_error(s, c, 429, "rate_limited", "too many requests, slow down");
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return reply_error(s, c, 405, "method_not_allowed", "the API is read-only: GET or HEAD");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            uint64_t v;
            if (!num_u64(cl, 0, TS_API_MAX_BODY, &v))
                return reply_error(s, c, 413, "body_too_large", "request body too large");
        }
        return MHD_YES; /* headers done; the body (if any) comes next */
    }
    if (*upload_size) {
        rq->body += *upload_size;
        *upload_size = 0;
        if (rq->body > TS_API_MAX_BODY)
            rq->body_too_big = true;
        return MHD_YES;
    }
    if (rq->body_too_big)
        return reply_error(s, c, 413, "body_too_large", "request body too large");
    if (rq->uri_bad)
        return reply_error(s, c, 400, "bad_request", "NUL or control bytes in the request target");

    bool api = strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0 ||
               strcmp(url, "/metrics") == 0;
    struct api_call a = { .srv = s, .path = url, .fd = -1, .status = 200 };
    if (api) {
        if (s->token_len &&
            !token_ok(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
            api_error(&a, 401, "unauthorized", "missing or wrong bearer token");
        } else {
            struct params_ctx pc = { .a = &a };
            MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, param_it, &pc);
            if (pc.nul)
                api_error(&a, 400, "bad_parameter", "NUL byte in a query parameter");
            else if (pc.too_many)
                api_error(&a, 400, "too_many_parameters", "at most %d query parameters",
                          TS_API_MAX_PARAMS);
            else if (pc.dup)
                api_error(&a, 400, "bad_parameter", "a query parameter is repeated");
            else if (!inflight_begin(s, rq->client)) {
                atomic_fetch_add(&s->busy_refused, 1);
                api_error(&a, 503, "busy", "at most %d requests of one client at once",
                          TS_API_INFLIGHT_PER_CLIENT);
            } else {
                routes_dispatch(&a);
                inflight_end(s, rq->client);
            }
        }
    } else {
        serve_static(&a);
    }
    enum MHD_Result r = send_call(s, c, &a, api);
    call_cleanup(s, &a);
    return r;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct api_req *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    rq->uri_len = strlen(uri);
    for (size_t i = 0; i < rq->uri_len; i++) {
        unsigned char ch = (unsigned char)uri[i];
        if (ch < 0x20 || ch == 0x7f)
            rq->uri_bad = true;
        if (ch == '%' && uri[i + 1] == '0' && uri[i + 1] && uri[i + 2] == '0')
            rq->uri_bad = true; /* %00 */
    }
    return rq;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    conn_mark(cls, c, true);
    free(*con_cls);
    *con_cls = NULL;
}

/* ---- start / stop ---- */

void api_stop(struct api_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->watchdog_on)
        pthread_join(s->watchdog, NULL);
    if (s->d)
        MHD_stop_daemon(s->d);
    for (unsigned i = 0; i < s->npool; i++)
        stq_close(s->pool[i]);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->rl_mu);
    pthread_mutex_destroy(&s->live_mu);
    pthread_mutex_destroy(&s->conn_mu);
    free(s->rl);
    free(s->tls_cert);
    if (s->tls_key) {
        memset(s->tls_key, 0, strlen(s->tls_key));
        free(s->tls_key);
    }
    memset(s->token, 0, sizeof s->token);
    free(s);
}

/* A zeroed server with its locks ready; NULL (err set) when out of memory. */
static struct api_server *server_alloc(char *err, size_t errlen)
{
    struct api_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->rl_mu, NULL);
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    for (size_t i = 0; i < TS_API_CONN_SLOTS; i++)
        s->conns[i].fd = -1;
    return s;
}

struct api_server *api_start(const struct api_options *o, char *err, size_t errlen)
{
    char addr[64];
    unsigned port = 0;
    bool loopback = false;
    if (api_parse_listen(o->http ? o->http : "127.0.0.1:8080", addr, sizeof addr, &port,
                         &loopback, err, errlen) != API_OK)
        return NULL;
    if (!loopback && !o->token_file) {
        snprintf(err, errlen, "listening on %s (not loopback) needs --token-file", addr);
        return NULL;
    }
    if (!o->tls_cert != !o->tls_key) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return NULL;
    }
    if (o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "this libmicrohttpd was built without TLS support");
        return NULL;
    }
    if (!o->db_path) {
        snprintf(err, errlen, "no database (--db FILE)");
        return NULL;
    }
    struct api_server *s = server_alloc(err, errlen);
    if (!s)
        return NULL;
    s->rl = calloc(TS_API_RATE_SLOTS, sizeof *s->rl);
    s->rate = o->rate_per_s ? o->rate_per_s : TS_API_RATE_PER_S;
    s->burst = o->rate_burst ? o->rate_burst : TS_API_RATE_BURST;
    s->no_rate = o->no_rate_limit;
    snprintf(s->bound, sizeof s->bound, "%s", addr);
    s->bound_loopback = loopback;
    s->bound_any = strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
    for (const char *h = o->allowed_hosts; h && *h;) {
        size_t n = strcspn(h, ",");
        if (n && n < TS_API_HOST_LEN && s->nhosts < TS_API_MAX_HOSTS) {
            memcpy(s->hosts[s->nhosts], h, n);
            s->hosts[s->nhosts++][n] = '\0';
        } else if (n) {
            snprintf(err, errlen, "allowed host names: at most %d, each under %d characters",
                     TS_API_MAX_HOSTS, TS_API_HOST_LEN);
            goto fail;
        }
        h += n + (h[n] == ',');
    }
    if (!s->rl) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (o->token_file && load_token(s, o->token_file, err, errlen) != 0)
        goto fail;
    s->audio = o->audio;
    if (!realpath(o->db_path, s->db_path)) {
        snprintf(err, errlen, "%s: %s", o->db_path, strerror(errno));
        goto fail;
    }
    if (o->static_dir) {
        struct stat sb;
        if (!realpath(o->static_dir, s->static_root) || stat(s->static_root, &sb) != 0 ||
            !S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: not a directory", o->static_dir);
            goto fail;
        }
    }
    if (o->tls_cert) {
        s->tls_cert = slurp(o->tls_cert, 1u << 20, NULL);
        s->tls_key = slurp(o->tls_key, 1u << 20, NULL);
        if (!s->tls_cert || !s->tls_key) {
            snprintf(err, errlen, "cannot read %s", !s->tls_cert ? o->tls_cert : o->tls_key);
            goto fail;
        }
    }
    unsigned threads = o->threads ? o->threads : TS_API_THREADS;
    if (threads > TS_API_THREADS * 4)
        threads = TS_API_THREADS * 4;
    /* a database of an older schema is upgraded first (as the writer
     * would); the pool below only reads */
    if (st_db_upgrade(s->db_path, err, errlen) != ST_OK)
        goto fail;
    /* one read-only connection per worker thread */
    for (unsigned i = 0; i < threads; i++) {
        s->pool[i] = stq_open(s->db_path, err, errlen);
        if (!s->pool[i])
            goto fail;
        s->npool++;
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &a6->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &a4->sin_addr);
    }
    if (s->tls_cert)
        flags |= MHD_USE_TLS;
    errno = 0;
    s->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
        /* accepted beyond TS_API_MAX_CONNS: on_connection makes room by
         * evicting unfinished ones (a refused newcomer cannot evict) */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)TS_API_CONN_SLOTS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TS_API_CONN_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)TS_API_CONN_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
        s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
        /* TLS 1.2 and 1.3 only, forward-secret key exchange and AEAD ciphers */
        MHD_OPTION_HTTPS_PRIORITIES, TS_API_TLS_PRIORITIES, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s port %u%s%s%s", addr, port,
                 errno ? " (" : "", errno ? strerror(errno) : "", errno ? ")" : "");
        if (s->tls_cert)
            snprintf(err, errlen, "cannot listen on %s port %u (or bad TLS certificate/key)",
                     addr, port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto fail;
    }
    s->watchdog_on = true;
    return s;
fail:
    api_stop(s);
    return NULL;
}

struct api_server *api_start_offline(const char *db_path, char *err, size_t errlen)
{
    struct api_server *s = server_alloc(err, errlen);
    if (!s)
        return NULL;
    s->no_rate = true;
    if (!realpath(db_path, s->db_path)) {
        snprintf(err, errlen, "%s: %s", db_path, strerror(errno));
        api_stop(s);
        return NULL;
    }
    return s;
}
