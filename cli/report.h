/* The analyze report (documented in README.md): one JSON object (--json) or
 * one JSON object per line (--json-lines), written as calls and streams are
 * final, through the program's one JSON writer (common/jsonw). */
#ifndef TS_CLI_REPORT_H
#define TS_CLI_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct engine;
struct st_stats;
struct calls_call;
struct media_stream;
struct media;
struct calls_trunk;
struct calls_reg;
struct jsonw;
struct checklist;

struct report_input {
    const struct engine *engine;
    const char *const *input_errors; /* one-line errors of inputs that failed */
    size_t n_input_errors;
    double elapsed_s;                /* wall time of the analysis */
    const struct st_stats *store;    /* NULL without --db */
    struct checklist *checklist;     /* each trunk's "checklist"; NULL: none */
};

enum report_form {
    REPORT_JSON = 0,   /* one document, the same bytes as the whole-tree report */
    REPORT_JSON_LINES, /* {"type": "call" | "stream" | "trunk" | "registration" | "summary", ...} */
};

struct report;

/* A streamed report of engine e (made with no_report: the engine keeps no
 * finished records) on out (not owned). Feed it every finished call and
 * stream with report_call() and report_stream() (sink-shaped, analysis
 * thread); records are written once nothing that they show can change (a
 * call once its legs' streams ended and 30 s of capture time passed, a
 * stream once its call is known).
 * REPORT_JSON keeps the two arrays in unlinked files under $TMPDIR until the
 * end, since the counters come first in the document. NULL with err filled
 * when those files cannot be made or memory is short. */
struct report *report_new(FILE *out, enum report_form form, const struct engine *e, char *err,
                          size_t errcap);
void report_call(void *r, const struct calls_call *c);
void report_stream(void *r, const struct media_stream *s);
/* Capture time advanced (once per batch of frames is enough): calls whose
 * hold for late streams ran out are written. */
void report_tick(struct report *r, uint64_t now_ns);
/* After engine_finish(): the remaining records, trunks, registrations and
 * counters. 0, or -1 on a write error or when memory ran short. */
int report_finish(struct report *r, const struct report_input *in);
void report_free(struct report *r);

/* The whole REPORT_JSON document from the records an engine kept (made
 * without no_report), for the sensor's report at exit. 0 or -1. */
int report_write_kept(FILE *out, const struct report_input *in);

/* One record as an object on w (the shapes of README.md). md: the media
 * analysis that gives legs their MOS (NULL: none); call: the stream's call
 * id (0: null). */
void report_put_call(struct jsonw *w, const struct calls_call *c, const struct media *md);
void report_put_stream(struct jsonw *w, const struct media_stream *s, uint64_t call);
void report_put_trunk(struct jsonw *w, const struct calls_trunk *t);
void report_put_registration(struct jsonw *w, const struct calls_reg *r);

#endif
