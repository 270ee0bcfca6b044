/* A migration's background work (issue 19), on a thread of its own so the workers never wait for it:
 *
 * - The copy: every master of the old backend is walked with SCAN; each key of the migrating route
 *   is copied to the new backend's owner of its slot by the old node itself, MIGRATE ... COPY without
 *   REPLACE: a key the new backend has already (written meanwhile, so copied by the data path with its
 *   newer value) is left as it is (BUSYKEY), and a key that expired or went in between is skipped.
 *   Copies are pipelined, a batch per SCAN step; progress is on /routes.
 * - The check: both sides walked, the route's keys counted per type on each (the old backend's keys as
 *   each side has them, and the keys only the new one has: under writes, keys made after the walk passed
 *   are in neither count, so the counts agree when the backends do); for every key (or a
 *   sampled percentage) the type, the value (compared as data, not as DUMP bytes) and the TTL (within a
 *   tolerance) are compared; a key that differs is looked at again a moment later (a write may have been
 *   between the two reads) before it counts. With repair, a difference is mended from the old backend.
 * Plain TCP connections (hiredis): with tls-cluster on, the background copy and the check are refused
 * (the data path's copies still run). migrator.c. */
#ifndef SLOTGATE_MIGRATOR_H
#define SLOTGATE_MIGRATOR_H

#include <jansson.h>

#include "../conf/conf.h"
#include "../health/status.h"
#include "../router/prefix.h"

struct migrator;

/* Starts copying for route `route` of t (which must stay alive while the migrator runs). */
struct migrator *migrator_start(const struct conf *conf, struct status *status, const struct prefix_table *t,
                                int route);
/* Stops it (waits for the thread). */
void migrator_stop(struct migrator *m);
/* Asks for a check (after the copy, if it is still running): 0, or -1 when one is under way already. */
int migrator_check(struct migrator *m, int sample_percent, int ttl_tolerance_ms, int repair);
/* The progress and the last check's result, as /routes shows them (a new reference). */
json_t *migrator_json(struct migrator *m);

#endif
