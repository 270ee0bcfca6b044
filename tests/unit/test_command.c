/* Command table lookup and request planning. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../../router/command.h"
#include "../../router/prefix.h"
#include "../../router/slot.h"
#include "../support/run.h"

static struct cmdtable *t;

/* Parses an inline command line and plans it. */
static void plan_line(const char *line, struct plan *p) {
    p->nkeys = 0;
    struct resp_request r;
    char err[RESP_ERR_LEN], buf[1024];
    snprintf(buf, sizeof(buf), "%s\r\n", line);
    resp_request_init(&r, 1 << 20, 1 << 20);
    ck_assert_int_eq(resp_request_parse(&r, buf, strlen(buf), err, sizeof(err)), RESP_DONE);
    plan_request(t, &r, buf, p);
    resp_request_free(&r);
}

START_TEST(lookup_is_case_insensitive) {
    ck_assert_str_eq(cmdtable_lookup(t, "GeT", 3)->name, "get");
    ck_assert_ptr_null(cmdtable_lookup(t, "getx", 4));
    ck_assert_ptr_null(cmdtable_lookup(t, "", 0));
    for (size_t i = 0; i < cmdtable_count(t); i++) {
        const struct command *c = cmdtable_at(t, i);
        ck_assert_ptr_eq(cmdtable_lookup(t, c->name, strlen(c->name)), c);
    }
    ck_assert_uint_ge(cmdtable_count(t), 200);
}
END_TEST

static const struct {
    const char *line;
    int route;
    int merge;
    const char *keys; /* argument indices of the keys, e.g. "1,3" */
    const char *err;
} cases[] = {
    {"GET foo", ROUTE_KEYS, 0, "1", NULL},
    {"set {u1}a 1", ROUTE_KEYS, 0, "1", NULL},
    {"HSET h f v f2 v2", ROUTE_KEYS, 0, "1", NULL},
    {"MGET {t}a {t}b", ROUTE_KEYS, 0, "1,2", NULL}, /* one slot: forwarded as it is */
    {"MGET a b c", ROUTE_SPLIT, MERGE_MGET, "1,2,3", NULL},
    {"MSET a 1 b 2", ROUTE_SPLIT, MERGE_ALL_OK, "1,3", NULL},
    {"DEL a b", ROUTE_SPLIT, MERGE_SUM, "1,2", NULL},
    {"EXISTS a b", ROUTE_SPLIT, MERGE_SUM, "1,2", NULL},
    {"UNLINK a b", ROUTE_SPLIT, MERGE_SUM, "1,2", NULL},
    {"TOUCH a b", ROUTE_SPLIT, MERGE_SUM, "1,2", NULL},
    {"MSETNX a 1 b 2", ROUTE_REFUSED, 0, NULL, "CROSSSLOT Keys in request don't hash to the same slot"},
    {"RENAME {t}a {t}b", ROUTE_KEYS, 0, "1,2", NULL},
    {"RENAME a b", ROUTE_REFUSED, 0, NULL, "CROSSSLOT Keys in request don't hash to the same slot"},
    {"ZUNIONSTORE {z}d 2 {z}a {z}b WEIGHTS 1 2", ROUTE_KEYS, 0, "1,3,4", NULL},
    {"EVAL s 2 {k}1 {k}2 arg", ROUTE_KEYS, 0, "3,4", NULL},
    {"EVAL s 0 arg", ROUTE_KEYS, 0, "", NULL}, /* no keys: any master */
    {"FCALL f 1 k a", ROUTE_KEYS, 0, "3", NULL},
    {"XREAD COUNT 2 STREAMS {s}a {s}b 0 0", ROUTE_KEYS, 0, "4,5", NULL},
    {"XREAD BLOCK 10 STREAMS {s}a 0", ROUTE_BLOCKING, 0, "4", NULL},
    {"SORT {s}l BY w STORE {s}d", ROUTE_KEYS, 0, "1,5", NULL},
    {"GEORADIUS {g}k 0 0 1 km STORE {g}d", ROUTE_KEYS, 0, "1,7", NULL},
    {"OBJECT ENCODING k", ROUTE_KEYS, 0, "2", NULL},
    {"MEMORY USAGE k", ROUTE_KEYS, 0, "2", NULL},
    {"BLPOP {l}a {l}b 0", ROUTE_BLOCKING, 0, "1,2", NULL},
    {"BLMPOP 0 2 {l}a {l}b LEFT", ROUTE_BLOCKING, 0, "3,4", NULL},
    {"MULTI", ROUTE_TXN, 0, NULL, NULL},
    {"WATCH {w}a {w}b", ROUTE_TXN, 0, "1,2", NULL},
    {"SUBSCRIBE c d", ROUTE_PUBSUB, 0, NULL, NULL},
    {"SSUBSCRIBE c", ROUTE_PUBSUB, 0, "1", NULL},
    {"SPUBLISH c m", ROUTE_KEYS, 0, "1", NULL},
    {"PUBLISH c m", ROUTE_ANY, 0, NULL, NULL},
    {"DBSIZE", ROUTE_ALL, MERGE_SUM, NULL, NULL},
    {"KEYS *", ROUTE_ALL, MERGE_CONCAT, NULL, NULL},
    {"FLUSHALL", ROUTE_ALL, MERGE_ALL_OK, NULL, NULL},
    {"SCRIPT LOAD x", ROUTE_ALL, MERGE_ALL_OK, NULL, NULL},
    {"SCRIPT EXISTS a b", ROUTE_ALL, MERGE_AND, NULL, NULL},
    {"SCRIPT KILL", ROUTE_ALL, MERGE_ONE_OK, NULL, NULL},
    {"RANDOMKEY", ROUTE_ALL, MERGE_RANDOM, NULL, NULL},
    {"SCAN 0 MATCH a*", ROUTE_SCAN, 0, NULL, NULL},
    {"TIME", ROUTE_ANY, 0, NULL, NULL},
    {"CONFIG GET maxmemory", ROUTE_ANY, 0, NULL, NULL},
    {"CLUSTER COUNTKEYSINSLOT 42", ROUTE_SLOT_ARG, 0, NULL, NULL},
    {"CLUSTER COUNTKEYSINSLOT 16384", ROUTE_REFUSED, 0, NULL, "ERR Invalid or out of range slot"},
    {"CLUSTER SLOTS", ROUTE_LOCAL, 0, NULL, NULL},
    {"CLIENT SETNAME x", ROUTE_LOCAL, 0, NULL, NULL},
    {"PING", ROUTE_LOCAL, 0, NULL, NULL},
    {"echo x", ROUTE_LOCAL, 0, NULL, NULL},
    {"GET", ROUTE_REFUSED, 0, NULL, "ERR wrong number of arguments for 'get' command"},
    {"GET a b", ROUTE_REFUSED, 0, NULL, "ERR wrong number of arguments for 'get' command"},
    {"CONFIG GET", ROUTE_REFUSED, 0, NULL, "ERR wrong number of arguments for 'config|get' command"},
    {"CONFIG NOPE", ROUTE_REFUSED, 0, NULL, "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."},
    {"foo bar baz", ROUTE_REFUSED, 0, NULL, "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "},
    {"nosuch", ROUTE_REFUSED, 0, NULL, "ERR unknown command 'nosuch', with args beginning with: "},
    {"CONFIG|GET maxmemory", ROUTE_REFUSED, 0, NULL,
     "ERR unknown command 'CONFIG|GET', with args beginning with: 'maxmemory' "},
    {"client|id", ROUTE_REFUSED, 0, NULL, "ERR unknown command 'client|id', with args beginning with: "},
    {"CONFIG SET maxmemory 1", ROUTE_REFUSED, 0, NULL,
     "ERR slotgate refuses 'CONFIG SET': administrative commands go to the nodes directly (or name it in "
     "allow-commands)"},
    {"SHUTDOWN", ROUTE_REFUSED, 0, NULL,
     "ERR slotgate refuses 'SHUTDOWN': administrative commands go to the nodes directly (or name it in "
     "allow-commands)"},
    {"MONITOR", ROUTE_REFUSED, 0, NULL,
     "ERR slotgate refuses 'MONITOR': MONITOR would watch one node, not the cluster"},
    {"CLIENT KILL ID 1", ROUTE_REFUSED, 0, NULL,
     "ERR slotgate refuses 'CLIENT KILL': administrative commands go to the nodes directly (or name it in "
     "allow-commands)"},
};

START_TEST(planning) {
    struct plan p;
    plan_init(&p);
    plan_line(cases[_i].line, &p);
    ck_assert_int_eq(p.route, cases[_i].route);
    ck_assert_int_eq(p.merge, cases[_i].merge);
    if (cases[_i].err) {
        ck_assert(p.is_error);
        ck_assert_str_eq(p.err, cases[_i].err);
    } else {
        ck_assert_msg(!p.is_error, "unexpected error: %s", p.err);
    }
    if (cases[_i].keys) {
        char got[64] = "";
        size_t n = 0;
        for (int k = 0; k < p.nkeys; k++)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%d", k ? "," : "", p.keys[k]);
        ck_assert_str_eq(got, cases[_i].keys);
    }
    plan_free(&p);
}
END_TEST

START_TEST(allowed_commands_route_by_their_tips) {
    char *allow[] = {"config|set", "monitor"};
    struct cmdtable *t2 = cmdtable_new_builtin(allow, 2);
    const struct command *c = cmdtable_lookup(t2, "config|set", 10);
    ck_assert_int_eq(c->route, ROUTE_ALL); /* request_policy:all_nodes */
    ck_assert_int_eq(c->merge, MERGE_ALL_OK);
    ck_assert_int_eq(cmdtable_lookup(t2, "monitor", 7)->route, ROUTE_ANY);
    cmdtable_unref(t2);
}
END_TEST

START_TEST(unknown_command_args_are_truncated_like_redis) {
    struct plan p;
    char line[600];
    plan_init(&p);
    memset(line, 0, sizeof(line));
    strcpy(line, "zz ");
    memset(line + 3, 'a', 300);
    plan_line(line, &p);
    /* Redis quotes at most ~128 bytes of arguments. */
    ck_assert_uint_lt(strlen(p.err), 220);
    ck_assert(strncmp(p.err, "ERR unknown command 'zz', with args beginning with: 'aaa", 56) == 0);
    plan_free(&p);
}
END_TEST

static void setup(void) { t = cmdtable_new_builtin(NULL, 0); }
static void teardown(void) { cmdtable_free(t); }

/* Families come from Redis's ACL categories, the same for the built-in table and a live COMMAND reply. */
START_TEST(families_from_acl_categories) {
    static const struct {
        const char *name;
        int family;
    } want[] = {{"get", FAM_STRING},
                {"mset", FAM_STRING},
                {"lpush", FAM_LIST},
                {"hset", FAM_HASH},
                {"sadd", FAM_SET},
                {"zadd", FAM_SORTEDSET},
                {"xadd", FAM_STREAM},
                {"setbit", FAM_BITMAP},
                {"pfadd", FAM_HYPERLOGLOG},
                {"geoadd", FAM_GEO},
                {"publish", FAM_PUBSUB},
                {"eval", FAM_SCRIPTING},
                {"multi", FAM_TRANSACTION},
                {"ping", FAM_CONNECTION},
                {"del", FAM_KEYSPACE},
                {"info", FAM_SERVER},
                {"cluster|slots", FAM_CLUSTER},
                {"client|list", FAM_CONNECTION}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct command *c = cmdtable_lookup(t, want[i].name, strlen(want[i].name));
        ck_assert_ptr_nonnull(c);
        ck_assert_msg(c->family == want[i].family, "%s: %s, want %s", want[i].name, cmd_family_name(c->family),
                      cmd_family_name(want[i].family));
    }
    const char *geo[] = {"@write", "@geo", "@sortedset", "@slow"}, *none[] = {"@slow"};
    ck_assert_int_eq(cmd_family_of("geoadd", geo, 4), FAM_GEO); /* the first family category in Redis's order */
    ck_assert_int_eq(cmd_family_of("lolwut", none, 1), FAM_SERVER);
    ck_assert_int_eq(cmd_family_of("cluster|info", none, 1), FAM_CLUSTER);
    ck_assert_str_eq(cmd_family_name(FAM_OTHER), "other");
    ck_assert_str_eq(cmd_family_name(99), "other");
}
END_TEST

/* ACL rules read a command's categories and how it uses its keys: from the built-in table and from a
 * live COMMAND reply alike. */
START_TEST(acl_categories_and_key_flags) {
    const struct command *get = cmdtable_lookup(t, "get", 3), *set = cmdtable_lookup(t, "set", 3),
                         *lmove = cmdtable_lookup(t, "lmove", 5), *flushall = cmdtable_lookup(t, "flushall", 8);
    ck_assert_uint_eq(get->acl_cats, ACL_CAT_READ | ACL_CAT_STRING | ACL_CAT_FAST);
    ck_assert_int_eq(get->specs[0].kflags, KSF_RO | KSF_ACCESS);
    ck_assert_uint_eq(set->acl_cats, ACL_CAT_WRITE | ACL_CAT_STRING | ACL_CAT_SLOW);
    ck_assert_int_eq(set->specs[0].kflags, KSF_RW | KSF_ACCESS | KSF_UPDATE | KSF_VARIABLE_FLAGS);
    ck_assert_int_eq(lmove->specs[0].kflags, KSF_RW | KSF_ACCESS | KSF_DELETE);
    ck_assert_int_eq(lmove->specs[1].kflags, KSF_RW | KSF_INSERT);
    ck_assert_uint_eq(flushall->acl_cats, ACL_CAT_KEYSPACE | ACL_CAT_WRITE | ACL_CAT_SLOW | ACL_CAT_DANGEROUS);
    ck_assert_uint_eq(acl_cat_bit("@read", 5), ACL_CAT_READ);
    ck_assert_uint_eq(acl_cat_bit("Scripting", 9), ACL_CAT_SCRIPTING);
    ck_assert_uint_eq(acl_cat_bit("nope", 4), 0);
    ck_assert_str_eq(acl_cat_name(0), "keyspace");
    ck_assert_str_eq(acl_cat_name(ACL_CAT_COUNT - 1), "scripting");
    ck_assert_ptr_null(acl_cat_name(ACL_CAT_COUNT));
    /* COMMAND INFO set, as Redis 7.0 sends it */
    static const char reply[] =
        "*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n"
        "*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*4\r\n+RW\r\n+access\r\n"
        "+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\n"
        "spec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
        "$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    redisReaderFeed(rd, reply, sizeof(reply) - 1);
    ck_assert_int_eq(redisReaderGetReply(rd, &r), REDIS_OK);
    ck_assert_ptr_nonnull(r);
    char err[128];
    struct cmdtable *live = cmdtable_new_from_reply(r, NULL, 0, err, sizeof(err));
    ck_assert_msg(live != NULL, "%s", err);
    const struct command *lset = cmdtable_lookup(live, "set", 3);
    ck_assert_uint_eq(lset->acl_cats, set->acl_cats);
    ck_assert_int_eq(lset->specs[0].kflags, set->specs[0].kflags);
    cmdtable_unref(live);
    freeReplyObject(r);
    redisReaderFree(rd);
}
END_TEST

/* Routes by prefix in the plan: each key's backend and stripped bytes, its slot the stripped key's; keys
 * of several backends split (MGET) or CROSSSLOT naming the routes; one-server backends put every key in
 * slot 0, so a cross-slot RENAME there is fine, as on one server. */
START_TEST(planning_with_routes) {
    struct prefix_route r[] = {{.prefix = "session:", .backend = 1, .strip = 1},
                               {.prefix = "solo:", .backend = 2, .strip = 0},
                               {.prefix = "", .backend = 0, .strip = 0}};
    char err[128];
    struct prefix_table *pt = prefix_table_new(r, 3, err, sizeof(err));
    struct plan p;
    plan_init(&p);
    p.prefixes = pt;
    p.one_node = 1u << 2; /* backend 2 is one server */
    plan_line("GET session:abc", &p);
    ck_assert_int_eq(p.backend, 1);
    ck_assert_int_eq(p.kstrip[0], 8);
    ck_assert_int_eq(p.slot, (int)slot_for_key("abc", 3));
    plan_line("MGET user:1 session:abc solo:x", &p);
    ck_assert_int_eq(p.route, ROUTE_SPLIT);
    ck_assert_int_eq(p.kbackend[0], 0);
    ck_assert_int_eq(p.kbackend[1], 1);
    ck_assert_int_eq(p.kbackend[2], 2);
    ck_assert_int_eq(p.slots[2], 0);
    plan_line("RENAME session:a user:b", &p);
    ck_assert(p.is_error);
    ck_assert_str_eq(p.err, "CROSSSLOT Keys in request don't belong to the same route (slotgate routes)");
    plan_line("RENAME solo:a solo:b", &p); /* different slots, one server: no CROSSSLOT */
    ck_assert(!p.is_error);
    ck_assert_int_eq(p.backend, 2);
    ck_assert_int_eq(p.slot, 0);
    plan_line("RENAME session:a session:b", &p); /* a cluster backend: slots of "a" and "b" differ */
    ck_assert(p.is_error);
    ck_assert_str_eq(p.err, "CROSSSLOT Keys in request don't hash to the same slot");
    plan_free(&p);
    prefix_table_free(pt);
}
END_TEST

/* A migrating route: writes to the old backend, reads to the new one, every key marked; a mirrored
 * route: writes mirrored (all commands with mirror_all), a command with a key of another route not. */
START_TEST(planning_with_mirror_and_migration) {
    struct prefix_route r[] = {{.prefix = "", .backend = 1, .migrate_to = 1}, /* old: 1, new: 0 (the default) */
                               {.prefix = "m:", .backend = 0, .mirror = 3},
                               {.prefix = "a:", .backend = 0, .mirror = 3, .mirror_all = 1}};
    char err[128];
    struct prefix_table *pt = prefix_table_new(r, 3, err, sizeof(err));
    ck_assert_int_eq(pt->migrating, 0);
    struct plan p;
    plan_init(&p);
    p.prefixes = pt;
    p.one_node = 1u << 1; /* the old backend is one server */
    plan_line("SET k v", &p);
    ck_assert_int_eq(p.backend, 1);
    ck_assert(p.migrating && p.kmig[0] && p.rerouted);
    ck_assert_int_eq(p.slot, 0);
    plan_line("GET k", &p);
    ck_assert_int_eq(p.backend, 0);
    ck_assert(p.migrating && p.kmig[0] && p.rerouted);
    ck_assert_int_eq(p.slot, (int)slot_for_key("k", 1));
    ck_assert_int_eq(p.mirror_route, -1);
    plan_line("SET m:1 v", &p);
    ck_assert(!p.migrating && !p.rerouted);
    ck_assert_int_eq(p.mirror_route, 1);
    plan_line("GET m:1", &p); /* reads are not mirrored ... */
    ck_assert_int_eq(p.mirror_route, -1);
    plan_line("GET a:1", &p); /* ... unless the route mirrors all commands */
    ck_assert_int_eq(p.mirror_route, 2);
    plan_line("MSET m:1 v m:2 w", &p);
    ck_assert_int_eq(p.mirror_route, 1);
    plan_line("MSET m:1 v a:2 w", &p); /* two mirrored routes in one command: not mirrored */
    ck_assert_int_eq(p.mirror_route, -1);
    plan_line("DEL m:1 k", &p); /* a mirrored key and a migrating one */
    ck_assert_int_eq(p.mirror_route, -1);
    ck_assert(p.migrating && !p.kmig[0] && p.kmig[1]);
    plan_free(&p);
    prefix_table_free(pt);
}
END_TEST

SUITE_MAIN(.name = "command", .before_each = setup, .after_each = teardown,
           .tests = {TEST(lookup_is_case_insensitive), LOOP_TEST(planning, (int)(sizeof(cases) / sizeof(cases[0]))),
                     TEST(unknown_command_args_are_truncated_like_redis), TEST(allowed_commands_route_by_their_tips),
                     TEST(families_from_acl_categories), TEST(acl_categories_and_key_flags), TEST(planning_with_routes),
                     TEST(planning_with_mirror_and_migration)})
