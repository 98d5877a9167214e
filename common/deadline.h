/* An absolute deadline for pthread_cond_timedwait: now on a clock plus a
 * number of milliseconds, normalised (tv_nsec below one second). */
#ifndef TS_DEADLINE_H
#define TS_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* *out = clk's now + ms. clk is the clock the condition variable waits on
 * (CLOCK_REALTIME unless its attributes set another). */
void ts_deadline(clockid_t clk, uint32_t ms, struct timespec *out);

#endif
