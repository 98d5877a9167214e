/* Text output of the call tracker for `trunkscope analyze`: tables of calls,
 * trunk KPIs and REGISTER/OPTIONS peers, and a CSV of the calls. */
#ifndef TS_CALLS_PRINT_H
#define TS_CALLS_PRINT_H

#include <stdio.h>

struct calls;

/* Call table (at most top rows; 0: none, for --summary), trunk KPI table,
 * registration/keep-alive table. c may be NULL. */
void calls_print(FILE *f, const struct calls *c, size_t top);
/* One CSV row per kept call (header first). 0 on success, -1 on a write error. */
int calls_write_csv(FILE *f, const struct calls *c);

#endif
