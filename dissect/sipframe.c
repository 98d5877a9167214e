/* SIP message framing: UDP datagrams with several messages and the TCP stream
 * framer (RFC 3261 section 18.3), CRLF keep-alives (RFC 5626 section 3.5.1). */
#include "sipframe.h"

#include <stdlib.h>
#include <string.h>

#include "../common/limits.h"
#include "sip.h"

static inline int lc(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static inline bool is_sp(int c) { return c == ' ' || c == '\t'; }
static inline bool is_crlf(int c) { return c == '\r' || c == '\n'; }

/* Content-Length from one header line, if the line is one ("Content-Length"
 * or compact "l", any case). *bad when it is but the value is not a number. */
static bool cl_line(struct bv line, uint64_t *cl, bool *bad)
{
    size_t i;
    int c0 = lc(bv_at(line, 0));
    if (c0 == 'c' && bv_prefix_ci(line, "content-length"))
        i = 14;
    else if (c0 == 'l')
        i = 1;
    else
        return false;
    while (is_sp(bv_at(line, i)))
        i++;
    if (bv_at(line, i) != ':')
        return false;
    i++;
    while (is_sp(bv_at(line, i)))
        i++;
    uint64_t v = 0;
    size_t s = i;
    while (bv_at(line, i) >= '0' && bv_at(line, i) <= '9' && i - s < 10)
        v = v * 10 + (uint64_t)(bv_at(line, i++) - '0');
    while (is_sp(bv_at(line, i)))
        i++;
    *bad = i == s || i != line.len || v > UINT32_MAX;
    *cl = *bad ? 0 : v;
    return true;
}

/* Each function below resumes from a struct sipf_scan and adds the bytes it
 * examines to *work: a stream that grows a byte at a time is scanned once,
 * not once per segment (which would be quadratic in the message size). */

/* A start line's verdict is settled by its first SIPF_START_HEAD bytes,
 * except that a later control character makes an incomplete request line
 * implausible (sip_start_line: the method is at most 64 bytes and a space,
 * the status line's fixed part 16 bytes). */
#define SIPF_START_HEAD 80
static inline bool is_ctl(int c) { return c < 0x20 || c == 0x7f; }

/* sip_start_line(buf, false), resumed: while the line has no LF, only the
 * bytes that arrived since the last call are examined. */
static enum sip_start start_verdict(struct bv buf, struct sipf_scan *sc, uint64_t *work)
{
    size_t from = sc->seen;
    long k = bv_index(bv_from(buf, from), '\n');
    *work += k < 0 ? buf.len - from : (size_t)k + 1;
    if (k >= 0 || buf.len <= SIPF_START_HEAD) {
        /* a complete line is judged once; a short one cheaply */
        sc->seen = k >= 0 ? from + (size_t)k : buf.len;
        *work += sc->seen;
        return sip_start_line(buf, false);
    }
    sc->seen = buf.len;
    if (sc->clean == 0) {
        enum sip_start v = sip_start_line(bv_head(buf, SIPF_START_HEAD), false);
        *work += SIPF_START_HEAD;
        if (v != SIP_START_MAYBE)
            return v;
        /* an incomplete request line: its head's last byte may have been a CR
         * that sip_start_line left out, so the tail check starts there */
        sc->clean = SIPF_START_HEAD - 1;
    }
    /* a CR as the very last byte is not yet part of the line (it may precede LF) */
    size_t end = buf.len - (bv_at(buf, buf.len - 1) == '\r');
    for (size_t i = sc->clean; i < end; i++) {
        if (is_ctl(bv_at(buf, i))) {
            *work += i + 1 - sc->clean;
            return SIP_START_NO;
        }
    }
    if (end > sc->clean) {
        *work += end - sc->clean;
        sc->clean = end;
    }
    return SIP_START_MAYBE;
}

/* Walk the header block after the start line, from where the last call
 * stopped: sc->hend = offset after the empty line, sc->cl = the first valid
 * Content-Length (0 when absent or bad). false when the header block has not
 * ended within buf. */
static bool scan_headers(struct bv buf, struct sipf_scan *sc, uint64_t *work)
{
    for (;;) {
        size_t from = sc->seen > sc->line ? sc->seen : sc->line;
        long k = bv_index(bv_from(buf, from), '\n');
        if (k < 0) {
            *work += buf.len - from;
            sc->seen = buf.len;
            return false;
        }
        *work += (size_t)k + 1;
        size_t nl = from + (size_t)k, start = sc->line;
        sc->line = sc->seen = nl + 1;
        if (start == 0)
            continue; /* the start line */
        struct bv line = BV_NULL;
        (void)bv_sub(buf, start, nl - start, &line);
        if (line.len && bv_at(line, line.len - 1) == '\r')
            line.len--;
        if (!line.len) {
            sc->hend = nl + 1;
            return true;
        }
        uint64_t v;
        bool bad;
        if (!sc->has_cl) {
            *work += line.len;
            if (cl_line(line, &v, &bad)) {
                sc->has_cl = !bad;
                sc->cl = v;
            }
        }
    }
}

/* Garbage at the start of buf: whole lines up to the next one that could
 * start a message. */
static enum sipf_result skip_garbage(struct bv buf, size_t *n, uint64_t *work)
{
    size_t pos = 0;
    for (;;) {
        long k = bv_index(bv_from(buf, pos), '\n');
        if (k < 0) {
            *work += buf.len - pos;
            *n = buf.len;
            return SIPF_SKIP;
        }
        pos += (size_t)k + 1;
        *work += (size_t)k + 1;
        struct bv rest = bv_from(buf, pos);
        if (!rest.len || is_crlf(bv_at(rest, 0)))
            break;
        struct sipf_scan probe = { 0 };
        if (start_verdict(rest, &probe, work) != SIP_START_NO)
            break;
    }
    *n = pos;
    return SIPF_SKIP;
}

/* sipf_frame, resuming from *sc (all zero for a message not seen before). */
static enum sipf_result frame(struct bv buf, struct sipf_scan *sc, size_t *n, uint64_t *work)
{
    *n = 0;
    if (!buf.len)
        return SIPF_NEED_MORE;
    if (!sc->start_ok) {
        size_t i = 0;
        while (is_crlf(bv_at(buf, i)))
            i++;
        if (i) {
            *work += i;
            *n = i;
            return SIPF_SKIP;
        }
        enum sip_start st = start_verdict(buf, sc, work);
        if (st == SIP_START_MAYBE)
            return SIPF_NEED_MORE;
        if (st == SIP_START_NO)
            return skip_garbage(buf, n, work);
        /* plausible now stays plausible as the line grows (a status line is
         * judged on its fixed part, a request line only once complete) */
        sc->start_ok = true;
    }
    if (!sc->hend && !scan_headers(buf, sc, work))
        return SIPF_NEED_MORE;
    /* no (usable) Content-Length on a stream: no body (RFC 3261 18.3) */
    uint64_t total = (uint64_t)sc->hend + sc->cl;
    if (total > SIZE_MAX)
        total = SIZE_MAX;
    *n = (size_t)total;
    return total <= buf.len ? SIPF_MSG : SIPF_NEED_MORE;
}

enum sipf_result sipf_frame(struct bv buf, size_t *n)
{
    struct sipf_scan sc = { 0 };
    uint64_t work = 0;
    return frame(buf, &sc, n, &work);
}

size_t sip_datagram_split(struct bv dgram, struct bv *msgs, size_t max)
{
    size_t count = 0, off = 0;
    while (count < max && off < dgram.len) {
        struct bv rest = bv_from(dgram, off);
        size_t i = 0;
        while (is_crlf(bv_at(rest, i)))
            i++;
        rest = bv_from(rest, i);
        off += i;
        if (!rest.len)
            break;
        if (count > 0 && sip_start_line(rest, true) != SIP_START_YES)
            break; /* trailing junk after a message: ignored (RFC 3261 18.3) */
        size_t len = rest.len;
        struct sipf_scan sc = { 0 };
        uint64_t work = 0;
        if (sip_start_line(rest, true) == SIP_START_YES && scan_headers(rest, &sc, &work) &&
            sc.has_cl && sc.cl <= rest.len - sc.hend)
            len = sc.hend + (size_t)sc.cl;
        msgs[count++] = bv_head(rest, len);
        off += len;
    }
    return count;
}

/* ---- stream buffer ---- */

#define STAT_ADD(st, id, n) do { if (st) TS_ADD(st, id, n); } while (0)

void sip_stream_init(struct sip_stream *s)
{
    memset(s, 0, sizeof(*s));
}

/* The message at the start of the buffer changes: scan it from its start. */
static void scan_reset(struct sip_stream *s)
{
    memset(&s->scan, 0, sizeof s->scan);
}

static void buf_release(struct sip_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
    s->need = 0;
    scan_reset(s);
}

void sip_stream_cleanup(struct sip_stream *s)
{
    if (!s)
        return;
    buf_release(s);
}

/* Append data (the caller guarantees len + data.len <= TS_SIP_MAX_MSG). */
static bool buf_append(struct sip_stream *s, struct bv data)
{
    size_t want = s->len + data.len;
    if (want > s->cap) {
        size_t cap = s->cap ? s->cap : 2048;
        while (cap < want)
            cap *= 2;
        if (cap > TS_SIP_MAX_MSG)
            cap = TS_SIP_MAX_MSG;
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb)
            return false;
        s->buf = nb;
        s->cap = cap;
    }
    return bv_copy(&data, s->buf + s->len, data.len) && (s->len = want, true);
}

static void buf_consume(struct sip_stream *s, size_t n)
{
    if (n >= s->len) {
        buf_release(s);
        return;
    }
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
}

/* Frame as many messages from v as possible; returns the bytes consumed.
 * s->scan belongs to the message at the start of v and, when that one is
 * incomplete, to the bytes returned unconsumed. */
static size_t run(struct sip_stream *s, struct bv v, sip_msg_fn fn, void *ctx,
                  struct ts_stats *st)
{
    size_t off = 0;
    s->need = 0;
    while (off < v.len) {
        struct bv rest = bv_from(v, off);
        size_t n = 0;
        enum sipf_result r;
        if (s->midline) {
            /* the rest of a garbage line cut by the segment boundary: framing
             * must not depend on where segments end */
            long k = bv_index(rest, '\n');
            n = k < 0 ? rest.len : (size_t)k + 1;
            s->scanned += n;
            r = SIPF_SKIP;
        } else {
            r = frame(rest, &s->scan, &n, &s->scanned);
        }
        if (r != SIPF_NEED_MORE)
            scan_reset(s); /* n bytes go: the next message starts after them */
        if (r == SIPF_SKIP) {
            /* CRLFs between messages are keep-alives; after garbage since
             * the last message (an HTTP header block or body on a SIP port)
             * they are part of it */
            if (!s->midline && is_crlf(bv_at(rest, 0)) && s->garbage == 0) {
                STAT_ADD(st, SIP_KEEPALIVES, 1);
            } else {
                s->midline = bv_at(rest, n - 1) != '\n';
                STAT_ADD(st, SIP_TCP_RESYNC, n);
                s->garbage += n;
                if (s->garbage > TS_SIP_MAX_RESYNC) {
                    /* that much garbage: this is not a SIP stream (TLS, binary...) */
                    s->abandoned = true;
                    STAT_ADD(st, SIP_TCP_RESYNC, v.len - off - n);
                    return v.len;
                }
            }
            off += n;
            continue;
        }
        if (r == SIPF_MSG) {
            if (n > TS_SIP_MAX_MSG)
                STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
            else if (fn)
                fn(ctx, bv_head(rest, n));
            s->resync = false;
            s->garbage = 0;
            off += n;
            continue;
        }
        if (n > TS_SIP_MAX_MSG) {
            /* too big to buffer: drop it as it streams past */
            STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
            s->discard = n - rest.len;
            s->garbage = 0;
            scan_reset(s);
            return v.len;
        }
        if (n == 0 && rest.len >= TS_SIP_MAX_MSG) {
            /* header block alone exceeds the limit */
            STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
            s->resync = true;
            scan_reset(s);
            return v.len;
        }
        s->need = n;
        break;
    }
    return off;
}

void sip_stream_feed(struct sip_stream *s, struct bv data, sip_msg_fn fn, void *ctx,
                     struct ts_stats *st)
{
    while (data.len) {
        if (s->abandoned) {
            STAT_ADD(st, SIP_TCP_RESYNC, data.len);
            return;
        }
        if (s->discard) {
            size_t n = data.len < s->discard ? data.len : s->discard;
            s->discard -= n;
            data = bv_from(data, n);
            continue;
        }
        if (s->len == 0) {
            /* fast path: frame straight from the caller's bytes */
            size_t off = run(s, data, fn, ctx, st);
            data = bv_from(data, off);
            if (!data.len)
                return;
            if (s->discard || s->abandoned)
                continue;
            if (!buf_append(s, data)) {
                STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
                buf_release(s);
                s->resync = true;
            }
            return;
        }
        size_t room = TS_SIP_MAX_MSG - s->len;
        size_t take = data.len < room ? data.len : room;
        if (!buf_append(s, bv_head(data, take))) {
            STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
            buf_release(s);
            s->resync = true;
            return;
        }
        data = bv_from(data, take);
        if (s->need && s->len < s->need)
            continue; /* body still incomplete: no need to rescan */
        size_t off = run(s, bv_make(s->buf, s->len), fn, ctx, st);
        buf_consume(s, off);
    }
}

void sip_stream_gap(struct sip_stream *s, struct ts_stats *st)
{
    STAT_ADD(st, SIP_TCP_RESYNC, s->len);
    buf_release(s);
    s->discard = 0;
    s->garbage = 0;
    s->midline = false;
    s->resync = true;
}
