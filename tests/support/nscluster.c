/* See nscluster.h. */
#include "nscluster.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "netns.h"

redisContext *nsc_connect(const char *ip) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(ip, NSC_PORT, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

void nsc_query(const char *ip, char *out, size_t len, const char *fmt, const char *arg) {
    out[0] = '\0';
    redisContext *c = nsc_connect(ip);
    redisReply *r = c ? redisCommand(c, fmt, arg) : NULL;
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) snprintf(out, len, "%s", r->str);
    if (r) freeReplyObject(r);
    if (c) redisFree(c);
}

pid_t nsc_node_start(struct nscluster *c, int i) {
    char conf[64], aof[32], log[200], host[32];
    snprintf(conf, sizeof(conf), "nodes-%d.conf", i);
    snprintf(aof, sizeof(aof), "aof-%d", i);
    snprintf(log, sizeof(log), "%s/redis-%d.log", c->dir, i);
    snprintf(host, sizeof(host), "redis-%d.test", i);
    /* validity factor 0: a replica that fell behind on a loaded 2-core machine still takes over */
    char *argv[] = {"redis-server",
                    "--port",
                    "6379",
                    "--bind",
                    c->ip[i],
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    conf,
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-replica-validity-factor",
                    "0",
                    "--cluster-announce-ip",
                    c->ip[i],
                    "--cluster-announce-hostname",
                    host,
                    "--dir",
                    c->dir,
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appenddirname",
                    aof,
                    NULL};
    c->pids[i] = spawn(argv, log);
    long long until = now_ms() + 20000;
    for (;;) {
        char pong[16];
        nsc_query(c->ip[i], pong, sizeof(pong), "PING", NULL);
        if (!strcmp(pong, "PONG")) break;
        ck_assert_msg(now_ms() < until, "redis-server on %s did not start", c->ip[i]);
        sleep_ms(50);
    }
    return c->pids[i];
}

void nsc_node_stop(struct nscluster *c, int i, int sig) {
    if (c->pids[i] <= 0) return;
    kill(c->pids[i], sig);
    waitpid(c->pids[i], NULL, 0);
    untrack_pid(c->pids[i]);
    c->pids[i] = 0;
}

void nsc_set_hosts(struct nscluster *c, const char *seed_lines) {
    char text[2048];
    int n = 0;
    snprintf(c->seeds, sizeof(c->seeds), "%s", seed_lines);
    for (int i = 0; i < c->nnodes; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%s redis-%d.test\n", c->ip[i], i);
    snprintf(text + n, sizeof(text) - (size_t)n, "%s", seed_lines);
    netns_set_hosts(text);
}

int nsc_wait(struct nscluster *c, int timeout_ms) {
    long long until = now_ms() + timeout_ms;
    for (;;) {
        int ok = 1;
        for (int i = 0; i < c->nnodes && ok; i++) {
            char info[4096], nodes[8192];
            nsc_query(c->ip[i], info, sizeof(info), "CLUSTER INFO", NULL);
            nsc_query(c->ip[i], nodes, sizeof(nodes), "CLUSTER NODES", NULL);
            ok = strstr(info, "cluster_state:ok") != NULL && !strstr(nodes, "fail");
            for (int k = 0; k < c->nnodes && ok; k++) {
                char at[128];
                snprintf(at, sizeof(at), "%s:%d@", c->ip[k], NSC_PORT);
                ok = strstr(nodes, at) != NULL;
            }
        }
        if (ok) return 0;
        if (now_ms() >= until) return -1;
        sleep_ms(100);
    }
}

void nsc_start(struct nscluster *c, int net, int masters, int replicas) {
    memset(c, 0, sizeof(*c));
    c->nmasters = masters;
    c->nnodes = masters * (1 + replicas);
    snprintf(c->dir, sizeof(c->dir), "/tmp/slotgate-test-%d-ns", (int)getpid());
    mkdir(c->dir, 0755);
    for (int i = 0; i < c->nnodes; i++) snprintf(c->ip[i], sizeof(c->ip[i]), "127.0.%d.%d", net, i + 1);
    nsc_set_hosts(c, "");
    char cmdline[1024];
    int n = snprintf(cmdline, sizeof(cmdline), "redis-cli --cluster create");
    for (int i = 0; i < c->nnodes; i++) {
        nsc_node_start(c, i);
        n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " %s:6379", c->ip[i]);
    }
    snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --cluster-replicas %d --cluster-yes > %s/create.log 2>&1",
             replicas, c->dir);
    ck_assert_msg(system(cmdline) == 0, "redis-cli --cluster create failed (%s/create.log)", c->dir);
    ck_assert_msg(nsc_wait(c, 30000) == 0, "the cluster did not settle");
    for (int i = 0; i < c->nnodes; i++) nsc_query(c->ip[i], c->ids[i], sizeof(c->ids[i]), "CLUSTER MYID", NULL);
}

void nsc_stop(struct nscluster *c) {
    for (int i = 0; i < c->nnodes; i++) nsc_node_stop(c, i, SIGKILL);
    char cmdline[200];
    snprintf(cmdline, sizeof(cmdline), "rm -rf %s", c->dir);
    if (system(cmdline) != 0) fprintf(stderr, "could not remove %s\n", c->dir);
}
