/* WebSocket framing (RFC 6455 section 5) for SIP over WebSocket (RFC 7118):
 * frames of a TCP direction reassembled, unmasked, and handed over as
 * message payloads. */
#ifndef TS_WS_H
#define TS_WS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/stats.h"

/* Bounded per-direction buffer (TS_WS_MAX_FRAME). */
struct ws_stream {
    uint8_t *buf;
    size_t len;
    uint8_t *msg;     /* unmasked payload being assembled (fragmented messages) */
    size_t msg_len;
};

typedef void (*ws_payload_fn)(void *ctx, struct bv payload);

enum ws_result { WS_FRAME, WS_NEED_MORE, WS_BAD };

struct ws_frame {
    bool fin, masked;
    uint8_t opcode;
    uint8_t mask[4];
    struct bv payload; /* still masked when masked */
    size_t frame_len;  /* header + payload */
};

/* Parse one frame header at the start of buf. */
enum ws_result ws_frame_parse(struct bv buf, struct ws_frame *out);

void ws_stream_feed(struct ws_stream *s, struct bv data, ws_payload_fn fn, void *ctx,
                    struct ts_stats *st);
void ws_stream_gap(struct ws_stream *s);
void ws_stream_cleanup(struct ws_stream *s);

#endif
