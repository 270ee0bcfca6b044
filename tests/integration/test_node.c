/* The Node.js clients people install today, through slotgate in front of a real 3-master cluster, with a
 * plain redis-server beside it as the oracle: node-redis with RESP: 3 (its replies, its clientSideCache
 * kept fresh through writes made through slotgate and straight to the nodes, RESP3 pub/sub) and Valkey
 * GLIDE's standalone and cluster clients (RESP3 by default). Each test runs one scenario of
 * tests/node/scenarios.mjs with the packages pinned in tests/node/package-lock.json (make test installs
 * them with npm ci). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE        22640
#define SG_PORT     22696
#define ORACLE_PORT 22686

static struct cluster cl;
static struct slotgate sg;
static pid_t oracle;

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 2 --probe-interval-ms 200");
    oracle = oracle_start(ORACLE_PORT, cl.dir, "oracle-node");
}

static void suite_teardown(void) {
    oracle_stop(oracle);
    fixture_down(&cl, &sg);
}

/* Runs one scenario; its output is shown, and the test fails unless it exits 0. */
static void scenario(const char *name) {
    ck_assert_msg(access("tests/node/node_modules/redis/package.json", R_OK) == 0 &&
                      access("tests/node/node_modules/@valkey/valkey-glide/package.json", R_OK) == 0,
                  "the Node clients are not installed: make test installs them (npm ci --prefix tests/node)");
    char line[512], out[32768] = "";
    snprintf(line, sizeof(line),
             "cd tests/node && SG_PORT=%d ORACLE_PORT=%d NODE_PORTS=%d,%d,%d timeout 90 node scenarios.mjs %s 2>&1",
             SG_PORT, ORACLE_PORT, BASE, BASE + 1, BASE + 2, name);
    FILE *p = popen(line, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0;
    while (n < sizeof(out) - 1 && fgets(out + n, (int)(sizeof(out) - n), p)) n = strlen(out);
    int st = pclose(p);
    fprintf(stderr, "%s", out);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed:\n%s", name, out);
}

START_TEST(noderedis_resp3_replies) { scenario("noderedis_resp3_replies"); }
END_TEST

START_TEST(noderedis_client_side_cache) { scenario("noderedis_client_side_cache"); }
END_TEST

START_TEST(noderedis_pubsub) { scenario("noderedis_pubsub"); }
END_TEST

START_TEST(glide_standalone) { scenario("glide_standalone"); }
END_TEST

START_TEST(glide_cluster) { scenario("glide_cluster"); }
END_TEST

SUITE_MAIN(.name = "node", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .tests = {TEST(noderedis_resp3_replies), TEST(noderedis_client_side_cache), TEST(noderedis_pubsub),
                     TEST(glide_standalone), TEST(glide_cluster)})
