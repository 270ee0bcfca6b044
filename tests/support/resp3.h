/* A raw RESP client for tests of RESP3 (hiredis 0.14 reads RESP2 only): commands go out as multibulk,
 * replies come back as their exact bytes, one complete reply (or push) at a time, framed by slotgate's own
 * reply scanner. So a test compares what slotgate sends with what a Redis server sends, byte for byte. */
#ifndef SLOTGATE_TEST_RESP3_H
#define SLOTGATE_TEST_RESP3_H

#include <stddef.h>

struct r3 {
    int fd;
    char *buf;
    size_t len, cap;
};

struct r3 *r3_connect(int port); /* fails the test when it cannot connect */
void r3_close(struct r3 *c);
/* Sends one command: its arguments, NULL-terminated. */
void r3_send(struct r3 *c, const char *arg, ...) __attribute__((sentinel));
/* Sends one command given as a line split on spaces ("SET k v"). */
void r3_sendl(struct r3 *c, const char *line);
/* The next reply or push, as its bytes (malloc'd, NUL-terminated), or NULL after timeout_ms with none. */
char *r3_read(struct r3 *c, int timeout_ms);
/* Sends a line and returns its reply (fails the test after 5 s with none). */
char *r3_cmdl(struct r3 *c, const char *line);
/* Sends a line and checks the reply's bytes ("+OK\r\n"). */
void r3_expectl(struct r3 *c, const char *line, const char *want);
/* The bytes with CR LF shown as "\r\n", for messages. */
const char *r3_show(const char *p);

#endif
