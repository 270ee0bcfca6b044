/* Slot-map discovery and refresh: asks CLUSTER SLOTS of a known node (the current map's masters
 * first, then the seeds, the first that answers wins), builds an immutable struct slotmap and hands
 * it to the proxy when it differs from the last one. Runs on the main thread's loop with hiredis
 * async; workers ask for a refresh from their own threads (after MOVED or a connection error), and
 * such requests are coalesced and rate-limited here. The first node that answers is also asked for
 * COMMAND, so commands this build has never heard of route by their own key specs. It never touches
 * client traffic. */
#ifndef SLOTGATE_REFRESH_H
#define SLOTGATE_REFRESH_H

#include <ev.h>

#include "../conf/conf.h"
#include "../router/slotmap.h"

struct refresher;

struct cmdtable;
typedef void (*refresh_publish_fn)(void *ctx, struct slotmap *m);
typedef void (*refresh_publish_cmds_fn)(void *ctx, struct cmdtable *t);

/* publish_cmds receives, once, a command table built from the cluster's own COMMAND reply. */
struct refresher *refresher_new(struct ev_loop *loop, const struct conf *conf, refresh_publish_fn publish,
                                refresh_publish_cmds_fn publish_cmds, void *ctx);
void refresher_start(struct refresher *h);
/* Where to store the cluster's cluster-node-timeout once a node has told it (an atomic int). */
void refresher_set_node_timeout_sink(struct refresher *h, int *ms);
/* Where maps and refresh results are published for the admin endpoint and INFO. */
struct status;
void refresher_set_status(struct refresher *h, struct status *s);
/* Routes by prefix: a backend other than the default one names itself in the log lines. */
void refresher_set_name(struct refresher *h, const char *name);
/* The configuration changed (SIGHUP): take the new refresh interval. */
void refresher_conf_changed(struct refresher *h);
/* Thread-safe. */
void refresher_request(struct refresher *h, const char *why);
/* The last map published (a new reference), or NULL. Main thread only. */
struct slotmap *refresher_current(struct refresher *h);
void refresher_free(struct refresher *h);

#endif
