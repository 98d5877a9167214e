/* HEPv3 sender of the live sensor: the analysis thread hands over messages
 * (never blocking), a thread of its own sends them over UDP or TCP to a
 * collector, reconnecting with backoff; whatever could not be sent is counted. */
#ifndef TS_HEP_SEND_H
#define TS_HEP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../dissect/hep.h"

enum hep_send_err { HEP_SEND_OK = 0, HEP_SEND_ERR_ADDR, HEP_SEND_ERR_NOMEM,
                    HEP_SEND_ERR_THREAD };

struct hep_send_opts {
    const char *target;       /* "HOST:PORT" (a "/udp" or "/tcp" suffix overrides tcp) */
    bool tcp;                 /* HEP over TCP (RFC-less but common: HEP3 length framing) */
    size_t queue_bytes;       /* 0: TS_HEP_SEND_QUEUE_BYTES */
    uint32_t flush_ms;        /* at free: try this long to empty the queue; 0: TS_HEP_FLUSH_MS */
};

struct hep_send_stats {
    uint64_t queued;          /* packets accepted into the queue */
    uint64_t sent;            /* packets handed to the kernel */
    uint64_t bytes;           /* their bytes */
    uint64_t dropped_full;    /* refused: the queue was full (collector slow or away) */
    uint64_t too_big;         /* could not be encoded (> 64 KiB) */
    uint64_t send_errors;     /* UDP sends that failed, TCP packets lost with a connection */
    uint64_t unsent_at_exit;  /* still queued when the flush time ran out */
    uint64_t connects;        /* TCP connections made (reconnects = connects - 1) */
    uint64_t connect_failures;
    bool connected;           /* TCP: a connection is up now (UDP: always true) */
};

struct hep_send;

/* Resolve the target and start the sender thread (it inherits the caller's
 * signal mask). NULL with a one-line reason in err. */
struct hep_send *hep_send_new(const struct hep_send_opts *o, char *err, size_t errlen);
/* Flush for at most flush_ms and stop the thread; counters stay readable.
 * Idempotent; later messages are counted as dropped_full. */
void hep_send_stop(struct hep_send *s);
/* hep_send_stop, then free. NULL is fine. */
void hep_send_free(struct hep_send *s);

/* One producer thread only (the analysis thread). Encode m and queue it;
 * never blocks. False when it was dropped (counted). */
bool hep_send_msg(struct hep_send *s, const struct hep_msg *m);
/* Queue an already encoded HEP packet (same rules). */
bool hep_send_raw(struct hep_send *s, struct bv pkt);

/* Counters so far, from any thread. */
void hep_send_stats(struct hep_send *s, struct hep_send_stats *out);

#endif
