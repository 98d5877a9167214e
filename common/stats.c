/* Names of the packet-path counters. */
#include "stats.h"

static const char *const names[TS_STAT_MAX] = {
#define TS_STAT_NAME(id, name) name,
    TS_STATS(TS_STAT_NAME)
#undef TS_STAT_NAME
};

const char *ts_stat_name(enum ts_stat s)
{
    return (unsigned)s < TS_STAT_MAX ? names[s] : "?";
}
