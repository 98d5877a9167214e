/* Reading spool blocks back: one zstd frame (RFC 8878 section 3.1.1) holding
 * whole classic-pcap records with nanosecond times. The bytes come from
 * disk and may be torn (a sensor killed mid-write) or damaged: every size
 * is checked before it is used, a block never decompresses to more than a
 * block's worth, and nothing here is fatal. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "../common/bv.h"
#include "../common/limits.h"
#include "spool.h"

#define PCAP_HDR 24u
#define REC_HDR 16u
/* the largest a block decompresses to: the file header and the records */
#define BLOCK_CAP (TS_SPOOL_BLOCK_BYTES + PCAP_HDR + REC_HDR + TS_SPOOL_SNAP_MAX)

/* The file header: nanosecond pcap, little-endian (what spool.c writes). */
static bool file_header(struct bv *b, int *linktype)
{
    uint32_t magic, snap, lt;
    uint16_t maj, min;
    if (!bv_le32(b, &magic) || magic != 0xa1b23c4du || !bv_le16(b, &maj) || !bv_le16(b, &min) ||
        maj != 2 || !bv_skip(b, 8) || !bv_le32(b, &snap) || !bv_le32(b, &lt))
        return false;
    (void)min, (void)snap;
    *linktype = (int)(lt & 0xffffu);
    return true;
}

static void records(struct bv b, int linktype, spool_frame_fn fn, void *ctx,
                    struct spool_read_stats *st)
{
    while (b.len) {
        uint32_t sec, nsec, caplen, wirelen;
        struct bv data;
        if (!bv_le32(&b, &sec) || !bv_le32(&b, &nsec) || !bv_le32(&b, &caplen) ||
            !bv_le32(&b, &wirelen) || nsec >= 1000000000u || caplen > TS_SPOOL_SNAP_MAX ||
            wirelen < caplen || !bv_take(&b, caplen, &data)) {
            st->malformed++;
            return; /* the rest of the block cannot be framed */
        }
        struct ts_frame f;
        memset(&f, 0, sizeof f);
        f.ts_ns = (uint64_t)sec * 1000000000ull + nsec;
        f.linktype = linktype;
        f.caplen = caplen;
        f.wirelen = wirelen;
        f.data = data.p;
        st->frames++;
        if (fn)
            fn(ctx, &f);
    }
}

/* Decompress one frame at the start of src into out (BLOCK_CAP bytes): its
 * decompressed size, or -1 when torn or corrupt. *used: its compressed size. */
static long inflate_one(ZSTD_DCtx *dc, const uint8_t *src, size_t len, uint8_t *out,
                        size_t *used)
{
    size_t fsz = ZSTD_findFrameCompressedSize(src, len);
    if (ZSTD_isError(fsz) || fsz > len)
        return -1;
    unsigned long long csz = ZSTD_getFrameContentSize(src, fsz);
    if (csz == ZSTD_CONTENTSIZE_ERROR || csz == ZSTD_CONTENTSIZE_UNKNOWN || csz > BLOCK_CAP)
        return -1;
    size_t n = ZSTD_decompressDCtx(dc, out, BLOCK_CAP, src, fsz);
    if (ZSTD_isError(n))
        return -1;
    *used = fsz;
    return (long)n;
}

static ZSTD_DCtx *dctx_new(void)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    /* our frames hold at most BLOCK_CAP bytes: a larger window is no block of ours */
    if (dc)
        ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 22);
    return dc;
}

void spool_read_block(const uint8_t *buf, size_t len, bool first, int linktype,
                      spool_frame_fn fn, void *ctx, struct spool_read_stats *st)
{
    ZSTD_DCtx *dc = dctx_new();
    uint8_t *out = malloc(BLOCK_CAP);
    size_t used = 0;
    long n = dc && out ? inflate_one(dc, buf, len, out, &used) : -1;
    if (n < 0 || used != len) {
        st->torn++;
    } else {
        struct bv b = bv_make(out, (size_t)n);
        int lt = linktype;
        st->blocks++;
        if (first && !file_header(&b, &lt))
            st->malformed++;
        else
            records(b, linktype, fn, ctx, st);
    }
    free(out);
    ZSTD_freeDCtx(dc);
}

size_t spool_read_all(const uint8_t *buf, size_t len, spool_frame_fn fn, void *ctx,
                      struct spool_read_stats *st)
{
    ZSTD_DCtx *dc = dctx_new();
    uint8_t *out = malloc(BLOCK_CAP);
    size_t off = 0;
    int linktype = -1;
    struct bv rest = bv_make(buf, len);
    while (dc && out && rest.len) {
        size_t used = 0;
        long n = inflate_one(dc, rest.p, rest.len, out, &used);
        if (n < 0) {
            st->torn++;
            break;
        }
        struct bv b = bv_make(out, (size_t)n);
        if (linktype < 0 && !file_header(&b, &linktype)) {
            st->malformed++;
            break;
        }
        st->blocks++;
        records(b, linktype, fn, ctx, st);
        bv_skip(&rest, used);
        off += used;
    }
    free(out);
    ZSTD_freeDCtx(dc);
    return off;
}
