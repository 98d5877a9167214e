/* Capture files read on their own thread: pcapin runs on a reader thread
 * that copies frames into batches, and the analysis takes the batches in the
 * same order, so reading overlaps analysis without changing any result. */
#ifndef TS_READAHEAD_H
#define TS_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "pcapin.h"

struct readahead;

/* Runs on the reader thread for every frame: decodes it into p (with
 * decoder_decode(), and what else the analysis can take from the frame
 * alone: it must not touch analysis state). spare is a buffer of
 * readahead_start()'s spare_size that lives with the batch (a batch ends
 * once its TS_READAHEAD_SPARES are taken, so every frame is offered one);
 * the function returns true when it kept something there for p to point
 * to. */
typedef bool (*readahead_decode_fn)(const struct ts_frame *f, struct ts_pkt *p, void *spare);

struct ra_batch {
    size_t n;
    const struct ts_frame *f; /* data points into the batch */
    const struct ts_pkt *pkt; /* f[i] decoded; its views point into the batch */
};

/* Reads in (which stays the caller's, untouched until readahead_free) on a
 * new thread; threaded false, or no thread to be had: on the caller's thread
 * inside readahead_next(). decode may be NULL (decoder_decode() alone);
 * spare_size 0: no spare buffers. NULL on allocation failure. */
struct readahead *readahead_start(struct pcapin *in, readahead_decode_fn decode,
                                  size_t spare_size, bool threaded);
/* The next batch in input order, valid until the next call; NULL once every
 * input is read to its end. */
const struct ra_batch *readahead_next(struct readahead *r);
/* Read errors in the order they happened (pcapin_next's one-line messages;
 * the first TS_READ_ERRORS_KEPT kept), and how many there were in all. Only
 * after readahead_next() returned NULL. */
const char *const *readahead_errors(const struct readahead *r, size_t *kept, size_t *total);
/* Stops the reader if it is still going, joins it and frees everything. */
void readahead_free(struct readahead *r);

#endif
