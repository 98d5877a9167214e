/* WebSocket framing (RFC 6455 section 5.2): frame headers, masking, message
 * fragmentation; payloads of text/binary messages go to the caller. */
#include "ws.h"

#include <stdlib.h>
#include <string.h>

#include "../common/limits.h"

enum ws_result ws_frame_parse(struct bv buf, struct ws_frame *out)
{
    struct bv b = buf;
    uint8_t b0, b1;
    if (!bv_u8(&b, &b0) || !bv_u8(&b, &b1))
        return WS_NEED_MORE;
    if (b0 & 0x70) /* RSV bits without a negotiated extension */
        return WS_BAD;
    out->fin = b0 & 0x80;
    out->opcode = b0 & 0x0f;
    out->masked = b1 & 0x80;
    uint64_t plen = b1 & 0x7f;
    if (plen == 126) {
        uint16_t v;
        if (!bv_be16(&b, &v))
            return WS_NEED_MORE;
        plen = v;
    } else if (plen == 127) {
        uint32_t hi, lo;
        if (!bv_be32(&b, &hi) || !bv_be32(&b, &lo))
            return WS_NEED_MORE;
        plen = ((uint64_t)hi << 32) | lo;
    }
    if (plen > TS_WS_MAX_MSG)
        return WS_BAD;
    if (out->masked && !bv_copy(&b, out->mask, 4))
        return WS_NEED_MORE;
    if (!bv_take(&b, (size_t)plen, &out->payload))
        return WS_NEED_MORE;
    out->frame_len = buf.len - b.len;
    return WS_FRAME;
}

static void reset_msg(struct ws_stream *s)
{
    free(s->msg);
    s->msg = NULL;
    s->msg_len = 0;
}

/* Append a frame's payload, unmasked, to the message being assembled. */
static bool append_payload(struct ws_stream *s, const struct ws_frame *f)
{
    size_t n = f->payload.len;
    if (s->msg_len + n > TS_WS_MAX_MSG)
        return false;
    uint8_t *m = realloc(s->msg, s->msg_len + n + 1);
    if (!m)
        return false;
    s->msg = m;
    struct bv p = f->payload;
    bv_copy(&p, m + s->msg_len, n);
    if (f->masked)
        for (size_t i = 0; i < n; i++)
            m[s->msg_len + i] ^= f->mask[i & 3];
    s->msg_len += n;
    return true;
}

/* Consume complete frames from b; returns bytes consumed, or SIZE_MAX on a
 * framing error. */
static size_t consume(struct ws_stream *s, struct bv b, ws_payload_fn fn, void *ctx,
                      struct ts_stats *st)
{
    size_t used = 0;
    for (;;) {
        struct ws_frame f;
        enum ws_result r = ws_frame_parse(bv_from(b, used), &f);
        if (r == WS_NEED_MORE)
            return used;
        if (r == WS_BAD)
            return SIZE_MAX;
        used += f.frame_len;
        TS_INC(st, SIP_WEBSOCKET);
        if (f.opcode >= 8) /* close/ping/pong */
            continue;
        if (f.opcode != 0 && s->msg_len) /* a new message interrupts a fragmented one */
            reset_msg(s);
        if (!append_payload(s, &f)) {
            reset_msg(s);
            continue;
        }
        if (f.fin) {
            fn(ctx, bv_make(s->msg, s->msg_len));
            reset_msg(s);
        }
    }
}

void ws_stream_feed(struct ws_stream *s, struct bv data, ws_payload_fn fn, void *ctx,
                    struct ts_stats *st)
{
    if (!s->len) {
        size_t used = consume(s, data, fn, ctx, st);
        if (used == SIZE_MAX) {
            ws_stream_gap(s);
            return;
        }
        data = bv_from(data, used);
        if (!data.len)
            return;
    }
    if (s->len + data.len > TS_WS_MAX_MSG + 14) {
        ws_stream_gap(s);
        return;
    }
    uint8_t *nb = realloc(s->buf, s->len + data.len);
    if (!nb) {
        ws_stream_gap(s);
        return;
    }
    s->buf = nb;
    size_t add = data.len;
    bv_copy(&data, s->buf + s->len, add);
    s->len += add;
    size_t used = consume(s, bv_make(s->buf, s->len), fn, ctx, st);
    if (used == SIZE_MAX) {
        ws_stream_gap(s);
        return;
    }
    memmove(s->buf, s->buf + used, s->len - used);
    s->len -= used;
    if (!s->len) {
        free(s->buf);
        s->buf = NULL;
    }
}

void ws_stream_gap(struct ws_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
    reset_msg(s);
}

void ws_stream_cleanup(struct ws_stream *s)
{
    ws_stream_gap(s);
}
