/* Backend faults, from a fake node (tests/support/fakenode.c): a reply that is not RESP, an oversized
 * bulk, nesting past the limit, half a reply then a close or a reset, a node that never answers. Only
 * the request that met the fault fails, with an error that says what happened; the connection is
 * dropped and a new one serves the next request; other clients are not disturbed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/fakenode.h"
#include "../support/run.h"

#define FAKE    21950
#define SG_PORT 21990

static struct fakenode fake;
static struct slotgate sg;

static void suite_setup(void) {
    char seed[32];
    fakenode_start(&fake, FAKE);
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", FAKE);
    slotgate_start(&sg, SG_PORT, "--threads 1 --command-timeout-ms 600 --failover-hold-ms 1500", seed, 1);
}

static void suite_teardown(void) {
    int rc = slotgate_stop(&sg);
    fakenode_stop(&fake);
    ck_assert_msg(rc == 0, "slotgate did not exit cleanly");
}

static const struct {
    const char *command, *says;
} faults[] = {
    {"GET malformed:1", "ERR slotgate: node 127.0.0.1:21950 sent a reply that is not RESP (unexpected byte 0x3f at the "
                        "start of a reply)"},
    {"GET oversized:1",
     "ERR slotgate: node 127.0.0.1:21950 sent a reply that is not RESP (invalid bulk length in reply)"},
    {"GET deep:1", "ERR slotgate: node 127.0.0.1:21950 sent a reply that is not RESP (reply nested too deeply)"},
    {"GET truncated:1", "connection closed by the node"},
    {"GET reset:1", "Connection reset by peer"},
    {"GET stall:1", "no reply within 600 ms"},
    {"SET truncated:2 x", "the command may have been applied"},
    {"SET stall:2 x", "the command may have been applied"},
};

START_TEST(a_backend_fault_fails_only_its_request) {
    redisContext *c = connect_port(SG_PORT), *other = connect_port(SG_PORT);
    int before = fake.connections;
    long long t0 = now_ms();
    redisReply *r = cmd(c, faults[_i].command);
    long long took = now_ms() - t0;
    ck_assert_msg(r->type == REDIS_REPLY_ERROR && strstr(r->str, faults[_i].says), "%s: got '%s', want '...%s...'",
                  faults[_i].command, r->str ? r->str : "(not an error)", faults[_i].says);
    ck_assert_msg(took < 5000, "%s took %lld ms", faults[_i].command, took);
    freeReplyObject(r);
    /* the same client and another one are served at once, on a new connection to the node */
    expect_str(c, "ok", "GET ok:%d", _i);
    expect_str(other, "ok", "GET ok:other");
    expect_str(other, "OK", "SET ok:%d v", _i);
    ck_assert_msg(fake.connections > before, "%s: the faulty connection was not replaced", faults[_i].command);
    redisFree(c);
    redisFree(other);
}
END_TEST

/* MOVED to "?" that no refreshed map explains: retried within the failover hold, then an error; the
 * client never sees the MOVED itself. */
START_TEST(a_redirection_to_no_address_is_an_error_not_a_moved) {
    redisContext *c = connect_port(SG_PORT);
    redisReply *r = cmd(c, "GET nowhere:1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->str, "CLUSTERDOWN slotgate: slot 1 moved to a node that announces no address");
    freeReplyObject(r);
    expect_str(c, "ok", "GET ok:after-nowhere");
    redisFree(c);
}
END_TEST

SUITE_MAIN(.name = "faults", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .no_fork = 1, /* the fake node is a thread of this process: the tests run here too */
           .tests = {LOOP_TEST(a_backend_fault_fails_only_its_request, sizeof(faults) / sizeof(faults[0])),
                     TEST(a_redirection_to_no_address_is_an_error_not_a_moved)})
