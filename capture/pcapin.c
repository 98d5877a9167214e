/* Capture file input: pcap and pcapng through libpcap with nanosecond
 * timestamps, "-" for standard input, and a k-way merge of several inputs
 * by timestamp (a binary heap; ties go to the earlier input). */
#include "pcapin.h"

#include <errno.h>
#include <pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/limits.h"

struct pin_src {
    pcap_t *p;
    char *path;
    uint32_t idx;
    int linktype;
    bool classic; /* pcap, not pcapng: record offsets mean something */
    bool primed;  /* first packet read (or the input ended) */
    uint64_t ts_ns, off;
    uint64_t next_off; /* classic pcap: offset of the next record header */
    uint32_t caplen, wirelen;
    const uint8_t *data;
    char *vbuf; /* the stream's buffer, freed after pcap_close() */
};

struct pcapin {
    struct pin_src *src[TS_MAX_INPUT_FILES];
    size_t n;
    size_t heap[TS_MAX_INPUT_FILES]; /* indexes of inputs with a pending packet */
    size_t nheap;
    struct pin_src *cur; /* handed out last: read its next packet first */
    uint64_t frame_no;
    bool have_stdin;
};

struct pcapin *pcapin_new(void)
{
    return calloc(1, sizeof(struct pcapin));
}

static void src_close(struct pin_src *s)
{
    if (s->p)
        pcap_close(s->p);
    s->p = NULL;
    free(s->vbuf);
    s->vbuf = NULL;
}

void pcapin_free(struct pcapin *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n; i++) {
        src_close(in->src[i]);
        free(in->src[i]->path);
        free(in->src[i]);
    }
    free(in);
}

/* libpcap's message on one line, without the file name it may repeat. */
static void condense(const char *msg, const char *path, char *out, size_t cap)
{
    size_t pl = strlen(path);
    if (pl && strncmp(msg, path, pl) == 0 && msg[pl] == ':')
        msg += pl + 1;
    while (*msg == ' ')
        msg++;
    size_t j = 0;
    for (; *msg && j + 1 < cap; msg++)
        out[j++] = (*msg == '\n' || *msg == '\r') ? ' ' : *msg;
    while (j > 0 && out[j - 1] == ' ')
        j--;
    if (cap)
        out[j] = '\0';
}

int pcapin_add(struct pcapin *in, const char *path, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    char why[PCAP_ERRBUF_SIZE];
    bool is_stdin = strcmp(path, "-") == 0;

    if (in->n >= TS_MAX_INPUT_FILES) {
        snprintf(err, errlen, "%s: too many input files (limit %d)", path,
                 TS_MAX_INPUT_FILES);
        return -1;
    }
    if (is_stdin && in->have_stdin) {
        snprintf(err, errlen, "-: standard input given twice");
        return -1;
    }
    FILE *fp = stdin;
    if (!is_stdin) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            snprintf(err, errlen, "%s: %s", path,
                     errno == ENOENT ? "no such file" : strerror(errno));
            return -1;
        }
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: is a directory", path);
            return -1;
        }
        if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
            snprintf(err, errlen, "%s: not a pcap or pcapng file (empty)", path);
            return -1;
        }
        fp = fopen(path, "rb");
        if (!fp) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            return -1;
        }
    }
    /* libpcap reads each record with fread(): stdio's default 4 KB buffer
     * made one read() per ~20 packets, 8 % of the time on large captures */
    char *vbuf = !is_stdin && in->n < TS_PCAP_BUFFERED_FILES ? malloc(TS_PCAP_READ_BUF) : NULL;
    if (vbuf && setvbuf(fp, vbuf, _IOFBF, TS_PCAP_READ_BUF) != 0) {
        free(vbuf);
        vbuf = NULL;
    }
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p) {
        if (!is_stdin)
            fclose(fp); /* libpcap leaves it open on failure */
        free(vbuf);
        condense(ebuf, path, why, sizeof why);
        /* an unknown magic or a file shorter than any header */
        if (strstr(why, "unknown file format") || strstr(why, "truncated dump file") ||
            strstr(why, "bad dump file format") || why[0] == '\0')
            snprintf(err, errlen, "%s: not a pcap or pcapng file (%s)", path,
                     why[0] ? why : "no header");
        else
            snprintf(err, errlen, "%s: cannot read capture (%s)", path, why);
        return -1;
    }
    struct pin_src *s = calloc(1, sizeof *s);
    char *pcopy = strdup(path);
    if (!s || !pcopy) {
        free(s);
        free(pcopy);
        pcap_close(p);
        free(vbuf);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    s->p = p;
    s->vbuf = vbuf;
    s->path = pcopy;
    s->idx = (uint32_t)in->n;
    s->linktype = pcap_datalink(p);
    /* libpcap reports pcapng sections as version 1.0, classic pcap as 2.x */
    s->classic = pcap_major_version(p) == 2;
    if (s->classic) {
        /* ask the stream once; afterwards records are summed, because ftell()
         * per packet costs a system call */
        FILE *pf = pcap_file(p);
        long o = pf ? ftell(pf) : -1;
        s->next_off = o > 0 ? (uint64_t)o : 0;
    }
    in->src[in->n++] = s;
    if (is_stdin)
        in->have_stdin = true;
    return 0;
}

static bool before(const struct pin_src *a, const struct pin_src *b)
{
    return a->ts_ns < b->ts_ns || (a->ts_ns == b->ts_ns && a->idx < b->idx);
}

static void heap_push(struct pcapin *in, size_t si)
{
    size_t i = in->nheap++;
    in->heap[i] = si;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(in->src[in->heap[i]], in->src[in->heap[parent]]))
            break;
        size_t t = in->heap[i];
        in->heap[i] = in->heap[parent];
        in->heap[parent] = t;
        i = parent;
    }
}

static size_t heap_pop(struct pcapin *in)
{
    size_t top = in->heap[0];
    in->heap[0] = in->heap[--in->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < in->nheap && before(in->src[in->heap[l]], in->src[in->heap[m]]))
            m = l;
        if (r < in->nheap && before(in->src[in->heap[r]], in->src[in->heap[m]]))
            m = r;
        if (m == i)
            break;
        size_t t = in->heap[i];
        in->heap[i] = in->heap[m];
        in->heap[m] = t;
        i = m;
    }
    return top;
}

/* Read the next packet of s into its pending slot and queue it: 1 queued,
 * 0 end of input, -1 error (err filled). The input is closed unless 1. */
static int src_read(struct pcapin *in, struct pin_src *s, char *err, size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    char why[PCAP_ERRBUF_SIZE];

    if (!s->p)
        return 0;
    s->off = s->classic ? s->next_off : 0;
    int rc = pcap_next_ex(s->p, &h, &data);
    if (rc == 1) {
        if (s->classic && s->next_off)
            s->next_off += 16u + h->caplen; /* record header + data */
        uint64_t sec = h->ts.tv_sec > 0 ? (uint64_t)h->ts.tv_sec : 0;
        uint64_t frac = h->ts.tv_usec > 0 ? (uint64_t)h->ts.tv_usec : 0;
        /* tv_usec holds ns here; a time past 2262 (pcapng's 64-bit stamps
         * reach further) saturates instead of wrapping, for the engine to reject */
        s->ts_ns = sec < UINT64_MAX / 1000000000ull - 1 ? sec * 1000000000ull + frac : UINT64_MAX;
        s->caplen = h->caplen;
        s->wirelen = h->len;
        s->data = data;
        heap_push(in, s->idx);
        return 1;
    }
    if (rc == -1) {
        condense(pcap_geterr(s->p), s->path, why, sizeof why);
        snprintf(err, errlen, "%s: %s", s->path, why);
        src_close(s);
        return -1;
    }
    src_close(s); /* -2: end of file */
    return 0;
}

int pcapin_next(struct pcapin *in, struct ts_frame *f, char *err, size_t errlen)
{
    if (in->cur) {
        struct pin_src *s = in->cur;
        in->cur = NULL;
        if (src_read(in, s, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < in->n; i++) {
        struct pin_src *s = in->src[i];
        if (s->primed)
            continue;
        s->primed = true;
        if (src_read(in, s, err, errlen) < 0)
            return -1;
    }
    if (in->nheap == 0)
        return 0;
    struct pin_src *s = in->src[heap_pop(in)];
    in->cur = s;
    memset(f, 0, sizeof *f);
    f->ts_ns = s->ts_ns;
    f->frame_no = ++in->frame_no;
    f->file_idx = s->idx;
    f->file_off = s->off;
    f->linktype = s->linktype;
    f->caplen = s->caplen;
    f->wirelen = s->wirelen;
    f->data = s->data;
    return 1;
}

const char *pcapin_linktype_name(int linktype)
{
    const char *n = pcap_datalink_val_to_name(linktype);
    return n ? n : "unknown";
}
