/* The analyze report as one JSON object (documented in README.md). */
#ifndef TS_API_REPORT_H
#define TS_API_REPORT_H

#include <stdio.h>

struct engine;
struct st_stats;

struct report_input {
    const struct engine *engine;
    const char *const *input_errors; /* one-line errors of inputs that failed */
    size_t n_input_errors;
    double elapsed_s;                /* wall time of the analysis */
    const struct st_stats *store;    /* NULL without --db */
};

/* Write the report to f; returns 0, or -1 when out of memory / write error. */
int api_report_json(FILE *f, const struct report_input *in);

#endif
