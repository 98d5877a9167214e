/* Deadlines for timed waits (deadline.h): one copy of the timespec
 * arithmetic that the packet queue's doorbell, the store writer and the
 * alert notifier wait with. */
#include "deadline.h"

void ts_deadline(clockid_t clk, uint32_t ms, struct timespec *out)
{
    clock_gettime(clk, out);
    out->tv_sec += ms / 1000;
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}
