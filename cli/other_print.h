/* Text table of the other flows (neither SIP nor RTP, classified by nDPI),
 * for analyze's text report. */
#ifndef TS_CLI_OTHER_PRINT_H
#define TS_CLI_OTHER_PRINT_H

#include <stdio.h>

struct oflows;

/* Prints nothing when there were none. */
void other_print(FILE *f, const struct oflows *o);

#endif
