/* See resp3.h. */
#include "resp3.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../router/resp.h"

struct r3 *r3_connect(int port) {
    struct r3 *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&a, sizeof(a)) == 0, "cannot connect to port %d", port);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return c;
}

void r3_close(struct r3 *c) {
    if (!c) return;
    close(c->fd);
    free(c->buf);
    free(c);
}

static void write_all(struct r3 *c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        ck_assert_msg(w > 0, "write to the server failed");
        p += w;
        n -= (size_t)w;
    }
}

static void send_argv(struct r3 *c, int argc, const char **argv) {
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
    write_all(c, hdr, (size_t)n);
    for (int i = 0; i < argc; i++) {
        n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", strlen(argv[i]));
        write_all(c, hdr, (size_t)n);
        write_all(c, argv[i], strlen(argv[i]));
        write_all(c, "\r\n", 2);
    }
}

void r3_send(struct r3 *c, const char *arg, ...) {
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 64; a = va_arg(ap, const char *)) argv[argc++] = a;
    va_end(ap);
    send_argv(c, argc, argv);
}

void r3_sendl(struct r3 *c, const char *line) {
    char *copy = strdup(line), *save = NULL;
    const char *argv[1024];
    int argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t && argc < 1024; t = strtok_r(NULL, " ", &save)) argv[argc++] = t;
    send_argv(c, argc, argv);
    free(copy);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

char *r3_read(struct r3 *c, int timeout_ms) {
    double end = now_ms() + timeout_ms;
    for (;;) {
        if (c->len) {
            struct resp_scanner s;
            size_t rlen;
            char err[RESP_ERR_LEN];
            resp_scanner_init_proto(&s, 1LL << 32, 1);
            int rc = resp_scan_reply(&s, c->buf, c->len, &rlen, err, sizeof(err));
            ck_assert_msg(rc != RESP_ERROR, "not RESP: %s (%s)", err, r3_show(c->buf));
            if (rc == RESP_DONE) {
                char *out = malloc(rlen + 1);
                memcpy(out, c->buf, rlen);
                out[rlen] = '\0';
                memmove(c->buf, c->buf + rlen, c->len - rlen);
                c->len -= rlen;
                return out;
            }
        }
        int left = (int)(end - now_ms());
        if (left <= 0) return NULL;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0) return NULL;
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap + 1);
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n <= 0) return NULL;
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
}

char *r3_cmdl(struct r3 *c, const char *line) {
    r3_sendl(c, line);
    char *r = r3_read(c, 5000);
    ck_assert_msg(r != NULL, "no reply to %s", line);
    return r;
}

void r3_expectl(struct r3 *c, const char *line, const char *want) {
    char *got = r3_cmdl(c, line);
    char g[4096];
    snprintf(g, sizeof(g), "%s", r3_show(got));
    ck_assert_msg(strcmp(got, want) == 0, "%s: got %s, want %s", line, g, r3_show(want));
    free(got);
}

const char *r3_show(const char *p) {
    static __thread char out[8192];
    size_t n = 0;
    for (; p && *p && n < sizeof(out) - 8; p++) {
        if (*p == '\r')
            out[n++] = '\\', out[n++] = 'r';
        else if (*p == '\n')
            out[n++] = '\\', out[n++] = 'n';
        else
            out[n++] = *p;
    }
    out[n] = '\0';
    return out;
}
