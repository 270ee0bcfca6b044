/* Starting slotgate: configuration errors stop it with status 2 and a message naming the setting;
 * with no reachable seed it still starts and answers CLUSTERDOWN at once (no hang); when the cluster
 * appears later it is found without a restart. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21200
#define SG_PORT 21290

/* Runs slotgate with args; returns its exit status and the first line it printed. */
static int run(const char *args, char *out, size_t outlen) {
    char cmdline[1024];
    snprintf(cmdline, sizeof(cmdline), "%s %s 2>&1", slotgate_bin(), args);
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    if (!fgets(out, (int)outlen, p)) out[0] = '\0';
    char rest[512];
    while (fgets(rest, sizeof(rest), p)) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const struct {
    const char *args;
    int status;
    const char *says;
} runs[] = {
    {"--version", 0, "slotgate 0.1.0"},
    {"--help", 0, "Usage: slotgate"},
    {"--port 0 127.0.0.1:7000", 2, "port: 0 with no tls-port: nothing to listen on"},
    {"--port 7000", 2, "seeds: no seed node given"},
    {"--no-such-flag 127.0.0.1:7000", 2, "unknown or incomplete option '--no-such-flag'"},
    {"--threads many 127.0.0.1:7000", 2, "threads: 'many' is not an integer"},
    {"127.0.0.1", 2, "seeds: '127.0.0.1' is not host:port"},
    {"--config /nonexistent.json 127.0.0.1:7000", 2, "config file /nonexistent.json"},
    {"--bind 999.1.1.1 --port 21299 127.0.0.1:7000", 1, "bind: '999.1.1.1' is not an address"},
};

START_TEST(command_line_outcomes) {
    char out[512];
    int st = run(runs[_i].args, out, sizeof(out));
    ck_assert_msg(st == runs[_i].status, "'%s' exited %d, want %d (%s)", runs[_i].args, st, runs[_i].status, out);
    ck_assert_msg(strstr(out, runs[_i].says) != NULL, "'%s' printed '%s', want '%s'", runs[_i].args, out,
                  runs[_i].says);
}
END_TEST

/* A second slotgate on a port that is taken fails at start instead of sharing it (SO_REUSEPORT). */
START_TEST(a_taken_port_is_an_error) {
    struct slotgate sg;
    char out[512], args[128];
    slotgate_start(&sg, SG_PORT, "--threads 2", "127.0.0.1:21200", 0);
    snprintf(args, sizeof(args), "--port %d --threads 2 127.0.0.1:21200", SG_PORT);
    ck_assert_int_eq(run(args, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "Address already in use") != NULL, "%s", out);
    ck_assert_int_eq(slotgate_stop(&sg), 0);
}
END_TEST

START_TEST(check_config_validates_a_file) {
    char out[512];
    const char *good = "/tmp/slotgate-startup-good.json", *bad = "/tmp/slotgate-startup-bad.json";
    FILE *f = fopen(good, "w");
    fputs("{\"seeds\": [\"127.0.0.1:7000\"], \"port\": 7777, \"threads\": 2}\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("{\"seeds\": [\"127.0.0.1:7000\"], \"command-timeout-ms\": -5}\n", f);
    fclose(f);
    char args[256];
    snprintf(args, sizeof(args), "--check-config %s", good);
    ck_assert_int_eq(run(args, out, sizeof(out)), 0);
    ck_assert(strstr(out, "is valid") != NULL);
    snprintf(args, sizeof(args), "--check-config %s", bad);
    ck_assert_int_eq(run(args, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "command-timeout-ms: -5 is out of range") != NULL, "%s", out);
    unlink(good);
    unlink(bad);
}
END_TEST

START_TEST(no_seed_answers_then_cluster_appears) {
    struct slotgate sg;
    struct cluster cl;
    slotgate_start(&sg, SG_PORT, "--threads 1", "127.0.0.1:21200 127.0.0.1:21201", 0);
    redisContext *c = connect_port(SG_PORT);
    ck_assert_ptr_nonnull(c);
    expect_str(c, "PONG", "PING");
    long long t0 = now_ms();
    expect_str(c, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet", "GET k");
    ck_assert_int_lt(now_ms() - t0, 1000);
    cluster_start(&cl, BASE, 3, 0);
    WAIT_UNTIL(15000, reply_is(c, "OK", "SET k v"), "cluster started later was never found");
    expect_str(c, "v", "GET k");
    redisFree(c);
    int rc = slotgate_stop(&sg);
    cluster_stop(&cl);
    ck_assert_msg(rc == 0, "slotgate did not exit cleanly");
}
END_TEST

SUITE_MAIN(.name = "startup", .timeout = 120,
           .tests = {LOOP_TEST(command_line_outcomes, (int)(sizeof(runs) / sizeof(runs[0]))),
                     TEST(check_config_validates_a_file), TEST(a_taken_port_is_an_error),
                     TEST(no_seed_answers_then_cluster_appears)})
