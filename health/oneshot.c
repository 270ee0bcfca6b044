/* See oneshot.h. */
#include "oneshot.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct os_conn {
    struct ctl *ac;
    int *left;
};

struct os_ask {
    struct oneshot *q;
    int *left;
};

static void on_reply(struct ctl *ac, redisReply *r, void *priv) {
    struct os_ask *a = priv;
    if (r) {
        /* the reply is freed after this call: a copy of what the two questions answer (a bulk string,
         * an integer, or an error) */
        redisReply *copy = calloc(1, sizeof(*copy));
        if (copy) {
            copy->type = r->type;
            copy->integer = r->integer;
            if (r->str && (copy->str = malloc(r->len + 1))) {
                memcpy(copy->str, r->str, r->len);
                copy->str[r->len] = '\0';
                copy->len = r->len;
            }
        }
        a->q->reply = copy;
        if (r->type == REDIS_REPLY_ERROR) snprintf(a->q->err, sizeof(a->q->err), "%.*s", (int)r->len, r->str);
    } else if (!a->q->err[0]) {
        snprintf(a->q->err, sizeof(a->q->err), "%.100s", ac && ac->errstr[0] ? ac->errstr : "connection lost");
    }
    (*a->left)--;
}

/* A connection that failed or ended is freed by ctl.c right after: forget it. */
static void on_connected(struct ctl *ac, int ok) {
    if (!ok) ((struct os_conn *)ac->data)->ac = NULL;
}

static void on_ended(struct ctl *ac, int ok) {
    (void)ok;
    ((struct os_conn *)ac->data)->ac = NULL;
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)t;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void on_check(struct ev_loop *loop, ev_prepare *p, int revents) {
    (void)revents;
    if (*(int *)p->data <= 0) ev_break(loop, EVBREAK_ALL);
}

static int numeric(const char *host, int port, char *ip, size_t iplen) {
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) return -1;
    void *a = res->ai_family == AF_INET6 ? (void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                         : (void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    int ok = inet_ntop(res->ai_family, a, ip, (socklen_t)iplen) != NULL;
    freeaddrinfo(res);
    return ok ? 0 : -1;
}

void oneshot_run(const struct conf *conf, struct oneshot *q, int n, double timeout_s) {
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct os_conn *conns = calloc((size_t)n, sizeof(*conns));
    struct os_ask *asks = calloc((size_t)n, sizeof(*asks));
    int left = 0;
    if (!loop || !conns || !asks) {
        for (int i = 0; i < n; i++) snprintf(q[i].err, sizeof(q[i].err), "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        q[i].reply = NULL, q[i].err[0] = '\0';
        int j = 0; /* the connection to this node: the first question asked of it opened it */
        while (j < i && (strcmp(q[j].host, q[i].host) != 0 || q[j].port != q[i].port)) j++;
        if (j == i) {
            char ip[64];
            if (numeric(q[i].host, q[i].port, ip, sizeof(ip)) < 0) {
                snprintf(q[i].err, sizeof(q[i].err), "cannot resolve %.100s", q[i].host);
                continue;
            }
            conns[i].ac = ctl_connect(loop, ip, q[i].port, conf->tls_cluster, q[i].host, on_connected, on_ended,
                                      &conns[i], q[i].err, sizeof(q[i].err));
            if (!conns[i].ac) continue;
            if (conf->backend_password && conf->backend_user)
                ctl_command(conns[i].ac, NULL, NULL, "AUTH %s %s", conf->backend_user, conf->backend_password);
            else if (conf->backend_password)
                ctl_command(conns[i].ac, NULL, NULL, "AUTH %s", conf->backend_password);
        }
        struct ctl *ac = conns[j].ac;
        if (!ac) {
            if (!q[i].err[0] && j != i) memcpy(q[i].err, q[j].err, sizeof(q[i].err));
            continue;
        }
        asks[i] = (struct os_ask){.q = &q[i], .left = &left};
        int rc = q[i].kind == OS_CLUSTER_NODES
                     ? ctl_command(ac, on_reply, &asks[i], "CLUSTER NODES")
                     : ctl_command(ac, on_reply, &asks[i], "CLUSTER COUNTKEYSINSLOT %d", q[i].slot);
        if (rc < 0)
            snprintf(q[i].err, sizeof(q[i].err), "connection failed");
        else
            left++;
    }
    if (left > 0) {
        ev_timer deadline;
        ev_prepare check;
        ev_timer_init(&deadline, on_deadline, timeout_s, 0);
        ev_timer_start(loop, &deadline);
        ev_prepare_init(&check, on_check);
        check.data = &left;
        ev_prepare_start(loop, &check);
        ev_run(loop, 0);
        ev_timer_stop(loop, &deadline);
        ev_prepare_stop(loop, &check);
    }
    for (int i = 0; i < n; i++) /* unanswered ones get NULL (and left goes down) */
        if (conns[i].ac) ctl_free(conns[i].ac);
    if (left > 0) ev_run(loop, EVRUN_NOWAIT); /* a deferred free finishes */
    for (int i = 0; i < n; i++)
        if (!q[i].reply && !q[i].err[0]) snprintf(q[i].err, sizeof(q[i].err), "no answer in time");
out:
    free(conns);
    free(asks);
    if (loop) ev_loop_destroy(loop);
}

void oneshot_free(struct oneshot *q, int n) {
    for (int i = 0; i < n; i++) {
        if (q[i].reply) {
            free(q[i].reply->str);
            free(q[i].reply);
        }
        q[i].reply = NULL;
    }
}
