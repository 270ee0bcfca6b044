/* A load generator for make bench's RESP3 and tracking figures, where redis-benchmark cannot go (it has
 * no way to turn CLIENT TRACKING on for its connections): C connections, each with P requests in flight,
 * GET or SET of random keys over a key space, in RESP2, RESP3 (HELLO 3 first) or RESP3 with CLIENT
 * TRACKING on. Replies are framed with slotgate's own scanner; pushes (invalidations) are counted apart.
 *
 *   loadgen PORT get|set CLIENTS PIPELINE REQUESTS KEYSPACE resp2|resp3|tracking [hold]
 *
 * Prints one line: requests, seconds, requests/s, pushes received. With "hold", the connections stay
 * open until standard input closes (so the caller can read slotgate's tracking figures with them in
 * place). One thread, epoll; loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../router/resp.h"

struct conn {
    int fd;
    char *in;
    size_t len, cap;
    long setup; /* replies still expected for HELLO / CLIENT TRACKING */
    long inflight;
};

static long sent, done, pushes, total;
static int pipeline, is_set, keyspace;
static unsigned rnd = 12345;

static unsigned next_rand(void) {
    rnd = rnd * 1103515245u + 12345u;
    return rnd >> 8;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("loadgen: write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void fill(struct conn *c) {
    char buf[64 * 128];
    size_t n = 0;
    while (c->inflight < pipeline && sent < total && n < sizeof(buf) - 128) {
        char key[24];
        int kl = snprintf(key, sizeof(key), "k:%012u", next_rand() % (unsigned)keyspace);
        if (is_set)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                  "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\nvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n", kl,
                                  key);
        else
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
        c->inflight++;
        sent++;
    }
    if (n) send_all(c->fd, buf, n);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: loadgen PORT get|set CLIENTS PIPELINE REQUESTS KEYSPACE resp2|resp3|tracking [hold]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[3]);
    is_set = strcmp(argv[2], "set") == 0;
    pipeline = atoi(argv[4]);
    total = atol(argv[5]);
    keyspace = atoi(argv[6]);
    int resp3 = strcmp(argv[7], "resp2") != 0, tracking = strcmp(argv[7], "tracking") == 0;
    int ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            perror("loadgen: connect");
            return 1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->cap = 1 << 16;
        c->in = malloc(c->cap);
        static const char hello[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
                          track[] = "*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n";
        if (resp3) send_all(c->fd, hello, sizeof(hello) - 1), c->setup++;
        if (tracking) send_all(c->fd, track, sizeof(track) - 1), c->setup++;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    double t0 = 0;
    int started = 0;
    while (done < total) {
        if (!started) {
            int ready = 1;
            for (int i = 0; i < nconn; i++) ready &= cs[i].setup == 0;
            if (ready) {
                started = 1;
                t0 = now();
                for (int i = 0; i < nconn; i++) fill(&cs[i]);
            }
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 10000);
        if (n <= 0) {
            fprintf(stderr, "loadgen: no reply for 10 s (%ld of %ld done)\n", done, total);
            return 1;
        }
        for (int e = 0; e < n; e++) {
            struct conn *c = evs[e].data.ptr;
            if (c->cap - c->len < 16384) c->in = realloc(c->in, c->cap *= 2);
            ssize_t r = read(c->fd, c->in + c->len, c->cap - c->len);
            if (r <= 0) {
                fprintf(stderr, "loadgen: connection closed\n");
                return 1;
            }
            c->len += (size_t)r;
            size_t off = 0;
            for (;;) {
                struct resp_scanner s;
                size_t rl;
                char err[RESP_ERR_LEN];
                resp_scanner_init_proto(&s, 1LL << 30, resp3);
                int rc = resp_scan_reply(&s, c->in + off, c->len - off, &rl, err, sizeof(err));
                if (rc == RESP_ERROR) {
                    fprintf(stderr, "loadgen: bad reply: %s\n", err);
                    return 1;
                }
                if (rc != RESP_DONE) break;
                if (c->in[off] == '>') {
                    pushes++;
                } else if (c->setup) {
                    c->setup--;
                } else {
                    if (c->in[off] == '-') {
                        fprintf(stderr, "loadgen: error reply: %.*s\n", (int)rl, c->in + off);
                        return 1;
                    }
                    c->inflight--;
                    done++;
                }
                off += rl;
            }
            memmove(c->in, c->in + off, c->len - off);
            c->len -= off;
            if (started) fill(c);
        }
    }
    double secs = now() - t0;
    printf("%ld %.3f %.0f %ld\n", done, secs, done / secs, pushes);
    fflush(stdout);
    if (argc == 9) /* hold: until the caller closes standard input */
        while (getchar() != EOF) continue;
    return 0;
}
