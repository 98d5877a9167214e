/* The analysis engine: frames in, decoded transport payloads dispatched to
 * SIP (any port), TLS detection, TCP stream framing; SIP messages counted and
 * handed to the call tracker. One engine per analysis thread. */
#ifndef TS_ENGINE_H
#define TS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/stats.h"
#include "../dissect/sip.h"

struct calls;
struct calls_config;

struct engine_config {
    bool dedup;           /* drop SPAN duplicates (default on) */
    bool track_calls;     /* build dialogs, legs and calls */
    const struct calls_config *calls_cfg; /* NULL: defaults */
    bool no_report;       /* a sensor: finished calls and streams go to the sinks
                           * only, none are kept in memory for a final report */
    struct tlskeys *tls_keys; /* key material to decrypt SIP over TLS (crypto/tlskeys.h),
                               * owned by the caller, outlives the engine; NULL: none */
};

struct engine;

struct engine *engine_new(const struct engine_config *cfg);
void engine_free(struct engine *e);

/* One captured frame (counted in packets/bytes, then decoded):
 * engine_decode() then engine_packet() on the calling thread. */
void engine_frame(struct engine *e, const struct ts_frame *f);
/* The frame decoded into p (decoder_decode(): the one decode of the frame)
 * and what the analysis can add from its unit alone: for a UDP datagram, the
 * stream hash and endpoint slots of an RTP key, or the Call-ID hash of a SIP
 * message, and when spare is not NULL and the datagram holds one message,
 * that message parsed into spare (true: spare used; see readahead.h). It
 * reads no engine state, so a reader thread may call it, ahead of the
 * analysis; engine_packet() then takes p as it is. */
bool engine_decode(const struct ts_frame *f, struct ts_pkt *p, void *spare);
size_t engine_decode_spare_size(void);
/* Analyse frame f, decoded into p by engine_decode(), in capture order. */
void engine_packet(struct engine *e, const struct ts_frame *f, const struct ts_pkt *p);
/* Speed only (results do not depend on them): at 10,000 calls the streams
 * and dialogs no longer fit the caches, and a packet's stream or dialog
 * lookup is two dependent memory misses; a caller that decoded ahead
 * overlaps them with other work: engine_prefetch() for packet i+6 (its
 * stream or dialog bucket, dedup bucket and first bytes),
 * engine_prefetch_more() for packet i+2 (its stream or dialog), then
 * engine_packet() for packet i. */
void engine_prefetch(struct engine *e, const struct ts_frame *f, const struct ts_pkt *p);
void engine_prefetch_more(struct engine *e, const struct ts_pkt *p);

/* Advance time without a packet (live capture on a quiet link): expires
 * idle fragments, TCP connections, dialogs and streams at now_ns. */
void engine_tick(struct engine *e, uint64_t now_ns);
/* The capture lost count packets shortly before ts_ns (kernel or queue
 * drops): streams and calls active then are marked as not trustworthy. */
void engine_note_drop(struct engine *e, uint64_t ts_ns, uint64_t count);
/* End of input: flush TCP streams, close dialogs. */
void engine_finish(struct engine *e);

const struct ts_stats *engine_stats(const struct engine *e);
/* Adds n to one of the engine's counters for what its caller read outside
 * the packet path (the pcapng secrets found before the analysis). */
void engine_count(struct engine *e, enum ts_stat s, uint64_t n);
/* SIP requests per method (SIP_M_UNKNOWN: other methods), responses per class (1..6). */
uint64_t engine_method_count(const struct engine *e, enum sip_method m);
uint64_t engine_status_class_count(const struct engine *e, int cls);
/* Per link type packet counts. */
size_t engine_linktypes(const struct engine *e, int *types, uint64_t *counts, size_t max);
/* A reloaded configuration for the running call tracker (calls_set_config
 * says which fields apply); no-op when track_calls is off. Analysis thread,
 * between frames. */
void engine_set_calls_config(struct engine *e, const struct calls_config *cfg);
/* The call tracker (NULL when track_calls is off). */
const struct calls *engine_calls(const struct engine *e);
/* The RTP/RTCP analyser (always present). */
struct media;
const struct media *engine_media(const struct engine *e);

/* Observers, for the store and the HEP sender. The SIP hook sees every SIP
 * message (msg is NULL when it did not parse); the call sink every finished
 * call. Both run on the analysis thread and must not block. */
struct calls_call;
typedef void (*engine_sip_fn)(void *ctx, const struct pkt_meta *m, struct bv raw,
                              const struct sip_msg *msg);
void engine_set_sip_hook(struct engine *e, engine_sip_fn fn, void *ctx);
void engine_set_call_sink(struct engine *e, void (*fn)(void *ctx, const struct calls_call *c),
                          void *ctx);
/* Every RTCP datagram the media analyser took (for the HEP sender). */
void engine_set_rtcp_hook(struct engine *e,
                          void (*fn)(void *ctx, const struct pkt_meta *m, struct bv rtcp),
                          void *ctx);
/* Every frame once the engine has seen it (for the capture spool), with
 * what it found: media when its UDP payload was taken as RTP/RTCP, then
 * payload_off (where that payload starts in f->data; 0: not in the frame,
 * e.g. reassembled) and flow (a seeded hash of its addresses and ports). */
struct engine_frame_info {
    bool media;
    uint32_t payload_off;
    uint64_t flow;
};
typedef void (*engine_frame_fn)(void *ctx, const struct ts_frame *f,
                                const struct engine_frame_info *fi);
void engine_set_frame_hook(struct engine *e, engine_frame_fn fn, void *ctx);
/* TLS: the status per peer pair (calls/tlspeers.h), and a sink that sees
 * each connection's facts once, when its handshake ends or it closes. */
struct tlspeers;
struct tlspeer_conn;
const struct tlspeers *engine_tlspeers(const struct engine *e);
typedef void (*engine_tls_fn)(void *ctx, const struct tlspeer_conn *c);
void engine_set_tls_sink(struct engine *e, engine_tls_fn fn, void *ctx);
/* The flows that are neither SIP nor RTP, classified by nDPI (oflows.h). */
struct oflows;
struct oflow_done;
const struct oflows *engine_oflows(const struct engine *e);
/* Each classified other flow once, when it is forgotten (for the store). */
void engine_set_oflow_sink(struct engine *e, void (*fn)(void *ctx, const struct oflow_done *f),
                           void *ctx);
/* Every finished RTP stream (for the store and the HEP quality reports). */
struct media_stream;
void engine_set_stream_sink(struct engine *e,
                            void (*fn)(void *ctx, const struct media_stream *s), void *ctx);

#endif
