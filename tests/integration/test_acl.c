/* ACL rules enforced at slotgate's front, against a real 3-master cluster and a plain redis-server given
 * the same users as the oracle: a limited user's commands (its keys on every master, a split MGET, its
 * channels, a transaction with a refused command, ACL WHOAMI/USERS/DRYRUN/CAT) answered byte for byte as
 * Redis answers them; ACL LOG and the denial counters; users changed by SIGHUP, and a client whose user
 * is gone closed. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/resp3.h"
#include "../support/run.h"

#define BASE        22650
#define SG_PORT     22697
#define ORACLE_PORT 22687

static struct cluster cl;
static struct slotgate sg;
static pid_t oracle;
static char conf_path[200];

/* alice's rules, the same on slotgate (users setting) and on the oracle (ACL SETUSER) */
#define ALICE                                                                                                          \
    "on >secret ~app:* %R~ro:* &app:* +@read +@write -flushall +@connection +multi +exec +acl|whoami +acl|users "      \
    "+acl|dryrun +acl|cat +publish +subscribe"

/* selly: a user with selectors (the same on both) */
/* (one command rule each: Redis writes several back in its command dict's order, which changes from
 * one start of redis-server to the next) */
#define SELLY "on >pw ~a:* +get (~b:* +set) (%R~c:* +@read)"

static void oracle_setuser(redisContext *o, const char *name, const char *rules) {
    char line[1024], *argv2[64];
    snprintf(line, sizeof(line), "ACL SETUSER %s reset %s", name, rules);
    size_t lens[64];
    int n = 0;
    for (char *t = strtok(line, " "); t && n < 64; t = strtok(NULL, " ")) argv2[n] = t, lens[n++] = strlen(t);
    redisReply *r = redisCommandArgv(o, n, (const char **)argv2, lens);
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "oracle SETUSER %s: %s", name, r ? r->str : "?");
    freeReplyObject(r);
}

static void write_conf(const char *users_json) {
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"seeds\": [\"127.0.0.1:%d\"], \"users\": %s}\n", BASE, users_json);
    fclose(f);
}

static void setup(void) {
    cluster_start(&cl, BASE, 3, 0);
    snprintf(conf_path, sizeof(conf_path), "%s/slotgate-acl.json", cl.dir);
    write_conf("[\"alice " ALICE "\", \"selly " SELLY "\"]");
    char args[300];
    snprintf(args, sizeof(args), "--threads 2 --config %s", conf_path);
    slotgate_start(&sg, SG_PORT, args, "", 1);
    oracle = oracle_start(ORACLE_PORT, cl.dir, "oracle-acl");
    redisContext *o = connect_port(ORACLE_PORT);
    oracle_setuser(o, "alice", ALICE);
    oracle_setuser(o, "selly", SELLY);
    redisFree(o);
}

static void teardown(void) {
    oracle_stop(oracle);
    fixture_down(&cl, &sg);
}

/* Each line to both, as alice; every reply the same bytes. */
static void same_as_redis(const char *const *lines, int n) {
    struct r3 *s = r3_connect(SG_PORT), *o = r3_connect(ORACLE_PORT);
    for (int i = 0; i < n; i++) {
        char *a = r3_cmdl(s, lines[i]), *b = r3_cmdl(o, lines[i]);
        char want[4096];
        snprintf(want, sizeof(want), "%s", r3_show(b));
        ck_assert_msg(strcmp(a, b) == 0, "%s\n  redis:    %s\n  slotgate: %s", lines[i], want, r3_show(a));
        free(a);
        free(b);
    }
    r3_close(s);
    r3_close(o);
}

START_TEST(a_limited_user_is_refused_as_redis_refuses) {
    static const char *const lines[] = {
        "AUTH alice wrong",
        "AUTH alice secret",
        "ACL WHOAMI",
        "DEL app:1 app:2 app:3",
        "SET app:1 v1",
        "MSET app:2 v2 app:3 v3", /* split over masters by slotgate */
        "MGET app:1 app:2 app:3",
        "MGET app:1 other app:3",
        "GET other",
        "SET other x",
        "GET ro:1",
        "SET ro:1 x",
        "SET app:4 x GET",
        "DEL app:1 ro:1",
        "FLUSHALL",
        "CONFIG GET maxmemory",
        "EXISTS app:1 app:2 app:3 app:4",
        "PUBLISH app:news hello",
        "PUBLISH other hello",
        "EVAL return(1) 0",
        "MULTI",
        "SET app:5 x",
        "SET other y",
        "EXEC",
        "GET app:5",
        "ACL USERS",
        "ACL DRYRUN alice get other",
        "ACL DRYRUN alice get app:1",
        "ACL DRYRUN alice set ro:1 x",
        "ACL DRYRUN alice flushall",
        "ACL DRYRUN nobody get x",
        "ACL CAT",
        "ACL GETUSER alice",
        "PING",
        "AUTH default anything",
        "ACL WHOAMI",
    };
    same_as_redis(lines, (int)(sizeof(lines) / sizeof(lines[0])));
}
END_TEST

/* SUBSCRIBE to a channel outside alice's patterns: refused before it reaches a node. */
/* Selectors: a command runs when the user's own rules or one selector allow all of it; refusals, ACL
 * GETUSER's selectors and DRYRUN as Redis gives them (keys on every master). */
START_TEST(selectors_as_redis_decides) {
    static const char *const lines[] = {
        "AUTH selly pw",
        "GET a:1",
        "SET b:1 x",
        "GET b:1",
        "SET a:1 x",
        "GET c:1",
        "SET c:1 x",
        "MGET a:1 b:1",
        "GET d:1",
        "ACL GETUSER selly",
        "ACL DRYRUN selly SET b:2 y",
        "ACL DRYRUN selly SET c:2 y",
        "HGET c:h f",
    };
    same_as_redis(lines, (int)(sizeof(lines) / sizeof(lines[0])));
}
END_TEST

START_TEST(channels_are_checked) {
    struct r3 *s = r3_connect(SG_PORT);
    r3_expectl(s, "AUTH alice secret", "+OK\r\n");
    r3_expectl(s, "SUBSCRIBE other",
               "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n");
    r3_expectl(s, "SUBSCRIBE app:news", "*3\r\n$9\r\nsubscribe\r\n$8\r\napp:news\r\n:1\r\n");
    r3_close(s);
}
END_TEST

/* ACL LOG records each denial (grouped), and INFO, /stats and /metrics count them. */
START_TEST(denials_are_logged_and_counted) {
    redisContext *c = connect_port(SG_PORT), *d = connect_port(SG_PORT); /* d: the default user */
    expect_str(c, "OK", "AUTH alice secret");
    long long before = info_int(d, "stats", "acl_access_denied_key");
    redisReply *r = cmd(c, "GET forbidden:1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    freeReplyObject(cmd(c, "GET forbidden:1"));
    freeReplyObject(cmd(c, "AUTH alice badpass"));
    ck_assert_int_eq(info_int(d, "stats", "acl_access_denied_key"), before + 2);
    r = cmd(d, "ACL LOG 2");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->elements, 2);
    /* newest first: the failed AUTH, then the two GETs grouped into one entry of count 2 */
    redisReply *auth = r->element[0], *key = r->element[1];
    ck_assert_str_eq(auth->element[3]->str, "auth");
    ck_assert_str_eq(auth->element[7]->str, "AUTH");
    ck_assert_str_eq(auth->element[9]->str, "alice");
    ck_assert_int_eq(key->element[1]->integer, 2);
    ck_assert_str_eq(key->element[3]->str, "key");
    ck_assert_str_eq(key->element[5]->str, "toplevel");
    ck_assert_str_eq(key->element[7]->str, "forbidden:1");
    ck_assert_str_eq(key->element[9]->str, "alice");
    ck_assert_msg(strstr(key->element[13]->str, "user=alice"), "%s", key->element[13]->str);
    freeReplyObject(r);
    expect_str(d, "OK", "ACL LOG RESET");
    r = cmd(d, "ACL LOG");
    ck_assert_int_eq(r->elements, 0);
    freeReplyObject(r);
    redisFree(d);
    redisFree(c);
}
END_TEST

static int get_allowed(redisContext *c, const char *key) {
    redisReply *r = cmd(c, "GET %s", key);
    int ok = r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok;
}

/* SIGHUP with other users: alice's new rules apply at once, bob comes, and when alice goes her
 * connection is closed, as Redis closes the clients of a deleted user. */
START_TEST(users_change_on_sighup) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "AUTH alice secret");
    redisReply *r = cmd(c, "GET other:1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    write_conf("[\"alice on >secret ~* &* +@all\", \"bob on >pw2 ~bob:* +get\"]");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(5000, get_allowed(c, "other:1"), "alice's new rules never applied");
    redisContext *b = connect_port(SG_PORT);
    expect_str(b, "OK", "AUTH bob pw2");
    r = cmd(b, "SET bob:1 x");
    ck_assert_str_eq(r->str, "NOPERM this user has no permissions to run the 'set' command");
    freeReplyObject(r);
    write_conf("[\"bob on >pw2 ~bob:* +get\"]");
    kill(sg.pid, SIGHUP);
    int closed = 0;
    for (int i = 0; i < 100 && !closed; i++) {
        r = redisCommand(c, "PING");
        closed = r == NULL;
        if (r) freeReplyObject(r), sleep_ms(50);
    }
    ck_assert_msg(closed, "alice's connection stayed open after alice was removed");
    redisFree(c);
    ck_assert(get_allowed(b, "bob:none")); /* bob's own connection unaffected */
    redisFree(b);
    write_conf("[\"alice " ALICE "\", \"selly " SELLY "\"]"); /* as the suite began */
    kill(sg.pid, SIGHUP);
    sleep_ms(300);
}
END_TEST

SUITE_MAIN(.name = "acl", .setup = setup, .teardown = teardown, .timeout = 60,
           .tests = {TEST(a_limited_user_is_refused_as_redis_refuses), TEST(selectors_as_redis_decides),
                     TEST(channels_are_checked), TEST(denials_are_logged_and_counted), TEST(users_change_on_sighup)})
