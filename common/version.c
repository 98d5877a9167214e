/* The program's version string (version.h); TS_VERSION comes from the
 * project version in CMakeLists.txt. */
#include "version.h"

#ifndef TS_VERSION
#define TS_VERSION "unknown"
#endif

const char *ts_version(void)
{
    return TS_VERSION;
}
