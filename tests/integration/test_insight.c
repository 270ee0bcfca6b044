/* Seeing what the cluster does through slotgate (issue 18): SLOWLOG answered by slotgate with Redis's
 * replies, its entries saying where the time went (a request held up by a paused master names that
 * master; a split one its slowest part), arguments cut as Redis cuts them (compared with a plain
 * redis-server), the settings live on SIGHUP; per-family latency histograms on /metrics; keyspace and
 * keyevent notifications from every master, each once, also after a failover; per-slot load, the
 * dashboard coloured by it, and rebalance advice carried out with redis-cli evening the load. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/run.h"

#define BASE        22570 /* 22570-22575: 3 masters, a replica each */
#define SG_PORT     22637
#define ORACLE_PORT 22638

static struct cluster cl;
static struct slotgate sg;
static pid_t oracle;
static char conf_path[200];

static void write_conf(const char *extra) {
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"seeds\": [\"127.0.0.1:%d\"], \"slot-load-window-seconds\": 2%s}\n", BASE, extra);
    fclose(f);
}

static void setup(void) {
    cluster_start(&cl, BASE, 3, 1);
    snprintf(conf_path, sizeof(conf_path), "%s/slotgate-insight.json", cl.dir);
    write_conf("");
    char args[300];
    snprintf(args, sizeof(args), "--threads 2 --config %s", conf_path);
    slotgate_start(&sg, SG_PORT, args, "", 1);
    oracle = oracle_start(ORACLE_PORT, cl.dir, "oracle-insight");
}

static void teardown(void) {
    oracle_stop(oracle);
    fixture_down(&cl, &sg);
}

static redisReply *slowlog_newest(redisContext *c) {
    redisReply *r = cmd(c, "SLOWLOG GET 1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->elements, 1);
    return r;
}

/* A SET held 400 ms by CLIENT PAUSE on its master: one entry, Redis's six fields (id, time, duration,
 * arguments, address, name) and slotgate's seventh naming the master and its share. */
START_TEST(slowlog_names_the_paused_master) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "CLIENT SETNAME slowpoke");
    expect_str(c, "OK", "SLOWLOG RESET");
    redisReply *r = cmd(c, "SLOWLOG LEN");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    int master = cluster_master_for_key(&cl, "slow:a");
    redisContext *m = connect_port(master);
    expect_str(m, "OK", "CLIENT PAUSE 400 WRITE");
    long long t0 = now_ms();
    expect_str(c, "OK", "SET slow:a value");
    ck_assert_int_ge(now_ms() - t0, 300);
    expect_str(c, "value", "GET slow:a"); /* fast: not logged */
    r = slowlog_newest(c);
    redisReply *e = r->element[0];
    ck_assert_int_ge(e->elements, 7);
    ck_assert_int_ge(e->element[2]->integer, 300000); /* microseconds */
    ck_assert_int_le(llabs(e->element[1]->integer - (long long)time(NULL)), 5);
    ck_assert_int_eq(e->element[3]->elements, 3);
    ck_assert_str_eq(e->element[3]->element[0]->str, "SET");
    ck_assert_str_eq(e->element[3]->element[1]->str, "slow:a");
    ck_assert_str_eq(e->element[3]->element[2]->str, "value");
    ck_assert_str_eq(e->element[5]->str, "slowpoke");
    redisReply *info = cmd(c, "CLIENT INFO");
    char addr[80];
    snprintf(addr, sizeof(addr), "addr=%s ", e->element[4]->str);
    ck_assert_msg(strstr(info->str, addr), "entry's address %s is not the client's: %s", e->element[4]->str, info->str);
    freeReplyObject(info);
    char want[64];
    snprintf(want, sizeof(want), "node=127.0.0.1:%d node_us=", master);
    ck_assert_msg(strstr(e->element[6]->str, want), "detail: %s", e->element[6]->str);
    long long node_us = atoll(strstr(e->element[6]->str, "node_us=") + 8);
    ck_assert_int_ge(node_us, 300000);
    freeReplyObject(r);
    r = cmd(c, "SLOWLOG LEN");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    redisFree(m);
    redisFree(c);
}
END_TEST

/* An MSET over every master with one paused: one entry for the client's command, naming its slowest part. */
START_TEST(slowlog_split_command_names_its_slowest_part) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "SLOWLOG RESET");
    int master = cluster_master_for_key(&cl, "{s}b");
    redisContext *m = connect_port(master);
    expect_str(m, "OK", "CLIENT PAUSE 300 WRITE");
    expect_str(c, "OK", "MSET {a}a 1 {s}b 2 {c}c 3 {d}d 4 {e}e 5");
    redisReply *r = slowlog_newest(c);
    redisReply *e = r->element[0];
    ck_assert_str_eq(e->element[3]->element[0]->str, "mset");
    ck_assert_str_eq(e->element[3]->element[1]->str, "... (10 more arguments)");
    char want[64];
    snprintf(want, sizeof(want), "slowest_part_node=127.0.0.1:%d ", master);
    ck_assert_msg(strstr(e->element[6]->str, "parts=") && strstr(e->element[6]->str, want), "detail: %s",
                  e->element[6]->str);
    freeReplyObject(r);
    redisFree(m);
    redisFree(c);
}
END_TEST

/* Arguments cut as Redis cuts them (128 bytes, 32 arguments), the replies to bad counts and HELP: the
 * same as a plain redis-server logging everything. */
START_TEST(slowlog_replies_as_redis) {
    write_conf(", \"slowlog-log-slower-than\": 0");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "slowlog-log-slower-than changed"), "SIGHUP not applied");
    redisContext *c = connect_port(SG_PORT), *o = connect_port(ORACLE_PORT);
    expect_str(o, "OK", "CONFIG SET slowlog-log-slower-than 0");
    char big[201];
    memset(big, 'x', 200);
    big[200] = '\0';
    const char *argv[40];
    size_t lens[40];
    argv[0] = "RPUSH", lens[0] = 5;
    argv[1] = "slow:list", lens[1] = 9;
    for (int i = 2; i < 40; i++) argv[i] = big, lens[i] = (size_t)(i == 2 ? 200 : 1 + i % 7);
    for (int k = 0; k < 2; k++) {
        redisContext *x = k ? o : c;
        freeReplyObject(cmd(x, "SLOWLOG RESET"));
        redisReply *r = redisCommandArgv(x, 40, argv, lens);
        freeReplyObject(r);
    }
    redisReply *a = cmd(c, "SLOWLOG GET 5"), *b = cmd(o, "SLOWLOG GET 5");
    /* the newest entry whose command is RPUSH, on both */
    redisReply *ea = NULL, *eb = NULL;
    for (size_t i = 0; i < a->elements && !ea; i++)
        if (!strcasecmp(a->element[i]->element[3]->element[0]->str, "rpush")) ea = a->element[i];
    for (size_t i = 0; i < b->elements && !eb; i++)
        if (!strcasecmp(b->element[i]->element[3]->element[0]->str, "rpush")) eb = b->element[i];
    ck_assert_ptr_nonnull(ea);
    ck_assert_ptr_nonnull(eb);
    ck_assert_int_eq(ea->element[3]->elements, eb->element[3]->elements);
    for (size_t i = 0; i < eb->element[3]->elements; i++)
        ck_assert_msg(ea->element[3]->element[i]->len == eb->element[3]->element[i]->len &&
                          !memcmp(ea->element[3]->element[i]->str, eb->element[3]->element[i]->str,
                                  eb->element[3]->element[i]->len),
                      "argument %zu: slotgate '%s', redis '%s'", i, ea->element[3]->element[i]->str,
                      eb->element[3]->element[i]->str);
    freeReplyObject(a);
    freeReplyObject(b);
    static const char *const same[] = {"SLOWLOG GET abc", "SLOWLOG GET -2", "SLOWLOG HELP", "SLOWLOG NOPE"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        redisReply *x = cmd(c, same[i]), *y = cmd(o, same[i]);
        ck_assert_int_eq(x->type, y->type);
        if (x->type == REDIS_REPLY_ERROR) ck_assert_str_eq(x->str, y->str);
        if (x->type == REDIS_REPLY_ARRAY) {
            ck_assert_int_eq(x->elements, y->elements);
            for (size_t k = 0; k < x->elements; k++) ck_assert_str_eq(x->element[k]->str, y->element[k]->str);
        }
        freeReplyObject(x);
        freeReplyObject(y);
    }
    /* slowlog-max-len, live: only the newest 3 kept */
    write_conf(", \"slowlog-log-slower-than\": 0, \"slowlog-max-len\": 3");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "slowlog-max-len changed"), "SIGHUP not applied");
    for (int i = 0; i < 10; i++) freeReplyObject(cmd(c, "GET slow:%d", i));
    redisReply *r = cmd(c, "SLOWLOG LEN");
    ck_assert_int_eq(r->integer, 3);
    freeReplyObject(r);
    r = cmd(c, "SLOWLOG GET -1");
    ck_assert_int_eq(r->elements, 3);
    ck_assert_int_gt(r->element[0]->element[0]->integer, r->element[2]->element[0]->integer); /* newest first */
    freeReplyObject(r);
    write_conf("");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "slowlog-log-slower-than changed from 0 to 10000"), "not restored");
    redisFree(c);
    redisFree(o);
}
END_TEST

/* /metrics: the latency histogram by command family. */
START_TEST(latency_histograms_by_family) {
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < 50; i++) {
        freeReplyObject(cmd(c, "SET m:%d v", i));
        freeReplyObject(cmd(c, "LPUSH ml:%d v", i));
    }
    redisFree(c);
    struct http_reply h;
    http_request(&h, "GET", sg.admin_port, "/metrics", NULL);
    ck_assert_int_eq(h.status, 200);
    const char *body = h.body;
    ck_assert_msg(strstr(body, "# TYPE slotgate_command_duration_seconds histogram"), "no histogram");
    const char *s = strstr(body, "slotgate_command_duration_seconds_count{family=\"string\"} ");
    const char *l = strstr(body, "slotgate_command_duration_seconds_count{family=\"list\"} ");
    ck_assert_msg(s && l, "no string or list family");
    ck_assert_int_ge(atoll(s + strlen("slotgate_command_duration_seconds_count{family=\"string\"} ")), 50);
    ck_assert_int_ge(atoll(l + strlen("slotgate_command_duration_seconds_count{family=\"list\"} ")), 50);
    ck_assert(strstr(body, "slotgate_command_duration_seconds_bucket{family=\"list\",le=\"+Inf\"}"));
    http_reply_free(&h);
}
END_TEST

/* Reads messages from a subscribed connection until every key of want has its event (counted in seen),
 * or ms pass. */
static void read_events(redisContext *sub, const char *prefix, int *seen, int n, int ms) {
    long long until = now_ms() + ms;
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++) all &= seen[i] > 0;
        if (all || now_ms() > until) return;
        redisReply *r = NULL;
        if (redisGetReply(sub, (void **)&r) != REDIS_OK) return; /* timed out */
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 && !strcmp(r->element[0]->str, "pmessage")) {
            const char *key = r->element[3]->str;
            if (!strncmp(key, prefix, strlen(prefix))) {
                int i = atoi(key + strlen(prefix));
                if (i >= 0 && i < n) seen[i]++;
            }
        }
        freeReplyObject(r);
    }
}

/* PSUBSCRIBE __keyevent@0__:set through slotgate: the SETs of keys on all three masters each arrive once;
 * after a failover, the new master's too. */
START_TEST(keyspace_events_from_every_master) {
    for (int i = 0; i < cl.nnodes; i++) {
        redisContext *d = connect_port(BASE + i);
        expect_str(d, "OK", "CONFIG SET notify-keyspace-events KEA");
        redisFree(d);
    }
    redisContext *sub = connect_port(SG_PORT), *c = connect_port(SG_PORT);
    struct timeval tv = {5, 0};
    redisSetTimeout(sub, tv);
    redisReply *r = cmd(sub, "PSUBSCRIBE __keyevent@0__:set");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->element[2]->integer, 1);
    freeReplyObject(r);
    int masters[3] = {0}, nm = 0, seen[30] = {0};
    for (int i = 0; i < 30; i++) {
        char k[32];
        snprintf(k, sizeof(k), "ev:a:%d", i);
        int m = cluster_master_for_key(&cl, k), known = 0;
        for (int j = 0; j < nm; j++) known |= masters[j] == m;
        if (!known && nm < 3) masters[nm++] = m;
        expect_str(c, "OK", "SET %s v", k);
    }
    ck_assert_int_eq(nm, 3); /* the keys live on every master */
    read_events(sub, "ev:a:", seen, 30, 5000);
    for (int i = 0; i < 30; i++) ck_assert_msg(seen[i] == 1, "ev:a:%d: %d events", i, seen[i]);
    /* a failover: the promoted replica's events arrive too */
    int master = cluster_master_for_key(&cl, "ev:b:0");
    int replica = cluster_replica_of(&cl, master);
    ck_assert_int_gt(replica, 0);
    redisContext *d = connect_port(replica);
    expect_str(d, "OK", "CLUSTER FAILOVER");
    redisFree(d);
    ck_assert_msg(wait_role(replica, "master", 15000), "the replica was not promoted");
    /* slotgate has the new map (its mirror on the old master, which replays the new master's writes, is
     * gone then), and the new master's mirror is subscribed once an event from it comes */
    char want[64], path[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", replica);
    snprintf(path, sizeof(path), "/keyslot?key=ev:b:0");
    WAIT_UNTIL(15000, ({
                   json_t *j = http_json(sg.admin_port, path, 200);
                   const char *a = json_string_value(json_object_get(json_object_get(j, "master"), "addr"));
                   int ok = a && !strcmp(a, want);
                   json_decref(j);
                   ok;
               }),
               "slotgate never took the new master");
    sleep_ms(200);
    int probe[1] = {0};
    for (long long until = now_ms() + 15000; !probe[0] && now_ms() < until;) {
        expect_str(c, "OK", "SET ev:b:0 v");
        read_events(sub, "ev:b:", probe, 1, 500);
    }
    ck_assert_msg(probe[0] > 0, "no event from the promoted master");
    int seen2[30] = {0};
    for (int i = 0; i < 30; i++) expect_str(c, "OK", "SET ev:c:%d v", i);
    read_events(sub, "ev:c:", seen2, 30, 5000);
    for (int i = 0; i < 30; i++) ck_assert_msg(seen2[i] == 1, "after the failover, ev:c:%d: %d events", i, seen2[i]);
    /* nothing twice: a moment more brings no further event for these keys */
    struct timeval shortv = {0, 500000};
    redisSetTimeout(sub, shortv);
    read_events(sub, "ev:c:", seen2, 30, 600); /* all seen already: returns at once */
    redisReply *extra = NULL;
    int got = redisGetReply(sub, (void **)&extra) == REDIS_OK;
    if (got) {
        ck_assert_msg(
            !(extra->type == REDIS_REPLY_ARRAY && extra->elements == 4 && !strncmp(extra->element[3]->str, "ev:c:", 5)),
            "an event came twice: %s", extra->element[3]->str);
        freeReplyObject(extra);
    }
    redisFree(sub);
    redisFree(c);
}
END_TEST

/* SUBSCRIBE to one key's keyspace channel beside an ordinary channel: the key's events (its master is any
 * of the three) and PUBLISH's messages, each once, PUBLISH counting one receiver. */
START_TEST(keyspace_channel_beside_an_ordinary_one) {
    redisContext *sub = connect_port(SG_PORT), *c = connect_port(SG_PORT);
    struct timeval tv = {5, 0};
    redisSetTimeout(sub, tv);
    for (int i = 0; i < 3; i++) {
        redisReply *r = cmd(sub, i == 0 ? "SUBSCRIBE __keyspace@0__:ks:x news" : "PING");
        freeReplyObject(r);
        if (i == 0) { /* the second confirmation */
            ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
            ck_assert_int_eq(r->element[2]->integer, 2);
            freeReplyObject(r);
        }
    }
    expect_str(c, "OK", "SET ks:x 1");
    redisReply *p = cmd(c, "PUBLISH news hello");
    ck_assert_int_eq(p->integer, 1);
    freeReplyObject(p);
    int got_set = 0, got_news = 0;
    for (int i = 0; i < 2; i++) {
        redisReply *r = NULL;
        ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
        ck_assert_str_eq(r->element[0]->str, "message");
        if (!strcmp(r->element[1]->str, "__keyspace@0__:ks:x")) got_set += !strcmp(r->element[2]->str, "set");
        if (!strcmp(r->element[1]->str, "news")) got_news += !strcmp(r->element[2]->str, "hello");
        freeReplyObject(r);
    }
    ck_assert_int_eq(got_set, 1);
    ck_assert_int_eq(got_news, 1);
    redisFree(sub);
    redisFree(c);
}
END_TEST

/* Sends n copies of one command, pipelined, and reads the replies. */
static void pipeline(redisContext *c, int n, const char *fmt, const char *arg) {
    for (int i = 0; i < n; i++) redisAppendCommand(c, fmt, arg, i);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
}

static json_t *hot_entry(json_t *kind, int i) { return json_array_get(json_object_get(kind, "keys"), (size_t)i); }

/* A skewed load (three keys take most requests, 6,000 others spread over 3,000 keys): those three are at
 * the top, reads and writes apart, each count at least the truth and at most its stated error above it
 * (every request counted: hotkeys-sample 1), with the master serving each; the same through SLOTGATE
 * HOTKEYS and /metrics. */
START_TEST(hot_keys_of_a_skewed_load) {
    write_conf(", \"hotkeys-sample\": 1, \"hotkeys-window-seconds\": 300");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "hotkeys-sample changed from 8 to 1"), "SIGHUP not applied");
    redisContext *c = connect_port(SG_PORT);
    pipeline(c, 3000, "GET hk:a", NULL);
    pipeline(c, 2000, "GET hk:b", NULL);
    pipeline(c, 1000, "SET hk:c v", NULL);
    for (int i = 0; i < 6000; i++) redisAppendCommand(c, "GET cold:%d", i % 3000);
    for (int i = 0; i < 6000; i++) {
        redisReply *r = NULL;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    sleep_ms(1500); /* the workers publish their counts once a second */
    json_t *j = http_json(sg.admin_port, "/hotkeys?count=5", 200);
    json_t *reads = json_object_get(j, "reads"), *writes = json_object_get(j, "writes");
    const char *want[3] = {"hk:a", "hk:b", "hk:c"};
    long long truth[3] = {3000, 2000, 1000};
    for (int i = 0; i < 3; i++) {
        json_t *e = i < 2 ? hot_entry(reads, i) : hot_entry(writes, 0);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(json_string_value(json_object_get(e, "key")), want[i]);
        long long n = json_integer_value(json_object_get(e, "requests")),
                  err = json_integer_value(json_object_get(e, "error"));
        ck_assert_msg(n >= truth[i] && n - err <= truth[i], "%s: %lld requests (error %lld), truth %lld", want[i], n,
                      err, truth[i]);
        char master[32];
        snprintf(master, sizeof(master), "127.0.0.1:%d", cluster_master_for_key(&cl, want[i]));
        ck_assert_str_eq(json_string_value(json_object_get(e, "master")), master);
    }
    json_decref(j);
    redisReply *r = cmd(c, "SLOTGATE HOTKEYS READS COUNT 2");
    ck_assert_int_eq(r->elements, 2);
    ck_assert_str_eq(r->element[0]->str, "reads");
    ck_assert_int_eq(r->element[1]->elements, 2);
    ck_assert_str_eq(r->element[1]->element[0]->element[0]->str, "hk:a");
    ck_assert_str_eq(r->element[1]->element[1]->element[0]->str, "hk:b");
    ck_assert_int_ge(r->element[1]->element[0]->element[1]->integer, 3000);
    freeReplyObject(r);
    struct http_reply h;
    http_request(&h, "GET", sg.admin_port, "/metrics", NULL);
    ck_assert_msg(strstr(h.body, "slotgate_hot_key_requests{kind=\"read\",rank=\"1\",key=\"hk:a\"}") &&
                      strstr(h.body, "slotgate_hot_key_requests{kind=\"write\",rank=\"1\",key=\"hk:c\"}"),
                  "no hot key gauges");
    http_reply_free(&h);
    write_conf("");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "hotkeys-sample changed from 1 to 8"), "not restored");
    redisFree(c);
}
END_TEST

/* The entry of /bigkeys for key and what ("request" or "reply"), or NULL. */
static json_t *big_entry(json_t *j, const char *key, const char *what) {
    json_t *arr = json_object_get(j, "entries");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (!strcmp(json_string_value(json_object_get(e, "key")), key) &&
            !strcmp(json_string_value(json_object_get(e, "what")), what))
            return e;
    }
    return NULL;
}

/* A 10 MiB value written and read back, a 100,000-element list written in one RPUSH and read back whole:
 * each request and reply is on /bigkeys with its key, command, size and client; a small one is not. */
START_TEST(big_keys_are_logged) {
    redisContext *c = connect_port(SG_PORT);
    size_t len = 10 * 1024 * 1024;
    char *v = malloc(len);
    memset(v, 'b', len);
    expect_str(c, "OK", "SET big:value %b", v, len);
    free(v);
    redisReply *r = cmd(c, "GET big:value");
    ck_assert_int_eq((long long)r->len, (long long)len);
    freeReplyObject(r);
    int n = 100000;
    const char **argv = malloc(sizeof(*argv) * (size_t)(n + 2));
    size_t *lens = malloc(sizeof(*lens) * (size_t)(n + 2));
    argv[0] = "RPUSH", lens[0] = 5, argv[1] = "big:list", lens[1] = 8;
    for (int i = 0; i < n; i++) argv[i + 2] = "e", lens[i + 2] = 1;
    r = redisCommandArgv(c, n + 2, argv, lens);
    ck_assert_int_eq(r->integer, n);
    freeReplyObject(r);
    free(argv);
    free(lens);
    r = cmd(c, "LRANGE big:list 0 -1");
    ck_assert_int_eq((long long)r->elements, n);
    freeReplyObject(r);
    expect_str(c, "OK", "SET small:value x");
    redisReply *info = cmd(c, "CLIENT INFO");
    char me[80];
    snprintf(me, sizeof(me), "%s", strstr(info->str, "addr=") + 5);
    me[strcspn(me, " ")] = '\0';
    freeReplyObject(info);
    json_t *j = http_json(sg.admin_port, "/bigkeys", 200);
    json_t *e = big_entry(j, "big:value", "request");
    ck_assert_msg(e, "no request entry for the 10 MiB SET: %s", json_dumps(j, JSON_COMPACT));
    ck_assert_str_eq(json_string_value(json_object_get(e, "command")), "set");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "bytes")), (long long)len);
    ck_assert_str_eq(json_string_value(json_object_get(e, "client")), me);
    e = big_entry(j, "big:value", "reply");
    ck_assert_msg(e, "no reply entry for the 10 MiB GET");
    ck_assert_str_eq(json_string_value(json_object_get(e, "command")), "get");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "bytes")), (long long)len);
    e = big_entry(j, "big:list", "request");
    ck_assert_msg(e, "no request entry for the 100,000-element RPUSH");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "elements")), n + 1);
    e = big_entry(j, "big:list", "reply");
    ck_assert_msg(e, "no reply entry for the 100,000-element LRANGE");
    ck_assert_str_eq(json_string_value(json_object_get(e, "command")), "lrange");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "elements")), n);
    ck_assert_ptr_null(big_entry(j, "small:value", "request"));
    json_decref(j);
    freeReplyObject(cmd(c, "DEL big:value big:list"));
    redisFree(c);
}
END_TEST

/* The rebalance test's load, on its own thread until stopped (60 s at most): pipelined batches of one GET
 * of each hot key to three of a cold one, every reply checked. */
struct skew {
    pthread_t thread;
    volatile int stop;
    char hot[3][32];
    long long ops, errors;
    char first_error[200];
};

static void *skew_run(void *arg) {
    struct skew *s = arg;
    redisContext *c = redisConnect("127.0.0.1", SG_PORT);
    long long t0 = now_ms(), cold = 0;
    while (c && !c->err && !s->stop && now_ms() - t0 < 60000) {
        int n = 0;
        for (int i = 0; i < 50; i++, n += 4) {
            for (int k = 0; k < 3; k++) redisAppendCommand(c, "GET %s", s->hot[k]);
            redisAppendCommand(c, "GET cold:%lld", cold++ % 3000);
        }
        for (int i = 0; i < n; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                s->errors++;
                snprintf(s->first_error, sizeof(s->first_error), "connection: %s", c->errstr);
                s->stop = 1;
                break;
            }
            if (r->type == REDIS_REPLY_ERROR && !s->errors++)
                snprintf(s->first_error, sizeof(s->first_error), "%s", r->str);
            s->ops++;
            freeReplyObject(r);
        }
        usleep(1000); /* about 100k requests a second at most: load, not a benchmark */
    }
    if (c) redisFree(c);
    return NULL;
}

static void iso_now(char *out, size_t len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* The last complete window of /load once it starts after `after` (ISO time) and counted
 * requests; fails the test after 15 s. */
static json_t *load_window_after(const char *after) {
    json_t *j = NULL;
    for (long long t0 = now_ms(); now_ms() - t0 < 15000; sleep_ms(200)) {
        j = http_json(sg.admin_port, "/load", 200);
        const char *from = json_string_value(json_object_get(j, "from"));
        if (json_is_true(json_object_get(j, "complete")) && from && strcmp(from, after) > 0 &&
            json_integer_value(json_object_get(json_object_get(j, "totals"), "requests")) > 1000)
            return j;
        json_decref(j);
    }
    ck_abort_msg("no complete window with load after %s", after);
    return NULL;
}

static double master_share(json_t *load, const char *addr) {
    json_t *ms = json_object_get(load, "masters");
    for (size_t i = 0; i < json_array_size(ms); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(ms, i), "addr")), addr))
            return json_real_value(json_object_get(json_array_get(ms, i), "share"));
    return -1;
}

/* Three hot keys on one master: /load names their slots and that master; the dashboard coloured by load
 * shows exactly those three cells at the hottest colour; /rebalance moves two of them (25 keys each) to
 * the other masters, and its script, run with redis-cli under the same load, evens the measured load
 * with no error seen by the client. Last: it changes the cluster. */
START_TEST(slot_load_and_rebalance_advice) {
    struct skew *s = calloc(1, sizeof(*s));
    int hot_master = cluster_master_for_key(&cl, "{t0}"), nhot = 0, hot_slots[3];
    redisContext *c = connect_port(SG_PORT);
    for (int t = 0; t < 1000 && nhot < 3; t++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "{t%d}", t);
        if (cluster_master_for_key(&cl, tag) != hot_master) continue;
        snprintf(s->hot[nhot], sizeof(s->hot[0]), "%s:hot", tag);
        redisReply *r = cmd(c, "CLUSTER KEYSLOT %s", tag);
        hot_slots[nhot] = (int)r->integer;
        freeReplyObject(r);
        for (int i = 0; i < 25; i++) freeReplyObject(cmd(c, "SET %s:%d v%d", tag, i, i));
        nhot++;
    }
    ck_assert_int_eq(nhot, 3);
    char hot_addr[32];
    snprintf(hot_addr, sizeof(hot_addr), "127.0.0.1:%d", hot_master);
    char started[40];
    iso_now(started, sizeof(started));
    pthread_create(&s->thread, NULL, skew_run, s);
    json_t *before = load_window_after(started); /* all of it under this load, none from the tests before */
    double imbalance = json_real_value(json_object_get(before, "max_over_mean"));
    ck_assert_msg(master_share(before, hot_addr) > 0.6 && imbalance > 2.0, "load not skewed: %s",
                  json_dumps(before, JSON_COMPACT));
    json_t *top = json_object_get(before, "hot_slots");
    for (int i = 0; i < 3; i++) { /* the three hottest slots are the hot keys', on their master */
        int slot = (int)json_integer_value(json_object_get(json_array_get(top, (size_t)i), "slot"));
        ck_assert_msg(slot == hot_slots[0] || slot == hot_slots[1] || slot == hot_slots[2], "slot %d", slot);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, (size_t)i), "master")), hot_addr);
    }
    /* the dashboard coloured by load: three cells (5 x 5 pixels each) at the hottest colour */
    char png[128];
    snprintf(png, sizeof(png), "/tmp/slotgate-test-%d-load.png", (int)getpid());
    free(chromium_page(sg.admin_port, "#load", "--screenshot=", png));
    const char *const heat[5] = {"d73027", "313695", "4575b4", "fee090", "f46d43"};
    long px[5];
    png_colour_counts(png, heat, 5, px);
    /* 3 cells of 5 x 5 and the scale's 12 x 12 swatch (rounded corners: 132): 207; a cell more or less is 25 */
    ck_assert_msg(px[0] >= 195 && px[0] <= 219, "hottest colour covers %ld pixels, not 3 cells and the swatch", px[0]);
    ck_assert_msg(px[1] + px[2] + px[3] + px[4] > 20000, "cold slots' colours cover %ld pixels",
                  px[1] + px[2] + px[3] + px[4]);
    if (!getenv("TEST_KEEP_LOGS")) unlink(png);
    char *dom = chromium_page(sg.admin_port, "#load", "--dump-dom", NULL);
    ck_assert_msg(strstr(dom, "data-coloured-by=\"load\"") && strstr(dom, "id=\"imbalance\""), "%.2000s", dom);
    char row[64]; /* and the hot-key panel beside it names the hot keys */
    snprintf(row, sizeof(row), "<td>%s</td>", s->hot[0]);
    ck_assert_msg(strstr(dom, row), "no hot-key row for %s: %.3000s", s->hot[0], dom);
    free(dom);
    /* the advice */
    json_t *adv = http_json(sg.admin_port, "/rebalance", 200);
    json_t *moves = json_object_get(adv, "moves");
    ck_assert_msg(json_array_size(moves) == 2, "%s", json_dumps(adv, JSON_COMPACT));
    const char *to[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_array_get(moves, i);
        int slot = (int)json_integer_value(json_object_get(m, "slot"));
        ck_assert(slot == hot_slots[0] || slot == hot_slots[1] || slot == hot_slots[2]);
        ck_assert_str_eq(json_string_value(json_object_get(m, "from")), hot_addr);
        ck_assert_int_eq(json_integer_value(json_object_get(m, "keys")), 25);
        ck_assert_int_eq(json_array_size(json_object_get(m, "commands")), 5);
        to[i] = json_string_value(json_object_get(m, "to"));
    }
    ck_assert_str_ne(to[0], to[1]);
    ck_assert_int_eq(json_integer_value(json_object_get(adv, "keys_to_move")), 50);
    double predicted = json_real_value(json_object_get(json_object_get(adv, "after"), "max_over_mean"));
    ck_assert_msg(predicted < 1.3, "advice leaves %.2f", predicted);
    /* carried out as an operator would: the script, with redis-cli */
    char script[256], cmdline[1200], done[40];
    snprintf(script, sizeof(script), "%s/rebalance.sh", cl.dir);
    snprintf(cmdline, sizeof(cmdline),
             "curl -sf -o %s 'http://127.0.0.1:%d/rebalance?format=sh' && sh %s > %s.log 2>&1", script, sg.admin_port,
             script, script);
    ck_assert_msg(system(cmdline) == 0, "the advised script failed: see %s.log", script);
    iso_now(done, sizeof(done));
    for (size_t i = 0; i < 2; i++) { /* each moved slot is served, keys and all, by its new master */
        json_t *m = json_array_get(moves, i);
        redisContext *d = connect_port(atoi(strrchr(json_string_value(json_object_get(m, "to")), ':') + 1));
        redisReply *r = cmd(d, "CLUSTER COUNTKEYSINSLOT %d", (int)json_integer_value(json_object_get(m, "slot")));
        ck_assert_int_eq(r->integer, 25);
        freeReplyObject(r);
        redisFree(d);
    }
    json_t *after = load_window_after(done);
    double evened = json_real_value(json_object_get(after, "max_over_mean"));
    s->stop = 1;
    pthread_join(s->thread, NULL);
    fprintf(stderr,
            "rebalance: busiest master %.2fx the mean before, %.2fx predicted, %.2fx measured after; %lld ops, %lld "
            "errors\n",
            imbalance, predicted, evened, s->ops, s->errors);
    ck_assert_msg(evened < 1.3 && master_share(after, hot_addr) < 0.45, "after the moves: %s",
                  json_dumps(after, JSON_COMPACT));
    ck_assert_msg(s->errors == 0, "%lld errors seen by the client, first: %s", s->errors, s->first_error);
    for (int k = 0; k < 3; k++) /* every key reads back through slotgate */
        for (int i = 0; i < 25; i++) {
            char want[16];
            snprintf(want, sizeof(want), "v%d", i);
            char key[48];
            snprintf(key, sizeof(key), "%.*s:%d", (int)(strchr(s->hot[k], '}') - s->hot[k] + 1), s->hot[k], i);
            redisReply *r = cmd(c, "GET %s", key);
            ck_assert_str_eq(r->str, want);
            freeReplyObject(r);
        }
    json_decref(before);
    json_decref(after);
    json_decref(adv);
    redisFree(c);
    free(s);
}
END_TEST

SUITE_MAIN(.name = "insight", .setup = setup, .teardown = teardown, .timeout = 60,
           .tests = {TEST(slowlog_names_the_paused_master), TEST(slowlog_split_command_names_its_slowest_part),
                     TEST(slowlog_replies_as_redis), TEST(latency_histograms_by_family),
                     TEST(keyspace_events_from_every_master), TEST(keyspace_channel_beside_an_ordinary_one),
                     TEST(hot_keys_of_a_skewed_load), TEST(big_keys_are_logged),
                     TEST(slot_load_and_rebalance_advice) /* last: it moves slots */})
