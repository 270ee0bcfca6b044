/* The slot-map refresher's insides, shared by refresh.c (the cluster's CLUSTER SLOTS, the attempt and
 * its candidates) and onemaster.c (backend-kind sentinel and standalone: a map of one master, Sentinel's
 * announcements and failover hold). Not for anyone else: refresh.h is the interface. */
#ifndef SLOTGATE_REFRESH_PRIV_H
#define SLOTGATE_REFRESH_PRIV_H

#include <ev.h>

#include "../conf/conf.h"
#include "../router/slotmap.h"
#include "ctl.h"
#include "refresh.h"

#define MAX_CANDIDATES 128
#define SEED_MAX_AGE   1.0 /* seconds: a seed name is asked again at a rediscovery (a Service's members change) */

struct refresher {
    struct ev_loop *loop;
    const struct conf *conf;
    refresh_publish_fn publish;
    refresh_publish_cmds_fn publish_cmds;
    int have_cmds;
    void *ctx;
    struct slotmap *current;
    uint64_t version;
    ev_timer periodic, attempt_timeout, kick;
    ev_async wake;
    int wanted; /* atomic */
    int running, again, failures;
    double last_start;
    struct ctl *ac;
    char *cand[MAX_CANDIDATES];
    char is_seed[MAX_CANDIDATES]; /* a seed's name is resolved afresh (dns.h) */
    int ncand, idx;
    int dns_wait; /* the candidate's name is being resolved */
    ev_async dns_wake;
    char asked[SM_HOST_LEN + 8];
    char asked_host[SM_HOST_LEN];
    char last_good[SM_HOST_LEN + 8]; /* asked first next time */
    struct slotmap *answer;          /* this attempt's CLUSTER SLOTS, until its CLUSTER INFO is in */
    struct slotmap *first;           /* a changed map waiting for a second node's word */
    long long first_epoch;
    double retry_delay; /* after a round in which no node answered: 0.2 s doubling to 5 s */
    char first_from[SM_HOST_LEN + 8];
    /* Connections that exist: let go with ctl_disconnect(), one is freed only once its
     * replies are in, which a loop stopped for shutdown never delivers: those are freed at the end. */
    struct ctl *live[16];
    int *node_timeout_ms;
    struct status *status;
    struct sm_node sentinel_nodes[SM_MAX_REPLICAS + 1]; /* backend-kind sentinel: this attempt's answer */
    int sentinel_n;
    struct ctl *watch[8]; /* ... and a subscription to +switch-master on each sentinel (the first seeds) */
    int watch_ok[8];      /* its SUBSCRIBE was answered */
    ev_timer watch_timer;
    char last_switch[200]; /* the last +switch-master heard (each sentinel announces it) */
    char name[64];         /* routes by prefix: the backend's name in the log ("" for the default one) */
    /* A failover began (+failover-state-send-slaveof-noone): until the sentinels name another master (or
     * hold_until), the old one is not taken back, and the map has no master, so requests wait. */
    char hold_master[SM_HOST_LEN + 8];
    double hold_until, hold_since; /* hold_since: wall clock */
};

/* refresh.c */
void refresh_accept_map(struct refresher *h, struct slotmap *m, const char *from); /* takes m */
void refresh_finish(struct refresher *h, int ok);
void refresh_drop_ac(struct refresher *h);
void refresh_attempt_failed(struct refresher *h, const char *why);
void refresh_arm_attempt_timeout(struct refresher *h);

/* onemaster.c */
void onemaster_ask(struct refresher *h, struct ctl *ac); /* the attempt's questions, on connection ac */
void sentinel_watch_init(struct refresher *h);
void sentinel_watch_start(struct refresher *h);
void sentinel_watch_free(struct refresher *h);

#endif
