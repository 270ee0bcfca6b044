/* Commands as they go to the nodes (router/encode.c): inline commands re-encoded as multibulk, and
 * multi-key commands split one command per slot with their keys (and MSET's values) in order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/encode.h"
#include "../../router/slot.h"
#include "../support/run.h"

static struct cmdtable *t;
static struct resp_request q;
static char buf[1024];

static void setup(void) {
    t = cmdtable_new_builtin(NULL, 0);
    resp_request_init(&q, 1 << 20, 1 << 20);
}
static void teardown(void) {
    resp_request_free(&q);
    cmdtable_free(t);
}

static void parse(const char *bytes) {
    char err[RESP_ERR_LEN];
    snprintf(buf, sizeof(buf), "%s", bytes);
    resp_request_reset(&q);
    ck_assert_int_eq(resp_request_parse(&q, buf, strlen(buf), err, sizeof(err)), RESP_DONE);
}

START_TEST(inline_commands_become_multibulk) {
    struct sbuf out = {0};
    size_t len;
    parse("SET  key \"a b\"\r\n");
    const char *p = encode_request(&q, buf, &out, &len);
    ck_assert_int_eq(len, strlen("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\na b\r\n"));
    ck_assert(memcmp(p, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\na b\r\n", len) == 0);
    parse("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    ck_assert_ptr_eq(encode_request(&q, buf, &out, &len), buf); /* already multibulk: its own bytes */
    ck_assert_int_eq(len, strlen(buf));
    sbuf_free(&out);
}
END_TEST

/* Three keys in slot order a, b, a: two parts, a's keys together in the caller's order. */
START_TEST(split_by_slot_keeps_each_part_in_key_order) {
    struct plan p;
    struct split s;
    struct sbuf out = {0};
    int key_part[8];
    plan_init(&p);
    ck_assert_int_eq(split_init(&s), 0);
    /* {a} and {b} hash to different slots; MSET carries each key's value with it */
    parse("MSET {a}1 v1 {b}2 v2 {a}3 v3\r\n");
    plan_request(t, &q, buf, &p);
    ck_assert_int_eq(p.route, ROUTE_SPLIT);
    ck_assert_int_eq(split_by_slot(&s, &p, key_part), 2);
    ck_assert(key_part[0] == 0 && key_part[1] == 1 && key_part[2] == 0);
    ck_assert_int_eq(split_slot(&s, 0, &p), (int)slot_for_key("a", 1));
    ck_assert_int_eq(split_slot(&s, 1, &p), (int)slot_for_key("b", 1));
    ck_assert_int_eq(split_command(&s, 0, &q, buf, &p, &out), 0);
    const char *want0 = "*5\r\n$4\r\nMSET\r\n$4\r\n{a}1\r\n$2\r\nv1\r\n$4\r\n{a}3\r\n$2\r\nv3\r\n";
    ck_assert_int_eq(out.len, strlen(want0));
    ck_assert(memcmp(out.p, want0, out.len) == 0);
    ck_assert_int_eq(split_command(&s, 1, &q, buf, &p, &out), 0);
    const char *want1 = "*3\r\n$4\r\nMSET\r\n$4\r\n{b}2\r\n$2\r\nv2\r\n";
    ck_assert(out.len == strlen(want1) && memcmp(out.p, want1, out.len) == 0);
    /* the next split starts clean: MGET of keys in one slot each, three parts */
    parse("MGET {c}x {a}y {b}z\r\n");
    plan_request(t, &q, buf, &p);
    ck_assert_int_eq(split_by_slot(&s, &p, key_part), 3);
    ck_assert(key_part[0] == 0 && key_part[1] == 1 && key_part[2] == 2);
    ck_assert_int_eq(split_command(&s, 1, &q, buf, &p, &out), 0);
    ck_assert(out.len == strlen("*2\r\n$4\r\nMGET\r\n$4\r\n{a}y\r\n") &&
              memcmp(out.p, "*2\r\n$4\r\nMGET\r\n$4\r\n{a}y\r\n", out.len) == 0);
    for (int i = 0; i < SLOT_COUNT; i++) ck_assert_int_eq(s.slot_part[i], -1);
    sbuf_free(&out);
    split_free(&s);
    plan_free(&p);
}
END_TEST

START_TEST(a_thousand_keys_over_many_slots) {
    struct plan p;
    struct split s;
    static int key_part[1000];
    static char cmd[32000];
    plan_init(&p);
    ck_assert_int_eq(split_init(&s), 0);
    size_t n = (size_t)sprintf(cmd, "*1001\r\n$3\r\nDEL\r\n");
    for (int i = 0; i < 1000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "k%d", i);
        n += (size_t)sprintf(cmd + n, "$%d\r\n%s\r\n", kl, k);
    }
    char err[RESP_ERR_LEN];
    resp_request_reset(&q);
    ck_assert_int_eq(resp_request_parse(&q, cmd, n, err, sizeof(err)), RESP_DONE);
    plan_request(t, &q, cmd, &p);
    int parts = split_by_slot(&s, &p, key_part);
    ck_assert_int_gt(parts, 900); /* about one slot each */
    int total = 0;
    for (int c = 0; c < parts; c++) total += s.count[c];
    ck_assert_int_eq(total, 1000);
    split_free(&s);
    plan_free(&p);
}
END_TEST

SUITE_MAIN(.name = "encode", .before_each = setup, .after_each = teardown,
           .tests = {TEST(inline_commands_become_multibulk), TEST(split_by_slot_keeps_each_part_in_key_order),
                     TEST(a_thousand_keys_over_many_slots)})
