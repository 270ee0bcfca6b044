/* A Redis Cluster laid out as Kubernetes lays out pods, for tests inside a network namespace
 * (netns.h): node i listens on port 6379 of its own loopback address, announces that address and the
 * hostname redis-<i>.test, and /etc/hosts maps each name to its node's current address. Nodes can
 * stop and come back on another address with their node ID and data (AOF), as a restarted pod does. */
#ifndef SLOTGATE_TEST_NSCLUSTER_H
#define SLOTGATE_TEST_NSCLUSTER_H

#include <hiredis/hiredis.h>
#include <sys/types.h>

#define NSC_PORT      6379
#define NSC_MAX_NODES 8

struct nscluster {
    char dir[128];
    int nnodes, nmasters;
    pid_t pids[NSC_MAX_NODES];
    char ip[NSC_MAX_NODES][32];
    char ids[NSC_MAX_NODES][41];
    char seeds[512]; /* extra /etc/hosts lines (seeds.test ...) */
};

/* masters * (1 + replicas) nodes on 127.0.<net>.1.. created as a cluster; aborts the test on failure. */
void nsc_start(struct nscluster *c, int net, int masters, int replicas);
void nsc_stop(struct nscluster *c);
pid_t nsc_node_start(struct nscluster *c, int i);
/* sig SIGTERM (Redis writes its AOF and, as a master, waits for its replicas) or SIGKILL. */
void nsc_node_stop(struct nscluster *c, int i, int sig);
/* Rewrites /etc/hosts: every node's name at its current address, then the seed lines (may be ""). */
void nsc_set_hosts(struct nscluster *c, const char *seed_lines);
/* Until every node says cluster_state:ok and lists every node at its current address, none failed. */
int nsc_wait(struct nscluster *c, int timeout_ms);
redisContext *nsc_connect(const char *ip);
/* One command's string or status reply on the node at ip, copied into out ("" on any failure). */
void nsc_query(const char *ip, char *out, size_t len, const char *fmt, const char *arg);

#endif
