/* protected-mode and admin-protected-mode (issue 17): slotgate listening on every address with no password
 * and no users serves 127.0.0.1 and gives any other address (here 127.0.0.2) Redis's -DENIED text and
 * closes it, and its admin endpoint answers that address only on /healthz and /readyz; a password, or the
 * settings turned off, serve it again. Against a real 3-master cluster. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE 22610

static struct cluster cl;
static struct slotgate open_sg, pass_sg, off_sg;

static void setup(void) {
    cluster_start(&cl, BASE, 3, 0);
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(&open_sg, 22691, "--threads 1 --bind 0.0.0.0 --admin-bind 0.0.0.0", seed, 1);
    slotgate_start(&pass_sg, 22692, "--threads 1 --bind 0.0.0.0 --requirepass pw", seed, 0);
    slotgate_start(&off_sg, 22693,
                   "--threads 1 --bind 0.0.0.0 --admin-bind 0.0.0.0 --protected-mode no --admin-protected-mode no",
                   seed, 1);
}

static void teardown(void) {
    int a = slotgate_stop(&open_sg), b = slotgate_stop(&pass_sg), c = slotgate_stop(&off_sg);
    cluster_stop(&cl);
    ck_assert_msg(a == 0 && b == 0 && c == 0, "a slotgate did not exit cleanly");
}

/* A connection to 127.0.0.1:port from the address from: what comes back to one line sent (all of it,
 * until the peer closes or 2 s pass), and whether the peer closed. */
static int exchange(const char *from, int port, const char *send_, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t w = write(fd, send_, strlen(send_));
    (void)w;
    size_t n = 0;
    int closed = 0;
    for (;;) {
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) closed = 1; /* closed, or reset: it read nothing of ours */
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) break;
        if (strstr(out, "\r\n") && !strncmp(send_, "PING", 4)) { /* a RESP answer: wait briefly for a close */
            tv.tv_sec = 0, tv.tv_usec = 300000;
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        }
    }
    out[n] = '\0';
    close(fd);
    return closed;
}

START_TEST(other_addresses_are_denied_without_a_password) {
    char out[4096];
    exchange("127.0.0.1", 22691, "PING\r\n", out, sizeof(out));
    ck_assert_str_eq(out, "+PONG\r\n");
    int closed = exchange("127.0.0.2", 22691, "PING\r\n", out, sizeof(out));
    ck_assert_msg(!strncmp(out,
                           "-DENIED Redis is running in protected mode because protected mode is enabled and no "
                           "password is set for the default user.",
                           100),
                  "%s", out);
    ck_assert(strstr(out, "from the outside.\r\n") != NULL);
    ck_assert_msg(closed, "the denied connection stayed open");
    redisContext *c = connect_port(22691);
    ck_assert_int_ge(info_int(c, "stats", "rejected_connections"), 1);
    redisFree(c);
}
END_TEST

START_TEST(a_password_or_protected_mode_no_serves_them) {
    char out[4096];
    exchange("127.0.0.2", 22692, "PING\r\n", out, sizeof(out));
    ck_assert_str_eq(out, "-NOAUTH Authentication required.\r\n");
    exchange("127.0.0.2", 22693, "PING\r\n", out, sizeof(out));
    ck_assert_str_eq(out, "+PONG\r\n");
}
END_TEST

START_TEST(the_admin_endpoint_too) {
    char out[8192];
    int admin = 22691 + SLOTGATE_ADMIN_OFFSET;
    exchange("127.0.0.2", admin, "GET /stats HTTP/1.0\r\n\r\n", out, sizeof(out));
    ck_assert_msg(!strncmp(out, "HTTP/1.0 403", 12) || !strncmp(out, "HTTP/1.1 403", 12), "%.200s", out);
    ck_assert(strstr(out, "protected mode") != NULL);
    exchange("127.0.0.2", admin, "GET /healthz HTTP/1.0\r\n\r\n", out, sizeof(out));
    ck_assert_msg(strstr(out, " 200 ") != NULL, "%.200s", out);
    exchange("127.0.0.2", admin, "GET /readyz HTTP/1.0\r\n\r\n", out, sizeof(out));
    ck_assert_msg(strstr(out, " 200 ") != NULL, "%.200s", out);
    exchange("127.0.0.1", admin, "GET /stats HTTP/1.0\r\n\r\n", out, sizeof(out));
    ck_assert_msg(strstr(out, " 200 ") != NULL, "%.200s", out);
    exchange("127.0.0.2", 22693 + SLOTGATE_ADMIN_OFFSET, "GET /stats HTTP/1.0\r\n\r\n", out, sizeof(out));
    ck_assert_msg(strstr(out, " 200 ") != NULL, "%.200s", out);
}
END_TEST

SUITE_MAIN(.name = "protected", .setup = setup, .teardown = teardown, .timeout = 60,
           .tests = {TEST(other_addresses_are_denied_without_a_password),
                     TEST(a_password_or_protected_mode_no_serves_them), TEST(the_admin_endpoint_too)})
