/* A few control-plane questions asked of some nodes at once, answered before a deadline: the caller's
 * thread waits (the admin endpoint's /rebalance asks masters CLUSTER NODES and CLUSTER COUNTKEYSINSLOT).
 * Each node gets one connection (plaintext or TLS as tls-cluster says, AUTH as the probes send it) on a
 * private libev loop, its questions pipelined. oneshot.c. */
#ifndef SLOTGATE_ONESHOT_H
#define SLOTGATE_ONESHOT_H

#include <hiredis/hiredis.h>

#include "../conf/conf.h"
#include "../router/slotmap.h"

enum oneshot_kind { OS_CLUSTER_NODES, OS_COUNTKEYSINSLOT };

struct oneshot {
    char host[SM_HOST_LEN];
    int port;
    int kind;
    int slot;          /* OS_COUNTKEYSINSLOT */
    redisReply *reply; /* NULL when no answer came (err says why); freed by oneshot_free */
    char err[128];
};

/* Asks every q[i] (several per node share a connection); returns when all are answered or timeout_s
 * has passed. */
void oneshot_run(const struct conf *conf, struct oneshot *q, int n, double timeout_s);
void oneshot_free(struct oneshot *q, int n);

#endif
