/* Command table lookup and request planning. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/command.h"
#include "../../router/slot.h"

static struct cmdtable *t;

/* Parses an inline command line and plans it. */
static void plan_line(const char *line, struct plan *p) {
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
    const char *key; /* expected slot is this key's */
    const char *err;
} cases[] = {
    {"GET foo", ROUTE_KEYS, "foo", NULL},
    {"set {u1}a 1", ROUTE_KEYS, "u1", NULL},
    {"HSET h f v f2 v2", ROUTE_KEYS, "h", NULL},
    {"MGET {t}a {t}b", ROUTE_KEYS, "t", NULL},
    {"RENAME {t}a {t}b", ROUTE_KEYS, "t", NULL},
    {"MGET a b", ROUTE_UNSUPPORTED, NULL, "CROSSSLOT Keys in request don't hash to the same slot"},
    {"RENAME a b", ROUTE_UNSUPPORTED, NULL, "CROSSSLOT Keys in request don't hash to the same slot"},
    {"PING", ROUTE_LOCAL, NULL, NULL},
    {"echo x", ROUTE_LOCAL, NULL, NULL},
    {"GET", ROUTE_UNSUPPORTED, NULL, "ERR wrong number of arguments for 'get' command"},
    {"GET a b", ROUTE_UNSUPPORTED, NULL, "ERR wrong number of arguments for 'get' command"},
    {"foo bar baz", ROUTE_UNSUPPORTED, NULL, "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "},
    {"nosuch", ROUTE_UNSUPPORTED, NULL, "ERR unknown command 'nosuch', with args beginning with: "},
    {"MULTI", ROUTE_UNSUPPORTED, NULL, "ERR slotgate does not support the 'multi' command yet"},
    {"BLPOP l 0", ROUTE_UNSUPPORTED, NULL, "ERR slotgate does not support the 'blpop' command yet"},
    {"SUBSCRIBE c", ROUTE_UNSUPPORTED, NULL, "ERR slotgate does not support the 'subscribe' command yet"},
    {"EVAL x 0", ROUTE_UNSUPPORTED, NULL, "ERR slotgate does not support the 'eval' command yet"},
};

START_TEST(planning) {
    struct plan p;
    plan_line(cases[_i].line, &p);
    ck_assert_int_eq(p.route, cases[_i].route);
    if (cases[_i].err) {
        ck_assert(p.is_error);
        ck_assert_str_eq(p.err, cases[_i].err);
    } else {
        ck_assert(!p.is_error);
    }
    if (cases[_i].key) ck_assert_int_eq(p.slot, (int)slot_for_key(cases[_i].key, strlen(cases[_i].key)));
}
END_TEST

START_TEST(unknown_command_args_are_truncated_like_redis) {
    struct plan p;
    char line[600];
    memset(line, 0, sizeof(line));
    strcpy(line, "zz ");
    memset(line + 3, 'a', 300);
    plan_line(line, &p);
    /* Redis quotes at most ~128 bytes of arguments. */
    ck_assert_uint_lt(strlen(p.err), 220);
    ck_assert(strncmp(p.err, "ERR unknown command 'zz', with args beginning with: 'aaa", 56) == 0);
}
END_TEST

static void setup(void) { t = cmdtable_new_builtin(); }
static void teardown(void) { cmdtable_free(t); }

int main(void) {
    Suite *s = suite_create("command");
    TCase *tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lookup_is_case_insensitive);
    tcase_add_loop_test(tc, planning, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, unknown_command_args_are_truncated_like_redis);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
