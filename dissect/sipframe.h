/* SIP message framing: several messages per UDP datagram, and the SIP over
 * TCP stream framer (RFC 3261 section 18.3): Content-Length (and l:), several
 * messages per segment, messages split across segments, CRLF keep-alives
 * (RFC 5626 section 3.5.1), garbage before a start line (resynchronise). */
#ifndef TS_SIPFRAME_H
#define TS_SIPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/stats.h"

enum sipf_result {
    SIPF_MSG,       /* *n = length of one complete message at the start */
    SIPF_NEED_MORE, /* a message starts here but is incomplete */
    SIPF_SKIP,      /* *n bytes of keep-alive CRLFs or garbage to drop */
};

/* Find the extent of the first message in a stream buffer. On SIPF_NEED_MORE
 * *n is the total length of the message when its header block is complete
 * (start line .. end of body per Content-Length), else 0. */
enum sipf_result sipf_frame(struct bv buf, size_t *n);

/* Split one UDP datagram into messages (RFC 3261 section 18.3): each ends
 * per its Content-Length (to the end of the datagram when absent, invalid or
 * too large); bytes after a message count as a further message only when
 * they start with a plausible start line, else they are ignored. Leading
 * CR/LF (keep-alives) are skipped. Returns the number of views stored (<= max). */
size_t sip_datagram_split(struct bv dgram, struct bv *msgs, size_t max);

/* How far framing got in the message at the start of the buffer, so that a
 * new segment resumes the scan instead of repeating it (offsets from the
 * message start; all zero for a new message). */
struct sipf_scan {
    size_t line;    /* start of the first line not yet complete (0: the start line) */
    size_t seen;    /* no LF in [line, seen) */
    size_t clean;   /* long incomplete start line: no control character
                     * between its first 80 bytes and clean (0: unchecked) */
    size_t hend;    /* end of the header block once found, else 0 */
    uint64_t cl;    /* Content-Length of the header lines before line */
    bool has_cl;
    bool start_ok;  /* the start line is plausible (SIP_START_YES) */
};

/* Bounded per-direction buffer for a TCP stream (TS_SIP_MAX_MSG). */
struct sip_stream {
    uint8_t *buf;
    size_t len, cap;
    bool resync;   /* after a gap: drop bytes up to the next start line */
    bool abandoned; /* more than TS_SIP_MAX_RESYNC garbage bytes in a row: not SIP */
    size_t need;    /* total length of the buffered message when known (0: unknown) */
    size_t discard; /* bytes of an oversize message still to drop */
    size_t garbage; /* garbage bytes skipped since the last message */
    bool midline;   /* garbage was skipped up to the end of a segment without a
                     * line end: the next bytes continue that line */
    struct sipf_scan scan; /* of the incomplete message at the start of buf */
    uint64_t scanned; /* bytes the framer examined, in total: linear in the
                       * bytes fed however they are segmented (tests check it) */
};

typedef void (*sip_msg_fn)(void *ctx, struct bv msg);

void sip_stream_init(struct sip_stream *s);
void sip_stream_cleanup(struct sip_stream *s);
/* Append stream bytes; calls fn for each complete message, in order (fn and
 * st may be NULL). The view passed to fn is valid only during the call: it
 * points into data (nothing buffered: zero copy) or into s->buf. A message
 * that would exceed TS_SIP_MAX_MSG is dropped and counted (SIP_TCP_OVERSIZE);
 * skipped garbage counts in SIP_TCP_RESYNC, CRLF keep-alive runs in
 * SIP_KEEPALIVES. */
void sip_stream_feed(struct sip_stream *s, struct bv data, sip_msg_fn fn, void *ctx,
                     struct ts_stats *st);
/* Bytes were lost: drop the partial message and resynchronise. */
void sip_stream_gap(struct sip_stream *s, struct ts_stats *st);

#endif
