/* See fakenode.h. */
#include "fakenode.h"

#include <arpa/inet.h>
#include <check.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64
#define NODE_ID   "fa4efa4efa4efa4efa4efa4efa4efa4efa4efa4e"

struct conn {
    int fd;
    redisReader *rd;
};

static void say(int fd, const char *s, size_t len) {
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) return;
        s += n, len -= (size_t)n;
    }
}
#define SAYS(fd, s) say(fd, s, strlen(s))

static void say_bulk(int fd, const char *s) {
    char hdr[32];
    snprintf(hdr, sizeof(hdr), "$%zu\r\n", strlen(s));
    SAYS(fd, hdr);
    SAYS(fd, s);
    SAYS(fd, "\r\n");
}

static int is(const redisReply *a, const char *word) {
    return a->type == REDIS_REPLY_STRING && strcasecmp(a->str, word) == 0;
}

/* Returns 0 to keep the connection, -1 when the fault closed it. */
static int answer(struct fakenode *f, struct conn *c, const redisReply *r) {
    char buf[512];
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return 0;
    const redisReply *cmd = r->element[0];
    if (is(cmd, "PING")) return SAYS(c->fd, "+PONG\r\n"), 0;
    if (is(cmd, "READONLY") || is(cmd, "ASKING")) return SAYS(c->fd, "+OK\r\n"), 0;
    if (is(cmd, "CONFIG")) return SAYS(c->fd, "*0\r\n"), 0;
    if (is(cmd, "INFO"))
        return say_bulk(c->fd,
                        "# Replication\r\nrole:master\r\nmaster_repl_offset:0\r\n# Memory\r\nused_memory:1000\r\n"),
               0;
    if (is(cmd, "CLUSTER") && r->elements > 1) {
        if (is(r->element[1], "SLOTS")) {
            snprintf(buf, sizeof(buf), "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:%d\r\n$40\r\n%s\r\n",
                     f->port, NODE_ID);
            return SAYS(c->fd, buf), 0;
        }
        if (is(r->element[1], "INFO"))
            return say_bulk(c->fd, "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
                                   "cluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\n"),
                   0;
        if (is(r->element[1], "NODES")) {
            snprintf(buf, sizeof(buf), "%s 127.0.0.1:%d@1 myself,master - 0 0 1 connected 0-16383\n", NODE_ID, f->port);
            return say_bulk(c->fd, buf), 0;
        }
    }
    if ((is(cmd, "GET") || is(cmd, "SET")) && r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING) {
        const char *key = r->element[1]->str;
        int get = is(cmd, "GET");
        if (!strncmp(key, "ok:", 3)) return SAYS(c->fd, get ? "$2\r\nok\r\n" : "+OK\r\n"), 0;
        if (!strncmp(key, "malformed:", 10)) return SAYS(c->fd, "?what is this\r\n"), 0;
        if (!strncmp(key, "oversized:", 10)) return SAYS(c->fd, "$99999999999\r\n"), 0;
        if (!strncmp(key, "deep:", 5)) {
            for (int i = 0; i < 40; i++) SAYS(c->fd, "*1\r\n");
            return SAYS(c->fd, ":1\r\n"), 0;
        }
        if (!strncmp(key, "truncated:", 10)) return SAYS(c->fd, "$10\r\nabc"), -1;
        if (!strncmp(key, "reset:", 6)) {
            SAYS(c->fd, "$10\r\nabc");
            struct linger l = {1, 0}; /* close with a reset, not a FIN */
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            return -1;
        }
        if (!strncmp(key, "stall:", 6)) return 0;
        if (!strncmp(key, "nowhere:", 8)) return SAYS(c->fd, "-MOVED 1 ?:6379\r\n"), 0;
        return SAYS(c->fd, get ? "$-1\r\n" : "+OK\r\n"), 0;
    }
    return SAYS(c->fd, "-ERR the fake node does not know this command\r\n"), 0;
}

static void *serve(void *arg) {
    struct fakenode *f = arg;
    struct conn conns[MAX_CONNS];
    int n = 0;
    while (!f->stop) {
        struct pollfd p[MAX_CONNS + 1];
        p[0] = (struct pollfd){.fd = f->listen_fd, .events = POLLIN};
        for (int i = 0; i < n; i++) p[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(p, (nfds_t)n + 1, 100) <= 0) continue;
        if ((p[0].revents & POLLIN) && n < MAX_CONNS) {
            int fd = accept(f->listen_fd, NULL, NULL);
            if (fd >= 0) {
                conns[n++] = (struct conn){fd, redisReaderCreate()};
                f->connections++;
            }
        }
        for (int i = n - 1; i >= 0; i--) {
            if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[16384];
            ssize_t got = read(conns[i].fd, buf, sizeof(buf));
            int drop = got <= 0;
            if (!drop) redisReaderFeed(conns[i].rd, buf, (size_t)got);
            void *reply;
            while (!drop && redisReaderGetReply(conns[i].rd, &reply) == REDIS_OK && reply) {
                drop = answer(f, &conns[i], reply) < 0;
                freeReplyObject(reply);
            }
            if (drop) {
                close(conns[i].fd);
                redisReaderFree(conns[i].rd);
                conns[i] = conns[--n];
            }
        }
    }
    for (int i = 0; i < n; i++) {
        close(conns[i].fd);
        redisReaderFree(conns[i].rd);
    }
    return NULL;
}

void fakenode_start(struct fakenode *f, int port) {
    memset(f, 0, sizeof(*f));
    f->port = port;
    f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001)};
    ck_assert_msg(bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0, "fake node: port %d is taken", port);
    ck_assert_int_eq(listen(f->listen_fd, 64), 0);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

void fakenode_stop(struct fakenode *f) {
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}
