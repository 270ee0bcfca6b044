/* Hostile client input against the real binary (one worker thread, so every client shares the loop):
 * each case gets Redis's answer (an error, then the connection closed for protocol errors) or a
 * clean disconnect, while a bystander client's pipeline through the same worker keeps getting the
 * right answers, and slotgate's descriptors come back to where they were. */
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21800
#define SG_PORT 21890

static struct cluster cl;
static struct slotgate sg;

/* ---- the bystander: pipelines of SET/GET pairs, every reply checked ---- */
static pthread_t by_thread;
static volatile int by_stop;
static long by_ok, by_bad;

static void *bystander(void *arg) {
    (void)arg;
    redisContext *c = redisConnect("127.0.0.1", SG_PORT);
    for (long round = 0; !by_stop && c && !c->err; round++) {
        for (int i = 0; i < 50; i++) {
            redisAppendCommand(c, "SET by:%d v%ld-%d", i, round, i);
            redisAppendCommand(c, "GET by:%d", i);
        }
        for (int i = 0; i < 50; i++) {
            redisReply *a = NULL, *b = NULL;
            char want[64];
            snprintf(want, sizeof(want), "v%ld-%d", round, i);
            if (redisGetReply(c, (void **)&a) != REDIS_OK || redisGetReply(c, (void **)&b) != REDIS_OK) {
                by_bad++;
                break;
            }
            if (a->type == REDIS_REPLY_STATUS && b->type == REDIS_REPLY_STRING && !strcmp(b->str, want))
                by_ok++;
            else
                by_bad++;
            freeReplyObject(a);
            freeReplyObject(b);
        }
    }
    if (!c || c->err) by_bad++;
    if (c) redisFree(c);
    return NULL;
}

static int open_fds(void) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)sg.pid);
    DIR *d = opendir(path);
    int n = 0;
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n;
}

static int fds_before;

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 1");
    by_stop = 0;
    pthread_create(&by_thread, NULL, bystander, NULL);
    sleep_ms(1500); /* probes and backend connections are all open by now */
    fds_before = open_fds();
}

static void suite_teardown(void) {
    by_stop = 1;
    pthread_join(by_thread, NULL);
    fixture_down(&cl, &sg);
}

static int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SG_PORT), .sin_addr.s_addr = htonl(0x7f000001)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) return; /* the proxy may have closed already: that is an outcome, checked by the reader */
        p += n, len -= (size_t)n;
    }
}

/* Everything slotgate sends until it closes the connection (or 5 s pass). */
static void read_until_close(int fd, char *out, size_t cap, int *closed) {
    size_t len = 0;
    *closed = 0;
    for (;;) {
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n == 0) *closed = 1;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == cap - 1) break;
    }
    out[len] = '\0';
}

static const struct {
    const char *name, *input, *reply;
    int closes;
} cases[] = {
    {"negative bulk length", "*2\r\n$3\r\nGET\r\n$-2\r\n", "-ERR Protocol error: invalid bulk length\r\n", 1},
    {"non-numeric bulk length", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n", 1},
    {"non-numeric multibulk length", "*x1\r\n", "-ERR Protocol error: invalid multibulk length\r\n", 1},
    {"too many arguments", "*2000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n", 1},
    {"600 MB bulk", "*2\r\n$3\r\nSET\r\n$629145600\r\n", "-ERR Protocol error: invalid bulk length\r\n", 1},
    {"'$' expected", "*1\r\n:12\r\n", "-ERR Protocol error: expected '$', got ':'\r\n", 1},
    {"unbalanced quotes", "SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", 1},
    {"binary garbage", "\x01\x02\xfe\xff\x80garbage\r\n", "-ERR unknown command '\x01\x02\xfe\xff\x80garbage'", 0},
    /* Redis takes the two bytes after a bulk as its CRLF without looking; so does slotgate */
    {"missing CRLF", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", "+PONG\r\n+PONG\r\n", 0},
    {"empty and negative counts", "*0\r\n*-1\r\n\r\nPING\r\n", "+PONG\r\n", 0},
};

START_TEST(hostile_input_gets_redis_answers) {
    int fd = raw_connect(), closed;
    char out[4096];
    send_all(fd, cases[_i].input, strlen(cases[_i].input));
    if (!cases[_i].closes) shutdown(fd, SHUT_WR); /* nothing more comes: slotgate answers, then sees EOF */
    read_until_close(fd, out, sizeof(out), &closed);
    close(fd);
    ck_assert_msg(strncmp(out, cases[_i].reply, strlen(cases[_i].reply)) == 0, "%s: got '%s', want '%s'",
                  cases[_i].name, out, cases[_i].reply);
    if (cases[_i].closes) ck_assert_msg(closed, "%s: the connection stayed open", cases[_i].name);
}
END_TEST

/* A million arguments is within max-multibulk-len: the command is parsed and answered. */
START_TEST(a_million_arguments) {
    int fd = raw_connect(), closed;
    size_t n = 1000000, len = 0;
    char *buf = malloc(n * 7 + 64);
    len += (size_t)sprintf(buf, "*%zu\r\n$7\r\nNOSUCHX\r\n", n);
    for (size_t i = 1; i < n; i++) memcpy(buf + len, "$1\r\na\r\n", 7), len += 7;
    send_all(fd, buf, len);
    free(buf);
    shutdown(fd, SHUT_WR);
    char out[4096];
    read_until_close(fd, out, sizeof(out), &closed);
    close(fd);
    ck_assert_msg(strncmp(out, "-ERR unknown command 'NOSUCHX', with args beginning with: 'a' 'a' ", 66) == 0, "%s",
                  out);
}
END_TEST

/* One SET of a 1,000-byte value written one byte at a time (a frame in 1,050 reads), then read back. */
START_TEST(a_frame_split_into_one_byte_writes) {
    int fd = raw_connect();
    char value[1000], frame[1100], out[1200];
    memset(value, 'z', sizeof(value));
    int len = snprintf(frame, sizeof(frame), "*3\r\n$3\r\nSET\r\n$8\r\nbytewise\r\n$1000\r\n%.1000s\r\n", value);
    for (int i = 0; i < len; i++) {
        ck_assert_int_eq(write(fd, frame + i, 1), 1);
        if (i % 100 == 0) usleep(1000);
    }
    ck_assert_int_eq(read(fd, out, 5), 5);
    ck_assert(strncmp(out, "+OK\r\n", 5) == 0);
    close(fd);
    redisContext *c = connect_port(SG_PORT);
    redisReply *r = cmd(c, "GET bytewise");
    ck_assert_int_eq(r->len, 1000);
    ck_assert(memcmp(r->str, value, 1000) == 0);
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* Half a command, then the client is gone: nothing runs. */
START_TEST(disconnect_mid_frame) {
    int fd = raw_connect();
    const char *half = "*3\r\n$3\r\nSET\r\n$7\r\nmidgone\r\n$10\r\nabcd";
    send_all(fd, half, strlen(half));
    sleep_ms(100);
    close(fd);
    sleep_ms(200);
    redisContext *c = connect_port(SG_PORT);
    redisReply *r = cmd(c, "EXISTS midgone");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* 10,000 connections opened and dropped, some after a command: slotgate keeps serving and its
 * descriptors come back to where they were. */
START_TEST(ten_thousand_connections_opened_and_dropped) {
    for (int i = 0; i < 10000; i++) {
        int fd = raw_connect();
        if (i % 10 == 0) send_all(fd, "PING\r\n", 6);
        close(fd);
    }
    int fds = 0;
    for (long long until = now_ms() + 5000; now_ms() < until; sleep_ms(100))
        if ((fds = open_fds()) <= fds_before + 2) break;
    ck_assert_msg(fds <= fds_before + 2, "descriptors: %d before, %d after", fds_before, fds);
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "PONG", "PING");
    redisFree(c);
}
END_TEST

/* Last: the bystander saw only right answers all along. */
START_TEST(the_bystander_was_never_disturbed) {
    sleep_ms(200);
    long ok = by_ok;
    ck_assert_msg(by_bad == 0, "the bystander got %ld wrong or failed replies (%ld right)", by_bad, ok);
    ck_assert_int_gt(ok, 1000);
    fprintf(stderr, "bystander: %ld SET/GET pairs answered right, 0 wrong\n", ok);
}
END_TEST

int main(void) {
    /* The bystander thread lives in this process: tests run in it too (not forked), so they see its
     * counters live and LeakSanitizer does not take its objects for leaks in a forked copy. */
    setenv("CK_FORK", "no", 1);
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("input");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_loop_test(tc, hostile_input_gets_redis_answers, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, a_million_arguments);
    tcase_add_test(tc, a_frame_split_into_one_byte_writes);
    tcase_add_test(tc, disconnect_mid_frame);
    tcase_add_test(tc, ten_thousand_connections_opened_and_dropped);
    tcase_add_test(tc, the_bystander_was_never_disturbed);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
