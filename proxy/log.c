/* See log.h. The level is the one process-wide setting outside a struct: every thread reads it,
 * main (and later SIGHUP) writes it, so it is an atomic int. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int current_level = LOG_NOTICE;

void log_set_level(int level) { __atomic_store_n(&current_level, level, __ATOMIC_RELAXED); }
int log_enabled(int level) { return level >= __atomic_load_n(&current_level, __ATOMIC_RELAXED); }

void log_msg(int level, const char *fmt, ...) {
    static const char marks[] = {'.', '-', '*', '#'}; /* Redis's log level marks */
    if (!log_enabled(level)) return;
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%d %b %Y %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000), marks[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (m < 0 || n + m >= (int)sizeof(line) - 1) ? (int)sizeof(line) - 2 : n + m;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
