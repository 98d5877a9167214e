/* Event log of the long-running commands: one timestamped line per notable
 * event (start, reload, drops, errors, stop), never one per packet. */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stdarg.h>

enum log_err { LOG_OK = 0, LOG_ERR_OPEN };
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO };

/* Log to path (appended), or to stderr when path is NULL. Thread-safe after
 * this call. Returns LOG_OK, or LOG_ERR_OPEN (errno kept; stderr is used). */
int log_open(const char *path);
/* Reopen the file after rotation (SIGHUP); a no-op on stderr. On failure the
 * old file stays in use and LOG_ERR_OPEN is returned. */
int log_reopen(void);
/* Back to stderr; closes the file. */
void log_close(void);

/* "2024-01-02T03:04:05.678Z trunkscope[PID] LEVEL: message\n", written with
 * one call so lines of several threads never interleave. Control characters
 * in the message become '?'. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#endif
