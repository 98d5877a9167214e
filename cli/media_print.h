/* Text output of the media analysis for `trunkscope analyze`: one row per
 * finished RTP stream, tshark-like columns plus MOS and detections. */
#ifndef TS_MEDIA_PRINT_H
#define TS_MEDIA_PRINT_H

#include <stdio.h>

struct media;

/* Stream table, at most top rows (the worst by MOS when there are more;
 * 0: the counts only); m may be NULL (prints nothing). */
void media_print(FILE *f, const struct media *m, size_t top);

#endif
