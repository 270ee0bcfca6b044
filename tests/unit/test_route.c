/* The worker's routing table (router/route.c), over fake node objects: built from a CLUSTER SLOTS reply,
 * patched by MOVED, replicas chosen round robin among the usable ones, keyless commands spread over
 * the shards. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "../../router/route.h"
#include "../support/maps.h"
#include "../support/run.h"

/* 7000 owns 0-5460 with replicas 7003 and 7004; 7001 owns 5461-10922 and 16001-16383; 7002 the rest. */
static const char MAP[] =
    "*4\r\n"
    "*5\r\n:0\r\n:5460\r\n" SLOTS_NODE("7000", "a") SLOTS_NODE("7003", "d")
        SLOTS_NODE("7004", "e") "*3\r\n:5461\r\n:10922\r\n" SLOTS_NODE(
            "7001", "b") "*3\r\n:10923\r\n:16000\r\n" SLOTS_NODE("7002",
                                                                 "c") "*3\r\n:16001\r\n:16383\r\n" SLOTS_NODE("7001",
                                                                                                              "b");

static int nodes[16];        /* the fake node objects: &nodes[port - 7000] */
static int usable_mask = ~0; /* which of them are usable (bit port - 7000) */

static void *node_of(void *ctx, const char *host, int port) {
    (void)ctx;
    (void)host;
    return &nodes[port - 7000];
}
static int usable(void *node, void *ctx) {
    (void)ctx;
    return (usable_mask >> ((int *)node - nodes)) & 1;
}
static int port_of(void *node) { return node ? 7000 + (int)((int *)node - nodes) : -1; }

START_TEST(masters_replicas_and_shards) {
    struct route_table t = {0};
    struct slotmap *m = map_of(MAP);
    ck_assert_int_eq(route_build(&t, m, node_of, NULL), 0);
    ck_assert_int_eq(port_of(t.slot_master[0]), 7000);
    ck_assert_int_eq(port_of(t.slot_master[5461]), 7001);
    ck_assert_int_eq(port_of(t.slot_master[16000]), 7002);
    ck_assert_int_eq(port_of(t.slot_master[16383]), 7001);
    /* shards in slot order, each named by its first slot; keyless commands go round them */
    ck_assert_int_eq(t.nshards, 3);
    ck_assert(t.shard_slot[0] == 0 && t.shard_slot[1] == 5461 && t.shard_slot[2] == 10923);
    int seen[3] = {0};
    for (int i = 0; i < 30; i++) {
        int s = route_any_slot(&t);
        seen[s == 0 ? 0 : s == 5461 ? 1 : 2]++;
    }
    ck_assert(seen[0] == 10 && seen[1] == 10 && seen[2] == 10);
    /* replicas round robin, unusable ones skipped, none for a master without them */
    int got[2] = {0};
    for (int i = 0; i < 10; i++) got[port_of(route_replica(&t, 100, usable, NULL)) - 7003]++;
    ck_assert(got[0] == 5 && got[1] == 5);
    usable_mask = ~(1 << 3);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(port_of(route_replica(&t, 100, usable, NULL)), 7004);
    usable_mask = ~((1 << 3) | (1 << 4));
    ck_assert_ptr_null(route_replica(&t, 100, usable, NULL));
    usable_mask = ~0;
    ck_assert_ptr_null(route_replica(&t, 6000, usable, NULL));
    /* MOVED: slot 100 goes to 7002 now; the map's replicas of 7000 are not asked for it */
    route_patch(&t, 100, &nodes[2]);
    ck_assert_int_eq(port_of(t.slot_master[100]), 7002);
    ck_assert_ptr_null(route_replica(&t, 100, usable, NULL));
    ck_assert_int_eq(port_of(t.slot_master[101]), 7000); /* the rest of the shard as it was */
    /* the next map replaces every patch */
    ck_assert_int_eq(route_build(&t, m, node_of, NULL), 0);
    ck_assert_int_eq(port_of(t.slot_master[100]), 7000);
    route_free(&t);
    slotmap_unref(m);
}
END_TEST

START_TEST(no_map_no_slot) {
    struct route_table t = {0};
    ck_assert_int_eq(route_any_slot(&t), -1);
    ck_assert_ptr_null(route_replica(&t, 5, usable, NULL));
}
END_TEST

SUITE_MAIN(.name = "route", .tests = {TEST(masters_replicas_and_shards), TEST(no_map_no_slot)})
