/* A live call's frames from the spool: the index (spool_blocks) names the
 * blocks whose capture time meets the call's (from a second before its first
 * INVITE to 5 s after its end, and every one of its SIP messages), each is
 * read at its offset and decompressed alone; SIP frames are recognised by
 * the time and ports the store kept for each of the call's messages, media
 * by its SDP endpoints as for an analysed capture. A block that is torn or
 * unreadable is skipped and counted. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_int.h"
#include "spool.h"


static void on_frame(void *ctx, const struct ts_frame *f) { export_decode(ctx, f); }

static int64_t clamp_i64(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (int64_t)v; }

/* Whether the spool covers the call at all: GONE with a reason if not. */
static int coverage(sqlite3 *h, const struct exporter *x, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int64_t n = 0, oldest = 0;
    if (sqlite3_prepare_v2(h, "SELECT count(*), min(first_ts) FROM spool_files", -1, &s, NULL) !=
            SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
        sqlite3_finalize(s);
        return ST_ERR_SQL;
    }
    n = sqlite3_column_int64(s, 0);
    oldest = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    if (!n) {
        snprintf(err, errlen, "no packets were kept for this call (the sensor had no --spool, "
                              "or its spool was emptied)");
        return ST_ERR_GONE;
    }
    if (oldest > x->start) {
        snprintf(err, errlen, "the call's packets aged out of the spool (its oldest packet is "
                              "%lld s after the call's start)",
                 (long long)((oldest - x->start) / (int64_t)NS_PER_S));
        return ST_ERR_GONE;
    }
    return ST_OK;
}

int spool_export_call(sqlite3 *h, struct exporter *x, char *err, size_t errlen)
{
    int rc = coverage(h, x, err, errlen);
    if (rc != ST_OK)
        return rc;
    uint64_t lo = x->lo, hi = x->hi;
    if (x->nkeys && x->keys[0].ts < lo)
        lo = x->keys[0].ts;
    if (x->nkeys && x->keys[x->nkeys - 1].ts > hi)
        hi = x->keys[x->nkeys - 1].ts;
    x->lo = lo; /* the media window too: every frame of the call's time */

    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT f.path, f.linktype, b.off, b.len FROM spool_blocks b"
                           " JOIN spool_files f ON f.id=b.file_id"
                           " WHERE b.first_ts >= ?1 AND b.first_ts <= ?2 AND b.last_ts >= ?3"
                           " ORDER BY b.first_ts, b.file_id, b.off LIMIT ?4",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
        return ST_ERR_SQL;
    }
    sqlite3_bind_int64(s, 1, clamp_i64(lo > TS_SPOOL_BLOCK_SPAN_NS ? lo - TS_SPOOL_BLOCK_SPAN_NS
                                                                    : 0));
    sqlite3_bind_int64(s, 2, clamp_i64(hi));
    sqlite3_bind_int64(s, 3, clamp_i64(lo));
    sqlite3_bind_int64(s, 4, TS_SPOOL_EXPORT_BLOCKS);
    uint8_t *buf = malloc(TS_SPOOL_BLOCK_LEN_MAX);
    char open_path[4096] = "";
    int fd = -1;
    struct spool_read_stats rs;
    memset(&rs, 0, sizeof rs);
    int r = SQLITE_DONE;
    rc = ST_OK;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        rc = ST_ERR_NOMEM;
    }
    while (rc == ST_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_text(s, 0);
        const char *path = p ? (const char *)p : "";
        int linktype = sqlite3_column_int(s, 1);
        int64_t off = sqlite3_column_int64(s, 2), len = sqlite3_column_int64(s, 3);
        if (strcmp(path, open_path) != 0) {
            if (fd >= 0)
                close(fd);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            snprintf(open_path, sizeof open_path, "%s", path);
        }
        if (fd < 0 || off < 0 || len <= 0 || len > (int64_t)TS_SPOOL_BLOCK_LEN_MAX ||
            pread(fd, buf, (size_t)len, (off_t)off) != (ssize_t)len) {
            rs.torn++; /* deleted meanwhile, or cut short */
            continue;
        }
        spool_read_block(buf, (size_t)len, off == 0, linktype, on_frame, x, &rs);
    }
    if (rc == ST_OK && r != SQLITE_DONE) {
        snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
        rc = ST_ERR_SQL;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    sqlite3_finalize(s);
    x->st->spool_blocks = rs.blocks;
    x->st->spool_torn = rs.torn;
    return rc;
}
