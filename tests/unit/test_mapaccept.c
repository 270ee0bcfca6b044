/* The slot-map acceptance rule (health/mapaccept.c), case by case: maps built from CLUSTER SLOTS replies
 * as a node would give them, with the answering node's epoch. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "../../health/mapaccept.h"
#include "../support/maps.h"
#include "../support/run.h"

/* A: 7000 owns 0-8191, 7001 the rest. B: a failover moved 7001's slots to 7002. C: B without 7002's
 * shard (a node mid-failover), so fewer slots covered. */
static const char A[] =
    "*2\r\n*3\r\n:0\r\n:8191\r\n" SLOTS_NODE("7000", "a") "*3\r\n:8192\r\n:16383\r\n" SLOTS_NODE("7001", "b");
static const char B[] =
    "*2\r\n*3\r\n:0\r\n:8191\r\n" SLOTS_NODE("7000", "a") "*3\r\n:8192\r\n:16383\r\n" SLOTS_NODE("7002", "c");
static const char C[] = "*1\r\n*3\r\n:0\r\n:8191\r\n" SLOTS_NODE("7000", "a");

static const struct {
    const char *current, *first; /* NULL: none */
    long long first_epoch;
    const char *answer;
    long long epoch;
    enum map_decision want;
} cases[] = {
    {NULL, NULL, 0, A, 5, MAP_TAKE},    /* nothing yet: the first answer */
    {A, NULL, 0, A, 5, MAP_TAKE},       /* unchanged (the caller drops it) */
    {A, NULL, 0, B, 6, MAP_ASK_SECOND}, /* a change: ask another node */
    {A, B, 6, B, 6, MAP_TAKE_SECOND},   /* a second node agrees */
    {A, B, 6, A, 5, MAP_TAKE_FIRST},    /* they disagree: the newer epoch wins */
    {A, A, 5, B, 6, MAP_TAKE_SECOND},   /* ... whichever of the two saw it */
    {A, B, 6, C, 6, MAP_TAKE_FIRST},    /* equal epochs: the map covering more slots */
    {A, C, 6, B, 6, MAP_TAKE_SECOND},
};

START_TEST(decides) {
    struct slotmap *cur = cases[_i].current ? map_of(cases[_i].current) : NULL;
    struct slotmap *first = cases[_i].first ? map_of(cases[_i].first) : NULL, *ans = map_of(cases[_i].answer);
    struct map_opinion f = {first, cases[_i].first_epoch}, a = {ans, cases[_i].epoch};
    ck_assert_int_eq(mapaccept_decide(cur, first ? &f : NULL, &a), cases[_i].want);
    if (cur) slotmap_unref(cur);
    if (first) slotmap_unref(first);
    slotmap_unref(ans);
}
END_TEST

SUITE_MAIN(.name = "mapaccept", .tests = {LOOP_TEST(decides, sizeof(cases) / sizeof(cases[0]))})
