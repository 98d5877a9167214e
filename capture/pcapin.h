/* Capture file input through libpcap: pcap and pcapng, "-" for standard
 * input, several files merged in time order, nanosecond timestamps. The only
 * file of trunkscope that includes pcap.h (with its live-capture sibling). */
#ifndef TS_PCAPIN_H
#define TS_PCAPIN_H

#include <stddef.h>

#include "packet.h"

struct pcapin;

struct pcapin *pcapin_new(void);
void pcapin_free(struct pcapin *in); /* NULL is fine */

/* Open one more input. Returns 0, or -1 with a one-line reason in err
 * ("no such file", "not a pcap or pcapng file", ...); the other inputs stay. */
int pcapin_add(struct pcapin *in, const char *path, char *err, size_t errlen);

/* Next frame across all inputs in timestamp order (ties: input order).
 * Returns 1 with *f filled (valid until the next call), 0 at the end of all
 * inputs, -1 when an input failed mid-way (err filled; that input is closed
 * and the next call goes on with the others). */
int pcapin_next(struct pcapin *in, struct ts_frame *f, char *err, size_t errlen);

/* Name of a link type ("EN10MB", "LINUX_SLL", ...). */
const char *pcapin_linktype_name(int linktype);

#endif
