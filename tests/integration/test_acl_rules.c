/* Redis ACL rules as router/acl.c reads and decides them, against a real redis-server given the same
 * user: each case's rules go to the oracle as ACL SETUSER (its error, or none, must be ours), then each
 * command goes to ACL DRYRUN (its answer, "OK" or which command, key or channel it refuses, must be
 * ours, found from slotgate's own command table, key specs and their flags). Groundwork for issue 17:
 * the proxy does not enforce these rules yet. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../router/acl.h"
#include "../../router/command.h"
#include "../support/cluster.h"
#include "../support/run.h"

#define ORACLE_PORT 22670

static pid_t oracle;
static char dir[128];

static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/slotgate-acl-rules.%d", (int)getpid());
    mkdir(dir, 0700);
    oracle = oracle_start(ORACLE_PORT, dir, "oracle");
}

static void teardown(void) { oracle_stop(oracle); }

struct acl_case {
    const char *rules;
    const char *cmds[16]; /* up to the first NULL */
};

/* Rules of every form, and commands that each rule decides. */
static const struct acl_case cases[] = {
    {"on nopass +@all ~* &*", {"GET k", "FLUSHALL", "PUBLISH ch m", "CONFIG GET maxmemory"}},
    {"on nopass +get ~app:*", {"GET app:1", "GET other", "SET app:1 v", "MGET app:1 app:2", "MGET app:1 x"}},
    {"on nopass +@read ~*", {"GET k", "HGETALL h", "SET k v", "ZRANGE z 0 -1", "XREAD STREAMS s 0"}},
    {"on nopass +@all -@dangerous ~*", {"GET k", "FLUSHALL", "KEYS *", "DEBUG SLEEP 0", "INFO"}},
    {"on nopass +@all -flushall -config|set ~*",
     {"FLUSHALL", "CONFIG SET maxmemory 0", "CONFIG GET maxmemory", "GET k"}},
    {"on nopass -@all +config|get ~*", {"CONFIG GET maxmemory", "CONFIG SET maxmemory 0", "GET k"}},
    {"on nopass +config -config|set ~*", {"CONFIG GET x", "CONFIG SET x y", "CONFIG RESETSTAT"}},
    {"on nopass allcommands %R~r:* %W~w:* ~rw:*",
     {"GET r:1", "SET r:1 v", "GET w:1", "SET w:1 v", "GET rw:1", "SET rw:1 v", "LMOVE r:1 w:1 LEFT RIGHT",
      "LMOVE w:1 r:1 LEFT RIGHT", "COPY r:1 w:1", "SET w:1 v GET", "APPEND w:1 x", "DEL r:1"}},
    {"on nopass allcommands %RW~both:* ~all:*",
     {"GET both:1", "SET both:1 v", "SORT all:1 STORE both:2", "SORT all:1 STORE x"}},
    {"on nopass +@pubsub resetchannels &news.* &exact",
     {"PUBLISH news.1 m", "PUBLISH other m", "SUBSCRIBE news.a exact", "SUBSCRIBE news.a nope", "PSUBSCRIBE news.*",
      "PSUBSCRIBE news.a*", "SPUBLISH exact m", "UNSUBSCRIBE nope"}},
    {"on nopass +@all allkeys allchannels", {"PUBLISH any m", "GET any", "PSUBSCRIBE *"}},
    {"on nopass +@all -@write ~*", {"SET k v", "GET k", "DEL k", "INCR k"}},
    {"on nopass +@hash +@string -hset ~*", {"HGET h f", "HSET h f v", "GET k", "LPUSH l v"}},
    {"on nopass nocommands +get +set reset +ping", {"PING", "GET k"}},
    {"on nopass +@all resetkeys ~a* ~b?", {"GET a1", "GET b1", "GET b12", "GET c", "MSET a1 1 b2 2 c 3"}},
    {"on nopass +eval +evalsha ~s:*", {"EVAL return 1 1 s:1", "EVAL return 1 1 t:1", "EVAL return 1 0"}},
    {"on nopass +@all ~* -@all +@connection", {"PING", "AUTH x", "HELLO", "GET k", "CLIENT ID"}},
    {"on nopass +select|0 ~*", {"SELECT 0", "GET k"}},
    /* selectors: the user's own rules or any one selector must allow all of a command; when none does,
     * Redis names the most relevant refusal */
    {"on nopass ~a* +get (~x %R~y &ch +set +get) (+@read ~z*)",
     {"SET x 1", "SET a1 1", "GET z1", "GET q", "PUBLISH ch m", "DEL x", "GET y", "SET y 1", "MGET a1 x", "GET a1",
      "MGET z1 z2", "MGET x y"}},
    {"on nopass (+@all ~k:*) (+publish &ch) +ping",
     {"GET k:1", "PUBLISH ch m", "PUBLISH other m", "GET other", "PING", "MSET k:1 1 k:2 2", "MSET k:1 1 j 2"}},
    {"on nopass (~x +get) clearselectors +set ~s", {"GET x", "SET s 1", "SET x 1"}},
    {"on nopass (~x +get) (~y +set) reset +ping", {"GET x", "PING"}},
    {"on nopass () (~x allkeys +get)", {"GET x", "GET anything", "SET x 1"}},
    {"on (>pass ~x)", {NULL}},
    {"on (+nosuch ~x)", {NULL}},
    {"on (on ~x)", {NULL}},
    {"on (~x", {NULL}},
    /* rules Redis refuses, each with its own error */
    {"on +nosuchcommand", {NULL}},
    {"on +@nosuchcategory", {NULL}},
    {"on allkeys ~a*", {NULL}},
    {"on allchannels &a*", {NULL}},
    {"on %X~a*", {NULL}},
    {"on ~a\x01b", {NULL}},
    {"on +select|0|1", {NULL}},
    {"on #abc", {NULL}},
    {"on <notset", {NULL}},
    {"on +config|get|x", {NULL}},
    {"on +config|", {NULL}},
    {"on +config|nosuch", {NULL}},
    {"on bogus", {NULL}},
};

/* ACL DRYRUN's answer, from slotgate's rules: "OK" or Redis's text. */
static void our_dryrun(const struct acl_user *u, const struct cmdtable *t, const char *line, char *out, size_t cap) {
    char buf[512], err[RESP_ERR_LEN];
    snprintf(buf, sizeof(buf), "%s\r\n", line);
    struct resp_request r;
    resp_request_init(&r, 1 << 20, 1 << 20);
    ck_assert_int_eq(resp_request_parse(&r, buf, strlen(buf), err, sizeof(err)), RESP_DONE);
    struct plan p;
    plan_init(&p);
    plan_request(t, &r, buf, &p);
    ck_assert_msg(p.cmd != NULL, "%s: no command: %s", line, p.err);
    struct acl_key keys[32];
    int nkeys = acl_keys_of(p.cmd, &p, &r, buf, keys, 32);
    struct acl_channel ch[32];
    int nch = acl_channels_of(p.cmd, &r, buf, ch, 32);
    int pos;
    const char *arg1 = r.argc > 1 ? resp_request_arg(&r, buf, 1) : NULL;
    int rc = acl_check(u, p.cmd, arg1, r.argc > 1 ? r.argv[1].len : 0, keys, nkeys < 32 ? nkeys : 32, ch,
                       nch < 32 ? nch : 32, &pos);
    if (rc == ACL_OK)
        snprintf(out, cap, "OK");
    else if (rc == ACL_DENIED_CMD)
        snprintf(out, cap, "This user has no permissions to run the '%s' command", p.cmd->name);
    else if (rc == ACL_DENIED_KEY)
        snprintf(out, cap, "This user has no permissions to access the '%.*s' key", (int)keys[pos].len, keys[pos].p);
    else
        snprintf(out, cap, "This user has no permissions to access the '%.*s' channel", (int)ch[pos].len, ch[pos].p);
    plan_free(&p);
    resp_request_free(&r);
}

static void redis_argv(const char *prefix, const char *line, const char **argv, size_t *lens, int *argc, char *store) {
    snprintf(store, 1024, "%s %s", prefix, line);
    *argc = 0;
    for (char *t = strtok(store, " "); t && *argc < 60; t = strtok(NULL, " ")) {
        argv[*argc] = t;
        lens[(*argc)++] = strlen(t);
    }
}

START_TEST(rules_and_decisions_match_redis) {
    const struct acl_case *c = &cases[_i];
    struct cmdtable *t = cmdtable_new_builtin(NULL, 0);
    redisContext *o = connect_port(ORACLE_PORT);
    freeReplyObject(cmd(o, "ACL DELUSER t"));
    const char *argv[64];
    size_t lens[64];
    int argc;
    char store[1024];
    /* SETUSER with each rule as its own argument (the tab case is one argument with a tab in it) */
    snprintf(store, sizeof(store), "ACL SETUSER t %s", c->rules);
    argc = 0;
    for (char *tok = strtok(store, " "); tok && argc < 60; tok = strtok(NULL, " "))
        argv[argc] = tok, lens[argc++] = strlen(tok);
    redisReply *r = redisCommandArgv(o, argc, argv, lens);
    char err[512] = "", line[1024];
    snprintf(line, sizeof(line), "t %s", c->rules);
    struct acl_user *u = acl_user_parse(t, line, err, sizeof(err));
    if (r->type == REDIS_REPLY_ERROR) {
        ck_assert_msg(u == NULL, "%s: Redis refused it (%s), slotgate took it", c->rules, r->str);
        char want[600];
        snprintf(want, sizeof(want), "ERR %s", err);
        ck_assert_msg(strcmp(r->str, want) == 0, "%s:\n  redis:    %s\n  slotgate: %s", c->rules, r->str, want);
    } else {
        ck_assert_msg(u != NULL, "%s: Redis took it, slotgate refused it: %s", c->rules, err);
        for (int i = 0; c->cmds[i]; i++) {
            redis_argv("ACL DRYRUN t", c->cmds[i], argv, lens, &argc, store);
            redisReply *d = redisCommandArgv(o, argc, argv, lens);
            char ours[512];
            our_dryrun(u, t, c->cmds[i], ours, sizeof(ours));
            ck_assert_msg(strcmp(d->str, ours) == 0, "%s | %s:\n  redis:    %s\n  slotgate: %s", c->rules, c->cmds[i],
                          d->str, ours);
            freeReplyObject(d);
        }
    }
    freeReplyObject(r);
    acl_user_free(u);
    redisFree(o);
    cmdtable_unref(t);
}
END_TEST

/* Passwords: >pass and #hash are the same password, <pass and !hash remove it, nopass takes any, off none;
 * ACL LIST shows the same hash Redis does. */
START_TEST(passwords) {
    struct cmdtable *t = cmdtable_new_builtin(NULL, 0);
    char err[256], h[65];
    struct acl_user *u = acl_user_parse(t, "p on >s3cret", err, sizeof(err));
    ck_assert_ptr_nonnull(u);
    ck_assert(acl_user_password_ok(u, "s3cret", 6));
    ck_assert(!acl_user_password_ok(u, "s3cre", 5));
    acl_hash_password("s3cret", 6, h);
    redisContext *o = connect_port(ORACLE_PORT);
    freeReplyObject(cmd(o, "ACL SETUSER p reset on >s3cret"));
    redisReply *l = cmd(o, "ACL GETUSER p");
    int found = 0;
    for (size_t i = 0; i + 1 < l->elements; i += 2)
        if (!strcmp(l->element[i]->str, "passwords"))
            found = l->element[i + 1]->elements == 1 && !strcmp(l->element[i + 1]->element[0]->str, h);
    ck_assert_msg(found, "ACL GETUSER's password hash is not %s", h);
    freeReplyObject(l);
    redisFree(o);
    char rule[80];
    snprintf(rule, sizeof(rule), "!%s", h);
    ck_assert_int_eq(acl_user_set(u, t, rule, strlen(rule), err, sizeof(err)), 0);
    ck_assert(!acl_user_password_ok(u, "s3cret", 6));
    snprintf(rule, sizeof(rule), "#%s", h);
    ck_assert_int_eq(acl_user_set(u, t, rule, strlen(rule), err, sizeof(err)), 0);
    ck_assert(acl_user_password_ok(u, "s3cret", 6));
    ck_assert_int_eq(acl_user_set(u, t, "<s3cret", 7, err, sizeof(err)), 0);
    ck_assert(!acl_user_password_ok(u, "s3cret", 6));
    ck_assert_int_eq(acl_user_set(u, t, "nopass", 6, err, sizeof(err)), 0);
    ck_assert(acl_user_password_ok(u, "anything", 8));
    ck_assert_int_eq(acl_user_set(u, t, "off", 3, err, sizeof(err)), 0);
    ck_assert(!acl_user_password_ok(u, "anything", 8));
    /* a pattern with a space in it: one argument of ACL SETUSER, refused as Redis refuses it */
    ck_assert_int_eq(acl_user_set(u, t, "~a b", 4, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "Syntax error");
    o = connect_port(ORACLE_PORT);
    redisReply *e = cmd(o, "ACL SETUSER p %s", "~a b");
    ck_assert_str_eq(e->str, "ERR Error in ACL SETUSER modifier '~a b': Syntax error");
    freeReplyObject(e);
    redisFree(o);
    acl_user_free(u);
    cmdtable_unref(t);
}
END_TEST

SUITE_MAIN(.name = "acl_rules", .setup = setup, .teardown = teardown, .timeout = 60,
           .tests = {LOOP_TEST(rules_and_decisions_match_redis, sizeof(cases) / sizeof(cases[0])), TEST(passwords)})
