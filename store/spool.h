/* The capture spool of a running sensor (capture, collect): what it
 * captures, written to rotating pcap files compressed with zstd, indexed in
 * the store by time so that one call's frames are read back without
 * scanning the spool. SIP and every other frame always; RTP/RTCP by policy.
 *
 * On disk a spool file is a classic pcap (nanosecond magic a1b23c4d) cut
 * into blocks of whole records, each block one zstd frame (RFC 8878
 * section 3.1.1): `zstd -dc FILE | tshark -r -` reads it. The store holds
 * one row per file (spool_files) and per block (spool_blocks: offset,
 * length, capture time range). A block is indexed only after it was
 * written, so `kill -9` loses at most the blocks not yet written; a file
 * left open by a dead sensor is cut back to its last indexed block at the
 * next start (counted as torn). */
#ifndef TS_SPOOL_H
#define TS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"

/* What of RTP and RTCP is kept (SIP and other frames always are). */
enum spool_rtp {
    SPOOL_RTP_ALL = 0,  /* every media frame */
    SPOOL_RTP_NONE,     /* none */
    SPOOL_RTP_HEADERS,  /* RTP cut after its header (12 bytes + CSRCs); RTCP whole */
    SPOOL_RTP_FIRST,    /* the first rtp_first_s seconds of each flow */
};

struct spool_options {
    const char *dir;          /* created if missing */
    const char *db_path;      /* the store the index goes to (migrated by the writer) */
    const char *sensor;       /* stored with each file; NULL: "" */
    uint32_t rotate_s;        /* a new file at each multiple of this capture time; 0: 60 */
    uint64_t file_bytes;      /* or when a file has this many compressed bytes; 0: 64 MiB */
    uint64_t max_bytes;       /* size cap of all spool files; 0: none */
    uint64_t max_age_s;       /* files older than this (capture time) go; 0: none */
    int64_t min_free_bytes;   /* keep this much free on the file system; -1: the default
                               * (10 % of it, at most 1 GiB); 0: none */
    enum spool_rtp rtp;
    uint32_t rtp_first_s;     /* SPOOL_RTP_FIRST: seconds kept per flow */
    int level;                /* zstd level; 0: 3 */
};

struct spool_stats {
    uint64_t frames, bytes_raw;   /* frames and pcap bytes accepted into blocks */
    uint64_t media_skipped;       /* media frames the policy left out */
    uint64_t media_cut;           /* media frames cut to their headers */
    uint64_t flows_evicted;       /* SPOOL_RTP_FIRST flows forgotten early */
    uint64_t blocks_written, bytes_written; /* compressed, on disk */
    uint64_t blocks_dropped;      /* queue full, or disk errors */
    uint64_t frames_dropped;      /* frames in those blocks */
    uint64_t blocks_floor;        /* blocks not written: the free-space floor or the size cap */
    uint64_t files_opened, files_deleted;
    uint64_t deleted_size, deleted_age, deleted_floor; /* files deleted, by reason */
    uint64_t torn_recovered;      /* files of a dead run cut back at start */
    uint64_t errors;              /* disk or index errors */
    uint64_t spool_bytes;         /* bytes of all spool files now */
    char last_error[128];
};

struct spool;

/* Open the spool: creates dir, recovers files a dead run left open, starts
 * the writer thread. NULL with a one-line reason in err. */
struct spool *spool_open(const struct spool_options *o, char *err, size_t errlen);
/* A frame, on the analysis thread after the engine saw it. media: the
 * engine took its UDP payload as RTP/RTCP; payload_off: where that payload
 * starts in f->data (0: unknown); flow: a hash of its addresses and ports.
 * Never waits on the disk. */
void spool_frame(struct spool *s, const struct ts_frame *f, bool media, uint32_t payload_off,
                 uint64_t flow);
/* A quiet link: hand over the open block once it is older than a block span
 * (now_ns: capture time), so that the index follows within seconds. */
void spool_tick(struct spool *s, uint64_t now_ns);
/* Write what is buffered, close the open file, stop the thread. NULL ok. */
void spool_close(struct spool *s);
/* spool_close, with the final counters into out (NULL: none). */
void spool_close_stats(struct spool *s, struct spool_stats *out);
/* Counters so far (thread-safe). */
void spool_stats_get(struct spool *s, struct spool_stats *out);
/* "all", "none", "headers", "first:N" -> policy; false when not one of those. */
bool spool_rtp_parse(const char *v, enum spool_rtp *rtp, uint32_t *first_s);

/* ---- reading back (spool_read.c) ---- */

struct spool_read_stats {
    uint64_t blocks, frames;
    uint64_t torn;       /* blocks cut short or not decompressible (a dead run's last file) */
    uint64_t malformed;  /* records that do not fit their block */
};

typedef void (*spool_frame_fn)(void *ctx, const struct ts_frame *f);

/* One block as stored at file offset off: a zstd frame of whole pcap
 * records (off 0: after the file header, which is checked). fn sees every
 * record (linktype from the index). The bytes may be anything: a short or
 * corrupt block counts as torn, a record that does not fit as malformed. */
void spool_read_block(const uint8_t *buf, size_t len, bool first, int linktype,
                      spool_frame_fn fn, void *ctx, struct spool_read_stats *st);
/* A whole spool file's bytes, block after block, as a reader without the
 * index sees it; the linktype comes from the file header. Returns the byte
 * offset where the last whole block ends (a torn tail starts there). */
size_t spool_read_all(const uint8_t *buf, size_t len, spool_frame_fn fn, void *ctx,
                      struct spool_read_stats *st);

#endif
