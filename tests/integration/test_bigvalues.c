/* Large values through slotgate against a real cluster: a value streamed to its node as it arrives
 * (and streamed back on GET) is stored and read back byte for byte; order within a pipeline holds
 * around it; the forms that cannot be streamed (the value not last) still work; a client that goes
 * away mid-value leaves nothing behind and disturbs nobody. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21700
#define SG_PORT 21790
#define BIG     (3 * 1024 * 1024 + 17)

static struct cluster cl;
static struct slotgate sg;
static char *value;

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 1 --log-level verbose");
    value = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) value[i] = (char)('a' + (i * 7 + i / 4096) % 26);
}
static void suite_teardown(void) {
    free(value);
    fixture_down(&cl, &sg);
}

/* The value as the key's master holds it, read straight from the master. */
static redisReply *direct_get(const char *key) {
    redisContext *n = connect_port(cluster_master_for_key(&cl, key));
    redisReply *r = cmd(n, "GET %s", key);
    redisFree(n);
    return r;
}

START_TEST(a_large_value_streams_in_and_out_intact) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "SET big:1 %b", value, (size_t)BIG);
    ck_assert(slotgate_log_has(&sg, "streaming a 3145745-byte argument to"));
    redisReply *r = direct_get("big:1");
    ck_assert_int_eq(r->len, BIG);
    ck_assert(memcmp(r->str, value, BIG) == 0);
    freeReplyObject(r);
    r = cmd(c, "GET big:1");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_int_eq(r->len, BIG);
    ck_assert(memcmp(r->str, value, BIG) == 0);
    freeReplyObject(r);
    r = cmd(c, "STRLEN big:1");
    ck_assert_int_eq(r->integer, BIG);
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* SET small, SET big, GET big, GET small, INCR, all pipelined: replies in order, values right. */
START_TEST(order_holds_around_a_streamed_value_in_a_pipeline) {
    redisContext *c = connect_port(SG_PORT);
    redisAppendCommand(c, "SET small:%d before", 1);
    redisAppendCommand(c, "SET big:2 %b", value, (size_t)BIG);
    redisAppendCommand(c, "GET big:2");
    redisAppendCommand(c, "SET big:2 after");
    redisAppendCommand(c, "GET big:2");
    redisAppendCommand(c, "RPUSH biglist %b", value, (size_t)BIG);
    redisAppendCommand(c, "LLEN biglist");
    redisAppendCommand(c, "GET small:%d", 1);
    redisReply *r;
    const char *want_status[] = {"OK", "OK"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_str_eq(r->str, want_status[i]);
        freeReplyObject(r);
    }
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->len, BIG);
    ck_assert(memcmp(r->str, value, BIG) == 0);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->str, "OK");
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->str, "after"); /* the big SET ran before the later one */
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long len = r->integer;
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->integer, len);
    freeReplyObject(r);
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->str, "before");
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* Replies that come before the ones ahead of them (a BLPOP at the head waits 0.3 s; GETs on other masters
 * answer at once) are held, then written out in request order: a large one from where it was held (no
 * second copy), a small one copied; byte for byte, under either I/O engine. */
START_TEST(early_large_replies_go_out_whole_and_in_order) {
    redisContext *c = connect_port(SG_PORT);
    const char *head = "early:head";
    int head_node = cluster_master_for_key(&cl, head);
    char keys[3][32];
    size_t sizes[3] = {BIG, 20000, 100};
    for (int k = 0, i = 0; k < 3; i++) { /* keys on masters other than the head's */
        snprintf(keys[k], sizeof(keys[k]), "early:%d", i);
        if (cluster_master_for_key(&cl, keys[k]) != head_node) k++;
    }
    for (int k = 0; k < 3; k++) expect_str(c, "OK", "SET %s %b", keys[k], value + k, sizes[k]);
    freeReplyObject(cmd(c, "DEL %s", head)); /* nothing there: the BLPOP below waits its whole timeout */
    redisAppendCommand(c, "BLPOP %s 0.3", head);
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 3; k++) redisAppendCommand(c, "GET %s", keys[k]);
    redisAppendCommand(c, "PING");
    redisReply *r;
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
            ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
            ck_assert_int_eq((size_t)r->len, sizes[k]);
            ck_assert(memcmp(r->str, value + k, sizes[k]) == 0);
            freeReplyObject(r);
        }
    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    ck_assert_str_eq(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* Forms that are buffered whole instead: the value not the last argument, two large values. */
START_TEST(values_that_cannot_stream_still_work) {
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "OK", "SET big:3 %b EX 1000", value, (size_t)BIG);
    expect_str(c, "OK", "MSET {big}:4 %b {big}:5 %b", value, (size_t)BIG, value, (size_t)(BIG - 1));
    redisReply *r = cmd(c, "TTL big:3");
    ck_assert_int_gt(r->integer, 900);
    freeReplyObject(r);
    r = cmd(c, "MGET big:3 {big}:5");
    ck_assert_int_eq(r->elements, 2);
    ck_assert_int_eq(r->element[0]->len, BIG);
    ck_assert_int_eq(r->element[1]->len, BIG - 1);
    ck_assert(memcmp(r->element[1]->str, value, BIG - 1) == 0);
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* A client that disconnects halfway through a value: the node never stores it, slotgate goes on. */
START_TEST(a_client_gone_mid_value_leaves_nothing) {
    redisContext *other = connect_port(SG_PORT);
    redisContext *raw = connect_port(SG_PORT);
    char hdr[128];
    int n = snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$8\r\nbig:half\r\n$%d\r\n", BIG);
    ck_assert_int_eq(write(raw->fd, hdr, (size_t)n), n);
    size_t half = BIG / 2, sent = 0;
    while (sent < half) {
        ssize_t w = write(raw->fd, value + sent, half - sent);
        ck_assert_int_gt(w, 0);
        sent += (size_t)w;
    }
    sleep_ms(200);
    expect_str(other, "PONG", "PING"); /* the same worker answers others meanwhile */
    redisFree(raw);
    sleep_ms(300);
    redisReply *r = cmd(other, "EXISTS big:half");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    r = direct_get("big:half");
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_str(other, "OK", "SET big:after ok");
    expect_str(other, "ok", "GET big:after");
    redisFree(other);
}
END_TEST

SUITE_MAIN(.name = "bigvalues", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .tests = {TEST(a_large_value_streams_in_and_out_intact),
                     TEST(order_holds_around_a_streamed_value_in_a_pipeline),
                     TEST(early_large_replies_go_out_whole_and_in_order), TEST(values_that_cannot_stream_still_work),
                     TEST(a_client_gone_mid_value_leaves_nothing)})
