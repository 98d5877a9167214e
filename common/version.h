/* The program's version, the project version set in CMakeLists.txt. */
#ifndef TS_VERSION_H
#define TS_VERSION_H

/* "0.10.0": a static string. */
const char *ts_version(void);

#endif
