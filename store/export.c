/* Per-call frames and pcap export: the frames of every SIP message of every
 * leg of a call and of its RTP/RTCP (SDP endpoints, RFC 3550 section 11:
 * RTCP on port+1). An analysed capture's call is re-read from the original
 * files (SIP located by capture file, per-file frame number and record
 * offset); a live sensor's call from its spool (spool_export.c). */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../capture/decode.h"
#include "../capture/pcapin.h"
#include "../common/grow.h"
#include "../common/limits.h"

/* The pcap writer, one visitor of the frames. */
struct pcap_out {
    const char *path;
    FILE *out;      /* opened with the first frame: a failed export creates nothing */
    bool nofile;
    int linktype; /* -1 until the first frame */
    bool werr;
    struct st_export_stats *st;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct fref *x = a, *y = b;
    if (x->capture_id != y->capture_id)
        return x->capture_id < y->capture_id ? -1 : 1;
    return (x->frame > y->frame) - (x->frame < y->frame);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Classic pcap with nanosecond timestamps (magic a1b23c4d), one link type:
 * the first frame's. */
static void out_header(struct pcap_out *x, int linktype)
{
    uint8_t h[24];
    x->linktype = linktype;
    if (!x->out && !x->nofile) {
        x->out = strcmp(x->path, "-") == 0 ? stdout : fopen(x->path, "wb"); /* -o - */
        x->nofile = !x->out;
    }
    if (!x->out) {
        x->werr = true;
        return;
    }
    le32(h, 0xa1b23c4du);
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
    le32(h + 8, 0);
    le32(h + 12, 0);
    le32(h + 16, EXPORT_SNAPLEN);
    le32(h + 20, (uint32_t)linktype);
    if (fwrite(h, 1, 24, x->out) != 24)
        x->werr = true;
}

static void out_frame(void *ctx, const struct ts_frame *f, bool sip)
{
    struct pcap_out *x = ctx;
    (void)sip;
    uint8_t h[16];
    if (x->linktype < 0)
        out_header(x, f->linktype);
    if (f->linktype != x->linktype) {
        x->st->skipped_linktype++;
        return;
    }
    le32(h, (uint32_t)(f->ts_ns / NS_PER_S));
    le32(h + 4, (uint32_t)(f->ts_ns % NS_PER_S));
    le32(h + 8, f->caplen);
    le32(h + 12, f->wirelen);
    if (!x->out) {
        x->werr = true;
        return;
    }
    if (fwrite(h, 1, 16, x->out) != 16 || fwrite(f->data, 1, f->caplen, x->out) != f->caplen)
        x->werr = true;
}

/* The time, ports of every SIP message of the call's legs: how a spool's
 * frames are recognised (times are the frames' own, to the nanosecond). */
static int load_keys(sqlite3 *h, int64_t call_id, struct exporter *x, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT DISTINCT m.ts, m.sport, m.dport FROM legs l"
                           " JOIN sip_links k ON k.leg_id=l.id JOIN sip_messages m"
                           " ON m.id=k.msg_id WHERE l.call_ref=?1",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
        return ST_ERR_SQL;
    }
    sqlite3_bind_int64(s, 1, call_id);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (x->nkeys == x->kcap) {
            struct sip_key *n = ts_grow(x->keys, &x->kcap, sizeof *n, 64, 0);
            if (!n) {
                sqlite3_finalize(s);
                snprintf(err, errlen, "out of memory");
                return ST_ERR_NOMEM;
            }
            x->keys = n;
        }
        struct sip_key *k = &x->keys[x->nkeys++];
        k->ts = (uint64_t)sqlite3_column_int64(s, 0);
        k->sport = (uint16_t)sqlite3_column_int(s, 1);
        k->dport = (uint16_t)sqlite3_column_int(s, 2);
    }
    sqlite3_finalize(s);
    if (r != SQLITE_DONE) {
        snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
        return ST_ERR_SQL;
    }
    if (x->nkeys)
        qsort(x->keys, x->nkeys, sizeof *x->keys, export_key_cmp);
    return ST_OK;
}

static void add_ep(struct exporter *x, const char *addr, int64_t port)
{
    struct ts_addr a;
    if (port <= 0 || port > 65534 || !st_addr_parse(addr, &a))
        return;
    for (int k = 0; k < 2 && x->neps < sizeof x->eps / sizeof x->eps[0]; k++) {
        if (export_ep_match(x, &a, (uint16_t)(port + k)))
            continue;
        x->eps[x->neps].addr = a;
        x->eps[x->neps].port = (uint16_t)(port + k);
        x->neps++;
    }
}

static bool add_cap(struct exporter *x, int64_t id)
{
    for (size_t i = 0; i < x->ncaps; i++)
        if (x->caps[i].id == id)
            return true;
    if (x->ncaps >= TS_MAX_INPUT_FILES)
        return false;
    x->caps[x->ncaps++].id = id;
    return true;
}

static bool is_ref(const struct exporter *x, int64_t cap, int64_t frame, int64_t off, bool *bad)
{
    struct fref key = { cap, frame, 0 };
    const struct fref *r = bsearch(&key, x->refs, x->nrefs, sizeof key, ref_cmp);
    if (!r)
        return false;
    if (r->off && off && r->off != off)
        *bad = true;
    return true;
}

/* Everything the export needs from the database; ST_OK or an error. */
static int load(sqlite3 *h, int64_t call_id, struct exporter *x, uint64_t *lo, uint64_t *hi,
                char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = ST_ERR_SQL;
    int64_t start = 0, end = 0, cap0 = 0;
    bool open_end = false;

    if (sqlite3_prepare_v2(h, "SELECT start, end, capture_id FROM calls WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(s, 1, call_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, errlen, "no call with id %lld", (long long)call_id);
        sqlite3_finalize(s);
        return ST_ERR_NOT_FOUND;
    }
    start = sqlite3_column_int64(s, 0);
    open_end = sqlite3_column_type(s, 1) == SQLITE_NULL;
    end = open_end ? start : sqlite3_column_int64(s, 1);
    cap0 = sqlite3_column_int64(s, 2);
    sqlite3_finalize(s);
    s = NULL;
    *lo = (uint64_t)start > MEDIA_BEFORE_NS ? (uint64_t)start - MEDIA_BEFORE_NS : 0;
    *hi = open_end ? UINT64_MAX : (uint64_t)end + MEDIA_AFTER_NS;
    x->start = start;
    if (cap0)
        add_cap(x, cap0);

    if (sqlite3_prepare_v2(h,
                           "SELECT caller_media_addr, caller_media_port, callee_media_addr,"
                           " callee_media_port FROM legs WHERE call_ref=?",
                           -1, &s, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(s, 1, call_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        x->st->legs++;
        add_ep(x, st_col_text(s, 0), sqlite3_column_int64(s, 1));
        add_ep(x, st_col_text(s, 2), sqlite3_column_int64(s, 3));
    }
    sqlite3_finalize(s);
    s = NULL;

    if (sqlite3_prepare_v2(h,
                           "SELECT DISTINCT m.capture_id, m.frame, m.file_off FROM legs l"
                           " JOIN sip_links k ON k.leg_id=l.id JOIN sip_messages m"
                           " ON m.id=k.msg_id WHERE l.call_ref=?1"
                           " AND m.capture_id IS NOT NULL AND m.frame IS NOT NULL",
                           -1, &s, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(s, 1, call_id);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (x->nrefs == x->cap) {
            struct fref *n = ts_grow(x->refs, &x->cap, sizeof *n, 64, 0);
            if (!n) {
                snprintf(err, errlen, "out of memory");
                sqlite3_finalize(s);
                return ST_ERR_NOMEM;
            }
            x->refs = n;
        }
        struct fref *f = &x->refs[x->nrefs++];
        f->capture_id = sqlite3_column_int64(s, 0);
        f->frame = sqlite3_column_int64(s, 1);
        f->off = sqlite3_column_int64(s, 2);
        if (!add_cap(x, f->capture_id)) {
            snprintf(err, errlen, "call spans too many capture files");
            sqlite3_finalize(s);
            return ST_ERR_IO;
        }
    }
    sqlite3_finalize(s);
    s = NULL;
    if (r != SQLITE_DONE)
        goto sqlerr;
    if (x->nrefs)
        qsort(x->refs, x->nrefs, sizeof *x->refs, ref_cmp);

    /* The capture files, unchanged since they were analysed. */
    if (sqlite3_prepare_v2(h, "SELECT path, size, mtime, kind FROM captures WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        goto sqlerr;
    for (size_t i = 0; i < x->ncaps; i++) {
        sqlite3_bind_int64(s, 1, x->caps[i].id);
        if (sqlite3_step(s) != SQLITE_ROW) {
            snprintf(err, errlen, "capture %lld is not in the database",
                     (long long)x->caps[i].id);
            rc = ST_ERR_NOT_FOUND;
            goto out;
        }
        const char *path = st_col_text(s, 0);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            snprintf(err, errlen, "%s: capture file is gone", path);
            rc = ST_ERR_IO;
            goto out;
        }
        int64_t mt = (int64_t)sb.st_mtim.tv_sec * (int64_t)NS_PER_S + sb.st_mtim.tv_nsec;
        if (sqlite3_column_type(s, 1) != SQLITE_NULL &&
            (sqlite3_column_int64(s, 1) != (int64_t)sb.st_size || sqlite3_column_int64(s, 2) != mt)) {
            snprintf(err, errlen, "%s: capture file changed since it was analysed", path);
            rc = ST_ERR_CHANGED;
            goto out;
        }
        x->caps[i].path = strdup(path);
        if (!x->caps[i].path) {
            snprintf(err, errlen, "out of memory");
            rc = ST_ERR_NOMEM;
            goto out;
        }
        sqlite3_reset(s);
    }
    rc = ST_OK;
    goto out;
sqlerr:
    snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
    rc = ST_ERR_SQL;
out:
    sqlite3_finalize(s);
    return rc;
}

/* The offline path: the analysed capture files, read again in order. */
static int from_captures(struct exporter *x, char *err, size_t errlen)
{
    struct pcapin *in = pcapin_new();
    bool bad_off = false;
    int rc = ST_OK;
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return ST_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->ncaps; i++) {
        if (pcapin_add(in, x->caps[i].path, err, errlen) != 0) {
            rc = ST_ERR_IO;
            goto out;
        }
    }
    for (;;) {
        struct ts_frame f;
        int r = pcapin_next(in, &f, err, errlen);
        if (r == 0)
            break;
        if (r < 0) {
            rc = ST_ERR_IO;
            goto out;
        }
        if (f.file_idx >= x->ncaps)
            continue;
        struct capfile *cf = &x->caps[f.file_idx];
        cf->frames++;
        if (is_ref(x, cf->id, (int64_t)cf->frames, (int64_t)f.file_off, &bad_off)) {
            x->st->sip_frames++;
            if (x->sink)
                x->sink(x->sink_ctx, &f, true);
            continue;
        }
        export_decode(x, &f);
    }
    if (bad_off) {
        snprintf(err, errlen, "a capture file no longer matches the analysed one");
        rc = ST_ERR_CHANGED;
    }
out:
    pcapin_free(in);
    return rc;
}

/* The call's frames to fn, its media datagrams to media (either NULL). */
static int export_run(const char *db_path, int64_t call_id, st_frame_fn fn, st_media_fn media,
                      void *ctx, struct st_export_info *info, struct st_export_stats *st, char *err,
                      size_t errlen)
{
    struct st_export_stats dummy;
    struct exporter x;
    sqlite3 *h = NULL;
    struct ts_stats dst;
    int rc;

    memset(&x, 0, sizeof x);
    memset(&dst, 0, sizeof dst);
    x.st = st ? st : &dummy;
    memset(x.st, 0, sizeof *x.st);
    x.sink = fn;
    x.media = media;
    x.sink_ctx = ctx;

    rc = st_open_handle(db_path, false, &h, err, errlen);
    if (rc != ST_OK)
        goto out;
    rc = load(h, call_id, &x, &x.lo, &x.hi, err, errlen);
    if (rc != ST_OK)
        goto out;
    if (info) {
        info->lo_ns = x.lo;
        info->hi_ns = x.hi;
    }
    x.dec = export_decoder_new(&x, &dst);
    if (!x.dec) {
        snprintf(err, errlen, "out of memory");
        rc = ST_ERR_NOMEM;
        goto out;
    }
    if (x.ncaps) { /* an analysed capture */
        sqlite3_close(h);
        h = NULL;
        rc = from_captures(&x, err, errlen);
    } else { /* a live sensor's call: its spool */
        x.st->spool = true;
        rc = load_keys(h, call_id, &x, err, errlen);
        if (rc == ST_OK)
            rc = spool_export_call(h, &x, err, errlen);
    }
out:
    decoder_free(x.dec);
    sqlite3_close(h);
    for (size_t i = 0; i < x.ncaps; i++)
        free(x.caps[i].path);
    free(x.refs);
    free(x.keys);
    return rc;
}

int st_export_frames(const char *db_path, int64_t call_id, st_frame_fn fn, void *ctx,
                     struct st_export_info *info, struct st_export_stats *st, char *err,
                     size_t errlen)
{
    return export_run(db_path, call_id, fn, NULL, ctx, info, st, err, errlen);
}

int st_export_media(const char *db_path, int64_t call_id, st_media_fn fn, void *ctx, char *err,
                    size_t errlen)
{
    return export_run(db_path, call_id, NULL, fn, ctx, NULL, NULL, err, errlen);
}

int st_export_call(const char *db_path, int64_t call_id, const char *out_path,
                   struct st_export_stats *st, char *err, size_t errlen)
{
    struct st_export_stats dummy;
    struct pcap_out po = { .linktype = -1, .st = st ? st : &dummy, .path = out_path };
    int rc = st_export_frames(db_path, call_id, out_frame, &po, NULL, po.st, err, errlen);
    if (rc == ST_OK && po.linktype < 0) /* nothing found: still a valid, empty pcap */
        out_header(&po, 1);
    if (po.out && (po.out == stdout ? fflush(po.out) : fclose(po.out)) != 0)
        po.werr = true;
    if (rc == ST_OK && po.werr) {
        snprintf(err, errlen, po.nofile ? "%s: cannot create" : "%s: write error", out_path);
        rc = ST_ERR_IO;
    }
    return rc;
}
