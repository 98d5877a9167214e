/* A progress line for long offline analyses: packets, bytes and percent of
 * the input read, rate and time left, redrawn on a terminal's stderr. */
#ifndef TS_CLI_PROGRESS_H
#define TS_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct progress;

/* A line on f (a terminal) twice a second; total: input bytes, 0 when
 * unknown (a pipe: no percentage or time left). NULL when out of memory. */
struct progress *progress_new(FILE *f, uint64_t total);
/* One frame of caplen bytes was read (the pcap record header counted too). */
void progress_frame(struct progress *p, uint32_t caplen);
/* Clears the line; NULL is fine. */
void progress_free(struct progress *p);

#endif
