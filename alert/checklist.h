/* The Lync Server 2013 SIP trunk checklist, checked from the wire: per
 * trunk, each item of the planning guide's trunk requirements (and the
 * Set-CsTrunkConfiguration parameter it depends on) with its evidence, the
 * numbers, and the calls that break it. Fed with every finished call and
 * RTP stream (sink-shaped, any order), read per trunk at the end. The
 * Mediation Server is the trunk's local end, the gateway its peer. */
#ifndef TS_ALERT_CHECKLIST_H
#define TS_ALERT_CHECKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/limits.h"

struct calls;
struct calls_call;
struct jsonw;

enum cl_status { CL_NA = 0, CL_PASS, CL_INFO, CL_WARN, CL_FAIL };

enum cl_item {
    CL_TRANSPORT = 0, /* signalling over TCP or TLS, never UDP */
    CL_CODECS,        /* G.711 A-law / u-law, telephone-event, CN */
    CL_SRTP,          /* SRTP if and only if the signalling is TLS (SRTPMode) */
    CL_PAIRS,         /* every (Mediation Server, gateway) pair answers calls */
    CL_FAILOVER,      /* outbound INVITE unanswered 10 s: cancelled, retried */
    CL_EARLY,         /* early dialogs per INVITE <= 20 (MaxEarlyDialogs) */
    CL_RTCP,          /* RTCP on active and held calls, never 30 s without (RTCPActiveCalls,
                       * RTCPCallsOnHold) */
    CL_BYPASS,        /* media bypass: the Mediation Server's SDP names another address */
    CL_PLUS,          /* a leading + the same way on every call (RemovePlusFromUri) */
    CL_PEERS,         /* sources at the Mediation Server that are not its known peers */
    CL_N
};

#define CL_NUMS 8
struct cl_num {
    const char *key;
    double v;
};

struct cl_check {
    uint8_t status;             /* enum cl_status */
    char detail[256];
    struct cl_num num[CL_NUMS];
    uint8_t nnum;
    uint64_t calls[TS_CHECKLIST_CALLS]; /* tracker call ids */
    uint8_t ncalls;
};

struct cl_result {
    uint8_t status;             /* the worst item's */
    struct cl_check check[CL_N];
};

/* What the checklist needs of a finished RTP stream. */
struct cl_stream {
    uint64_t leg_ref;           /* 0: unsignalled, not counted */
    uint64_t packets;           /* RTP */
    uint64_t rtcp;              /* RTCP packets its SSRC sent */
    uint64_t first_ns, last_ns;
    uint64_t rtcp_gap_ns;       /* longest stretch of its life without RTCP from it */
};

struct checklist;

struct checklist *checklist_new(void);   /* NULL when memory is short */
void checklist_free(struct checklist *cl);
/* A finished call (any order with its streams). */
void checklist_call(struct checklist *cl, const struct calls_call *c);
void checklist_stream(struct checklist *cl, const struct cl_stream *s);
/* A finished RTP stream of the engine, as checklist_stream takes it. */
struct media_stream;
void checklist_media(struct checklist *cl, const struct media_stream *s);
/* All calls and streams are in (end of input): legs held for their
 * streams are counted. Reading results does it too. */
void checklist_settle(struct checklist *cl);
/* Live use (a sensor, a collector): results are read while calls and
 * streams go on coming, so reading does not settle the legs still held;
 * checklist_settle_before judges those whose call ended, or whose streams'
 * last packet came, before before_ns (data time). */
void checklist_set_live(struct checklist *cl);
void checklist_settle_before(struct checklist *cl, uint64_t before_ns);
/* The items of trunk i of c. */
void checklist_trunk(struct checklist *cl, const struct calls *c, size_t i, struct cl_result *out);

const char *checklist_item_id(unsigned item);     /* "transport", ... */
const char *checklist_item_title(unsigned item);
const char *checklist_item_source(unsigned item); /* guide section / parameter */
const char *checklist_status_name(unsigned st);   /* "pass", "fail", ... */

/* The result as an object {"status", "items": [...]}; map turns a tracker
 * call id into the id to show (a store's), or < 0 to leave it out; NULL:
 * the tracker's ids. */
typedef int64_t (*cl_map_fn)(void *ctx, uint64_t tracker_id);
void checklist_json(struct jsonw *w, const struct cl_result *r, cl_map_fn map, void *ctx);
/* Every trunk's results, copied (taken on the thread that feeds the
 * checklist, stored on another); NULL when memory is short. */
struct cl_snapshot;
struct st_alerts;
struct cl_snapshot *checklist_snapshot(struct checklist *cl, const struct calls *c);
void checklist_snapshot_free(struct cl_snapshot *s); /* NULL ok */
/* Into table trunk_checklist in one transaction, call ids turned into the
 * store's (calls not written yet are left out). 0, or -1. */
int checklist_snapshot_store(const struct cl_snapshot *s, struct st_alerts *a);
/* The same into the database at path (its own connection): 0, or -1 with a
 * one-line reason in err; s NULL: out of memory (the snapshot failed). */
int checklist_snapshot_save(const struct cl_snapshot *s, const char *path, char *err,
                            size_t errlen);
/* Text section for every trunk of c. */
void checklist_print(FILE *f, struct checklist *cl, const struct calls *c);

#endif
