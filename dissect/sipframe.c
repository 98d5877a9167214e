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

/* Walk the header block after a complete start line: *hend = offset after the
 * empty line, *cl = first Content-Length (0 when absent or bad). false when
 * the header block has not ended within buf. */
static bool scan_headers(struct bv buf, size_t *hend, uint64_t *cl, bool *has_cl)
{
    long nl = bv_index(buf, '\n');
    if (nl < 0)
        return false;
    size_t pos = (size_t)nl + 1;
    *cl = 0;
    *has_cl = false;
    for (;;) {
        struct bv rest = bv_from(buf, pos);
        long k = bv_index(rest, '\n');
        if (k < 0)
            return false;
        struct bv line = bv_head(rest, (size_t)k);
        if (line.len && bv_at(line, line.len - 1) == '\r')
            line.len--;
        if (!line.len) {
            *hend = pos + (size_t)k + 1;
            return true;
        }
        uint64_t v;
        bool bad;
        if (!*has_cl && cl_line(line, &v, &bad)) {
            *has_cl = !bad;
            *cl = v;
        }
        pos += (size_t)k + 1;
    }
}

enum sipf_result sipf_frame(struct bv buf, size_t *n)
{
    *n = 0;
    if (!buf.len)
        return SIPF_NEED_MORE;
    size_t i = 0;
    while (is_crlf(bv_at(buf, i)))
        i++;
    if (i) {
        *n = i;
        return SIPF_SKIP;
    }
    enum sip_start st = sip_start_line(buf, false);
    if (st == SIP_START_MAYBE)
        return SIPF_NEED_MORE;
    if (st == SIP_START_NO) {
        /* garbage: drop whole lines up to the next one that could start a message */
        size_t pos = 0;
        for (;;) {
            long k = bv_index(bv_from(buf, pos), '\n');
            if (k < 0) {
                *n = buf.len;
                return SIPF_SKIP;
            }
            pos += (size_t)k + 1;
            struct bv rest = bv_from(buf, pos);
            if (!rest.len || is_crlf(bv_at(rest, 0)) ||
                sip_start_line(rest, false) != SIP_START_NO) {
                *n = pos;
                return SIPF_SKIP;
            }
        }
    }
    size_t hend;
    uint64_t cl;
    bool has_cl;
    if (!scan_headers(buf, &hend, &cl, &has_cl))
        return SIPF_NEED_MORE;
    /* no (usable) Content-Length on a stream: no body (RFC 3261 18.3) */
    uint64_t total = (uint64_t)hend + cl;
    if (total > SIZE_MAX)
        total = SIZE_MAX;
    *n = (size_t)total;
    return total <= buf.len ? SIPF_MSG : SIPF_NEED_MORE;
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
        size_t hend, len = rest.len;
        uint64_t cl;
        bool has_cl;
        if (sip_start_line(rest, true) == SIP_START_YES && scan_headers(rest, &hend, &cl, &has_cl) &&
            has_cl && cl <= rest.len - hend)
            len = hend + (size_t)cl;
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

static void buf_release(struct sip_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
    s->need = 0;
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

/* Frame as many messages from v as possible; returns the bytes consumed. */
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
            r = SIPF_SKIP;
        } else {
            r = sipf_frame(rest, &n);
        }
        if (r == SIPF_SKIP) {
            if (!s->midline && is_crlf(bv_at(rest, 0))) {
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
            return v.len;
        }
        if (n == 0 && rest.len >= TS_SIP_MAX_MSG) {
            /* header block alone exceeds the limit */
            STAT_ADD(st, SIP_TCP_OVERSIZE, 1);
            s->resync = true;
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
