/* Event log: timestamped lines to stderr or a file, reopened on SIGHUP so
 * that logrotate can move the file away. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;       /* -1: stderr */
static char log_path[4096];

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_open(const char *path)
{
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    log_path[0] = '\0';
    int rc = LOG_OK;
    if (path) {
        int fd = open_file(path);
        if (fd < 0) {
            rc = LOG_ERR_OPEN;
        } else if (strlen(path) >= sizeof log_path) {
            close(fd);
            errno = ENAMETOOLONG;
            rc = LOG_ERR_OPEN;
        } else {
            log_fd = fd;
            memcpy(log_path, path, strlen(path) + 1);
        }
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

int log_reopen(void)
{
    int rc = LOG_OK;
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0 && log_path[0]) {
        int fd = open_file(log_path);
        if (fd < 0) {
            rc = LOG_ERR_OPEN;
        } else {
            close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

void log_close(void)
{
    log_open(NULL);
}

static const char *level_name(enum log_level l)
{
    switch (l) {
    case LOG_ERROR:
        return "error";
    case LOG_WARN:
        return "warning";
    default:
        return "info";
    }
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ trunkscope[%ld] %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000L, (long)getpid(), level_name(lvl));
    if (n < 0)
        return;
    size_t off = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    int m = vsnprintf(line + off, sizeof line - off, fmt, ap);
    size_t end = off + (m < 0 ? 0 : (size_t)m);
    if (end > sizeof line - 2)
        end = sizeof line - 2;
    /* one line per event, whatever the message holds */
    for (size_t i = off; i < end; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[end++] = '\n';
    pthread_mutex_lock(&log_mu);
    int fd = log_fd >= 0 ? log_fd : STDERR_FILENO;
    ssize_t w = write(fd, line, end);
    (void)w; /* nowhere left to report a failed log write */
    pthread_mutex_unlock(&log_mu);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, fmt, ap);
    va_end(ap);
}
