/* Capture files read on their own thread (see readahead.h): a ring of
 * RA_SLOTS batches under one mutex, handed over a batch (not a frame) at a
 * time so that the locking costs nothing per packet. A waiting reader is
 * woken only once half the ring is free: a wake-up costs ~10 us here. */
#include "readahead.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/limits.h"
#include "decode.h"

#define RA_SLOTS TS_READAHEAD_SLOTS
#define RA_FRAMES TS_READAHEAD_FRAMES
#define RA_BYTES TS_READAHEAD_BYTES

struct ra_slot {
    struct ra_batch b;
    struct ts_frame f[RA_FRAMES];
    struct ts_pkt pkt[RA_FRAMES];
    uint8_t *buf;
    size_t cap;
    uint8_t *spares;       /* TS_READAHEAD_SPARES buffers of spare_size */
    size_t nspares;        /* used by this batch */
};

struct readahead {
    struct pcapin *in;
    readahead_decode_fn decode;
    size_t spare_size;
    struct ra_slot slot[RA_SLOTS];
    /* the reader fills slot[wr], the analysis reads slot[rd]; full counts
     * the filled ones; eof: the reader is done (after its last batch) */
    pthread_mutex_t mu;
    pthread_cond_t more, space;
    size_t rd, wr, full;
    bool eof, stop, threaded, taken; /* taken: slot[rd] handed out, not yet given back */
    bool reader_waits, analysis_waits;
    bool have_pending;       /* pending: read, did not fit the last batch */
    struct ts_frame pending;
    pthread_t thr;
    char *err[TS_READ_ERRORS_KEPT];
    size_t nerr, total_err;
};

static void note_error(struct readahead *r, const char *msg)
{
    if (r->nerr < TS_READ_ERRORS_KEPT)
        r->err[r->nerr++] = strdup(msg); /* NULL when out of memory: printed as "error" */
    r->total_err++;
}

/* Copy f into s; false when it does not fit beside the frames already there,
 * or when every spare is taken: the batch ends there, so that a stretch of
 * signalling (a burst of call set-ups) is parsed here too, in shorter batches,
 * rather than by the analysis. */
static bool put(struct readahead *r, struct ra_slot *s, struct ts_frame f, size_t *used)
{
    if (s->b.n && s->spares && s->nspares == TS_READAHEAD_SPARES)
        return false;
    if (*used + f.caplen > s->cap) {
        if (s->b.n)
            return false;
        uint8_t *nb = realloc(s->buf, f.caplen); /* bounded by libpcap's snaplen */
        if (!nb) {
            note_error(r, "out of memory for a frame; frame skipped");
            return true;
        }
        s->buf = nb;
        s->cap = f.caplen;
    }
    if (f.caplen)
        memcpy(s->buf + *used, f.data, f.caplen);
    f.data = s->buf + *used;
    *used += (f.caplen + 7) & ~(size_t)7;
    if (*used > s->cap)
        *used = s->cap;
    s->f[s->b.n] = f;
    if (r->decode) {
        void *spare = s->spares && s->nspares < TS_READAHEAD_SPARES
                          ? s->spares + s->nspares * r->spare_size
                          : NULL;
        if (r->decode(&f, &s->pkt[s->b.n], spare) && spare)
            s->nspares++;
    } else {
        decoder_decode(&f, &s->pkt[s->b.n]);
    }
    s->b.n++;
    return true;
}

/* Fill one batch; false at the end of all inputs with nothing read. */
static bool fill(struct readahead *r, struct ra_slot *s)
{
    size_t used = 0;
    s->b.n = 0;
    s->nspares = 0;
    s->b.f = s->f;
    s->b.pkt = s->pkt;
    if (r->have_pending) { /* pcapin keeps its data until the next call */
        r->have_pending = false;
        put(r, s, r->pending, &used);
    }
    while (s->b.n < RA_FRAMES) {
        struct ts_frame f;
        char err[512];
        int rc = pcapin_next(r->in, &f, err, sizeof err);
        if (rc == 0)
            break;
        if (rc < 0) {
            note_error(r, err);
            continue;
        }
        if (!put(r, s, f, &used)) {
            r->pending = f;
            r->have_pending = true;
            break;
        }
    }
    return s->b.n > 0;
}

static void *reader_main(void *arg)
{
    struct readahead *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->full == RA_SLOTS && !r->stop) {
            r->reader_waits = true;
            pthread_cond_wait(&r->space, &r->mu);
        }
        r->reader_waits = false;
        bool stop = r->stop;
        struct ra_slot *s = &r->slot[r->wr];
        pthread_mutex_unlock(&r->mu);
        bool got = !stop && fill(r, s);
        pthread_mutex_lock(&r->mu);
        if (got) {
            r->wr = (r->wr + 1) % RA_SLOTS;
            r->full++;
        } else {
            r->eof = true;
        }
        if (r->analysis_waits)
            pthread_cond_signal(&r->more);
        pthread_mutex_unlock(&r->mu);
        if (!got)
            return NULL;
    }
}

struct readahead *readahead_start(struct pcapin *in, readahead_decode_fn decode,
                                  size_t spare_size, bool threaded)
{
    struct readahead *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->decode = decode;
    r->spare_size = (spare_size + 63) & ~(size_t)63; /* each on its own lines */
    for (size_t i = 0; i < RA_SLOTS; i++) {
        r->slot[i].buf = malloc(RA_BYTES);
        if (r->spare_size)
            r->slot[i].spares = aligned_alloc(64, TS_READAHEAD_SPARES * r->spare_size);
        if (!r->slot[i].buf || (r->spare_size && !r->slot[i].spares)) {
            readahead_free(r);
            return NULL;
        }
        r->slot[i].cap = RA_BYTES;
    }
    if (threaded) {
        if (pthread_mutex_init(&r->mu, NULL) != 0)
            threaded = false;
        else if (pthread_cond_init(&r->more, NULL) != 0 ||
                 pthread_cond_init(&r->space, NULL) != 0) {
            pthread_mutex_destroy(&r->mu);
            threaded = false;
        } else if (pthread_create(&r->thr, NULL, reader_main, r) != 0) {
            pthread_cond_destroy(&r->more);
            pthread_cond_destroy(&r->space);
            pthread_mutex_destroy(&r->mu);
            threaded = false; /* read inline: slower, same results */
        }
    }
    r->threaded = threaded;
    return r;
}

const struct ra_batch *readahead_next(struct readahead *r)
{
    if (!r->threaded) {
        if (r->eof || !fill(r, &r->slot[0])) {
            r->eof = true;
            return NULL;
        }
        return &r->slot[0].b;
    }
    pthread_mutex_lock(&r->mu);
    if (r->taken) { /* give the previous batch back */
        r->taken = false;
        r->rd = (r->rd + 1) % RA_SLOTS;
        r->full--;
        if (r->reader_waits && r->full <= RA_SLOTS / 2)
            pthread_cond_signal(&r->space);
    }
    while (r->full == 0 && !r->eof) {
        r->analysis_waits = true;
        pthread_cond_wait(&r->more, &r->mu);
    }
    r->analysis_waits = false;
    const struct ra_batch *b = NULL;
    if (r->full) {
        r->taken = true;
        b = &r->slot[r->rd].b;
    }
    pthread_mutex_unlock(&r->mu);
    return b;
}

const char *const *readahead_errors(const struct readahead *r, size_t *kept, size_t *total)
{
    *kept = r->nerr;
    *total = r->total_err;
    return (const char *const *)r->err;
}

void readahead_free(struct readahead *r)
{
    if (!r)
        return;
    if (r->threaded) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->space);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thr, NULL);
        pthread_cond_destroy(&r->more);
        pthread_cond_destroy(&r->space);
        pthread_mutex_destroy(&r->mu);
    }
    for (size_t i = 0; i < RA_SLOTS; i++) {
        free(r->slot[i].buf);
        free(r->slot[i].spares);
    }
    for (size_t i = 0; i < r->nerr; i++)
        free(r->err[i]);
    free(r);
}
