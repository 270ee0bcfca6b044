/* Rolling slotgate: SIGTERM answers every request already sent, turns readiness off and refuses new
 * connections while it drains, then exits 0; SIGHUP applies the settings that can change live, says
 * which need a restart, and leaves everything as it was when the file is invalid. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/run.h"

#define BASE    21600
#define SG_PORT 21690
#define N       20000

static struct cluster cl;
static char seed[32];

static void suite_setup(void) {
    cluster_start(&cl, BASE, 3, 0);
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
}
static void suite_teardown(void) { cluster_stop(&cl); }

/* Waits for slotgate to exit; returns its exit status (-1 on a signal or after 15 s). */
static int wait_exit(struct slotgate *sg) {
    int status;
    if (!WAITED_FOR(15000, waitpid(sg->pid, &status, WNOHANG) != 0)) return -1;
    untrack_pid(sg->pid);
    sg->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int file_has(const char *path, const char *needle);

/* Exit status 0 and no sanitizer report in the log. */
static int clean_exit(struct slotgate *sg) {
    int rc = wait_exit(sg);
    if (file_has(sg->log, "Sanitizer") || file_has(sg->log, "runtime error")) return -2;
    return rc;
}

static int file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    char line[2048];
    int found = 0;
    while (f && !found && fgets(line, sizeof(line), f)) found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

START_TEST(sigterm_answers_every_request_sent_before_it_and_exits_0) {
    struct slotgate sg;
    slotgate_start(&sg, SG_PORT, "--threads 1 --drain-timeout-ms 10000", seed, 1);
    /* a client blocked for 1.5 s keeps the drain open long enough to look at it */
    redisContext *blocked = connect_port(SG_PORT);
    redisAppendCommand(blocked, "BLPOP drain:never 1.5");
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(blocked, &done), REDIS_OK);
    /* N writes pipelined and entirely written to the socket before the signal */
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < N; i++) redisAppendCommand(c, "SET drain:%d v%d", i, i);
    done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(c, &done), REDIS_OK);
    sleep_ms(100); /* the BLPOP has reached its node */
    kill(sg.pid, SIGTERM);
    sleep_ms(200);
    json_t *j = http_json(sg.admin_port, "/readyz", 503);
    ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "shutting down");
    json_decref(j);
    redisContext *late = redisConnect("127.0.0.1", SG_PORT);
    ck_assert_msg(late->err != 0, "a new connection was accepted while draining");
    redisFree(late);
    for (int i = 0; i < N; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_msg(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK"), "reply %d: %s", i, r->str ? r->str : "?");
        freeReplyObject(r);
    }
    redisReply *r;
    ck_assert_int_eq(redisGetReply(blocked, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL); /* BLPOP timed out as it would without a proxy */
    freeReplyObject(r);
    ck_assert_int_eq(clean_exit(&sg), 0);
    ck_assert(file_has(sg.log, "every request in flight was answered"));
    redisFree(c);
    redisFree(blocked);
    /* and the writes are in the cluster */
    for (int i = 0; i < N; i += 997) {
        char key[32];
        snprintf(key, sizeof(key), "drain:%d", i);
        redisContext *n = connect_port(cluster_master_for_key(&cl, key));
        r = cmd(n, "GET %s", key);
        ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
        ck_assert_int_eq(atoi(r->str + 1), i);
        freeReplyObject(r);
        redisFree(n);
    }
}
END_TEST

/* A drain that cannot finish (BLPOP 0) ends at drain-timeout-ms, still with status 0. */
START_TEST(drain_timeout_bounds_the_wait) {
    struct slotgate sg;
    slotgate_start(&sg, SG_PORT + 1, "--threads 1 --drain-timeout-ms 500", seed, 1);
    redisContext *blocked = connect_port(SG_PORT + 1);
    redisAppendCommand(blocked, "BLPOP drain:forever 0");
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(blocked, &done), REDIS_OK);
    sleep_ms(100);
    long long t0 = now_ms();
    kill(sg.pid, SIGTERM);
    ck_assert_int_eq(clean_exit(&sg), 0);
    long long took = now_ms() - t0;
    ck_assert_msg(took >= 450 && took < 5000, "stopped after %lld ms", took);
    ck_assert(file_has(sg.log, "drain-timeout-ms 500 reached with 1 requests unanswered"));
    redisFree(blocked);
}
END_TEST

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* /config (kept in *j) has key at want. */
static int config_is(json_t **j, int admin, const char *key, const char *want) {
    json_decref(*j);
    *j = http_json(admin, "/config", 200);
    char *text = json_dumps(json_object_get(*j, key), JSON_ENCODE_ANY);
    int ok = text && !strcmp(text, want);
    free(text);
    return ok;
}

/* /config once key is at want, or after 5 s as it is then (the caller checks). */
static json_t *config_when(int admin, const char *key, const char *want) {
    json_t *j = NULL;
    WAITED_FOR(5000, config_is(&j, admin, key, want));
    return j;
}

START_TEST(sighup_applies_live_settings_and_keeps_running_on_a_bad_file) {
    char path[128], args[256];
    snprintf(path, sizeof(path), "/tmp/slotgate-test-%d-hup.json", (int)getpid());
    write_file(path, "{\"log-level\": \"notice\", \"read-policy\": \"master\", \"command-timeout-ms\": 5000,\n"
                     " \"backend-connections\": 1, \"maxclients\": 100}\n");
    snprintf(args, sizeof(args), "--threads 1 --config %s", path);
    struct slotgate sg;
    slotgate_start(&sg, SG_PORT + 2, args, seed, 1);
    int admin = sg.admin_port;
    redisContext *c = connect_port(SG_PORT + 2);
    freeReplyObject(cmd(c, "SET hup:before 1"));

    /* changed: four live settings, one that needs a restart (bind) */
    write_file(path, "{\"log-level\": \"verbose\", \"read-policy\": \"prefer-replica\", \"command-timeout-ms\": 7000,\n"
                     " \"backend-connections\": 3, \"maxclients\": 100, \"bind\": \"127.0.0.2\"}\n");
    kill(sg.pid, SIGHUP);
    json_t *j = config_when(admin, "read-policy", "\"prefer-replica\"");
    ck_assert_str_eq(json_string_value(json_object_get(j, "read-policy")), "prefer-replica");
    ck_assert_str_eq(json_string_value(json_object_get(j, "log-level")), "verbose");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "command-timeout-ms")), 7000);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "backend-connections")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(j, "bind")), "127.0.0.1"); /* not live: unchanged */
    json_decref(j);
    ck_assert(file_has(sg.log, "SIGHUP: read-policy changed from \"master\" to \"prefer-replica\""));
    ck_assert(file_has(sg.log, "SIGHUP: command-timeout-ms changed from 5000 to 7000"));
    ck_assert(file_has(sg.log, "SIGHUP: bind changed from \"127.0.0.1\" to \"127.0.0.2\" in the configuration, but "
                               "takes effect only after a restart"));
    ck_assert(file_has(sg.log, "(4 live settings changed)"));
    /* the pool grew: with traffic to every master, 3 connections each from the one worker */
    for (int i = 0; i < 300; i++) freeReplyObject(cmd(c, "SET hup:%d x", i));
    j = http_json(admin, "/nodes", 200);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "nodes"), i, x)
        ck_assert_msg(json_integer_value(json_object_get(x, "connections")) == 3, "%s",
                      json_string_value(json_object_get(x, "addr")));
    json_decref(j);

    /* invalid: not JSON, then a bad value; nothing changes, the proxy keeps serving */
    write_file(path, "{\"log-level\": \"debug\", \"read-policy\": ");
    kill(sg.pid, SIGHUP);
    WAITED_FOR(5000, file_has(sg.log, "configuration not reloaded"));
    ck_assert(file_has(sg.log, "SIGHUP: configuration not reloaded, the running one stays: config file"));
    write_file(path, "{\"read-policy\": \"sideways\"}");
    kill(sg.pid, SIGHUP);
    WAITED_FOR(5000, file_has(sg.log, "'sideways' is not one of"));
    ck_assert(file_has(sg.log, "read-policy: 'sideways' is not one of master, prefer-replica, replica-only"));
    j = http_json(admin, "/config", 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "read-policy")), "prefer-replica");
    ck_assert_str_eq(json_string_value(json_object_get(j, "log-level")), "verbose");
    json_decref(j);
    expect_str(c, "1", "GET hup:before");
    freeReplyObject(cmd(c, "SET hup:after 2"));
    expect_str(c, "2", "GET hup:after");
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&sg), 0);
    unlink(path);
}
END_TEST

/* timeout 1: an idle client is closed after about a second; a subscriber and a blocked client are not. */
START_TEST(timeout_closes_idle_clients_only) {
    struct slotgate sg;
    slotgate_start(&sg, SG_PORT + 3, "--threads 1 --timeout 1", seed, 1);
    redisContext *idle = connect_port(SG_PORT + 3), *sub = connect_port(SG_PORT + 3);
    redisContext *blocked = connect_port(SG_PORT + 3), *pub = connect_port(SG_PORT + 3);
    expect_str(idle, "PONG", "PING");
    redisReply *r = cmd(sub, "SUBSCRIBE idle:ch");
    freeReplyObject(r);
    redisAppendCommand(blocked, "BLPOP idle:list 3");
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(blocked, &done), REDIS_OK);
    for (int i = 0; i < 25; i++) { /* pub stays busy: never idle for a second */
        expect_str(pub, "PONG", "PING");
        sleep_ms(100);
    }
    r = redisCommand(idle, "PING");
    ck_assert_msg(r == NULL && idle->err, "the idle client was not closed");
    freeReplyObject(cmd(pub, "PUBLISH idle:ch hello"));
    ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->element[2]->str, "hello");
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(blocked, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    r = cmd(pub, "INFO stats");
    ck_assert_msg(strstr(r->str, "idle_clients_closed:1\r\n"), "%s", r->str);
    freeReplyObject(r);
    redisFree(idle);
    redisFree(sub);
    redisFree(blocked);
    redisFree(pub);
    ck_assert_int_eq(slotgate_stop(&sg), 0);
}
END_TEST

SUITE_MAIN(.name = "signals", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .tests = {TEST(sigterm_answers_every_request_sent_before_it_and_exits_0),
                     TEST(drain_timeout_bounds_the_wait),
                     TEST(sighup_applies_live_settings_and_keeps_running_on_a_bad_file),
                     TEST(timeout_closes_idle_clients_only)})
