/* Private to store/: the per-call frame exporter shared by the offline path
 * (export.c: the analysed capture files) and the spool path
 * (spool_export.c: a live sensor's spool); the matching below both is
 * export_match.c. */
#ifndef TS_EXPORT_INT_H
#define TS_EXPORT_INT_H

#include <stdio.h>

#include "../common/limits.h"
#include "store_int.h"

#define NS_PER_S 1000000000ull
/* Media is kept from shortly before the first INVITE to after the end. */
#define MEDIA_BEFORE_NS (1ull * NS_PER_S)
#define MEDIA_AFTER_NS (5ull * NS_PER_S)
#define EXPORT_SNAPLEN TS_SPOOL_SNAP_MAX

struct decoder;

struct fref {
    int64_t capture_id, frame, off;
};

/* A SIP message of the call as the store has it: its frame's time and ports. */
struct sip_key {
    uint64_t ts;
    uint16_t sport, dport;
};

struct endpoint {
    struct ts_addr addr;
    uint16_t port;
};

struct capfile {
    int64_t id;
    char *path;
    uint64_t frames; /* frames read so far from this file */
};

struct exporter {
    struct fref *refs;
    size_t nrefs, cap;
    struct sip_key *keys;
    size_t nkeys, kcap;
    struct endpoint eps[TS_CALLS_MAX_LEGS * 4];
    size_t neps;
    struct capfile caps[TS_MAX_INPUT_FILES];
    size_t ncaps;
    int64_t start;           /* the call's start (ns) */
    uint64_t lo, hi;         /* media window */
    struct decoder *dec;
    bool media_hit, sip_hit; /* verdicts of the frame being decoded */
    st_frame_fn sink;        /* the call's frames (NULL: none) */
    st_media_fn media;       /* its media datagrams, as decoded here (NULL: none) */
    void *sink_ctx;          /* of both */
    struct st_export_stats *st;
};

/* The decoder whose callbacks set x's verdicts (export_decode uses it). */
struct ts_stats;
struct decoder *export_decoder_new(struct exporter *x, struct ts_stats *st);
/* Order of struct sip_key: time, then ports. */
int export_key_cmp(const void *a, const void *b);
/* Port on one of the call's SDP endpoints (or RTCP's port + 1). */
bool export_ep_match(const struct exporter *x, const struct ts_addr *a, uint16_t port);
/* A frame of one of the call's SIP messages (by time and ports). */
bool export_sip_key(const struct exporter *x, const struct pkt_meta *m);
/* Decode f; hand it to the sink when it carries the call's SIP or media,
 * and each media datagram in it to x->media. */
void export_decode(struct exporter *x, const struct ts_frame *f);
/* The spool path: the blocks indexed for the call's time range, each frame
 * through export_decode. ST_ERR_GONE when the spool holds none of it. */
int spool_export_call(sqlite3 *h, struct exporter *x, char *err, size_t errlen);

#endif
