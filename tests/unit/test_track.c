/* The tracking table of client-side caching (router/track.c): who read which key, taken out whole when
 * the key changes, forgotten per client (NOLOOP), swept of clients that left, taken by slot (a slot that
 * moved), bounded oldest first, and its byte count back to nothing when empty. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/track.h"
#include "../support/run.h"

static int has(const struct track_entry *e, uint64_t id) {
    if (e->id0 == id) return 1;
    for (uint32_t i = 0; i < e->nids; i++)
        if (e->ids[i] == id) return 1;
    return 0;
}

START_TEST(remember_and_take) {
    struct track_table t;
    track_init(&t);
    ck_assert_int_eq(track_remember(&t, "k", 1, 7, 100), 0);
    ck_assert_int_eq(track_remember(&t, "k", 1, 7, 200), 0);
    ck_assert_int_eq(track_remember(&t, "k", 1, 7, 100), 0); /* the same client twice: once */
    ck_assert_int_eq(track_remember(&t, "other", 5, 9, 100), 0);
    ck_assert_int_eq((int)t.nkeys, 2);
    ck_assert_int_eq((int)t.nitems, 3);
    struct track_entry *e = track_take(&t, "k", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert(has(e, 100) && has(e, 200));
    ck_assert_int_eq(e->nids + 1, 2);
    ck_assert_int_eq(e->slot, 7);
    track_entry_free(&t, e);
    ck_assert_ptr_null(track_take(&t, "k", 1)); /* told once: gone until read again */
    ck_assert_int_eq((int)t.nkeys, 1);
    ck_assert_int_eq((int)t.nitems, 1);
    track_clear(&t);
    ck_assert_int_eq((int)t.bytes, 0);
}
END_TEST

START_TEST(oldest_first_and_bytes) {
    struct track_table t;
    track_init(&t);
    char k[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        ck_assert_int_eq(track_remember(&t, k, strlen(k), i % 16384, (uint64_t)(i % 3 + 1)), 0);
    }
    ck_assert_int_eq((int)t.nkeys, 10000);
    ck_assert_uint_gt(t.bytes, 10000 * sizeof(struct track_entry));
    for (int i = 0; i < 10000; i++) {
        struct track_entry *e = track_take_oldest(&t);
        snprintf(k, sizeof(k), "key:%d", i);
        ck_assert_int_eq((int)e->klen, (int)strlen(k));
        ck_assert(memcmp(e->key, k, e->klen) == 0);
        track_entry_free(&t, e);
    }
    ck_assert_ptr_null(track_take_oldest(&t));
    ck_assert_int_eq((int)t.nkeys, 0);
    ck_assert_int_eq((int)t.nitems, 0);
    ck_assert_uint_eq(t.bytes, t.nbuckets * sizeof(*t.buckets)); /* only the buckets are left */
    track_clear(&t);
}
END_TEST

START_TEST(forget_one_client) {
    struct track_table t;
    track_init(&t);
    track_remember(&t, "a", 1, 0, 1);
    track_remember(&t, "a", 1, 0, 2);
    track_remember(&t, "b", 1, 0, 1);
    track_forget(&t, "a", 1, 1); /* the first client of a goes, the other stays */
    track_forget(&t, "b", 1, 1); /* b's only client: b goes */
    track_forget(&t, "c", 1, 1); /* nobody tracks c: nothing */
    ck_assert_int_eq((int)t.nkeys, 1);
    ck_assert_int_eq((int)t.nitems, 1);
    struct track_entry *e = track_take(&t, "a", 1);
    ck_assert(has(e, 2) && !has(e, 1));
    track_entry_free(&t, e);
    track_clear(&t);
}
END_TEST

static int keep_odd(uint64_t id, void *ctx) {
    (void)ctx;
    return (int)(id & 1);
}

START_TEST(sweep_drops_clients_gone) {
    struct track_table t;
    track_init(&t);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "s%d", i);
        track_remember(&t, k, strlen(k), 0, 2);                 /* gone */
        if (i % 2) track_remember(&t, k, strlen(k), 0, 3);      /* stays */
        if (i % 4 == 0) track_remember(&t, k, strlen(k), 0, 4); /* gone */
    }
    size_t cursor = 0;
    int rounds = 0;
    do {
        track_sweep(&t, keep_odd, NULL, &cursor, 100);
        rounds++;
    } while (cursor != 0 && rounds < 10000);
    ck_assert_int_gt(rounds, 1); /* in steps */
    ck_assert_int_eq((int)t.nkeys, 500);
    ck_assert_int_eq((int)t.nitems, 500);
    struct track_entry *e = track_take(&t, "s1", 2);
    ck_assert(e && e->id0 == 3 && e->nids == 0);
    track_entry_free(&t, e);
    ck_assert_ptr_null(track_take(&t, "s0", 2));
    track_clear(&t);
}
END_TEST

static int slot_five(int slot, void *ctx) {
    (void)ctx;
    return slot == 5;
}

static void free_taken(struct track_entry *e, void *ctx) { track_entry_free(ctx, e); }

START_TEST(take_by_slot) {
    struct track_table t;
    track_init(&t);
    track_remember(&t, "x", 1, 5, 1);
    track_remember(&t, "y", 1, 5, 2);
    track_remember(&t, "z", 1, 6, 1);
    track_take_slots(&t, slot_five, NULL, free_taken, &t);
    ck_assert_int_eq((int)t.nkeys, 1);
    ck_assert_ptr_null(track_take(&t, "x", 1));
    struct track_entry *e = track_take(&t, "z", 1);
    ck_assert_ptr_nonnull(e);
    track_entry_free(&t, e);
    track_clear(&t);
}
END_TEST

SUITE_MAIN(.name = "track", .tests = {TEST(remember_and_take), TEST(oldest_first_and_bytes), TEST(forget_one_client),
                                      TEST(sweep_drops_clients_gone), TEST(take_by_slot)})
