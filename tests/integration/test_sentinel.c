/* backend-kind sentinel and standalone (issue 19) against real servers: a master with two replicas
 * watched by three real redis-sentinel processes (quorum 2), passwords on the data nodes and on the
 * sentinels. slotgate finds the master through the sentinels, serves every command family through it,
 * follows SENTINEL FAILOVER under load with no client-visible error and no lost write, keeps errors to
 * the writes in flight when the master is killed, and sees the old master come back as a replica.
 * standalone: one server and its replica, reads spread to the replica with prefer-replica. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/load.h"
#include "../support/run.h"

#define DATA      22800 /* 22800-22802: master and two replicas */
#define SENT      22805 /* 22805-22807: sentinels */
#define SG_PORT   22810 /* admin: + SLOTGATE_ADMIN_OFFSET */
#define SOLO      22815 /* standalone: 22815 and its replica 22816 */
#define SOLO_SG   22817
#define DATA_PASS "data-secret"
#define SENT_PASS "sentinel-secret"
#define MAX_KEYS  200000
#define CL_BASE   22576 /* routes: a 3-master cluster on 22576-22578 beside the Sentinel backend */
#define ROUTED_SG 22818

static struct slotgate sg;
static struct cluster cl;
static char dir[128];
static pid_t data_pids[3], sent_pids[3];

/* A redis-server on port (a replica of replica_of unless 0), with pass as its requirepass and masterauth
 * unless NULL; its files in the suite's directory. */
static pid_t server_start(int port, int replica_of, const char *pass) {
    char p[16], log[200], of[16], dbf[32];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(of, sizeof(of), "%d", replica_of);
    snprintf(dbf, sizeof(dbf), "dump-%d.rdb", port);
    snprintf(log, sizeof(log), "%s/redis-%d.log", dir, port);
    char *argv[32] = {"redis-server",
                      "--port",
                      p,
                      "--bind",
                      "127.0.0.1",
                      "--save",
                      "",
                      "--appendonly",
                      "no",
                      "--dir",
                      dir,
                      "--dbfilename",
                      dbf,
                      "--repl-diskless-sync-delay",
                      "0",
                      NULL};
    int n = 15;
    if (pass)
        argv[n++] = "--requirepass", argv[n++] = (char *)pass, argv[n++] = "--masterauth", argv[n++] = (char *)pass;
    if (replica_of) argv[n++] = "--replicaof", argv[n++] = "127.0.0.1", argv[n++] = of;
    argv[n] = NULL;
    return spawn(argv, log);
}

static pid_t data_start(int port, int replica_of) { return server_start(port, replica_of, DATA_PASS); }

static redisContext *authed(int port, const char *pass) {
    redisContext *c = connect_port(port);
    ck_assert_ptr_nonnull(c);
    expect_str(c, "OK", "AUTH %s", pass);
    return c;
}

static int slot_of(const char *key) {
    redisContext *c = connect_port(SG_PORT);
    redisReply *r = cmd(c, "CLUSTER KEYSLOT %s", key);
    int slot = (int)r->integer;
    freeReplyObject(r);
    redisFree(c);
    return slot;
}

static int http_body_has(int port, const char *path, const char *text) {
    struct http_reply h;
    http_request(&h, "GET", port, path, NULL);
    int has = strstr(h.body, text) != NULL;
    http_reply_free(&h);
    return has;
}

static int sentinel_master_port(void) {
    redisContext *c = authed(SENT, SENT_PASS);
    redisReply *r = cmd(c, "SENTINEL get-master-addr-by-name mymaster");
    int port = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : -1;
    freeReplyObject(r);
    redisFree(c);
    return port;
}

static long long sentinel_count(const char *what) {
    redisContext *c = connect_port(SENT);
    if (!c) return -1;
    redisReply *r = redisCommand(c, "AUTH %s", SENT_PASS);
    freeReplyObject(r);
    r = redisCommand(c, "SENTINEL %s mymaster", what);
    long long n = r && r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : -1;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/slotgate-test-%d-sentinel", (int)getpid());
    char cmdline[300];
    snprintf(cmdline, sizeof(cmdline), "rm -rf %s && mkdir -p %s", dir, dir);
    ck_assert_int_eq(system(cmdline), 0);
    ck_assert_msg(access("/usr/bin/redis-sentinel", X_OK) == 0, "redis-sentinel is missing: make deps installs it");
    data_pids[0] = data_start(DATA, 0);
    for (int i = 1; i < 3; i++) data_pids[i] = data_start(DATA + i, DATA);
    for (int i = 0; i < 3; i++) {
        char conf[200], log[200];
        snprintf(conf, sizeof(conf), "%s/sentinel-%d.conf", dir, SENT + i);
        snprintf(log, sizeof(log), "%s/sentinel-%d.log", dir, SENT + i);
        FILE *f = fopen(conf, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "port %d\nbind 127.0.0.1\ndir %s\nrequirepass %s\n"
                "sentinel monitor mymaster 127.0.0.1 %d 2\nsentinel auth-pass mymaster %s\n"
                "sentinel sentinel-pass %s\nsentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 6000\nsentinel parallel-syncs mymaster 2\n",
                SENT + i, dir, SENT_PASS, DATA, DATA_PASS, SENT_PASS);
        fclose(f);
        char *argv[] = {"redis-sentinel", conf, NULL};
        sent_pids[i] = spawn(argv, log);
    }
    /* the sentinels know both replicas and each other before anything fails over */
    WAIT_UNTIL(30000, sentinel_count("replicas") == 2 && sentinel_count("sentinels") == 2,
               "sentinels did not discover the replicas and each other (see %s)", dir);
    char args[400];
    snprintf(args, sizeof(args),
             "--threads 2 --backend-kind sentinel --sentinel-master mymaster --sentinel-password %s "
             "--backend-password %s --refresh-interval-ms 1000",
             SENT_PASS, DATA_PASS);
    char seeds[100];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", SENT, SENT + 1, SENT + 2);
    slotgate_start(&sg, SG_PORT, args, seeds, 1);
    cluster_start(&cl, CL_BASE, 3, 0);
}

static void teardown(void) {
    int rc = slotgate_stop(&sg);
    cluster_stop(&cl);
    for (int i = 0; i < 3; i++) {
        if (sent_pids[i] > 0) kill(sent_pids[i], SIGKILL), untrack_pid(sent_pids[i]);
        if (data_pids[i] > 0) kill(data_pids[i], SIGKILL), untrack_pid(data_pids[i]);
    }
    ck_assert_msg(rc == 0, "slotgate did not exit cleanly: see %s", sg.log);
}

static int master_of_key(const char *key) {
    (void)key;
    return sentinel_master_port();
}

static int master_of_route_key(const char *key) { return cluster_master_for_key(&cl, key); } /* ha:N on the cluster */

/* The master Sentinel names serves everything: strings, a multi-key command, a hash, a transaction,
 * a script, pub/sub; CLUSTER SLOTS through slotgate is one range; the key is on that master. */
START_TEST(serves_through_the_master_sentinel_names) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "SET s:a 1");
    expect_str(c, "OK", "MSET s:b 2 s:c 3");
    redisReply *r = cmd(c, "MGET s:a s:b s:c");
    ck_assert_int_eq(r->elements, 3);
    ck_assert_str_eq(r->element[2]->str, "3");
    freeReplyObject(r);
    r = cmd(c, "HSET s:h f v");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "INCR s:n");
    r = cmd(c, "EXEC");
    ck_assert_int_eq(r->element[0]->integer, 1);
    freeReplyObject(r);
    r = cmd(c, "EVAL %s 1 s:a", "return redis.call('GET', KEYS[1])");
    ck_assert_str_eq(r->str, "1");
    freeReplyObject(r);
    /* one server: keys of different slots together, as Redis itself allows (no CROSSSLOT) */
    ck_assert_int_ne(slot_of("s:r1"), slot_of("s:r2"));
    expect_str(c, "OK", "SET s:r1 x");
    expect_str(c, "OK", "RENAME s:r1 s:r2");
    expect_str(c, "x", "GET s:r2");
    r = cmd(c, "SUNIONSTORE s:u s:set1 s:set2 s:set3");
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    expect_str(c, "OK", "MULTI");
    expect_str(c, "QUEUED", "SET s:t1 1");
    expect_str(c, "QUEUED", "SET s:t2 2");
    r = cmd(c, "EXEC");
    ck_assert_int_eq(r->elements, 2);
    freeReplyObject(r);
    r = cmd(c, "CLUSTER SLOTS");
    ck_assert_int_eq(r->elements, 1);
    ck_assert_int_eq(r->element[0]->element[0]->integer, 0);
    ck_assert_int_eq(r->element[0]->element[1]->integer, 16383);
    freeReplyObject(r);
    redisContext *m = authed(sentinel_master_port(), DATA_PASS);
    expect_str(m, "1", "GET s:a");
    redisFree(m);
    json_t *j = NULL; /* the probes' first round tells the state */
    for (long long t0 = now_ms(); now_ms() - t0 < 5000; sleep_ms(100)) {
        json_decref(j);
        j = http_json(sg.admin_port, "/cluster", 200);
        if (json_string_value(json_object_get(j, "state"))) break;
    }
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "masters")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "replicas")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend_kind")), "sentinel");
    json_decref(j);
    /* every sentinel heard: /cluster and /metrics say so; the dashboard names the kind */
    WAIT_UNTIL(5000,
               http_body_has(sg.admin_port, "/metrics", "slotgate_sentinel_subscribed{sentinel=\"127.0.0.1:22807\"} 1"),
               "not subscribed to every sentinel");
    j = http_json(sg.admin_port, "/cluster", 200);
    json_t *sent = json_object_get(j, "sentinel");
    ck_assert_str_eq(json_string_value(json_object_get(sent, "master_name")), "mymaster");
    ck_assert_int_eq(json_array_size(json_object_get(sent, "sentinels")), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(sent, "sentinels"), i), "subscribed")));
    ck_assert(json_is_null(json_object_get(sent, "failover_of")));
    json_decref(j);
    ck_assert(http_body_has(sg.admin_port, "/metrics", "slotgate_backend_info{kind=\"sentinel\"} 1"));
    ck_assert(info_has(c, "cluster", "backend_kind:sentinel\r\nsentinel_master:mymaster\r\n"));
    ck_assert(http_body_has(sg.admin_port, "/metrics", "slotgate_sentinel_failover_in_progress 0"));
    char *dom = chromium_page(sg.admin_port, "", "--dump-dom", NULL);
    ck_assert_msg(strstr(dom, "data-kind=\"sentinel\"") && strstr(dom, "sentinel mymaster"), "%.2000s", dom);
    free(dom);
    redisFree(c);
}
END_TEST

static void report(const char *scenario, struct load *l) {
    fprintf(stderr, "%s: %lld ops, %lld acknowledged writes, %lld client-visible errors%s%s%s, longest stall %lld ms\n",
            scenario, l->ops, l->written, l->errors, l->errors ? " (first: " : "", l->errors ? l->first_error : "",
            l->errors ? ")" : "", l->longest_stall_ms);
}

/* A SENTINEL FAILOVER under a steady write load through the slotgate on port (its keys ha:N on the
 * Sentinel-managed master): no client error, every acknowledged write reads back. */
static void failover_under_load(int port, const char *scenario) {
    int old = sentinel_master_port();
    struct load l;
    load_start(&l, port, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    redisContext *s = authed(SENT, SENT_PASS);
    expect_str(s, "OK", "SENTINEL FAILOVER mymaster");
    redisFree(s);
    WAIT_UNTIL(20000, sentinel_master_port() != old, "the sentinels did not fail over");
    sleep_ms(2000);
    load_stop(&l);
    report(scenario, &l);
    ck_assert_int_eq(l.errors, 0);
    ck_assert_int_gt(l.written, 1000);
    long long wrong, lost = load_verify(&l, port, master_of_key, &wrong);
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(lost, 0);
    load_free(&l);
}

/* SENTINEL FAILOVER under a steady write load: slotgate follows +switch-master; no client sees an error
 * and every acknowledged write reads back. */
START_TEST(sentinel_failover_is_invisible) {
    failover_under_load(SG_PORT, "SENTINEL FAILOVER");
    ck_assert(slotgate_log_has(&sg, "+switch-master mymaster"));
}
END_TEST

/* kill -9 of the master under load: only writes already sent to it may fail; the sentinels promote a
 * replica, slotgate follows, and the old master, started again, comes back as a replica of the new
 * one (slotgate lists it as such). */
START_TEST(killed_master_errors_only_in_flight_and_returns_as_replica) {
    int victim = sentinel_master_port(), idx = victim - DATA;
    struct load l;
    load_start(&l, SG_PORT, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    long long ops_before = l.ops;
    kill(data_pids[idx], SIGKILL);
    untrack_pid(data_pids[idx]);
    data_pids[idx] = 0;
    long long t0 = now_ms();
    WAIT_UNTIL(30000, sentinel_master_port() != victim, "the sentinels did not fail over");
    long long failed_over_ms = now_ms() - t0;
    sleep_ms(2000);
    load_stop(&l);
    report("kill -9 of the master", &l);
    fprintf(stderr, "kill -9 of the master: the sentinels named a new master %lld ms after the kill\n", failed_over_ms);
    ck_assert_int_gt(l.ops, ops_before + 1000);
    ck_assert_msg(l.errors <= 50, "%lld errors, first: %s", l.errors, l.first_error);
    long long wrong, lost = load_verify(&l, SG_PORT, master_of_key, &wrong);
    fprintf(stderr, "kill -9 of the master: %lld acknowledged writes lost by Redis (async replication)\n", lost);
    ck_assert_int_eq(wrong, 0);
    ck_assert_msg(lost <= 200, "%lld acknowledged writes lost", lost);
    load_free(&l);
    /* the old master comes back: the sentinels make it a replica, slotgate's map has it as one */
    data_pids[idx] = data_start(victim, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", victim);
    int seen = 0;
    for (long long t1 = now_ms(); !seen && now_ms() - t1 < 30000; sleep_ms(200)) {
        json_t *j = http_json(sg.admin_port, "/nodes", 200);
        json_t *nodes = json_object_get(j, "nodes");
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            json_t *n = json_array_get(nodes, i);
            if (!strcmp(json_string_value(json_object_get(n, "addr")), addr) &&
                !strcmp(json_string_value(json_object_get(n, "role")), "replica") &&
                json_is_true(json_object_get(n, "in_slot_map")))
                seen = 1;
        }
        json_decref(j);
    }
    ck_assert_msg(seen, "%s never listed as a replica on /nodes", addr);
}
END_TEST

/* standalone: one server named by the seed, its replica learned from ROLE; with prefer-replica the
 * reads go to the replica, the writes to the server. */
START_TEST(standalone_server_with_a_replica) {
    pid_t solo = server_start(SOLO, 0, NULL), rep = server_start(SOLO + 1, SOLO, NULL);
    ck_assert_msg(wait_role(SOLO + 1, "slave", 10000), "the replica did not start");
    redisContext *m = connect_port(SOLO);
    WAIT_UNTIL(10000, info_has(m, "replication", "connected_slaves:1"), "the replica did not connect");
    struct slotgate solo_sg;
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", SOLO);
    slotgate_start(&solo_sg, SOLO_SG, "--threads 1 --backend-kind standalone --read-policy prefer-replica", seed, 1);
    redisContext *c = connect_port(SOLO_SG);
    for (int i = 0; i < 100; i++) freeReplyObject(cmd(c, "SET solo:%d %d", i, i));
    expect_str(m, "99", "GET solo:99"); /* written on the server */
    redisContext *r = connect_port(SOLO + 1);
    WAIT_UNTIL(10000, reply_is(r, "99", "GET solo:99"), "the replica did not get the writes");
    char raddr[40];
    snprintf(raddr, sizeof(raddr), "\"127.0.0.1:%d\"", SOLO + 1);
    WAIT_UNTIL(10000, http_body_has(solo_sg.admin_port, "/slots", raddr), "the replica never in the map (ROLE)");
    for (int i = 0; i < 100; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        expect_str(c, want, "GET solo:%d", i);
    }
    json_t *j = http_json(solo_sg.admin_port, "/nodes", 200);
    json_t *nodes = json_object_get(j, "nodes");
    long long replica_requests = -1;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *n = json_array_get(nodes, i);
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", SOLO + 1);
        if (!strcmp(json_string_value(json_object_get(n, "addr")), addr))
            replica_requests = json_integer_value(json_object_get(n, "requests"));
    }
    ck_assert_msg(replica_requests >= 100, "the replica answered %lld reads: %s", replica_requests,
                  json_dumps(j, JSON_COMPACT));
    json_decref(j);
    redisReply *x = cmd(c, "CLUSTER SLOTS");
    ck_assert_int_eq(x->elements, 1);
    ck_assert_int_eq(x->element[0]->element[1]->integer, 16383); /* every slot, served by slotgate itself */
    freeReplyObject(x);
    redisFree(c);
    redisFree(r);
    redisFree(m);
    ck_assert_int_eq(slotgate_stop(&solo_sg), 0);
    kill(solo, SIGKILL), untrack_pid(solo);
    kill(rep, SIGKILL), untrack_pid(rep);
}
END_TEST

/* Routes by prefix over two backends at once: the cluster (default) and the Sentinel-managed master
 * ("sessions": session: with its prefix stripped, ha: as it is). Each key lands where its route says;
 * MGET, MSET and DEL across the routes are split and merged in order; what cannot be split is refused with
 * Redis's CROSSSLOT, and what routes do not carry yet with a clear error; /routes describes it; a
 * SENTINEL FAILOVER of the sessions backend under a load on its keys costs no client an error. */
START_TEST(routes_over_a_cluster_and_sentinel) {
    char conf_path[200], args[300];
    snprintf(conf_path, sizeof(conf_path), "%s/routes.json", dir);
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"seeds\": [\"127.0.0.1:%d\"], \"backends\": {\"sessions\": {\"backend-kind\": \"sentinel\", "
            "\"seeds\": [\"127.0.0.1:%d\", \"127.0.0.1:%d\"], \"sentinel-master\": \"mymaster\", "
            "\"sentinel-password\": \"%s\", \"backend-password\": \"%s\"}}, \"routes\": [{\"prefix\": "
            "\"session:\", \"backend\": \"sessions\", \"strip-prefix\": true}, {\"prefix\": \"ha:\", "
            "\"backend\": \"sessions\"}]}\n",
            CL_BASE, SENT, SENT + 1, SENT_PASS, DATA_PASS);
    fclose(f);
    snprintf(args, sizeof(args), "--threads 2 --config %s", conf_path);
    struct slotgate rsg;
    slotgate_start(&rsg, ROUTED_SG, args, "", 1);
    redisContext *c = connect_port(ROUTED_SG);
    WAIT_UNTIL(5000, reply_is(c, "OK", "SET session:abc s1"), "the sessions backend never answered");
    expect_str(c, "OK", "SET user:1 u1");
    redisContext *m = authed(sentinel_master_port(), DATA_PASS);
    expect_str(m, "s1", "GET abc");                         /* stripped */
    expect_str(c, "OK", "RENAME session:abc session:abc2"); /* one server behind: no CROSSSLOT */
    expect_str(c, "OK", "RENAME session:abc2 session:abc");
    redisReply *r = cmd(m, "EXISTS user:1 session:abc");
    ck_assert_int_eq(r->integer, 0); /* the cluster's key is not there, nor the unstripped name */
    freeReplyObject(r);
    redisContext *d = connect_port(cluster_master_for_key(&cl, "user:1"));
    expect_str(d, "u1", "GET user:1");
    redisFree(d);
    /* across the routes: split, merged in order */
    expect_str(c, "OK", "MSET session:a 1 user:2 2 ha:b 3");
    r = cmd(c, "MGET user:1 session:abc ha:b nokey user:2 session:a");
    ck_assert_int_eq(r->elements, 6);
    const char *want[] = {"u1", "s1", "3", NULL, "2", "1"};
    for (int i = 0; i < 6; i++) {
        if (want[i])
            ck_assert_str_eq(r->element[i]->str, want[i]);
        else
            ck_assert_int_eq(r->element[i]->type, REDIS_REPLY_NIL);
    }
    freeReplyObject(r);
    expect_str(m, "3", "GET ha:b"); /* not stripped */
    r = cmd(c, "DEL session:a user:2 ha:b");
    ck_assert_int_eq(r->integer, 3);
    freeReplyObject(r);
    r = cmd(c, "RENAME session:abc user:9");
    ck_assert_str_eq(r->str, "CROSSSLOT Keys in request don't belong to the same route (slotgate routes)");
    freeReplyObject(r);
    r = cmd(c, "BLPOP session:q 1");
    ck_assert_str_eq(r->str, "ERR slotgate: 'BLPOP' has keys routed to backend 'sessions': only plain commands (not "
                             "MULTI, pub/sub, blocking commands or scripts) go to another backend");
    freeReplyObject(r);
    json_t *j = http_json(rsg.admin_port, "/routes", 200);
    json_t *routes = json_object_get(j, "routes"), *backends = json_object_get(j, "backends");
    ck_assert_int_eq(json_array_size(routes), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(routes, 0), "prefix")), "session:");
    ck_assert(json_is_true(json_object_get(json_array_get(routes, 0), "strip_prefix")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(routes, 2), "backend")), "default");
    ck_assert_int_eq(json_array_size(backends), 2);
    json_t *sb = json_array_get(backends, 1);
    ck_assert_str_eq(json_string_value(json_object_get(sb, "kind")), "sentinel");
    char maddr[32];
    snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", sentinel_master_port());
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(json_object_get(sb, "shards"), 0), "master"), "addr")),
                     maddr);
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(backends, 0), "shards")), 3);
    json_decref(j);
    /* a failover of the sessions backend under a load on its keys (ha:N) */
    failover_under_load(ROUTED_SG, "routes: SENTINEL FAILOVER of the sessions backend");
    expect_str(c, "u1", "GET user:1"); /* the cluster's keys never moved */
    expect_str(c, "s1", "GET session:abc");
    redisFree(m);
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&rsg), 0);
}
END_TEST

/* The routed slotgate's configuration: the cluster as the default backend, the Sentinel-managed master
 * as "old", a standalone server on SOLO as "shadow", and routes (JSON) as given; written to routes-<port>.json; started
 * on port. */
static void routed_start(struct slotgate *x, int port, const char *routes, char *path, size_t cap) {
    snprintf(path, cap, "%s/routes-%d.json", dir, port);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"seeds\": [\"127.0.0.1:%d\"], \"backends\": {\"old\": {\"backend-kind\": \"sentinel\", "
            "\"seeds\": [\"127.0.0.1:%d\", \"127.0.0.1:%d\"], \"sentinel-master\": \"mymaster\", "
            "\"sentinel-password\": \"%s\", \"backend-password\": \"%s\"}, \"shadow\": {\"backend-kind\": "
            "\"standalone\", \"seeds\": [\"127.0.0.1:%d\"]}}, \"routes\": %s}\n",
            CL_BASE, SENT, SENT + 1, SENT_PASS, DATA_PASS, SOLO, routes);
    fclose(f);
    char args[300];
    snprintf(args, sizeof(args), "--threads 2 --config %s", path);
    slotgate_start(x, port, args, "", 1);
}

static long long json_path_int(json_t *j, const char *a, const char *b) {
    json_t *o = json_object_get(j, a);
    return json_integer_value(b ? json_object_get(o, b) : o);
}

/* A route mirrored to a standalone server: the mirror gets the route's writes and nothing else; when it
 * is killed under load, clients see nothing of it (the mirror's failures are counted apart) and every
 * acknowledged write is on the cluster. */
START_TEST(mirror_failure_never_reaches_clients) {
    pid_t shadow = server_start(SOLO, 0, NULL);
    struct slotgate rsg;
    char path[200];
    routed_start(&rsg, ROUTED_SG, "[{\"prefix\": \"ha:\", \"backend\": \"default\", \"mirror\": \"shadow\"}]", path,
                 sizeof(path));
    redisContext *c = connect_port(ROUTED_SG);
    redisContext *m = connect_port(SOLO);
    WAIT_UNTIL(5000, (reply_is(c, "OK", "SET ha:probe 1"), reply_is(m, "1", "GET ha:probe")),
               "the mirror never got the route's write");
    expect_str(c, "OK", "SET other 1"); /* not the route's: not mirrored */
    expect_str(c, "1", "GET ha:probe"); /* a read: not mirrored either */
    redisReply *r = cmd(m, "EXISTS other");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    redisFree(m);
    struct load l;
    load_start(&l, ROUTED_SG, 50, MAX_KEYS, 60);
    sleep_ms(1000);
    json_t *j = http_json(rsg.admin_port, "/routes", 200);
    ck_assert_int_gt(json_path_int(j, "mirror", "replies"), 1000);
    ck_assert_int_eq(json_path_int(j, "mirror", "errors"), 0);
    json_decref(j);
    kill(shadow, SIGKILL); /* the mirror is gone */
    untrack_pid(shadow);
    sleep_ms(2000);
    load_stop(&l);
    report("mirror: the mirror killed under load", &l);
    ck_assert_int_eq(l.errors, 0);
    j = http_json(rsg.admin_port, "/routes", 200);
    long long failed = json_path_int(j, "mirror", "errors") + json_path_int(j, "mirror", "dropped");
    fprintf(stderr, "mirror: %lld sent, %lld replies, %lld failed (errors and dropped), mean latency %.0f us\n",
            json_path_int(j, "mirror", "sent"), json_path_int(j, "mirror", "replies"), failed,
            json_real_value(json_object_get(json_object_get(j, "mirror"), "mean_latency_us")));
    ck_assert_int_gt(failed, 0);
    json_decref(j);
    long long wrong, lost = load_verify(&l, ROUTED_SG, master_of_route_key, &wrong);
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(lost, 0);
    load_free(&l);
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&rsg), 0);
}
END_TEST

/* What the mixed writer (below) leaves: n rounds of INCR, HSET, RPUSH, EXPIRE and DEL on the keys mix:*,
 * through slotgate, every reply checked as it comes. */
static void mixed_writes(redisContext *c, int from, int n) {
    for (int i = from; i < from + n; i++) {
        redisReply *r = cmd(c, "INCR mix:cnt:%d", i % 20);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = cmd(c, "HSET mix:h:%d f%d %d", i % 30, i, i);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = cmd(c, "RPUSH mix:l:%d %d", i % 10, i);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = cmd(c, "SET mix:gone:%d x", i);
        freeReplyObject(r);
        r = cmd(c, "DEL mix:gone:%d", i);
        ck_assert_int_eq(r->integer, 1);
        freeReplyObject(r);
        r = cmd(c, "EXPIRE mix:h:%d 600", i % 30);
        freeReplyObject(r);
    }
}

/* Every key the mixed writer wrote, as a single server would hold it after rounds 0..n-1, read from c
 * (the cluster's node for each key, by slotgate after the cut-over). */
static void mixed_verify(redisContext *c, int n) {
    for (int k = 0; k < 20; k++) {
        int want = 0;
        for (int i = 0; i < n; i++) want += i % 20 == k;
        char s[16];
        snprintf(s, sizeof(s), "%d", want);
        expect_str(c, s, "GET mix:cnt:%d", k);
    }
    for (int k = 0; k < 30; k++) {
        int want = 0;
        for (int i = 0; i < n; i++) want += i % 30 == k;
        redisReply *r = cmd(c, "HLEN mix:h:%d", k);
        ck_assert_int_eq(r->integer, want);
        freeReplyObject(r);
        r = cmd(c, "TTL mix:h:%d", k);
        ck_assert_int_gt(r->integer, 500);
        freeReplyObject(r);
    }
    for (int k = 0; k < 10; k++) {
        redisReply *r = cmd(c, "LRANGE mix:l:%d 0 -1", k);
        int at = 0;
        for (int i = 0; i < n; i++)
            if (i % 10 == k) ck_assert_int_eq(atoi(r->element[at++]->str), i); /* every push, in order */
        ck_assert_int_eq((int)r->elements, at);
        freeReplyObject(r);
    }
    redisReply *r = cmd(c, "EXISTS mix:gone:0 mix:gone:1 mix:gone:%d", n - 1);
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
}

/* /routes says migration.background.<what> (or .check.state) is state. */
static int migration_is(int admin, const char *what, const char *state) {
    json_t *j = http_json(admin, "/routes", 200);
    json_t *bg = json_object_get(json_object_get(j, "migration"), "background");
    json_t *v =
        strcmp(what, "check") ? json_object_get(bg, what) : json_object_get(json_object_get(bg, "check"), "state");
    int is = json_is_string(v) && !strcmp(json_string_value(v), state);
    json_decref(j);
    return is;
}

/* The whole move from the Sentinel-managed master to the 3-master cluster under a steady write load:
 * keys of every type (some with TTLs) on the old master first; migrate-to with the background copy;
 * the consistency check finds no difference; the cut-over by SIGHUP; the old master gone; every
 * acknowledged write is on the cluster, and no client saw an error. */
START_TEST(migration_from_sentinel_to_cluster_loses_nothing) {
    redisContext *m = NULL;
    WAIT_UNTIL(20000, sentinel_master_port() > 0 && (m = connect_port(sentinel_master_port())) != NULL,
               "no master to migrate from");
    expect_str(m, "OK", "AUTH %s", DATA_PASS);
    for (int i = 0; i < 3; i++) { /* the cluster starts empty, as a migration's target does (earlier cases wrote) */
        redisContext *d = connect_port(CL_BASE + i);
        expect_str(d, "OK", "FLUSHALL");
        redisFree(d);
    }
    for (int i = 0; i < 2000; i++) { /* what the application had before */
        redisAppendCommand(m, "SET pre:s:%d v%d", i, i);
        redisAppendCommand(m, "HSET pre:h:%d a %d b x", i % 300, i);
        redisAppendCommand(m, "ZADD pre:z:%d %d m%d", i % 200, i, i);
        redisAppendCommand(m, "SADD pre:set:%d %d", i % 100, i);
        redisAppendCommand(m, "RPUSH pre:l:%d %d", i % 100, i);
        if (i % 10 == 0)
            redisAppendCommand(m, "SETEX pre:t:%d 3000 t", i);
        else
            redisAppendCommand(m, "PING");
    }
    for (int i = 0; i < 2000 * 6; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(m, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    struct slotgate rsg;
    char path[200];
    routed_start(&rsg, ROUTED_SG, "[{\"prefix\": \"\", \"backend\": \"old\", \"migrate-to\": \"default\"}]", path,
                 sizeof(path));
    redisContext *c = connect_port(ROUTED_SG);
    expect_str(c, "v7", "GET pre:s:7");
    struct load l;
    load_start(&l, ROUTED_SG, 50, MAX_KEYS, 120);
    mixed_writes(c, 0, 300);
    WAIT_UNTIL(30000, migration_is(rsg.admin_port, "copy", "copied"), "the background copy did not finish");
    json_t *j = http_json(rsg.admin_port, "/routes", 200);
    json_t *bg = json_object_get(json_object_get(j, "migration"), "background");
    ck_assert_int_eq(json_path_int(bg, "errors", NULL), 0);
    ck_assert_int_ge(json_path_int(bg, "copied", NULL) + json_path_int(bg, "newer_on_new", NULL), 2000 + 300 + 200);
    fprintf(stderr, "migration: background copy of %lld keys: %lld copied, %lld newer on the new backend already\n",
            json_path_int(bg, "scanned", NULL), json_path_int(bg, "copied", NULL),
            json_path_int(bg, "newer_on_new", NULL));
    json_decref(j);
    mixed_writes(c, 300, 300);
    struct http_reply h;
    http_request(&h, "POST", rsg.admin_port, "/routes/check", NULL);
    ck_assert_int_eq(h.status, 202);
    http_reply_free(&h);
    WAIT_UNTIL(60000, migration_is(rsg.admin_port, "check", "done"), "the consistency check did not finish");
    j = http_json(rsg.admin_port, "/routes", 200);
    json_t *chk = json_object_get(json_object_get(json_object_get(j, "migration"), "background"), "check");
    char *dump = json_dumps(chk, JSON_COMPACT);
    fprintf(stderr, "migration: check under load: %s\n", dump);
    free(dump);
    ck_assert(json_is_true(json_object_get(chk, "consistent")));
    ck_assert_int_eq(json_path_int(chk, "differences", NULL), 0);
    ck_assert_int_eq(json_path_int(chk, "old", "keys"), json_path_int(chk, "new", "keys"));
    ck_assert_int_ge(json_path_int(chk, "values_compared", NULL), 2000);
    json_t *dp = json_object_get(json_object_get(j, "migration"), "data_path");
    ck_assert_int_eq(json_path_int(dp, "copy_errors", NULL), 0);
    ck_assert_int_gt(json_path_int(dp, "keys_copied", NULL), 1000);
    json_decref(j);
    /* the cut-over: the routes say the cluster has every key now */
    FILE *f = fopen(path, "r");
    char conf[2000];
    size_t n = fread(conf, 1, sizeof(conf) - 1, f);
    fclose(f);
    conf[n] = '\0';
    char *routes = strstr(conf, "\"routes\"");
    ck_assert_ptr_nonnull(routes);
    strcpy(routes, "\"routes\": []}\n");
    f = fopen(path, "w");
    fputs(conf, f);
    fclose(f);
    kill(rsg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&rsg, "routes reloaded (0 routes)"), "SIGHUP did not take the new routes");
    mixed_writes(c, 600, 100);
    sleep_ms(1000);
    load_stop(&l);
    report("migration: Sentinel -> cluster with the cut-over", &l);
    ck_assert_int_eq(l.errors, 0);
    ck_assert_int_gt(l.written, 1000);
    for (int i = 0; i < 3; i++)
        if (data_pids[i] > 0) kill(data_pids[i], SIGKILL), untrack_pid(data_pids[i]), data_pids[i] = 0;
    /* every acknowledged write, read back through slotgate, which now asks the cluster only ... */
    long long wrong, lost = load_verify(&l, ROUTED_SG, master_of_route_key, &wrong);
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(lost, 0);
    mixed_verify(c, 700);
    expect_str(c, "v1999", "GET pre:s:1999");
    redisReply *r = cmd(c, "TTL pre:t:10");
    ck_assert_int_gt(r->integer, 2900);
    freeReplyObject(r);
    /* ... and on the cluster's own nodes */
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof(key), "pre:s:%d", i * 40);
        redisContext *d = connect_port(cluster_master_for_key(&cl, key));
        redisReply *v = cmd(d, "GET %s", key);
        char want[32];
        snprintf(want, sizeof(want), "v%d", i * 40);
        ck_assert_str_eq(v->str, want);
        freeReplyObject(v);
        redisFree(d);
    }
    load_free(&l);
    redisFree(m);
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&rsg), 0);
}
END_TEST

SUITE_MAIN(.name = "sentinel", .setup = setup, .teardown = teardown, .timeout = 120,
           .tests = {TEST(serves_through_the_master_sentinel_names), TEST(sentinel_failover_is_invisible),
                     TEST(killed_master_errors_only_in_flight_and_returns_as_replica),
                     TEST(standalone_server_with_a_replica), TEST(routes_over_a_cluster_and_sentinel),
                     TEST(mirror_failure_never_reaches_clients),
                     TEST(migration_from_sentinel_to_cluster_loses_nothing)})
