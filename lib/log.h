/* Logging: one line per event on stderr (Redis's text format, or one JSON object a line), written with one write(2) so
 * lines from several workers never interleave. */
#ifndef SLOTGATE_LOG_H
#define SLOTGATE_LOG_H

enum { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };
enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

const char *log_level_name(int level); /* "debug" ... "warning", as configured and in JSON lines */
void log_set_level(int level);
void log_set_format(int format); /* LOG_FORMAT_TEXT or LOG_FORMAT_JSON */
int log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   (log_enabled(LOG_DEBUG) ? log_msg(LOG_DEBUG, __VA_ARGS__) : (void)0)
#define log_verbose(...) (log_enabled(LOG_VERBOSE) ? log_msg(LOG_VERBOSE, __VA_ARGS__) : (void)0)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
