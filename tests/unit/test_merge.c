/* Merging split and fanned-out replies into what one server would answer; SCAN cursors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/command.h"
#include "../../router/merge.h"
#include "../support/run.h"

#define R(s)                                                                                                           \
    { s, sizeof(s) - 1 }

static const char *merged(int policy, const struct reply_ref *rs, int n, const int *key_child, int nkeys) {
    static struct sbuf out;
    sbuf_free(&out);
    /* an INFO template (router/info.h): slotgate's own section, then the masters' keyspace merged */
    ck_assert_int_eq(merge_replies(policy, rs, n, key_child, nkeys, 1,
                                   "# Slotgate\r\nx:1\r\n\r\n# Keyspace\r\n\x01keyspace\r\n", &out),
                     0);
    return out.p;
}

START_TEST(mget_values_go_back_in_key_order) {
    /* keys k0..k4; k0,k3 on part 0, k1,k4 on part 1, k2 on part 2 */
    struct reply_ref rs[] = {R("*2\r\n$2\r\nv0\r\n$-1\r\n"), R("*2\r\n$2\r\nv1\r\n$2\r\nv4\r\n"),
                             R("*1\r\n$0\r\n\r\n")};
    int key_child[] = {0, 1, 2, 0, 1};
    ck_assert_str_eq(merged(MERGE_MGET, rs, 3, key_child, 5),
                     "*5\r\n$2\r\nv0\r\n$2\r\nv1\r\n$0\r\n\r\n$-1\r\n$2\r\nv4\r\n");
}
END_TEST

START_TEST(sums_and_all_ok) {
    struct reply_ref ints[] = {R(":2\r\n"), R(":0\r\n"), R(":5\r\n")};
    ck_assert_str_eq(merged(MERGE_SUM, ints, 3, NULL, 0), ":7\r\n");
    ck_assert_str_eq(merged(MERGE_MIN, ints, 3, NULL, 0), ":0\r\n");
    ck_assert_str_eq(merged(MERGE_MAX, ints, 3, NULL, 0), ":5\r\n");
    struct reply_ref oks[] = {R("+OK\r\n"), R("+OK\r\n")};
    ck_assert_str_eq(merged(MERGE_ALL_OK, oks, 2, NULL, 0), "+OK\r\n");
}
END_TEST

START_TEST(an_error_in_any_part_wins) {
    struct reply_ref rs[] = {R(":2\r\n"), R("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
                             R(":1\r\n")};
    ck_assert_str_eq(merged(MERGE_SUM, rs, 3, NULL, 0),
                     "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    ck_assert_str_eq(merged(MERGE_ONE_OK, rs, 3, NULL, 0), ":2\r\n");
    struct reply_ref errs[] = {R("-NOTBUSY No scripts in execution right now.\r\n"), R("-NOTBUSY x\r\n")};
    ck_assert_str_eq(merged(MERGE_ONE_OK, errs, 2, NULL, 0), "-NOTBUSY No scripts in execution right now.\r\n");
    struct reply_ref unkillable[] = {R("-NOTBUSY No scripts in execution right now.\r\n"),
                                     R("-UNKILLABLE Sorry the script already executed write commands\r\n")};
    ck_assert_str_eq(merged(MERGE_ONE_OK, unkillable, 2, NULL, 0),
                     "-UNKILLABLE Sorry the script already executed write commands\r\n");
    struct reply_ref odd[] = {R(":1\r\n"), R("+OK\r\n")};
    ck_assert_str_eq(merged(MERGE_SUM, odd, 2, NULL, 0),
                     "-ERR slotgate: unexpected reply from a node while merging\r\n");
}
END_TEST

START_TEST(concat_and_logical_and) {
    struct reply_ref keys[] = {R("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), R("*0\r\n"), R("*1\r\n$1\r\nc\r\n")};
    ck_assert_str_eq(merged(MERGE_CONCAT, keys, 3, NULL, 0), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    struct reply_ref ex[] = {R("*3\r\n:1\r\n:1\r\n:0\r\n"), R("*3\r\n:1\r\n:0\r\n:0\r\n")};
    ck_assert_str_eq(merged(MERGE_AND, ex, 2, NULL, 0), "*3\r\n:1\r\n:0\r\n:0\r\n");
}
END_TEST

START_TEST(randomkey_prefers_a_key) {
    struct reply_ref rs[] = {R("$-1\r\n"), R("$-1\r\n"), R("$3\r\nkey\r\n")};
    ck_assert_str_eq(merged(MERGE_RANDOM, rs, 3, NULL, 0), "$3\r\nkey\r\n");
    struct reply_ref none[] = {R("$-1\r\n"), R("$-1\r\n")};
    ck_assert_str_eq(merged(MERGE_RANDOM, none, 2, NULL, 0), "$-1\r\n");
}
END_TEST

START_TEST(info_sums_the_keyspace) {
    struct reply_ref rs[] = {R("$46\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=100\r\n\r\n"),
                             R("$12\r\n# Keyspace\r\n\r\n"),
                             R("$46\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=300\r\n\r\n")};
    const char *want_body = "# Slotgate\r\nx:1\r\n\r\n# Keyspace\r\ndb0:keys=8,expires=2,avg_ttl=200\r\n";
    char want[256];
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(want_body), want_body);
    ck_assert_str_eq(merged(MERGE_INFO, rs, 3, NULL, 0), want);
}
END_TEST

START_TEST(scan_cursor_walks_the_masters) {
    unsigned shard;
    unsigned long long cur;
    ck_assert_int_eq(scan_cursor_decode("0", 1, &shard, &cur), 0);
    ck_assert_uint_eq(shard, 0);
    ck_assert(cur == 0);
    ck_assert_int_eq(scan_cursor_decode("5122", 4, &shard, &cur), 0); /* 5 << 10 | 2 */
    ck_assert_uint_eq(shard, 2);
    ck_assert(cur == 5);
    ck_assert_int_eq(scan_cursor_decode("12a", 3, &shard, &cur), -1);
    ck_assert_int_eq(scan_cursor_decode("99999999999999999999999", 23, &shard, &cur), -1);
    struct sbuf out = {0};
    const char mid[] = "*2\r\n$1\r\n5\r\n*1\r\n$1\r\nk\r\n";
    ck_assert_int_eq(scan_reply_rewrite(mid, sizeof(mid) - 1, 2, 3, &out), 0);
    ck_assert_str_eq(out.p, "*2\r\n$4\r\n5122\r\n*1\r\n$1\r\nk\r\n");
    out.len = 0;
    const char done[] = "*2\r\n$1\r\n0\r\n*0\r\n";
    ck_assert_int_eq(scan_reply_rewrite(done, sizeof(done) - 1, 1, 3, &out), 0);
    ck_assert_str_eq(out.p, "*2\r\n$1\r\n2\r\n*0\r\n"); /* master 1 done: master 2 from its start */
    out.len = 0;
    ck_assert_int_eq(scan_reply_rewrite(done, sizeof(done) - 1, 2, 3, &out), 0);
    ck_assert_str_eq(out.p, "*2\r\n$1\r\n0\r\n*0\r\n"); /* the last master done: the scan is over */
    sbuf_free(&out);
}
END_TEST

/* RESP3 parts: a MGET's nulls stay RESP3's, RANDOMKEY's all-nil is the nodes' own nil, blob errors win. */
START_TEST(resp3_parts_merge_in_resp3) {
    struct reply_ref rs[] = {R("*2\r\n$2\r\nv0\r\n_\r\n"), R("*1\r\n,1.5\r\n")};
    int key_child[] = {0, 1, 0};
    ck_assert_str_eq(merged(MERGE_MGET, rs, 2, key_child, 3), "*3\r\n$2\r\nv0\r\n,1.5\r\n_\r\n");
    struct reply_ref nils[] = {R("_\r\n"), R("_\r\n")};
    ck_assert_str_eq(merged(MERGE_RANDOM, nils, 2, NULL, 0), "_\r\n");
    struct reply_ref one[] = {R("_\r\n"), R("$1\r\nk\r\n")};
    ck_assert_str_eq(merged(MERGE_RANDOM, one, 2, NULL, 0), "$1\r\nk\r\n");
    struct reply_ref blob[] = {R(":1\r\n"), R("!5\r\nERR x\r\n")};
    ck_assert_str_eq(merged(MERGE_SUM, blob, 2, NULL, 0), "!5\r\nERR x\r\n");
}
END_TEST

/* The client's protocol: maps, sets, pushes, nulls and verbatim text, and INFO's bulk turned verbatim. */
START_TEST(replies_in_either_protocol) {
    struct sbuf b = {0};
    ck_assert_int_eq(sbuf_add_map(&b, 2, 1) | sbuf_add_map(&b, 2, 0) | sbuf_add_set(&b, 3, 1) | sbuf_add_set(&b, 3, 0) |
                         sbuf_add_push(&b, 3, 1) | sbuf_add_push(&b, 3, 0) | sbuf_add_null(&b, 1) |
                         sbuf_add_null(&b, 0) | sbuf_add_verbatim(&b, "ab", 2, 1) | sbuf_add_verbatim(&b, "ab", 2, 0),
                     0);
    ck_assert_str_eq(b.p, "%2\r\n*4\r\n~3\r\n*3\r\n>3\r\n*3\r\n_\r\n$-1\r\n=6\r\ntxt:ab\r\n$2\r\nab\r\n");
    sbuf_free(&b);
    ck_assert_int_eq(bulk_as_verbatim("$5\r\na:1\r\n\r\n", 11, &b), 0);
    ck_assert_str_eq(b.p, "=9\r\ntxt:a:1\r\n\r\n");
    sbuf_free(&b);
    ck_assert_int_eq(bulk_as_verbatim("-ERR no\r\n", 9, &b), 0); /* an error stays one */
    ck_assert_str_eq(b.p, "-ERR no\r\n");
    sbuf_free(&b);
    ck_assert_int_eq(bulk_as_verbatim("$5\r\nshort\r", 10, &b), 0); /* not a whole bulk: as it is */
    ck_assert_str_eq(b.p, "$5\r\nshort\r");
    sbuf_free(&b);
}
END_TEST

SUITE_MAIN(.name = "merge",
           .tests = {TEST(mget_values_go_back_in_key_order), TEST(sums_and_all_ok), TEST(an_error_in_any_part_wins),
                     TEST(concat_and_logical_and), TEST(randomkey_prefers_a_key), TEST(info_sums_the_keyspace),
                     TEST(scan_cursor_walks_the_masters), TEST(resp3_parts_merge_in_resp3),
                     TEST(replies_in_either_protocol)})
