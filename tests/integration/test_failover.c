/* Backend failures against a real 3-master + 3-replica cluster: a stalled master makes the writes in
 * flight to it fail with an error naming it (no hang) while other masters keep serving; a master killed with
 * SIGKILL mid-pipeline produces errors only for its own keys, never a hang, and after the replica is
 * promoted the same keys read back through slotgate. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21100
#define SG_PORT 21190
#define NKEYS   3000

static struct cluster cl;
static struct slotgate sg;

static void suite_setup(void) { fixture_up(&cl, &sg, BASE, 3, 1, SG_PORT, "--threads 1 --command-timeout-ms 1000"); }
static void suite_teardown(void) { fixture_down(&cl, &sg); }

static pid_t pid_of_port(int port) { return cl.pids[port - BASE]; }

/* A key owned by the given master port. */
static void key_on(int port, char *out, size_t len) {
    for (int i = 0;; i++) {
        snprintf(out, len, "probe:%d", i);
        if (cluster_master_for_key(&cl, out) == port) return;
    }
}

START_TEST(stalled_master_fails_fast_naming_the_node) {
    redisContext *c = connect_port(SG_PORT);
    int victim = cluster_master_for_key(&cl, "stall:a"), other = victim == BASE ? BASE + 1 : BASE;
    char vkey[32], okey[32], want[64];
    key_on(victim, vkey, sizeof(vkey));
    key_on(other, okey, sizeof(okey));
    expect_str(c, "OK", "SET %s 1", vkey);
    expect_str(c, "OK", "SET %s 2", okey);
    kill(pid_of_port(victim), SIGSTOP);
    long long t0 = now_ms();
    /* A write in flight to a stalled node may or may not have been applied: after command-timeout-ms it
     * fails with an error naming the node. (A read would be held and retried: see test_ha.) */
    redisReply *r = cmd(c, "SET %s 1", vkey);
    long long waited = now_ms() - t0;
    kill(pid_of_port(victim), SIGCONT);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    snprintf(want, sizeof(want), "127.0.0.1:%d", victim);
    ck_assert_msg(strstr(r->str, want) != NULL, "error does not name the node: %s", r->str);
    ck_assert_msg(waited < 5000, "stalled for %lld ms", waited);
    freeReplyObject(r);
    expect_str(c, "2", "GET %s", okey); /* the other master was never disturbed */
    /* the stalled node is back: its keys work again */
    WAIT_UNTIL(15000, reply_is(c, "1", "GET %s", vkey), "key on the resumed master never readable again");
    ck_assert_int_eq(cluster_wait_ok(&cl, 20000), 0);
    redisFree(c);
}
END_TEST

/* Every replica holds as many keys as its master, and the masters hold them all. */
static int replicas_caught_up(void) {
    long long sum_all = 0, sum_masters = 0;
    for (int i = 0; i < cl.nnodes; i++) {
        redisContext *d = connect_port(BASE + i);
        redisReply *role = cmd(d, "ROLE"), *n = cmd(d, "DBSIZE");
        sum_all += n->integer;
        if (strcmp(role->element[0]->str, "master") == 0) sum_masters += n->integer;
        freeReplyObject(role);
        freeReplyObject(n);
        redisFree(d);
    }
    return sum_all == 2 * sum_masters && sum_masters >= NKEYS;
}

static void wait_replicas_caught_up(void) { WAIT_UNTIL(10000, replicas_caught_up(), "replicas did not catch up"); }

START_TEST(master_killed_mid_pipeline) {
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < NKEYS; i++) redisAppendCommand(c, "SET fo:%d v%d", i, i);
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_str_eq(r->str, "OK");
        freeReplyObject(r);
    }
    wait_replicas_caught_up();
    int victim = cluster_master_for_key(&cl, "fo:0");
    char victim_addr[32];
    snprintf(victim_addr, sizeof(victim_addr), "127.0.0.1:%d", victim);
    int on_victim[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "fo:%d", i);
        on_victim[i] = cluster_master_for_key(&cl, k) == victim;
    }
    /* Half the pipeline goes out, the master dies, the other half follows. */
    for (int i = 0; i < NKEYS / 2; i++) redisAppendCommand(c, "GET fo:%d", i);
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(c, &done), REDIS_OK);
    long long t0 = now_ms();
    kill(pid_of_port(victim), SIGKILL);
    for (int i = NKEYS / 2; i < NKEYS; i++) redisAppendCommand(c, "GET fo:%d", i);
    int errors = 0;
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        ck_assert_msg(redisGetReply(c, (void **)&r) == REDIS_OK, "reply %d never came: %s", i, c->errstr);
        if (r->type == REDIS_REPLY_ERROR) {
            errors++;
            ck_assert_msg(on_victim[i], "fo:%d is not on the killed master but failed: %s", i, r->str);
            ck_assert_msg(strstr(r->str, victim_addr) || strstr(r->str, "CLUSTERDOWN"), "unclear error: %s", r->str);
        } else {
            char want[16];
            snprintf(want, sizeof(want), "v%d", i);
            ck_assert_str_eq(r->str, want);
        }
        freeReplyObject(r);
    }
    fprintf(stderr, "master_killed_mid_pipeline: %d of %d replies were errors, pipeline drained after %lld ms\n",
            errors, NKEYS, now_ms() - t0);
    /* After the replica takes over, every key reads back through slotgate. */
    cl.pids[victim - BASE] = 0;
    WAIT_UNTIL(30000, reply_is(c, "v0", "GET fo:0"), "fo:0 not readable 30 s after its master died");
    fprintf(stderr, "master_killed_mid_pipeline: keys readable again %lld ms after the kill\n", now_ms() - t0);
    for (int i = 0; i < NKEYS; i++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        expect_str(c, want, "GET fo:%d", i);
    }
    redisFree(c);
}
END_TEST

SUITE_MAIN(.name = "failover", .setup = suite_setup, .teardown = suite_teardown, .timeout = 300,
           .tests = {TEST(stalled_master_fails_fast_naming_the_node), TEST(master_killed_mid_pipeline)})
