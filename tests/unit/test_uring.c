/* The io_uring engine's socket layer (lib/uring.c) on socket pairs: arrivals and the peer's end reach
 * the owner, a send larger than the socket takes goes whole over several completions in order, and a
 * socket closed while the kernel holds a receive is released (on_gone) only once the kernel let go. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/uring.h"
#include "../support/run.h"

struct owner {
    char got[1 << 20];
    size_t ngot;
    int ended, sent_calls, gone;
    ssize_t last_error;
    struct chain *out;
    struct pool *pool;
};

static void on_data(void *o, const char *p, ssize_t n) {
    struct owner *w = o;
    if (n <= 0) {
        w->ended = 1, w->last_error = n;
        return;
    }
    ck_assert_uint_le(w->ngot + (size_t)n, sizeof(w->got));
    memcpy(w->got + w->ngot, p, (size_t)n);
    w->ngot += (size_t)n;
}

static void on_sent(void *o, ssize_t n) {
    struct owner *w = o;
    ck_assert_int_ge(n, 0);
    w->sent_calls++;
    chain_advance(w->pool, w->out, (size_t)n);
}

static void on_gone(void *o) { ((struct owner *)o)->gone++; }

static struct uring *ring;
static struct pool pool;

/* A kernel with io_uring turned off (sysctl kernel.io_uring_disabled) has nothing to test: said, not failed
 * (make test then runs the integration suites with epoll twice). Any other refusal fails. */
static int uring_off(void) {
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = 0;
    if (f && fscanf(f, "%d", &v) != 1) v = 0;
    if (f) fclose(f);
    return v != 0;
}

static void setup(void) {
    pool_init(&pool, 8);
    ring = uring_new(1);
    if (!ring && uring_off()) {
        fprintf(stderr, "io_uring is turned off on this kernel: nothing to test\n");
        return;
    }
    ck_assert_msg(ring != NULL, "io_uring refused: %s", strerror(errno));
}
static void teardown(void) {
    uring_free(ring);
    pool_drain(&pool);
}

static void turn(void) { /* a loop turn: submit, then take what completed */
    uring_submit(ring);
    usleep(1000);
    uring_reap(ring, 1);
}

static struct uconn *watch(int fd, struct owner *o) {
    struct uconn *c = calloc(1, sizeof(*c));
    static const struct uconn_cb cb = {on_data, on_sent, on_gone};
    uconn_init(c, fd, o, &cb);
    return c;
}

/* A socket pair whose end sv[0] is on the ring, watched by o (reset), its receive armed. */
static struct uconn *reading_pair(int sv[2], struct owner *o) {
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(o, 0, sizeof(*o));
    struct uconn *c = watch(sv[0], o);
    uconn_read(ring, c, 1);
    return c;
}

/* Closes c, turns until the kernel has let go (on_gone, once), frees it. */
static void close_until_gone(struct uconn *c, struct owner *o) {
    uconn_close(ring, c);
    for (int i = 0; i < 100 && !o->gone; i++) turn();
    ck_assert_int_eq(o->gone, 1);
    ck_assert_uint_eq(c->ops, 0);
    free(c);
}

static void arrivals_then_the_end(void) {
    int sv[2];
    static struct owner o;
    struct uconn *c = reading_pair(sv, &o);
    turn();
    ck_assert_int_eq(write(sv[1], "hello ", 6), 6);
    for (int i = 0; i < 100 && o.ngot < 6; i++) turn();
    ck_assert_int_eq(write(sv[1], "world", 5), 5);
    for (int i = 0; i < 100 && o.ngot < 11; i++) turn();
    ck_assert_uint_eq(o.ngot, 11);
    ck_assert(memcmp(o.got, "hello world", 11) == 0);
    ck_assert(!o.ended);
    close(sv[1]);
    for (int i = 0; i < 100 && !o.ended; i++) turn();
    ck_assert(o.ended);
    ck_assert_int_eq(o.last_error, 0); /* the end, not an error */
    close_until_gone(c, &o);
}

/* The loop asleep on uring_fd (in deferred mode an eventfd: the ring's own descriptor is not told of
 * the kernel's waiting work) wakes when data lands, and the data is there once it reaps. */
static void *write_later(void *fd) {
    usleep(50 * 1000);
    ck_assert_int_eq(write(*(int *)fd, "ping", 4), 4);
    return NULL;
}

static void a_sleeping_loop_wakes(void) {
    int sv[2];
    static struct owner o;
    struct uconn *c = reading_pair(sv, &o);
    for (int round = 0; round < 3; round++) { /* the eventfd quietened and on again each turn */
        uring_submit(ring);
        uring_reap(ring, 0);
        ck_assert_int_eq(uring_sleep(ring), 1); /* nothing came: it may sleep */
        pthread_t t; /* writes once this thread sleeps: a wake-up, not work found before sleeping */
        ck_assert_int_eq(pthread_create(&t, NULL, write_later, &sv[1]), 0);
        struct pollfd pf = {.fd = uring_fd(ring), .events = POLLIN};
        ck_assert_int_eq(poll(&pf, 1, 2000), 1); /* woken, not after the timeout */
        pthread_join(t, NULL);
        uring_reap(ring, 1);
        for (int i = 0; i < 100 && o.ngot < 4 * (size_t)(round + 1); i++) turn();
        ck_assert_uint_eq(o.ngot, 4 * (size_t)(round + 1));
    }
    close_until_gone(c, &o);
    close(sv[1]);
}

/* io-spin-us: a watch with nothing coming runs out (0); one during which data lands (written by another
 * thread 50 ms in) ends with 1 at the arrival, and the data is there once reaped. */
static void a_watch_sees_arrivals(void) {
    int sv[2];
    static struct owner o;
    struct uconn *c = reading_pair(sv, &o);
    uring_submit(ring);
    uring_reap(ring, 0);
    ck_assert_int_eq(uring_spin(ring, 1000 * 1000L), 0); /* 1 ms of nothing */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, write_later, &sv[1]), 0);
    ck_assert_int_eq(uring_spin(ring, 5000 * 1000000L), 1); /* the arrival, not the 5 s */
    pthread_join(t, NULL);
    for (int i = 0; i < 100 && o.ngot < 4; i++) turn();
    ck_assert_uint_eq(o.ngot, 4);
    ck_assert(memcmp(o.got, "ping", 4) == 0);
    close_until_gone(c, &o);
    close(sv[1]);
}

START_TEST(arrivals_then_the_end_reach_the_owner) {
    if (!ring) return;
    ck_assert(uring_deferred(ring)); /* the kernels here have DEFER_TASKRUN (6.1) */
    arrivals_then_the_end();
    a_sleeping_loop_wakes();
    a_watch_sees_arrivals();
}
END_TEST

/* The mode kept for kernels without DEFER_TASKRUN: the kernel completes receives as data lands. */
START_TEST(the_default_task_run_mode_works_too) {
    if (!ring) return;
    uring_free(ring);
    ring = uring_new(0);
    ck_assert_ptr_nonnull(ring);
    ck_assert(!uring_deferred(ring));
    arrivals_then_the_end();
    a_sleeping_loop_wakes();
    a_watch_sees_arrivals();
}
END_TEST

/* 1 MiB through a socket whose buffer takes far less: several completions, the bytes whole and in order. */
START_TEST(a_send_larger_than_the_socket_goes_whole) {
    if (!ring) return;
    int sv[2], small = 16 * 1024;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    static struct owner o;
    memset(&o, 0, sizeof(o));
    struct chain out;
    chain_init(&out);
    o.out = &out, o.pool = &pool;
    static char data[1 << 20], back[1 << 20];
    for (size_t i = 0; i < sizeof(data); i++) data[i] = (char)(i * 7 + i / 4096);
    ck_assert_int_eq(chain_append(&pool, &out, data, sizeof(data)), 0);
    struct uconn *c = watch(sv[0], &o);
    size_t nback = 0;
    for (int i = 0; i < 5000 && nback < sizeof(data); i++) {
        uconn_send(ring, c, &out); /* one in flight at a time; the next once it completed */
        turn();
        ssize_t n = read(sv[1], back + nback, sizeof(back) - nback);
        if (n > 0) nback += (size_t)n;
    }
    ck_assert_uint_eq(nback, sizeof(data));
    ck_assert(memcmp(back, data, sizeof(data)) == 0);
    ck_assert_uint_eq(out.pending, 0);
    ck_assert_int_gt(o.sent_calls, 1); /* it did not fit in one */
    close_until_gone(c, &o);
    chain_free(&pool, &out);
    close(sv[1]);
}
END_TEST

/* Closed while a receive is armed: the owner hears nothing more but on_gone, once, after the kernel let
 * go; closed with nothing in flight: on_gone at once. */
START_TEST(a_socket_closed_in_flight_is_released_once_the_kernel_lets_go) {
    if (!ring) return;
    int sv[2];
    static struct owner o;
    struct uconn *c = reading_pair(sv, &o);
    turn();
    ck_assert_uint_eq(c->ops, 1);
    uconn_close(ring, c);
    ck_assert_int_eq(o.gone, 0);                /* the kernel still holds the receive */
    (void)send(sv[1], "late", 4, MSG_NOSIGNAL); /* the peer may still write: nobody hears it */
    for (int i = 0; i < 100 && !o.gone; i++) turn();
    ck_assert_int_eq(o.gone, 1);
    ck_assert_uint_eq(o.ngot, 0);
    ck_assert(!o.ended);
    free(c);
    close(sv[1]);
    int sv2[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
    memset(&o, 0, sizeof(o));
    c = watch(sv2[0], &o);
    uconn_close(ring, c);
    ck_assert_int_eq(o.gone, 1);
    free(c);
    close(sv2[1]);
}
END_TEST

SUITE_MAIN(.name = "uring", .before_each = setup, .after_each = teardown,
           .tests = {TEST(arrivals_then_the_end_reach_the_owner), TEST(the_default_task_run_mode_works_too),
                     TEST(a_send_larger_than_the_socket_goes_whole),
                     TEST(a_socket_closed_in_flight_is_released_once_the_kernel_lets_go)})
