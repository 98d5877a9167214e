/* The capture spool writer (see spool.h). The analysis thread appends
 * frames to a block (whole classic-pcap records, nanosecond times) and hands
 * each full, old or boundary-crossing block to the spool thread through a
 * bounded queue: compression (zstd, RFC 8878), the disk and the index never
 * hold up analysis; a block that finds the queue full is dropped and
 * counted. The spool thread compresses a block into one zstd frame, makes
 * room for it (age cap, size cap, free-space floor: oldest files first),
 * appends it to the open file, then indexes it; rotation is by capture time
 * (rotate_s) and by size. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "../common/bv.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "spool.h"
#include "store_int.h"

#define NS_PER_S 1000000000ull
#define PCAP_HDR 24u
#define REC_HDR 16u
#define FILE_BYTES_DEFAULT (64ull * 1024 * 1024)

struct block {
    struct block *next;
    uint8_t *data;             /* PCAP_HDR bytes reserved, then the records */
    size_t len;                /* record bytes after the reserve */
    uint64_t first_ns, last_ns; /* earliest and latest frame time */
    uint64_t slot;             /* rotation slot of the first frame */
    uint32_t frames;
    int linktype;
};

struct flow_slot {
    uint64_t key, first_ns;
};

struct spool {
    struct spool_options o;
    char dir[PATH_MAX];
    uint64_t rotate_ns, file_max;
    uint64_t floor;            /* bytes kept free; 0: none */

    /* analysis thread */
    struct block *cur;
    struct flow_slot *flows;
    _Atomic uint64_t frames, bytes_raw, media_skipped, media_cut, flows_evicted;

    /* hand-over */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct block *head, *tail;
    size_t qn;
    bool closing, started;
    pthread_t thr;
    struct spool_stats st;     /* thread-side counters, under mu */

    /* spool thread */
    sqlite3 *h;
    ZSTD_CCtx *cc;
    uint8_t *cbuf;
    size_t ccap;
    int fd;
    int64_t file_id;
    uint64_t file_bytes, file_slot, seq;
    int file_lt;
    uint64_t total;            /* bytes of every spool file, the open one too */
    uint64_t newest_ns;
};

static void set_error(struct spool *s, const char *fmt, const char *what)
{
    pthread_mutex_lock(&s->mu);
    s->st.errors++;
    /* a long path is cut: the reason is what matters */
    if (snprintf(s->st.last_error, sizeof s->st.last_error, fmt, what) < 0)
        s->st.last_error[0] = 0;
    pthread_mutex_unlock(&s->mu);
}

static void count(struct spool *s, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    *field += n;
    pthread_mutex_unlock(&s->mu);
}

bool spool_rtp_parse(const char *v, enum spool_rtp *rtp, uint32_t *first_s)
{
    *first_s = 0;
    if (!strcmp(v, "all"))
        *rtp = SPOOL_RTP_ALL;
    else if (!strcmp(v, "none"))
        *rtp = SPOOL_RTP_NONE;
    else if (!strcmp(v, "headers"))
        *rtp = SPOOL_RTP_HEADERS;
    else if (!strncmp(v, "first:", 6)) {
        /* digits only, 1..86400 seconds */
        uint32_t n = 0;
        const char *p = v + 6;
        if (!*p || strlen(p) > 5)
            return false;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return false;
            n = n * 10 + (uint32_t)(*p - '0');
        }
        if (n < 1 || n > 86400)
            return false;
        *rtp = SPOOL_RTP_FIRST;
        *first_s = n;
    } else {
        return false;
    }
    return true;
}

/* ---- the index (spool thread, and spool_open before it starts) ---- */

static bool exec1(struct spool *s, const char *sql, int64_t a, int64_t b, const char *t)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(s->h, sql, -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
        if (t)
            sqlite3_bind_text(st, 3, t, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok)
        set_error(s, "index: %s", sqlite3_errmsg(s->h));
    return ok;
}

static bool delete_rows(struct spool *s, int64_t id)
{
    return exec1(s, "DELETE FROM spool_blocks WHERE file_id=?1 AND ?2=?2", id, 0, NULL) &&
           exec1(s, "DELETE FROM spool_files WHERE id=?1 AND ?2=?2", id, 0, NULL);
}

/* Files a dead run left open: cut back to the last indexed block (what
 * follows was written but not indexed, maybe torn), closed, counted. */
static void recover(struct spool *s)
{
    sqlite3_stmt *q = NULL;
    struct { int64_t id, bytes; char path[PATH_MAX]; } f[64];
    for (;;) {
        size_t n = 0;
        if (sqlite3_prepare_v2(s->h, "SELECT id, path, bytes FROM spool_files WHERE state='open'"
                               " LIMIT 64", -1, &q, NULL) != SQLITE_OK)
            return;
        while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
            f[n].id = sqlite3_column_int64(q, 0);
            const unsigned char *p = sqlite3_column_text(q, 1);
            snprintf(f[n].path, sizeof f[n].path, "%s", p ? (const char *)p : "");
            f[n].bytes = sqlite3_column_int64(q, 2);
            n++;
        }
        sqlite3_finalize(q);
        if (!n)
            return;
        for (size_t i = 0; i < n; i++) {
            struct stat sb;
            if (stat(f[i].path, &sb) != 0 || f[i].bytes <= 0) {
                unlink(f[i].path);
                delete_rows(s, f[i].id);
                continue;
            }
            bool torn = sb.st_size != f[i].bytes;
            if (torn && truncate(f[i].path, f[i].bytes) != 0)
                set_error(s, "%s: cannot cut back a torn file", f[i].path);
            if (torn)
                s->st.torn_recovered++;
            exec1(s, "UPDATE spool_files SET state='closed', torn=?2 WHERE id=?1", f[i].id,
                  torn, NULL);
        }
    }
}

/* Free bytes of the spool's file system, and its allocation unit in *unit. */
static uint64_t free_bytes(const struct spool *s, uint64_t *unit)
{
    struct statvfs v;
    *unit = 4096;
    if (statvfs(s->dir, &v) != 0)
        return UINT64_MAX;
    if (v.f_frsize)
        *unit = (uint64_t)v.f_frsize;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

static void close_file(struct spool *s)
{
    if (s->fd < 0)
        return;
    exec1(s, "UPDATE spool_files SET state='closed' WHERE id=?1 AND ?2=?2", s->file_id, 0, NULL);
    close(s->fd);
    s->fd = -1;
    s->file_id = 0;
}

enum why { WHY_NONE, WHY_AGE, WHY_SIZE, WHY_FLOOR };

/* Delete the oldest closed file for why; false when there is none. */
static bool delete_oldest(struct spool *s, enum why why)
{
    sqlite3_stmt *q = NULL;
    int64_t id = 0, bytes = 0;
    char path[PATH_MAX] = "";
    if (sqlite3_prepare_v2(s->h, "SELECT id, path, bytes FROM spool_files WHERE state='closed'"
                           " ORDER BY id LIMIT 1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        id = sqlite3_column_int64(q, 0);
        const unsigned char *p = sqlite3_column_text(q, 1);
        snprintf(path, sizeof path, "%s", p ? (const char *)p : "");
        bytes = sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);
    if (!id)
        return false;
    if (unlink(path) != 0 && errno != ENOENT)
        set_error(s, "%s: cannot delete", path);
    if (!delete_rows(s, id))
        return false; /* the index is failing: no room made, the block waits no longer */
    s->total = s->total > (uint64_t)bytes ? s->total - (uint64_t)bytes : 0;
    pthread_mutex_lock(&s->mu);
    s->st.files_deleted++;
    if (why == WHY_AGE)
        s->st.deleted_age++;
    else if (why == WHY_SIZE)
        s->st.deleted_size++;
    else
        s->st.deleted_floor++;
    pthread_mutex_unlock(&s->mu);
    return true;
}

static int64_t oldest_last_ts(struct spool *s)
{
    sqlite3_stmt *q = NULL;
    int64_t t = -1;
    if (sqlite3_prepare_v2(s->h, "SELECT last_ts FROM spool_files WHERE state='closed'"
                           " ORDER BY id LIMIT 1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return t;
}

/* Room for clen more bytes: the age cap, then the size cap and the floor,
 * oldest files first. False when even deleting every closed file (and the
 * open one, for the floor) does not make room. */
static bool make_room(struct spool *s, uint64_t clen)
{
    for (int guard = 0; guard < 100000; guard++) {
        enum why why = WHY_NONE;
        if (s->o.max_age_s) {
            int64_t t = oldest_last_ts(s);
            if (t >= 0 && s->newest_ns > (uint64_t)t &&
                s->newest_ns - (uint64_t)t > s->o.max_age_s * NS_PER_S)
                why = WHY_AGE;
        }
        if (why == WHY_NONE && s->o.max_bytes && s->total + clen > s->o.max_bytes)
            why = WHY_SIZE;
        if (why == WHY_NONE && s->floor) {
            /* a file grows by whole allocation units, and a new file may
             * start one: a block takes up to clen rounded up, plus a unit */
            uint64_t unit, fr = free_bytes(s, &unit);
            uint64_t take = (clen + unit - 1) / unit * unit + unit;
            if (fr < s->floor + take)
                why = WHY_FLOOR;
        }
        if (why == WHY_NONE)
            return true;
        if (delete_oldest(s, why))
            continue;
        if (why == WHY_AGE) /* nothing closed is left: the rest is new enough */
            return !(s->o.max_bytes && s->total + clen > s->o.max_bytes);
        if (s->fd >= 0 && s->file_bytes) {
            close_file(s); /* the open file goes too, rather than the disk */
            continue;
        }
        return false;
    }
    return false;
}

static bool open_file(struct spool *s, const struct block *b)
{
    char name[PATH_MAX];
    time_t t = (time_t)(b->first_ns / NS_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    for (int tries = 0; tries < 1000; tries++) {
        s->seq++;
        int n = snprintf(name, sizeof name, "%s/spool-%04d%02d%02dT%02d%02d%02d-%ld-%llu.pcap.zst",
                         s->dir, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                         tm.tm_min, tm.tm_sec, (long)getpid(), (unsigned long long)s->seq);
        if (n < 0 || (size_t)n >= sizeof name) {
            set_error(s, "%s: path too long", s->dir);
            return false;
        }
        if (access(name, F_OK) == 0)
            continue;
        /* the row first: a crash before the file exists leaves a row that
         * the next start removes, never a file the index does not know */
        sqlite3_stmt *q = NULL;
        bool ok = sqlite3_prepare_v2(s->h, "INSERT INTO spool_files(path, sensor, linktype)"
                                     " VALUES(?1, ?2, ?3)", -1, &q, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, 2, s->o.sensor ? s->o.sensor : "", -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(q, 3, b->linktype);
            ok = sqlite3_step(q) == SQLITE_DONE;
        }
        sqlite3_finalize(q);
        if (!ok) {
            set_error(s, "index: %s", sqlite3_errmsg(s->h));
            return false;
        }
        int64_t id = sqlite3_last_insert_rowid(s->h);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0) {
            set_error(s, "%s: cannot create", name);
            delete_rows(s, id);
            return false;
        }
        s->fd = fd;
        s->file_id = id;
        s->file_bytes = 0;
        s->file_slot = b->slot;
        s->file_lt = b->linktype;
        count(s, &s->st.files_opened, 1);
        return true;
    }
    return false;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool index_block(struct spool *s, const struct block *b, uint64_t off, size_t clen)
{
    sqlite3_stmt *q = NULL;
    bool ok = sqlite3_exec(s->h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    if (ok)
        ok = sqlite3_prepare_v2(s->h, "INSERT INTO spool_blocks(file_id, off, len, raw_len,"
                                " first_ts, last_ts, frames) VALUES(?1,?2,?3,?4,?5,?6,?7)",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, s->file_id);
        sqlite3_bind_int64(q, 2, (int64_t)off);
        sqlite3_bind_int64(q, 3, (int64_t)clen);
        sqlite3_bind_int64(q, 4, (int64_t)b->len);
        sqlite3_bind_int64(q, 5, (int64_t)b->first_ns);
        sqlite3_bind_int64(q, 6, (int64_t)b->last_ns);
        sqlite3_bind_int64(q, 7, b->frames);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (ok)
        ok = sqlite3_prepare_v2(s->h, "UPDATE spool_files SET"
                                " first_ts=min(coalesce(first_ts,?2),?2),"
                                " last_ts=max(coalesce(last_ts,?3),?3), bytes=bytes+?4,"
                                " raw_bytes=raw_bytes+?5, frames=frames+?6 WHERE id=?1",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, s->file_id);
        sqlite3_bind_int64(q, 2, (int64_t)b->first_ns);
        sqlite3_bind_int64(q, 3, (int64_t)b->last_ns);
        sqlite3_bind_int64(q, 4, (int64_t)clen);
        sqlite3_bind_int64(q, 5, (int64_t)b->len);
        sqlite3_bind_int64(q, 6, b->frames);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (ok)
        ok = sqlite3_exec(s->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        set_error(s, "index: %s", sqlite3_errmsg(s->h));
        sqlite3_exec(s->h, "ROLLBACK", NULL, NULL, NULL);
    }
    return ok;
}

static void drop_block(struct spool *s, const struct block *b, uint64_t *why)
{
    pthread_mutex_lock(&s->mu);
    s->st.blocks_dropped++;
    s->st.frames_dropped += b->frames;
    if (why)
        (*why)++;
    pthread_mutex_unlock(&s->mu);
}

static void write_block(struct spool *s, struct block *b)
{
    if (b->last_ns > s->newest_ns)
        s->newest_ns = b->last_ns;
    if (s->fd >= 0 &&
        (b->slot != s->file_slot || b->linktype != s->file_lt || s->file_bytes >= s->file_max))
        close_file(s);
    bool first;
    size_t clen;
    for (int again = 0;; again++) {
        first = s->fd < 0;
        if (first) { /* the file header, in the first block's reserve */
            uint8_t *h = b->data;
            le32(h, 0xa1b23c4du);
            h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
            le32(h + 8, 0);
            le32(h + 12, 0);
            le32(h + 16, TS_SPOOL_SNAP_MAX);
            le32(h + 20, (uint32_t)b->linktype);
        }
        const uint8_t *src = first ? b->data : b->data + PCAP_HDR;
        size_t slen = b->len + (first ? PCAP_HDR : 0);
        clen = ZSTD_compressCCtx(s->cc, s->cbuf, s->ccap, src, slen, s->o.level);
        if (ZSTD_isError(clen)) {
            set_error(s, "zstd: %s", ZSTD_getErrorName(clen));
            drop_block(s, b, NULL);
            return;
        }
        if (!make_room(s, clen)) {
            drop_block(s, b, &s->st.blocks_floor);
            return;
        }
        /* make_room closed the open file: this block starts a new one */
        if (first || s->fd >= 0 || again)
            break;
    }
    if (!first && s->fd < 0) {
        drop_block(s, b, &s->st.blocks_floor);
        return;
    }
    if (s->fd < 0 && !open_file(s, b)) {
        drop_block(s, b, NULL);
        return;
    }
    uint64_t off = s->file_bytes;
    if (!write_all(s->fd, s->cbuf, clen) || !index_block(s, b, off, clen)) {
        /* keep the file as the index says: what was written goes again */
        if (ftruncate(s->fd, (off_t)off) != 0 || lseek(s->fd, (off_t)off, SEEK_SET) < 0)
            set_error(s, "%s", "cannot cut back the spool file");
        set_error(s, "spool write: %s", strerror(errno));
        drop_block(s, b, NULL);
        if (!off)
            close_file(s);
        return;
    }
    s->file_bytes += clen;
    s->total += clen;
    pthread_mutex_lock(&s->mu);
    s->st.blocks_written++;
    s->st.bytes_written += clen;
    s->st.spool_bytes = s->total;
    pthread_mutex_unlock(&s->mu);
}

static void *thread_main(void *arg)
{
    struct spool *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->closing)
            pthread_cond_wait(&s->cv, &s->mu);
        struct block *b = s->head;
        if (b) {
            s->head = b->next;
            if (!s->head)
                s->tail = NULL;
            s->qn--;
        }
        pthread_mutex_unlock(&s->mu);
        if (!b)
            break; /* closing and drained */
        write_block(s, b);
        free(b->data);
        free(b);
    }
    close_file(s);
    pthread_mutex_lock(&s->mu);
    s->st.spool_bytes = s->total;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the analysis thread ---- */

static void hand_over(struct spool *s)
{
    struct block *b = s->cur;
    s->cur = NULL;
    if (!b)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->qn >= TS_SPOOL_QUEUE_BLOCKS) {
        s->st.blocks_dropped++;
        s->st.frames_dropped += b->frames;
        pthread_mutex_unlock(&s->mu);
        free(b->data);
        free(b);
        return;
    }
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->qn++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* SPOOL_RTP_FIRST: true while the flow is within its first seconds. */
static bool flow_young(struct spool *s, uint64_t flow, uint64_t ts)
{
    struct flow_slot *f = &s->flows[flow & (TS_SPOOL_FLOWS - 1)];
    if (f->key != flow || !f->first_ns) {
        if (f->first_ns)
            atomic_fetch_add_explicit(&s->flows_evicted, 1, memory_order_relaxed);
        f->key = flow;
        f->first_ns = ts;
    }
    return ts < f->first_ns || ts - f->first_ns < (uint64_t)s->o.rtp_first_s * NS_PER_S;
}

/* The bytes of an RTP packet up to the end of its header (CSRCs included),
 * counted from the start of the frame; 0 for RTCP or anything else. */
static uint32_t rtp_header_end(const struct ts_frame *f, uint32_t off)
{
    struct bv b = bv_make(f->data, f->caplen);
    uint8_t v0, v1;
    if (!off || !bv_skip(&b, off) || !bv_u8(&b, &v0) || !bv_u8(&b, &v1) || (v0 >> 6) != 2)
        return 0;
    if (v1 >= 192 && v1 <= 223) /* RTCP packet types 192..223 (RFC 5761 section 4) */
        return 0;
    return off + 12u + 4u * (v0 & 0x0fu);
}

void spool_frame(struct spool *s, const struct ts_frame *f, bool media, uint32_t payload_off,
                 uint64_t flow)
{
    if (!s || f->caplen > TS_SPOOL_SNAP_MAX)
        return;
    uint32_t caplen = f->caplen;
    if (media) {
        if (s->o.rtp == SPOOL_RTP_NONE ||
            (s->o.rtp == SPOOL_RTP_FIRST && !flow_young(s, flow, f->ts_ns))) {
            atomic_fetch_add_explicit(&s->media_skipped, 1, memory_order_relaxed);
            return;
        }
        if (s->o.rtp == SPOOL_RTP_HEADERS) {
            uint32_t end = rtp_header_end(f, payload_off);
            if (end && end < caplen) {
                caplen = end;
                atomic_fetch_add_explicit(&s->media_cut, 1, memory_order_relaxed);
            }
        }
    }
    size_t need = REC_HDR + caplen;
    uint64_t slot = f->ts_ns / s->rotate_ns;
    struct block *b = s->cur;
    if (b) {
        uint64_t lo = f->ts_ns < b->first_ns ? f->ts_ns : b->first_ns;
        uint64_t hi = f->ts_ns > b->last_ns ? f->ts_ns : b->last_ns;
        if (b->len + need > TS_SPOOL_BLOCK_BYTES || b->linktype != f->linktype ||
            slot != b->slot || hi - lo >= TS_SPOOL_BLOCK_SPAN_NS)
            hand_over(s);
    }
    if (!s->cur) {
        b = calloc(1, sizeof *b);
        uint8_t *d = b ? malloc(PCAP_HDR + TS_SPOOL_BLOCK_BYTES) : NULL;
        if (!d) {
            free(b);
            count(s, &s->st.frames_dropped, 1);
            return;
        }
        b->data = d;
        b->first_ns = b->last_ns = f->ts_ns;
        b->slot = slot;
        b->linktype = f->linktype;
        s->cur = b;
    }
    b = s->cur;
    uint8_t *r = b->data + PCAP_HDR + b->len;
    le32(r, (uint32_t)(f->ts_ns / NS_PER_S));
    le32(r + 4, (uint32_t)(f->ts_ns % NS_PER_S));
    le32(r + 8, caplen);
    le32(r + 12, f->wirelen > caplen ? f->wirelen : caplen);
    if (caplen)
        memcpy(r + REC_HDR, f->data, caplen);
    b->len += need;
    b->frames++;
    if (f->ts_ns < b->first_ns)
        b->first_ns = f->ts_ns;
    if (f->ts_ns > b->last_ns)
        b->last_ns = f->ts_ns;
    atomic_fetch_add_explicit(&s->frames, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->bytes_raw, need, memory_order_relaxed);
}

void spool_tick(struct spool *s, uint64_t now_ns)
{
    if (s && s->cur && now_ns > s->cur->first_ns &&
        now_ns - s->cur->first_ns >= TS_SPOOL_BLOCK_SPAN_NS)
        hand_over(s);
}

/* ---- life cycle ---- */

struct spool *spool_open(const struct spool_options *o, char *err, size_t errlen)
{
    struct spool *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->fd = -1;
    s->rotate_ns = (o->rotate_s ? o->rotate_s : 60) * NS_PER_S;
    s->file_max = o->file_bytes ? o->file_bytes : FILE_BYTES_DEFAULT;
    /* several files under the cap, so that deleting the oldest frees room */
    if (o->max_bytes && s->file_max > o->max_bytes / 4)
        s->file_max = o->max_bytes / 4 ? o->max_bytes / 4 : 1;
    if (!s->o.level)
        s->o.level = 3;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (mkdir(o->dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool %s: cannot create: %s", o->dir, strerror(errno));
        goto fail;
    }
    if (!realpath(o->dir, s->dir)) {
        snprintf(err, errlen, "spool %s: %s", o->dir, strerror(errno));
        goto fail;
    }
    struct statvfs v;
    if (statvfs(s->dir, &v) != 0) {
        snprintf(err, errlen, "spool %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    if (o->min_free_bytes < 0) {
        uint64_t tenth = (uint64_t)v.f_blocks * (uint64_t)v.f_frsize / 10;
        s->floor = tenth < TS_SPOOL_FLOOR_MAX_BYTES ? tenth : TS_SPOOL_FLOOR_MAX_BYTES;
    } else {
        s->floor = (uint64_t)o->min_free_bytes;
    }
    if (o->rtp == SPOOL_RTP_FIRST) {
        s->flows = calloc(TS_SPOOL_FLOWS, sizeof *s->flows);
        if (!s->flows) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (st_open_handle(o->db_path, false, &s->h, err, errlen) != ST_OK)
        goto fail;
    s->cc = ZSTD_createCCtx();
    s->ccap = ZSTD_compressBound(PCAP_HDR + TS_SPOOL_BLOCK_BYTES);
    s->cbuf = malloc(s->ccap);
    if (!s->cc || !s->cbuf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    recover(s);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->h, "SELECT coalesce(sum(bytes),0), coalesce(max(last_ts),0)"
                           " FROM spool_files", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        s->total = (uint64_t)sqlite3_column_int64(q, 0);
        s->newest_ns = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    s->st.spool_bytes = s->total;
    if (s->st.torn_recovered)
        log_msg(LOG_WARN, "spool: %llu file(s) a stopped run left open were cut back to "
                          "their last indexed block",
                (unsigned long long)s->st.torn_recovered);
    if (pthread_create(&s->thr, NULL, thread_main, s) != 0) {
        snprintf(err, errlen, "cannot start the spool thread");
        goto fail;
    }
    s->started = true;
    return s;
fail:
    spool_close(s);
    return NULL;
}

void spool_stats_get(struct spool *s, struct spool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
    out->frames = atomic_load(&s->frames);
    out->bytes_raw = atomic_load(&s->bytes_raw);
    out->media_skipped = atomic_load(&s->media_skipped);
    out->media_cut = atomic_load(&s->media_cut);
    out->flows_evicted = atomic_load(&s->flows_evicted);
}

void spool_close_stats(struct spool *s, struct spool_stats *out)
{
    if (!s) {
        if (out)
            memset(out, 0, sizeof *out);
        return;
    }
    if (s->started) {
        hand_over(s);
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thr, NULL);
    }
    if (out)
        spool_stats_get(s, out);
    if (s->cur) {
        free(s->cur->data);
        free(s->cur);
    }
    while (s->head) {
        struct block *b = s->head;
        s->head = b->next;
        free(b->data);
        free(b);
    }
    if (s->fd >= 0)
        close(s->fd);
    sqlite3_close(s->h);
    ZSTD_freeCCtx(s->cc);
    free(s->cbuf);
    free(s->flows);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void spool_close(struct spool *s) { spool_close_stats(s, NULL); }
