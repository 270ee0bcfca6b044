/* The command set through slotgate against a real 3-master cluster: multi-key commands split over
 * slots and merged, SCAN over all masters, cluster-wide commands, scripts and functions,
 * transactions, blocking commands that do not delay others, pub/sub, cluster-aware clients, and every
 * command Redis 7.0 knows leaving the connection usable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21300
#define SG_PORT 21390

static struct cluster cl;
static struct slotgate sg;

static void suite_setup(void) { fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 1"); }
static void suite_teardown(void) { fixture_down(&cl, &sg); }

static redisContext *sgc(void) {
    redisContext *c = connect_port(SG_PORT);
    ck_assert_ptr_nonnull(c);
    return c;
}

static long long direct_dbsize_total(void) {
    long long total = 0;
    for (int m = 0; m < 3; m++) {
        redisContext *d = connect_port(BASE + m);
        redisReply *r = cmd(d, "DBSIZE");
        total += r->integer;
        freeReplyObject(r);
        redisFree(d);
    }
    return total;
}

/* Runs argv as one command (binary-safe). */
static redisReply *cmdv(redisContext *c, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    ck_assert_msg(r != NULL, "%s failed: %s", argv[0], c->errstr);
    return r;
}

START_TEST(mget_mset_del_of_1000_keys_across_slots) {
    redisContext *c = sgc();
    enum { N = 1000 };
    const char **argv = malloc(sizeof(char *) * (2 * N + 2));
    char(*keys)[16] = malloc(16 * (N + 1)), (*vals)[16] = malloc(16 * N);
    argv[0] = "MSET";
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "mk:%d", i);
        snprintf(vals[i], 16, "mv:%d", i);
        argv[1 + 2 * i] = keys[i];
        argv[2 + 2 * i] = vals[i];
    }
    redisReply *r = cmdv(c, 1 + 2 * N, argv);
    ck_assert_str_eq(r->str, "OK");
    freeReplyObject(r);
    ck_assert_int_ge(direct_dbsize_total(), N);
    for (int m = 0; m < 3; m++) { /* the keys really are spread over every master */
        redisContext *d = connect_port(BASE + m);
        redisReply *n = cmd(d, "DBSIZE");
        ck_assert_int_gt(n->integer, N / 5);
        freeReplyObject(n);
        redisFree(d);
    }
    /* MGET of all of them plus a missing key in the middle: values in the caller's order. */
    argv[0] = "MGET";
    snprintf(keys[N], 16, "mk:missing");
    for (int i = 0; i < N; i++) argv[1 + i] = keys[i];
    argv[1 + N / 2] = keys[N];
    r = cmdv(c, 1 + N, argv);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->elements, N);
    for (int i = 0; i < N; i++) {
        if (i == N / 2)
            ck_assert_int_eq(r->element[i]->type, REDIS_REPLY_NIL);
        else
            ck_assert_str_eq(r->element[i]->str, vals[i]);
    }
    freeReplyObject(r);
    argv[0] = "EXISTS";
    r = cmdv(c, 1 + N, argv);
    ck_assert_int_eq(r->integer, N - 1);
    freeReplyObject(r);
    argv[0] = "TOUCH";
    r = cmdv(c, 1 + N, argv);
    ck_assert_int_eq(r->integer, N - 1);
    freeReplyObject(r);
    argv[0] = "DEL"; /* argv[1..N/2]: keys 0..N/2-1, all present */
    r = cmdv(c, 1 + N / 2, argv);
    ck_assert_int_eq(r->integer, N / 2);
    freeReplyObject(r);
    argv[0] = "UNLINK"; /* all N again: the first half is gone, N/2 is the missing key */
    r = cmdv(c, 1 + N, argv);
    ck_assert_int_eq(r->integer, N - N / 2 - 1);
    freeReplyObject(r);
    /* MSETNX over several slots is all-or-nothing: refused like a cluster node would. */
    expect_str(c, "CROSSSLOT Keys in request don't hash to the same slot", "MSETNX a 1 b 2");
    r = cmd(c, "MSETNX {n}a 1 {n}b 2");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    free(argv);
    free(keys);
    free(vals);
    redisFree(c);
}
END_TEST

START_TEST(scan_sees_every_one_of_10000_keys) {
    redisContext *c = sgc();
    enum { N = 10000 };
    freeReplyObject(cmd(c, "FLUSHALL"));
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            redisAppendCommand(c, "SET scan:%d v", i);
        else
            redisAppendCommand(c, "HSET scan:%d f v", i);
    }
    for (int i = 0; i < N; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    static unsigned char seen[N];
    memset(seen, 0, sizeof(seen));
    unsigned long long cursor = 0;
    int calls = 0, total = 0;
    do {
        redisReply *r = cmd(c, "SCAN %llu COUNT 200", cursor);
        ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
        cursor = strtoull(r->element[0]->str, NULL, 10);
        for (size_t k = 0; k < r->element[1]->elements; k++) {
            int i = atoi(r->element[1]->element[k]->str + 5);
            ck_assert_msg(seen[i] == 0, "scan:%d seen twice", i);
            seen[i] = 1;
            total++;
        }
        freeReplyObject(r);
        ck_assert_int_lt(++calls, 5000);
    } while (cursor != 0);
    ck_assert_int_eq(total, N);
    /* MATCH and TYPE filter on every master too. */
    int strings = 0, matched = 0;
    cursor = 0;
    do {
        redisReply *r = cmd(c, "SCAN %llu COUNT 500 TYPE string", cursor);
        cursor = strtoull(r->element[0]->str, NULL, 10);
        strings += (int)r->element[1]->elements;
        freeReplyObject(r);
    } while (cursor != 0);
    ck_assert_int_eq(strings, (N + 2) / 3);
    cursor = 0;
    do {
        redisReply *r = cmd(c, "SCAN %llu MATCH scan:99* COUNT 500", cursor);
        cursor = strtoull(r->element[0]->str, NULL, 10);
        matched += (int)r->element[1]->elements;
        freeReplyObject(r);
    } while (cursor != 0);
    ck_assert_int_eq(matched, 111); /* 99, 990-999, 9900-9999 */
    expect_str(c, "ERR invalid cursor", "SCAN 1023");
    redisFree(c);
}
END_TEST

START_TEST(cluster_wide_commands) {
    redisContext *c = sgc();
    freeReplyObject(cmd(c, "FLUSHALL"));
    for (int i = 0; i < 300; i++) freeReplyObject(cmd(c, "SET wide:%d %d", i, i));
    redisReply *r = cmd(c, "DBSIZE");
    ck_assert_int_eq(r->integer, 300);
    ck_assert_int_eq(direct_dbsize_total(), 300);
    freeReplyObject(r);
    r = cmd(c, "KEYS wide:1?");
    ck_assert_int_eq(r->elements, 10);
    freeReplyObject(r);
    r = cmd(c, "RANDOMKEY");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert(strncmp(r->str, "wide:", 5) == 0);
    freeReplyObject(r);
    r = cmd(c, "INFO keyspace");
    ck_assert_msg(strstr(r->str, "db0:keys=300,") != NULL, "INFO keyspace: %s", r->str);
    ck_assert(strstr(r->str, "# Server") == NULL); /* only the section asked for */
    freeReplyObject(r);
    r = cmd(c, "INFO");
    ck_assert(strstr(r->str, "# Server\r\n") && strstr(r->str, "# Stats\r\n") && strstr(r->str, "db0:keys=300,"));
    freeReplyObject(r);
    r = cmd(c, "TIME");
    ck_assert_int_eq(r->elements, 2);
    freeReplyObject(r);
    r = cmd(c, "PUBLISH nobody hello");
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    expect_str(c, "OK", "FLUSHDB");
    r = cmd(c, "DBSIZE");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    ck_assert_int_eq(direct_dbsize_total(), 0);
    redisFree(c);
}
END_TEST

START_TEST(scripts_and_functions) {
    redisContext *c = sgc();
    redisReply *r = cmd(c, "SCRIPT LOAD %s", "return redis.call('GET', KEYS[1])");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    char sha[41];
    snprintf(sha, sizeof(sha), "%s", r->str);
    freeReplyObject(r);
    for (int m = 0; m < 3; m++) { /* loaded on every master */
        redisContext *d = connect_port(BASE + m);
        r = cmd(d, "SCRIPT EXISTS %s", sha);
        ck_assert_int_eq(r->element[0]->integer, 1);
        freeReplyObject(r);
        redisFree(d);
    }
    r = cmd(c, "SCRIPT EXISTS %s 0000000000000000000000000000000000000000", sha);
    ck_assert_int_eq(r->element[0]->integer, 1);
    ck_assert_int_eq(r->element[1]->integer, 0);
    freeReplyObject(r);
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof(want), "s%d", i);
        freeReplyObject(cmd(c, "SET sk:%d s%d", i, i));
        expect_str(c, want, "EVALSHA %s 1 sk:%d", sha, i);
        expect_str(c, want, "EVAL %s 1 sk:%d", "return redis.call('GET', KEYS[1])", i);
    }
    expect_str(c, "CROSSSLOT Keys in request don't hash to the same slot", "EVAL %s 2 a b", "return 1");
    r = cmd(c, "EVAL %s 0", "return 42");
    ck_assert_int_eq(r->integer, 42);
    freeReplyObject(r);
    r = cmd(c, "FUNCTION LOAD REPLACE %s",
            "#!lua name=sglib\nredis.register_function('sgget', function(keys, args) return redis.call('GET', keys[1]) "
            "end)");
    ck_assert_msg(r->type == REDIS_REPLY_STRING && strcmp(r->str, "sglib") == 0, "FUNCTION LOAD: %s", r->str);
    freeReplyObject(r);
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof(want), "s%d", i);
        expect_str(c, want, "FCALL sgget 1 sk:%d", i);
    }
    redisFree(c);
}
END_TEST

/* A master that lost its scripts (a promoted replica, SCRIPT FLUSH) gets them back from slotgate. */
START_TEST(noscript_is_repaired_for_scripts_slotgate_has_seen) {
    redisContext *c = sgc();
    const char *body = "return 'ns:' .. redis.call('GET', KEYS[1])";
    redisReply *r = cmd(c, "SCRIPT LOAD %s", body);
    char sha[41];
    snprintf(sha, sizeof(sha), "%s", r->str);
    freeReplyObject(r);
    for (int m = 0; m < 3; m++) {
        redisContext *d = connect_port(BASE + m);
        expect_str(d, "OK", "SCRIPT FLUSH");
        redisFree(d);
    }
    for (int i = 0; i < 30; i++) {
        char want[16];
        snprintf(want, sizeof(want), "ns:%d", i);
        freeReplyObject(cmd(c, "SET nsk:%d %d", i, i));
        expect_str(c, want, "EVALSHA %s 1 nsk:%d", sha, i);
    }
    /* A script slotgate never saw still gets Redis's own answer. */
    expect_str(c, "NOSCRIPT No matching script. Please use EVAL.",
               "EVALSHA ffffffffffffffffffffffffffffffffffffffff 1 k");
    redisFree(c);
}
END_TEST

START_TEST(auth_hello_and_client_commands) {
    struct slotgate sg2;
    slotgate_start(&sg2, SG_PORT + 1, "--threads 1 --requirepass s3cret --users alice:wonder", "127.0.0.1:21300", 0);
    redisContext *c = connect_port(SG_PORT + 1);
    expect_str(c, "NOAUTH Authentication required.", "GET k");
    expect_str(c, "WRONGPASS invalid username-password pair or user is disabled.", "AUTH nope");
    expect_str(c, "OK", "AUTH s3cret");
    expect_str(c, "default", "ACL WHOAMI");
    expect_str(c, "WRONGPASS invalid username-password pair or user is disabled.", "AUTH alice nope");
    expect_str(c, "OK", "AUTH alice wonder");
    expect_str(c, "alice", "ACL WHOAMI");
    expect_str(c, "OK", "SET authed 1");
    expect_str(c, "NOPROTO unsupported protocol version", "HELLO 4");
    redisReply *r = cmd(c, "HELLO 2 SETNAME app1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq(r->element[4]->str, "proto");
    ck_assert_int_eq(r->element[5]->integer, 2);
    freeReplyObject(r);
    expect_str(c, "app1", "CLIENT GETNAME");
    expect_str(c, "ERR Client names cannot contain spaces, newlines or special characters.", "CLIENT SETNAME %s",
               "a b");
    r = cmd(c, "CLIENT ID");
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    r = cmd(c, "CLIENT INFO");
    char want[64];
    snprintf(want, sizeof(want), "id=%lld ", id);
    ck_assert_msg(strncmp(r->str, want, strlen(want)) == 0 && strstr(r->str, " name=app1 ") &&
                      strstr(r->str, " user=alice "),
                  "CLIENT INFO: %s", r->str);
    freeReplyObject(r);
    r = cmd(c, "CLIENT LIST");
    ck_assert(strstr(r->str, "name=app1") != NULL);
    freeReplyObject(r);
    expect_str(c, "RESET", "RESET");
    expect_str(c, "NOAUTH Authentication required.", "GET authed");
    r = cmd(c, "HELLO 2 AUTH default s3cret");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    expect_str(c, "1", "GET authed");
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&sg2), 0);
}
END_TEST

START_TEST(transactions_commit_abort_and_watch) {
    redisContext *c = sgc(), *other = sgc();
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "PING");
    expect_str(c, "QUEUED", "SET {tx}a 1");
    expect_str(c, "QUEUED", "INCR {tx}a");
    redisReply *r = cmd(c, "EXEC");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->elements, 3);
    ck_assert_str_eq(r->element[0]->str, "PONG");
    ck_assert_str_eq(r->element[1]->str, "OK");
    ck_assert_int_eq(r->element[2]->integer, 2);
    freeReplyObject(r);
    /* A key in another slot is refused while queueing; EXEC then aborts and nothing ran. */
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "SET {tx}a 100");
    expect_str(c, "CROSSSLOT Keys in request don't hash to the same slot", "SET {other}b 1");
    expect_str(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC");
    expect_str(c, "2", "GET {tx}a");
    /* DISCARD */
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "SET {tx}a 5");
    expect_str(c, "OK", "DISCARD");
    expect_str(c, "2", "GET {tx}a");
    expect_str(c, "ERR EXEC without MULTI", "EXEC");
    /* WATCH: another client's write makes EXEC return nil. */
    expect_str(c, "OK", "WATCH {tx}a");
    expect_str(other, "OK", "SET {tx}a 7");
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "SET {tx}a 8");
    r = cmd(c, "EXEC");
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_str(c, "7", "GET {tx}a");
    /* And untouched, it commits. */
    expect_str(c, "OK", "WATCH {tx}a");
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "SET {tx}a 9");
    r = cmd(c, "EXEC");
    ck_assert_int_eq(r->elements, 1);
    freeReplyObject(r);
    expect_str(c, "9", "GET {tx}a");
    /* Back on the shared connections: multi-slot commands split again. */
    r = cmd(c, "MGET {tx}a nokey:1 nokey:2");
    ck_assert_int_eq(r->elements, 3);
    freeReplyObject(r);
    redisFree(c);
    redisFree(other);
}
END_TEST

/* BLPOP waits on its own connection: a third client's pipeline through the same (only) worker is
 * answered at once, then an LPUSH from another client releases the blocked one. */
START_TEST(blocking_commands_do_not_delay_others) {
    redisContext *blocked = sgc(), *pusher = sgc(), *busy = sgc();
    freeReplyObject(cmd(busy, "SET bk:x 1"));
    redisAppendCommand(blocked, "BLPOP {q}list 10");
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(blocked, &done), REDIS_OK);
    sleep_ms(100);
    long long t0 = now_ms();
    for (int i = 0; i < 1000; i++) redisAppendCommand(busy, "GET bk:x");
    for (int i = 0; i < 1000; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(busy, (void **)&r), REDIS_OK);
        ck_assert_str_eq(r->str, "1");
        freeReplyObject(r);
    }
    long long pipeline_ms = now_ms() - t0;
    ck_assert_msg(pipeline_ms < 2000, "a pipeline waited %lld ms behind a blocked client", pipeline_ms);
    redisReply *r = cmd(pusher, "LPUSH {q}list hello");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(blocked, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->elements, 2);
    ck_assert_str_eq(r->element[1]->str, "hello");
    freeReplyObject(r);
    /* The client's own timeout is honoured. */
    t0 = now_ms();
    r = cmd(blocked, "BLPOP {q}empty 1");
    long long waited = now_ms() - t0;
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    ck_assert_msg(waited >= 900 && waited < 3000, "BLPOP 1 took %lld ms", waited);
    freeReplyObject(r);
    /* A client that leaves while blocked frees the node's connection. */
    int port = cluster_master_for_key(&cl, "q");
    redisContext *d = connect_port(port);
    redisAppendCommand(blocked, "BLPOP {q}never 0");
    done = 0;
    while (!done) redisBufferWrite(blocked, &done);
    sleep_ms(200);
    r = cmd(d, "INFO clients");
    ck_assert_msg(strstr(r->str, "blocked_clients:1\r\n") != NULL, "%s", r->str);
    freeReplyObject(r);
    redisFree(blocked);
    WAIT_UNTIL(5000, info_has(d, "clients", "blocked_clients:0\r\n"), "the blocked connection was not freed");
    redisFree(d);
    redisFree(pusher);
    redisFree(busy);
}
END_TEST

START_TEST(publish_subscribe) {
    redisContext *s = sgc(), *p = sgc();
    redisReply *r = cmd(s, "SUBSCRIBE news sport");
    ck_assert_str_eq(r->element[0]->str, "subscribe");
    ck_assert_str_eq(r->element[1]->str, "news");
    ck_assert_int_eq(r->element[2]->integer, 1);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(s, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->element[2]->integer, 2);
    freeReplyObject(r);
    /* In a cluster PUBLISH counts the subscribers of the node that took it; the message itself
     * reaches every node's subscribers over the cluster bus. */
    r = cmd(p, "PUBLISH news hello");
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(s, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->element[0]->str, "message");
    ck_assert_str_eq(r->element[1]->str, "news");
    ck_assert_str_eq(r->element[2]->str, "hello");
    freeReplyObject(r);
    r = cmd(s, "GET x");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->str, "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                             "are allowed in this context");
    freeReplyObject(r);
    r = cmd(s, "PING");
    ck_assert_str_eq(r->element[0]->str, "pong");
    freeReplyObject(r);
    r = cmd(s, "UNSUBSCRIBE");
    ck_assert_str_eq(r->element[0]->str, "unsubscribe");
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(s, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->element[2]->integer, 0);
    freeReplyObject(r);
    expect_str(s, "OK", "SET after:sub 1"); /* back to normal mode */
    /* Sharded pub/sub goes to the channel's slot owner. */
    r = cmd(s, "SSUBSCRIBE shard:chan");
    ck_assert_str_eq(r->element[0]->str, "ssubscribe");
    freeReplyObject(r);
    r = cmd(p, "SPUBLISH shard:chan sharded-hello");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(s, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->element[0]->str, "smessage");
    ck_assert_str_eq(r->element[2]->str, "sharded-hello");
    freeReplyObject(r);
    redisFree(s);
    redisFree(p);
}
END_TEST

START_TEST(cluster_aware_clients_stay_on_slotgate) {
    redisContext *c = sgc();
    redisReply *r = cmd(c, "CLUSTER SLOTS");
    ck_assert_int_eq(r->elements, 1);
    ck_assert_int_eq(r->element[0]->element[0]->integer, 0);
    ck_assert_int_eq(r->element[0]->element[1]->integer, 16383);
    ck_assert_int_eq(r->element[0]->element[2]->element[1]->integer, SG_PORT);
    freeReplyObject(r);
    r = cmd(c, "CLUSTER KEYSLOT foo");
    ck_assert_int_eq(r->integer, 12182);
    freeReplyObject(r);
    freeReplyObject(cmd(c, "SET foo bar"));
    r = cmd(c, "CLUSTER COUNTKEYSINSLOT 12182");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = cmd(c, "CLUSTER GETKEYSINSLOT 12182 10");
    ck_assert_str_eq(r->element[0]->str, "foo");
    freeReplyObject(r);
    redisFree(c);
    /* redis-py's RedisCluster, pointed at slotgate, keeps all its traffic there. */
    char script[1024];
    snprintf(script, sizeof(script),
             "/usr/bin/python3 -c \"\n"
             "from redis.cluster import RedisCluster\n"
             "rc = RedisCluster(host='127.0.0.1', port=%d)\n"
             "nodes = {n.port for n in rc.get_nodes()}\n"
             "assert nodes == {%d}, nodes\n"
             "for i in range(300): rc.set('py:%%d' %% i, i)\n"
             "assert all(int(rc.get('py:%%d' %% i)) == i for i in range(300))\n"
             "print('redis-py ok')\n\" 2>&1",
             SG_PORT, SG_PORT);
    FILE *f = popen(script, "r");
    char out[2048] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    ck_assert_msg(pclose(f) == 0 && strstr(out, "redis-py ok"), "redis-py RedisCluster through slotgate: %s", out);
    ck_assert_int_ge(direct_dbsize_total(), 300);
}
END_TEST

/* Every command and subcommand Redis 7.0 knows, with placeholder arguments: whatever the answer, the
 * connection must still work afterwards and slotgate must still be alive. */
START_TEST(every_command_leaves_the_connection_usable) {
    redisContext *c = sgc();
    redisReply *list = cmd(c, "COMMAND");
    ck_assert_int_gt(list->elements, 200);
    int tried = 0;
    for (size_t i = 0; i < list->elements; i++) {
        redisReply *e = list->element[i];
        size_t nsub = e->elements > 9 ? e->element[9]->elements : 0;
        for (size_t s = 0; s <= nsub; s++) {
            redisReply *spec = s == 0 ? e : e->element[9]->element[s - 1];
            if (s == 0 && nsub > 0) continue; /* containers are tried through their subcommands */
            const char *argv[16];
            char name[64], sub[64];
            snprintf(name, sizeof(name), "%s", spec->element[0]->str);
            int argc = 0;
            char *bar = strchr(name, '|');
            if (bar) {
                *bar = '\0';
                snprintf(sub, sizeof(sub), "%s", bar + 1);
                argv[argc++] = name;
                argv[argc++] = sub;
            } else {
                argv[argc++] = name;
            }
            if (!strcmp(name, "quit") || !strcmp(name, "shutdown")) continue;
            if (!strcmp(name, "command") && bar && !strcmp(sub, "docs"))
                continue; /* nests deeper than hiredis 0.14 reads */
            long long arity = spec->element[1]->integer;
            int want = (int)(arity < 0 ? -arity : arity), blocking = 0;
            for (size_t f = 0; f < spec->element[2]->elements; f++)
                blocking |= !strcmp(spec->element[2]->element[f]->str, "blocking");
            while (argc < want && argc < 15) argv[argc++] = blocking ? "0.01" : "0"; /* 0 would block forever */
            redisContext *t = sgc();
            redisReply *r = redisCommandArgv(t, argc, argv, NULL);
            ck_assert_msg(r != NULL, "'%s' broke the connection: %s", spec->element[0]->str, t->errstr);
            freeReplyObject(r);
            r = redisCommand(t, "PING");
            ck_assert_msg(r != NULL, "after '%s' the connection is unusable: %s", spec->element[0]->str, t->errstr);
            freeReplyObject(r);
            redisFree(t);
            tried++;
        }
    }
    freeReplyObject(list);
    ck_assert_int_gt(tried, 300);
    expect_str(c, "PONG", "PING");
    redisFree(c);
}
END_TEST

SUITE_MAIN(.name = "commands", .setup = suite_setup, .teardown = suite_teardown, .timeout = 300,
           .tests = {TEST(mget_mset_del_of_1000_keys_across_slots), TEST(scan_sees_every_one_of_10000_keys),
                     TEST(cluster_wide_commands), TEST(scripts_and_functions),
                     TEST(noscript_is_repaired_for_scripts_slotgate_has_seen), TEST(auth_hello_and_client_commands),
                     TEST(transactions_commit_abort_and_watch), TEST(blocking_commands_do_not_delay_others),
                     TEST(publish_subscribe), TEST(cluster_aware_clients_stay_on_slotgate),
                     TEST(every_command_leaves_the_connection_usable)})
