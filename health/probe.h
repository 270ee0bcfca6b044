/* Node probes: every node of the current slot map (masters and replicas) is pinged on its own
 * connection each probe interval, and one master's CLUSTER NODES is read; a node's state is up,
 * suspect (a probe failed) or down (down-after probes in a row failed, or the cluster flags it
 * fail). Transitions are logged once, and a topology change seen in CLUSTER NODES (a new config
 * epoch, a fail flag, a node joining or leaving) asks the refresher for a new slot map at once. */
#ifndef SLOTGATE_PROBE_H
#define SLOTGATE_PROBE_H

#include <ev.h>

#include "../conf/conf.h"
#include "../router/slotmap.h"
#include "nodestate.h"
#include "refresh.h"

struct prober;

struct prober *prober_new(struct ev_loop *loop, const struct conf *conf, struct refresher *refresher);
/* The nodes to probe: those of this map (called on the main thread when a new map is published). */
void prober_set_map(struct prober *p, const struct slotmap *m);
void prober_free(struct prober *p);
/* Where each node's probe results go (status.h). */
struct status;
void prober_set_status(struct prober *p, struct status *s);
/* The configuration changed (SIGHUP): take the new probe interval. */
void prober_conf_changed(struct prober *p);

#endif
