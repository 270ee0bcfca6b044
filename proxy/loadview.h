/* The admin endpoint's per-slot load (/load) and rebalance advice (/rebalance), built from the last
 * complete window of slotload.h. The advice asks the masters for CLUSTER NODES (to learn masters that own
 * no slot yet, as one just added) and CLUSTER COUNTKEYSINSLOT for each slot it would move, on the admin
 * thread with a deadline (health/oneshot.h); it moves nothing itself. loadview.c. */
#ifndef SLOTGATE_LOADVIEW_H
#define SLOTGATE_LOADVIEW_H

#include <jansson.h>

#include "admin.h"

/* /load: the window, per master and the hottest slots, and (with_slots) every slot that carried load. */
json_t *loadview_load(const struct admin_view *v, int with_slots);

struct rebalance_opts {
    int by_bytes;     /* balance bytes in + out instead of requests */
    double tolerance; /* stop when the busiest master is within this fraction of the mean */
    double min_gain;  /* ... or when a move would gain less than this fraction of the mean */
    int max_moves;
};
/* /rebalance: the plan as JSON, and as a shell script of redis-cli commands (free() it). */
json_t *loadview_rebalance(const struct admin_view *v, const struct rebalance_opts *o, char **script);

#endif
