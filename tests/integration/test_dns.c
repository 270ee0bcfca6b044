/* Host names and moving addresses, as Kubernetes does them to Redis pods. The whole test (its three
 * redis-servers, slotgate and the client) runs in a network namespace of its own (support/netns.h),
 * where it rewrites /etc/hosts to change what names resolve to. Every node listens on port 6379 of its
 * own loopback address, like pods do, and announces a hostname (redis-N.test) and its IP.
 *
 * In order, on one cluster and one slotgate that is never restarted:
 *   1. slotgate is given only a seed name, whose addresses include two where nothing listens;
 *   2. every node stops and comes back on a new address (same node IDs, same data): slotgate's known
 *      addresses are all dead, it goes back to its seed name, which now resolves to the new ones;
 *   3. the nodes announce hostnames (cluster-preferred-endpoint-type hostname): the slot map and an
 *      ASK redirection carry names, which slotgate resolves without blocking;
 *   4. one master restarts on another address behind the same name: slotgate follows it. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../router/slot.h"
#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/netns.h"
#include "../support/nscluster.h"
#include "../support/run.h"

#define NODES   3
#define SG_PORT 7777
#define NKEYS   300

static struct nscluster nc;
static struct slotgate sg;

static void set_hosts(const char *seeds) { nsc_set_hosts(&nc, seeds); }
static void wait_cluster(int timeout_ms) {
    ck_assert_msg(nsc_wait(&nc, timeout_ms) == 0, "the cluster did not settle within %d ms", timeout_ms);
}
static void node_stop(int i) { nsc_node_stop(&nc, i, SIGTERM); } /* Redis writes its AOF, as a pod's stop */

/* How many keys read back right through slotgate now. */
static int keys_right_now(void) {
    redisContext *c = connect_port(SG_PORT);
    int right = 0;
    for (int k = 0; c && k < NKEYS; k++) {
        redisReply *r = redisCommand(c, "GET dns:%d", k);
        if (r && r->type == REDIS_REPLY_STRING && atoi(r->str) == k * 7) right++;
        if (r) freeReplyObject(r);
        if (!r) break;
    }
    if (c) redisFree(c);
    return right;
}

/* Reads every key through slotgate until all are right or the deadline passes; returns how many were. */
static int keys_right(int timeout_ms) {
    int right = 0;
    WAITED_FOR(timeout_ms, (right = keys_right_now()) == NKEYS);
    return right;
}

static void suite_setup(void) { nsc_start(&nc, 1, NODES, 0); }

static void suite_teardown(void) {
    if (sg.pid > 0) ck_assert_msg(slotgate_stop(&sg) == 0, "slotgate did not exit cleanly (log %s)", sg.log);
    for (int i = 0; i < NODES; i++) node_stop(i);
    nsc_stop(&nc);
}

/* 1. A seed name with three addresses, two of them dead: each is tried until one answers. */
START_TEST(seed_name_with_every_address_tried) {
    set_hosts("127.0.1.201 seeds.test\n127.0.1.202 seeds.test\n127.0.1.2 seeds.test\n");
    slotgate_start(&sg, SG_PORT, "--threads 1 --log-level verbose --dns-cache-ttl-ms 1000", "seeds.test:6379", 1);
    ck_assert_msg(slotgate_log_has(&sg, "seeds.test resolves to"), "the seed's addresses are not in the log");
    ck_assert(slotgate_log_has(&sg, "127.0.1.201") && slotgate_log_has(&sg, "127.0.1.202"));
    redisContext *c = connect_port(SG_PORT);
    for (int k = 0; k < NKEYS; k++) expect_str(c, "OK", "SET dns:%d %d", k, k * 7);
    redisFree(c);
    ck_assert_int_eq(keys_right(5000), NKEYS);
}
END_TEST

/* 2. Every node on a new address at once (same names, IDs, data). The addresses slotgate knows are all
 * dead: it goes back to its seed name, which now gives the new ones. */
START_TEST(all_nodes_move_and_are_found_through_the_seed) {
    pid_t before = sg.pid;
    for (int i = 0; i < NODES; i++) node_stop(i);
    for (int i = 0; i < NODES; i++) snprintf(nc.ip[i], sizeof(nc.ip[i]), "127.0.2.%d", i + 1);
    set_hosts("127.0.2.1 seeds.test\n127.0.2.2 seeds.test\n127.0.2.3 seeds.test\n");
    for (int i = 0; i < NODES; i++) nsc_node_start(&nc, i);
    /* Their nodes.conf has the old addresses: meeting at the new ones renames the known node IDs, as an
     * operator (or a chart's init script) does after pods moved. */
    for (int i = 1; i < NODES; i++) {
        char reply[64], port[8] = "6379";
        redisContext *c = nsc_connect(nc.ip[0]);
        redisReply *r = c ? redisCommand(c, "CLUSTER MEET %s %s", nc.ip[i], port) : NULL;
        snprintf(reply, sizeof(reply), "%s", r && r->type == REDIS_REPLY_STATUS ? r->str : "(failed)");
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
        ck_assert_str_eq(reply, "OK");
    }
    wait_cluster(30000);
    ck_assert_int_eq(keys_right(30000), NKEYS);
    ck_assert_int_eq(sg.pid, before);
    ck_assert_int_eq(kill(sg.pid, 0), 0); /* the same process, never restarted */
    json_t *slots = http_json(sg.admin_port, "/slots", 200);
    char *text = json_dumps(slots, 0);
    ck_assert_msg(strstr(text, "127.0.2.") && !strstr(text, "127.0.1."), "/slots: %s", text);
    free(text);
    json_decref(slots);
}
END_TEST

/* Until /slots has the three texts and not the fourth. */
static int slots_show(char **text, const char *a, const char *b, const char *c, const char * not ) {
    json_t *slots = http_json(sg.admin_port, "/slots", 200);
    free(*text);
    *text = json_dumps(slots, 0);
    json_decref(slots);
    return strstr(*text, a) && strstr(*text, b) && strstr(*text, c) && !strstr(*text, not );
}

static void wait_slots(const char *a, const char *b, const char *c, const char * not ) {
    char *text = NULL;
    WAIT_UNTIL(15000, slots_show(&text, a, b, c, not ), "/slots never showed %s, %s, %s without %s: %s", a, b, c, not,
               text);
    free(text);
}

/* 3. Hostnames in CLUSTER SLOTS ("?" for a node without one) and in an ASK redirection. */
START_TEST(hostnames_in_the_map_and_in_redirections) {
    for (int i = 0; i < NODES; i++) {
        char ok[16];
        nsc_query(nc.ip[i], ok, sizeof(ok), "CONFIG SET cluster-preferred-endpoint-type %s", "hostname");
        ck_assert_str_eq(ok, "OK");
    }
    wait_slots("redis-0.test", "redis-1.test", "redis-2.test", "\"addr\": \"127."); /* the next refresh */
    ck_assert_int_eq(keys_right(5000), NKEYS);
    /* A node with no hostname while hostnames are preferred is "?" in CLUSTER SLOTS, its IP in the
     * metadata: slotgate uses the IP. */
    char ok[16], at[64];
    nsc_query(nc.ip[2], ok, sizeof(ok), "CONFIG SET cluster-announce-hostname %s", "");
    ck_assert_str_eq(ok, "OK");
    snprintf(at, sizeof(at), "\"addr\": \"%s:6379\"", nc.ip[2]);
    wait_slots("redis-0.test", "redis-1.test", at, "redis-2.test");
    ck_assert_int_eq(keys_right(5000), NKEYS);
    nsc_query(nc.ip[2], ok, sizeof(ok), "CONFIG SET cluster-announce-hostname %s", "redis-2.test");
    wait_slots("redis-0.test", "redis-1.test", "redis-2.test", "\"addr\": \"127.");
    ck_assert_int_eq(keys_right(5000), NKEYS);

    /* Slot of dns:0 half-way from its master to another: its master answers ASK <slot> redis-N.test:6379. */
    unsigned slot = slot_for_key("dns:0", 5);
    char owner[64];
    int from = -1, to;
    for (int i = 0; i < NODES && from < 0; i++) {
        redisContext *c = nsc_connect(nc.ip[i]);
        redisReply *r = redisCommand(c, "CLUSTER COUNTKEYSINSLOT %u", slot);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) from = i;
        if (r) freeReplyObject(r);
        redisFree(c);
    }
    ck_assert_int_ge(from, 0);
    to = (from + 1) % NODES;
    snprintf(owner, sizeof(owner), "%s", nc.ip[to]);
    json_t *before = http_json(sg.admin_port, "/stats", 200);
    long long asks = json_integer_value(json_object_get(json_object_get(before, "redirections"), "ask"));
    json_decref(before);
    redisContext *a = nsc_connect(nc.ip[from]), *b = nsc_connect(nc.ip[to]);
    freeReplyObject(cmd(b, "CLUSTER SETSLOT %u IMPORTING %s", slot, nc.ids[from]));
    freeReplyObject(cmd(a, "CLUSTER SETSLOT %u MIGRATING %s", slot, nc.ids[to]));
    redisReply *r = cmd(a, "MIGRATE %s 6379 dns:0 0 5000", owner);
    ck_assert_msg(r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r->str);
    freeReplyObject(r);
    redisReply *ask = cmd(a, "GET dns:0");
    ck_assert_msg(ask->type == REDIS_REPLY_ERROR && strstr(ask->str, "redis-"), "direct GET: %s", ask->str);
    freeReplyObject(ask);
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "0", "GET dns:0");
    json_t *after = http_json(sg.admin_port, "/stats", 200);
    ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(after, "redirections"), "ask")), asks);
    json_decref(after);
    for (int i = 0; i < NODES; i++) {
        redisContext *n = nsc_connect(nc.ip[i]);
        freeReplyObject(cmd(n, "CLUSTER SETSLOT %u NODE %s", slot, nc.ids[to]));
        redisFree(n);
    }
    expect_str(c, "0", "GET dns:0"); /* MOVED to a name, or the refreshed map: the value either way */
    redisFree(c);
    redisFree(a);
    redisFree(b);
    ck_assert_int_eq(keys_right(5000), NKEYS);
}
END_TEST

/* 4. A master restarts on a new address behind the same name, with the same node ID: followed. */
START_TEST(a_master_restarted_on_a_new_address_is_followed) {
    pid_t before = sg.pid;
    node_stop(0);
    snprintf(nc.ip[0], sizeof(nc.ip[0]), "127.0.3.1");
    set_hosts("127.0.2.2 seeds.test\n");
    nsc_node_start(&nc, 0);
    char id[41];
    nsc_query(nc.ip[0], id, sizeof(id), "CLUSTER MYID", NULL);
    ck_assert_str_eq(id, nc.ids[0]);
    wait_cluster(30000); /* the others learn its new address from its own gossip */
    ck_assert_int_eq(keys_right(30000), NKEYS);
    ck_assert_int_eq(sg.pid, before);
    json_t *nodes = http_json(sg.admin_port, "/nodes", 200);
    char *text = json_dumps(nodes, 0);
    ck_assert_msg(strstr(text, "redis-0.test"), "/nodes: %s", text);
    free(text);
    json_decref(nodes);
    json_t *stats = http_json(sg.admin_port, "/stats", 200);
    json_t *dns = json_object_get(stats, "dns");
    ck_assert_int_gt(json_integer_value(json_object_get(dns, "lookups")), 0);
    json_decref(stats);
}
END_TEST

int main(int argc, char **argv) {
    netns_enter(argc, argv); /* returns inside the namespace */
    struct suite_spec spec = {.name = "dns",
                              .setup = suite_setup,
                              .teardown = suite_teardown,
                              .timeout = 240,
                              .no_fork = 1, /* one cluster and one slotgate through the four steps, in order */
                              .tests = {TEST(seed_name_with_every_address_tried),
                                        TEST(all_nodes_move_and_are_found_through_the_seed),
                                        TEST(hostnames_in_the_map_and_in_redirections),
                                        TEST(a_master_restarted_on_a_new_address_is_followed)}};
    return run_suite_spec(&spec);
}
