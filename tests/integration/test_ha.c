/* slotgate while the cluster changes under a steady load, each scenario on its own 3-master +
 * 3-replica cluster: a graceful CLUSTER FAILOVER (no client-visible error), a master killed with
 * SIGKILL (errors only for writes in flight to it, everything else held until the replica is promoted),
 * a master stopped past the node timeout and resumed (followed as it rejoins as a replica). Every
 * acknowledged write is read back afterwards. Each scenario prints its errors and longest stall. */
#include <check.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/load.h"
#include "../support/run.h"

#define BASE     21400
#define SG_PORT  21490
#define MAX_KEYS 400000

static struct cluster cl;
static struct slotgate sg;

static void setup(void) { fixture_up(&cl, &sg, BASE, 3, 1, SG_PORT, "--threads 1"); }
static void teardown(void) { fixture_down(&cl, &sg); }

static int master_of_key(const char *key) { return cluster_master_for_key(&cl, key); } /* load_verify's callback */

/* Every acknowledged write reads back through slotgate, except those Redis itself lost (bounded by
 * what one master can take in the moment before it is cut off). */
static void verify(const char *scenario, struct load *l) {
    long long wrong, lost = load_verify(l, SG_PORT, master_of_key, &wrong);
    fprintf(stderr, "%s: %lld acknowledged writes lost by Redis (async replication), %lld answered wrong by slotgate\n",
            scenario, lost, wrong);
    ck_assert_int_eq(wrong, 0);
    ck_assert_msg(lost <= 200, "%lld acknowledged writes lost", lost);
}

static void report(const char *scenario, struct load *l) {
    fprintf(stderr, "%s: %lld ops, %lld acknowledged writes, %lld client-visible errors%s%s, longest stall %lld ms\n",
            scenario, l->ops, l->written, l->errors, l->errors ? " (first: " : "", l->errors ? l->first_error : "",
            l->longest_stall_ms);
    if (l->errors) fprintf(stderr, ")\n");
}

START_TEST(graceful_failover_is_invisible) {
    struct load l;
    int victim = cluster_master_for_slot(&cl, 0), promoted = cluster_replica_of(&cl, victim);
    ck_assert_int_gt(promoted, 0);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    redisContext *d = connect_port(promoted);
    expect_str(d, "OK", "CLUSTER FAILOVER");
    redisFree(d);
    ck_assert_msg(wait_role(promoted, "master", 20000), "the replica was not promoted");
    sleep_ms(1500);
    load_stop(&l);
    report("graceful CLUSTER FAILOVER", &l);
    ck_assert_int_eq(l.errors, 0);
    ck_assert_int_gt(l.written, 1000);
    verify("graceful CLUSTER FAILOVER", &l);
    load_free(&l);
}
END_TEST

START_TEST(killed_master_errors_only_in_flight_writes) {
    struct load l;
    int victim = cluster_master_for_slot(&cl, 0), promoted = cluster_replica_of(&cl, victim);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    long long ops_before = l.ops;
    kill(cl.pids[victim - BASE], SIGKILL);
    long long t0 = now_ms();
    cl.pids[victim - BASE] = 0;
    ck_assert_msg(wait_role(promoted, "master", 30000), "the replica was not promoted");
    long long promoted_ms = now_ms() - t0;
    sleep_ms(2000);
    load_stop(&l);
    report("kill -9 of a master", &l);
    fprintf(stderr, "kill -9 of a master: replica promoted %lld ms after the kill\n", promoted_ms);
    ck_assert_int_gt(l.ops, ops_before + 1000); /* traffic went on after the failover */
    /* Only writes already sent to the dead master may fail (at most one pipeline batch). */
    ck_assert_msg(l.errors <= 50, "%lld errors, first: %s", l.errors, l.first_error);
    if (l.errors)
        ck_assert_msg(strstr(l.first_error, "may have been applied") != NULL, "unexpected error: %s", l.first_error);
    verify("kill -9 of a master", &l);
    load_free(&l);
}
END_TEST

START_TEST(stopped_master_is_replaced_then_followed) {
    struct load l;
    int victim = cluster_master_for_slot(&cl, 0), promoted = cluster_replica_of(&cl, victim);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    kill(cl.pids[victim - BASE], SIGSTOP);
    ck_assert_msg(wait_role(promoted, "master", 30000), "the replica was not promoted");
    sleep_ms(1000);
    kill(cl.pids[victim - BASE], SIGCONT);
    ck_assert_msg(wait_role(victim, "slave", 30000), "the old master did not rejoin as a replica");
    sleep_ms(1500);
    load_stop(&l);
    report("SIGSTOP of a master past the node timeout, then SIGCONT", &l);
    ck_assert_msg(l.errors <= 50, "%lld errors, first: %s", l.errors, l.first_error);
    verify("SIGSTOP of a master", &l);
    load_free(&l);
}
END_TEST

START_TEST(reshard_and_rebalance_under_load) {
    struct load l;
    char from[41], to[41];
    node_id(BASE, from);
    node_id(BASE + 1, to);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 120);
    sleep_ms(500);
    ck_assert_int_eq(cluster_cli(&cl,
                                 "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from %s --cluster-to %s "
                                 "--cluster-slots 2000 --cluster-yes --cluster-pipeline 100",
                                 BASE, from, to),
                     0);
    ck_assert_int_eq(cluster_master_for_slot(&cl, 0), BASE + 1); /* slot 0 moved */
    cluster_wait_settled(&cl);
    ck_assert_int_eq(
        cluster_cli(&cl, "redis-cli --cluster rebalance 127.0.0.1:%d --cluster-yes --cluster-pipeline 100", BASE), 0);
    sleep_ms(1000);
    load_stop(&l);
    report("reshard of 2000 slots, then rebalance", &l);
    ck_assert_msg(l.errors == 0, "%lld errors, first: %s", l.errors, l.first_error);
    verify("reshard and rebalance", &l);
    load_free(&l);
}
END_TEST

START_TEST(node_added_resharded_into_and_removed) {
    struct load l;
    int newport = BASE + 6;
    pid_t pid = node_spawn(cl.dir, newport);
    WAIT_UNTIL(10000, port_in_use(newport), "the new node never listened on %d", newport);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 120);
    sleep_ms(500);
    ck_assert_int_eq(cluster_cli(&cl, "redis-cli --cluster add-node 127.0.0.1:%d 127.0.0.1:%d", newport, BASE), 0);
    char id[41], from[41];
    node_id(newport, id);
    node_id(BASE, from);
    cluster_wait_joined(&cl, newport, id);
    ck_assert_int_eq(
        cluster_cli(&cl,
                    "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from %s --cluster-to %s --cluster-slots 1000 "
                    "--cluster-yes --cluster-pipeline 100",
                    BASE, from, id),
        0);
    ck_assert_int_eq(cluster_master_for_slot(&cl, 0), newport);
    cluster_wait_settled(&cl);
    ck_assert_int_eq(
        cluster_cli(&cl,
                    "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from %s --cluster-to %s --cluster-slots 1000 "
                    "--cluster-yes --cluster-pipeline 100",
                    BASE, id, from),
        0);
    cluster_wait_settled(&cl);
    ck_assert_int_eq(cluster_cli(&cl, "redis-cli --cluster del-node 127.0.0.1:%d %s", BASE, id), 0);
    sleep_ms(1500);
    load_stop(&l);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    untrack_pid(pid);
    report("add-node, reshard into it, empty it, del-node", &l);
    ck_assert_msg(l.errors == 0, "%lld errors, first: %s", l.errors, l.first_error);
    verify("add-node/del-node", &l);
    load_free(&l);
}
END_TEST

/* A master restarted on another port with its own nodes.conf keeps its node ID; the cluster learns
 * the new address by gossip and slotgate follows it without a restart. */
START_TEST(node_moving_to_a_new_port_is_followed) {
    struct load l;
    int victim = cluster_master_for_slot(&cl, 0), newport = BASE + 8;
    char id[41];
    node_id(victim, id);
    load_start(&l, SG_PORT, 50, MAX_KEYS, 120);
    sleep_ms(1000);
    redisContext *d = connect_port(victim);
    expect_str(d, "OK", "SAVE"); /* the data comes back with it (writes after this may be lost: Redis's) */
    redisFree(d);
    kill(cl.pids[victim - BASE], SIGKILL);
    waitpid(cl.pids[victim - BASE], NULL, 0);
    untrack_pid(cl.pids[victim - BASE]);
    cl.pids[victim - BASE] = node_spawn_with_files_of(cl.dir, newport, victim);
    /* within the node timeout: no failover */ /* within the node timeout: no failover, same master */
    WAIT_UNTIL(30000, cluster_master_for_slot(&cl, 0) == newport, "the cluster never learned the new address");
    char now_id[41];
    node_id(newport, now_id);
    ck_assert_str_eq(now_id, id);
    sleep_ms(2000);
    load_stop(&l);
    report("master restarted on a new port (same node ID)", &l);
    /* SIGKILL: writes in flight at that moment (at most one pipeline batch) may have been applied. */
    ck_assert_msg(l.errors <= 50, "%lld errors, first: %s", l.errors, l.first_error);
    if (l.errors)
        ck_assert_msg(strstr(l.first_error, "may have been applied") != NULL, "unexpected error: %s", l.first_error);
    verify("master restarted on a new port", &l);
    load_free(&l);
}
END_TEST

/* cmdstat_get calls on the node (0 when it never ran GET). */
static long long get_calls(int port) {
    redisContext *d = connect_port(port);
    redisReply *r = cmd(d, "INFO commandstats");
    const char *at = strstr(r->str, "cmdstat_get:calls=");
    long long n = at ? atoll(at + 18) : 0;
    freeReplyObject(r);
    redisFree(d);
    return n;
}

static int is_replica(int port) { return node_role_is(port, "slave"); }

START_TEST(replica_reads_and_fallback) {
    struct slotgate rs;
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(&rs, SG_PORT + 1, "--threads 1 --read-policy prefer-replica", seed, 1);
    redisContext *w = connect_port(SG_PORT), *r = connect_port(SG_PORT + 1);
    for (int i = 0; i < 300; i++) freeReplyObject(cmd(w, "SET rp:%d %d", i, i));
    sleep_ms(500); /* replication */
    for (int i = 0; i < cl.nnodes; i++) {
        redisContext *d = connect_port(BASE + i);
        freeReplyObject(cmd(d, "CONFIG RESETSTAT"));
        redisFree(d);
    }
    for (int i = 0; i < 300; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        expect_str(r, want, "GET rp:%d", i);
    }
    long long on_replicas = 0, on_masters = 0;
    for (int i = 0; i < cl.nnodes; i++) {
        if (is_replica(BASE + i))
            on_replicas += get_calls(BASE + i);
        else
            on_masters += get_calls(BASE + i);
    }
    fprintf(stderr, "prefer-replica: %lld GETs served by replicas, %lld by masters\n", on_replicas, on_masters);
    ck_assert_int_eq(on_replicas, 300);
    ck_assert_int_eq(on_masters, 0);
    /* READONLY from one client does the same on a slotgate whose policy is master. */
    redisContext *ro = connect_port(SG_PORT);
    expect_str(ro, "OK", "READONLY");
    for (int i = 0; i < 30; i++) freeReplyObject(cmd(ro, "GET rp:%d", i));
    on_replicas = on_masters = 0;
    for (int i = 0; i < cl.nnodes; i++) {
        if (is_replica(BASE + i))
            on_replicas += get_calls(BASE + i);
        else
            on_masters += get_calls(BASE + i);
    }
    ck_assert_msg(on_replicas == 330 && on_masters == 0, "after READONLY: %lld GETs on replicas, %lld on masters",
                  on_replicas, on_masters);
    redisFree(ro);
    /* Every replica down: reads fall back to the masters, with no errors. */
    for (int i = 0; i < cl.nnodes; i++) {
        if (is_replica(BASE + i)) {
            kill(cl.pids[i], SIGKILL);
            waitpid(cl.pids[i], NULL, 0);
            untrack_pid(cl.pids[i]);
            cl.pids[i] = 0;
        }
    }
    for (int i = 0; i < 300; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        expect_str(r, want, "GET rp:%d", i);
    }
    redisFree(w);
    redisFree(r);
    ck_assert_int_eq(slotgate_stop(&rs), 0);
}
END_TEST

/* a fresh cluster for each scenario (before_each) */
SUITE_MAIN(.name = "ha", .before_each = setup, .after_each = teardown, .timeout = 180,
           .tests = {TEST(graceful_failover_is_invisible), TEST(killed_master_errors_only_in_flight_writes),
                     TEST(stopped_master_is_replaced_then_followed), TEST(reshard_and_rebalance_under_load),
                     TEST(node_added_resharded_into_and_removed), TEST(replica_reads_and_fallback),
                     TEST(node_moving_to_a_new_port_is_followed)})
