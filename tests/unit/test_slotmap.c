/* Slot map built from raw CLUSTER SLOTS replies (parsed by hiredis's reader, as health/ receives them). */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/slotmap.h"
#include "../support/run.h"

static redisReply *parse(const char *raw) {
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(r, raw, strlen(raw));
    ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
    redisReaderFree(r);
    ck_assert_ptr_nonnull(reply);
    return reply;
}

/* Three masters, one owning two ranges, one with a replica, as Redis 7.0 answers (4-element nodes). */
static const char THREE[] =
    "*4\r\n"
    "*4\r\n:0\r\n:5460\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:7003\r\n$40\r\ndddddddddddddddddddddddddddddddddddddddd\r\n*0\r\n"
    "*3\r\n:5461\r\n:10922\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n*0\r\n"
    "*3\r\n:10923\r\n:16000\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$40\r\ncccccccccccccccccccccccccccccccccccccccc\r\n*0\r\n"
    "*3\r\n:16001\r\n:16383\r\n"
    "*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n";

START_TEST(builds_three_masters) {
    redisReply *r = parse(THREE);
    char err[256];
    struct slotmap *m = slotmap_build(r, "127.0.0.1", err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    ck_assert(slotmap_is_complete(m));
    ck_assert_int_eq(m->nshards, 3);
    ck_assert_int_eq(m->nnodes, 4);
    const struct sm_shard *s0 = slotmap_shard(m, 0), *s1 = slotmap_shard(m, 16383);
    ck_assert_int_eq(m->nodes[s0->master].port, 7000);
    ck_assert_int_eq(s0->nreplicas, 1);
    ck_assert_int_eq(m->nodes[s0->replicas[0]].port, 7003);
    ck_assert_str_eq(m->nodes[s0->replicas[0]].id, "dddddddddddddddddddddddddddddddddddddddd");
    ck_assert_ptr_eq(slotmap_shard(m, 5461), s1); /* 7001's two ranges are one shard */
    ck_assert_uint_eq(s1->nslots, 5462 + 383);
    ck_assert_int_eq(m->nodes[slotmap_shard(m, 16000)->master].port, 7002);
    slotmap_unref(m);
    freeReplyObject(r);
}
END_TEST

START_TEST(uncovered_slots_are_known) {
    const char *raw = "*1\r\n*3\r\n:0\r\n:99\r\n*3\r\n$0\r\n\r\n:7000\r\n$1\r\nx\r\n";
    redisReply *r = parse(raw);
    char err[256];
    struct slotmap *m = slotmap_build(r, "10.1.2.3", err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    ck_assert(!slotmap_is_complete(m));
    ck_assert_uint_eq(m->covered, 100);
    ck_assert_ptr_null(slotmap_shard(m, 100));
    ck_assert_str_eq(m->nodes[0].host, "10.1.2.3"); /* empty host: the node we asked */
    slotmap_unref(m);
    freeReplyObject(r);
}
END_TEST

/* Redis 7 with cluster-preferred-endpoint-type hostname: names first; "?" for a node without one (its
 * IP in the metadata map); NULL for an unknown endpoint (unknown-endpoint): the host that was asked. */
START_TEST(endpoints_of_redis_7) {
    const char *raw = "*3\r\n"
                      "*4\r\n:0\r\n:99\r\n"
                      "*4\r\n$13\r\nredis-0.redis\r\n:6379\r\n$1\r\na\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.5\r\n"
                      "*4\r\n$1\r\n?\r\n:6380\r\n$1\r\nb\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.6\r\n"
                      "*3\r\n:100\r\n:199\r\n"
                      "*4\r\n$-1\r\n:6381\r\n$1\r\nc\r\n*0\r\n"
                      "*3\r\n:200\r\n:299\r\n"
                      "*4\r\n$1\r\n?\r\n:6382\r\n$1\r\nd\r\n*2\r\n$2\r\nip\r\n$0\r\n\r\n";
    redisReply *r = parse(raw);
    char err[256];
    struct slotmap *m = slotmap_build(r, "10.0.0.9", err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    const struct sm_shard *s0 = slotmap_shard(m, 0);
    ck_assert_str_eq(m->nodes[s0->master].host, "redis-0.redis");
    ck_assert_str_eq(m->nodes[s0->replicas[0]].host, "127.0.0.6");
    ck_assert_str_eq(m->nodes[slotmap_shard(m, 100)->master].host, "10.0.0.9");
    ck_assert_int_eq(m->nodes[slotmap_shard(m, 100)->master].port, 6381);
    ck_assert_str_eq(m->nodes[slotmap_shard(m, 200)->master].host, "10.0.0.9"); /* "?" and no IP either */
    ck_assert_uint_eq(m->covered, 300);
    slotmap_unref(m);
    freeReplyObject(r);
}
END_TEST

static const char *bad[] = {
    "-ERR This instance has cluster support disabled\r\n",
    "*1\r\n:5\r\n",
    "*1\r\n*2\r\n:0\r\n:1\r\n",
    "*1\r\n*3\r\n:5\r\n:1\r\n*2\r\n$1\r\na\r\n:1\r\n",
    "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",
    "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:70000\r\n",
    "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\na\r\n",
};

START_TEST(rejects_what_is_not_cluster_slots) {
    redisReply *r = parse(bad[_i]);
    char err[256] = "";
    ck_assert_ptr_null(slotmap_build(r, NULL, err, sizeof(err)));
    ck_assert_msg(strncmp(err, "CLUSTER SLOTS", 13) == 0, "error text: %s", err);
    freeReplyObject(r);
}
END_TEST

START_TEST(same_detects_changes) {
    redisReply *r = parse(THREE);
    char err[256];
    struct slotmap *a = slotmap_build(r, NULL, err, sizeof(err)), *b = slotmap_build(r, NULL, err, sizeof(err));
    ck_assert(slotmap_same(a, b));
    b->slot_shard[77] = b->slot_shard[16383];
    ck_assert(!slotmap_same(a, b));
    slotmap_unref(a);
    slotmap_unref(b);
    freeReplyObject(r);
}
END_TEST

/* backend-kind standalone/sentinel: one master owning every slot, its replicas (a repeated address once),
 * ids made from the addresses: the same each time, different per node. */
START_TEST(single_master_map) {
    struct sm_node n[4] = {
        {"10.0.0.1", 6379, ""}, {"10.0.0.2", 6379, ""}, {"10.0.0.2", 6379, ""}, {"10.0.0.3", 6380, ""}};
    char err[128];
    struct slotmap *m = slotmap_single(n, 4, err, sizeof(err)), *again = slotmap_single(n, 4, err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->nshards, 1);
    ck_assert_int_eq(m->nnodes, 3);
    ck_assert_int_eq(m->shards[0].nreplicas, 2);
    ck_assert(slotmap_is_complete(m));
    ck_assert_int_eq(m->shards[0].nslots, SLOT_COUNT);
    ck_assert_ptr_eq(slotmap_shard(m, 0), slotmap_shard(m, 16383));
    ck_assert_str_eq(m->nodes[m->shards[0].master].host, "10.0.0.1");
    ck_assert_int_eq(strlen(m->nodes[0].id), 40);
    ck_assert_str_eq(m->nodes[0].id, again->nodes[0].id);
    ck_assert_str_ne(m->nodes[0].id, m->nodes[1].id);
    ck_assert(slotmap_same(m, again));
    slotmap_unref(again);
    slotmap_unref(m);
    struct sm_node none = {"", 0, ""};
    ck_assert_ptr_null(slotmap_single(&none, 1, err, sizeof(err)));
}
END_TEST

SUITE_MAIN(.name = "slotmap",
           .tests = {TEST(builds_three_masters), TEST(uncovered_slots_are_known), TEST(endpoints_of_redis_7),
                     LOOP_TEST(rejects_what_is_not_cluster_slots, (int)(sizeof(bad) / sizeof(bad[0]))),
                     TEST(same_detects_changes), TEST(single_master_map)})
