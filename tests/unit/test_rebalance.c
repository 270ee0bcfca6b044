/* Rebalance advice (router/rebalance.c): hot slots on one master are spread over the others in as few
 * moves as the load allows; dust is not moved unless asked; a slot too hot to move stays; unowned slots
 * are never moved; a master owning nothing receives load. */
#include <check.h>
#include <string.h>

#include "../../router/rebalance.h"
#include "../support/run.h"

static double load[SLOT_COUNT];
static int owner[SLOT_COUNT];
static struct rb_move moves[4096];

/* Three masters with a third of the slots each, every slot carrying `base`. */
static void even(double base) {
    for (int s = 0; s < SLOT_COUNT; s++) owner[s] = s * 3 / SLOT_COUNT, load[s] = base;
}

START_TEST(three_hot_slots_on_one_master) {
    even(1);
    load[10] = load[20] = load[30] = 10000; /* master 0 */
    struct rb_result r;
    double after[3];
    int n = rebalance_plan(load, owner, 3, 0.05, 0.05, 100, moves, &r, after);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(r.nmoves, 2);
    ck_assert_int_ne(moves[0].to, moves[1].to);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(moves[i].from, 0);
        ck_assert(moves[i].slot == 10 || moves[i].slot == 20 || moves[i].slot == 30);
        ck_assert(moves[i].load == 10000);
    }
    ck_assert_double_gt(r.before_max_over_mean, 2.2); /* (5461 + 30000) / (46384 / 3) */
    ck_assert_double_lt(r.after_max_over_mean, 1.01);
    ck_assert_double_eq_tol(after[0], after[1], 3); /* 5461, 5462 and 5461 slots */
    ck_assert_double_eq_tol(after[1], after[2], 3);
}
END_TEST

START_TEST(dust_is_left_unless_asked) {
    even(0);
    for (int s = 0; s < SLOT_COUNT / 3; s++) load[s] = 3; /* master 0 carries everything, thinly */
    struct rb_result r;
    ck_assert_int_eq(rebalance_plan(load, owner, 3, 0.05, 0.05, 100, moves, &r, NULL), 0);
    ck_assert_double_eq_tol(r.before_max_over_mean, 3.0, 1e-9);
    ck_assert_double_eq_tol(r.after_max_over_mean, 3.0, 1e-9);
    int n = rebalance_plan(load, owner, 3, 0.05, 0, 4096, moves, &r, NULL);
    ck_assert_int_gt(n, 3000); /* two thirds of master 0's 5461 slots */
    ck_assert_double_lt(r.after_max_over_mean, 1.05);
    ck_assert_int_eq(rebalance_plan(load, owner, 3, 0.05, 0, 10, moves, &r, NULL), 10); /* bounded */
}
END_TEST

START_TEST(a_slot_too_hot_to_move_stays) {
    even(1);
    load[5] = 1e6; /* moving it only moves the problem */
    struct rb_result r;
    ck_assert_int_eq(rebalance_plan(load, owner, 3, 0.05, 0.05, 100, moves, &r, NULL), 0);
    ck_assert_double_eq(r.before_max_over_mean, r.after_max_over_mean);
}
END_TEST

START_TEST(an_empty_master_takes_load_and_unowned_slots_stay) {
    even(1);
    load[100] = load[200] = 20000;    /* master 0 */
    load[6000] = 20000;               /* master 1 */
    owner[300] = -1, load[300] = 1e9; /* nobody serves it: not counted, never moved */
    struct rb_result r;
    double after[4];
    int n = rebalance_plan(load, owner, 4, 0.05, 0.05, 100, moves, &r, after); /* master 3 owns nothing */
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(moves[0].from, 0);
    ck_assert_int_eq(moves[0].to, 3);
    ck_assert_double_eq_tol(after[3], 20000, 1e-9);
    for (int i = 0; i < n; i++) ck_assert_int_ne(moves[i].slot, 300);
}
END_TEST

START_TEST(no_load_no_moves) {
    even(0);
    struct rb_result r;
    ck_assert_int_eq(rebalance_plan(load, owner, 3, 0.05, 0, 100, moves, &r, NULL), 0);
    ck_assert_double_eq(r.before_max_over_mean, 0);
    ck_assert_int_eq(rebalance_plan(load, owner, 0, 0.05, 0, 100, moves, &r, NULL), 0);
}
END_TEST

SUITE_MAIN(.name = "rebalance",
           .tests = {TEST(three_hot_slots_on_one_master), TEST(dust_is_left_unless_asked),
                     TEST(a_slot_too_hot_to_move_stays), TEST(an_empty_master_takes_load_and_unowned_slots_stay),
                     TEST(no_load_no_moves)})
