/* Rebalance advice: given the load each slot carried over a window and which master owns it, a list of
 * slot moves that evens the load across the masters (masters owning no slot count too: a master just
 * added is where load should go). Greedy: while the most loaded master is more than `tolerance` above the
 * mean, move from it to the least loaded master the slot whose load comes closest to half their
 * difference (never more than the difference: each move strictly lowers the sum of squared loads, so it
 * ends), up to max_moves, each slot at most once, and only while a move lowers the pair's higher load by at
 * least min_gain of the mean (moving dust costs a slot migration each and changes little). Slots with no load are never
 * moved: moving them changes nothing measured. Pure logic: slotgate never moves a slot itself; the admin endpoint turns
 * the plan into commands an operator runs (proxy/admin.c). rebalance.c. */
#ifndef SLOTGATE_REBALANCE_H
#define SLOTGATE_REBALANCE_H

#include "slot.h"

#define RB_MAX_MASTERS 1024

struct rb_move {
    int slot, from, to; /* master indexes */
    double load;
};

struct rb_result {
    int nmoves;
    double before_max_over_mean, after_max_over_mean; /* 1.0: perfectly even; 0 when there is no load */
    double mean;
};

/* A master just added owns nothing: with load spread thinly over all slots the plan is thousands of dust
 * moves, the case for `redis-cli --cluster rebalance --cluster-use-empty-masters` (min_gain 0 shows it).
 * load[SLOT_COUNT]; owner[SLOT_COUNT]: master index, or -1 for a slot nobody serves (never moved, its
 * load not counted); masters_load (nmasters, may be NULL) receives each master's load after the plan.
 * Returns the moves written to moves (at most max_moves). */
int rebalance_plan(const double *load, const int *owner, int nmasters, double tolerance, double min_gain, int max_moves,
                   struct rb_move *moves, struct rb_result *res, double *masters_load);

#endif
