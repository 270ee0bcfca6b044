/* See log.h. The level and format are the only process-wide settings outside a struct: every thread
 * reads them, main (at start and on SIGHUP) writes them, so they are atomic ints. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int current_level = LOG_NOTICE;
static int current_format = LOG_FORMAT_TEXT;

const char *log_level_name(int level) {
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};
    return level >= 0 && level <= LOG_WARNING ? names[level] : "?";
}

void log_set_level(int level) { __atomic_store_n(&current_level, level, __ATOMIC_RELAXED); }
void log_set_format(int format) { __atomic_store_n(&current_format, format, __ATOMIC_RELAXED); }
int log_enabled(int level) { return level >= __atomic_load_n(&current_level, __ATOMIC_RELAXED); }

/* msg as the inside of a JSON string: quotes, backslashes and control characters escaped. */
static size_t json_escape(char *out, size_t cap, const char *msg) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
        } else {
            out[n++] = (char)*p;
        }
    }
    return n;
}

void log_msg(int level, const char *fmt, ...) {
    static const char marks[] = {'.', '-', '*', '#'}; /* Redis's log level marks */
    if (!log_enabled(level)) return;
    char msg[1024], line[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n;
    if (__atomic_load_n(&current_format, __ATOMIC_RELAXED) == LOG_FORMAT_JSON) {
        n = strftime(line, sizeof(line), "{\"time\":\"%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"",
                              (int)(tv.tv_usec / 1000), log_level_name(level & 3), (int)getpid());
        n += json_escape(line + n, sizeof(line) - n - 4, msg);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        n = strftime(line, sizeof(line), "%d %b %Y %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %c %s", (int)(tv.tv_usec / 1000), marks[level & 3],
                              msg);
        if (n > sizeof(line) - 2) n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
