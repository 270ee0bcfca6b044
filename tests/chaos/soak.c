/* make soak DURATION=N: slotgate's long-uptime soak, Kubernetes-style. In a network namespace of its own
 * (support/netns.h) a 3-master + 3-replica cluster runs with every node on port 6379 of its own loopback
 * address, announcing hostname redis-<i>.test; slotgate (two workers) knows only the seed name
 * seeds.test. For N seconds, one cycle after another:
 *   - the cluster switches between announcing addresses and hostnames (cluster-preferred-endpoint-type);
 *   - one node (each in turn) stops, SIGTERM or every fourth time SIGKILL, and comes back on a new
 *     address under its name, with its node ID and data, as a restarted pod does (a master's replica
 *     takes over meanwhile, and the node rejoins as a replica);
 *   - seeds.test is pointed at another subset of the nodes, one of them at a dead address;
 * while a steady pipelined load writes and reads keys (every acknowledged write recorded) and three
 * threads of short-lived clients connect, run a few hundred commands with every answer checked, and
 * leave. Each cycle prints its errors, slotgate's RSS and descriptors. At the end: a key in every one
 * of the 16384 slots is written and read back through slotgate, every acknowledged write is read back
 * (one that is missing is looked for on every node: found there, slotgate answered wrong; nowhere,
 * Redis lost it), and slotgate's descriptors (clients aside) and RSS are compared with the start. */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../router/slot.h"
#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/load.h"
#include "../support/netns.h"
#include "../support/nscluster.h"
#include "../support/run.h"

#define SG_PORT   7777
#define MAX_KEYS  8000000
#define CYCLE_S   45 /* a fault every this many seconds */
#define CHURNERS  3
#define FD_SLACK  6    /* descriptors beyond the start's allowed at the end (dedicated connections) */
#define RSS_SLACK 4096 /* KiB beyond start + 10 % allowed at the end */

static struct nscluster nc;
static struct slotgate sg;
static volatile int churn_stop;
static long long churn_sessions, churn_ops, churn_errors, churn_wrong;
static char churn_error[256];
static pthread_mutex_t churn_mu = PTHREAD_MUTEX_INITIALIZER;

/* slotgate's descriptors that are not client connections: the ones a leak would grow. The fewest of a
 * few samples, as clients come and go between the two readings. */
static int internal_fds(void) {
    int best = 1 << 30;
    for (int i = 0; i < 5; i++) {
        redisContext *c = connect_port(SG_PORT);
        redisReply *r = c ? redisCommand(c, "INFO clients") : NULL;
        const char *at = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "connected_clients:") : NULL;
        int clients = at ? atoi(at + 18) : 0;
        int fds = proc_fds(sg.pid) - 1; /* this INFO's own connection is one of the clients and one fd */
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
        if (at && fds - (clients - 1) < best) best = fds - (clients - 1);
        sleep_ms(50);
    }
    return best;
}

static void churn_fail(const char *what) {
    pthread_mutex_lock(&churn_mu);
    churn_errors++;
    snprintf(churn_error, sizeof(churn_error), "%s", what);
    pthread_mutex_unlock(&churn_mu);
}

/* Clients that come and go: connect, 5 to 200 rounds of 10 SET + 10 GET (checked), leave. */
static void *churn(void *arg) {
    long t = (long)arg;
    unsigned seed = (unsigned)t * 7919u + 1;
    for (long session = 0; !churn_stop; session++) {
        redisContext *c = connect_port(SG_PORT);
        if (!c) {
            churn_fail("cannot connect");
            sleep_ms(100);
            continue;
        }
        int rounds = 5 + (int)(rand_r(&seed) % 196);
        for (int r = 0; r < rounds && !churn_stop; r++) {
            long base = (session * 200 + r) * 10;
            for (int k = 0; k < 10; k++) redisAppendCommand(c, "SET ch:%ld:%ld %ld", t, (base + k) % 1000, base + k);
            for (int k = 0; k < 10; k++) redisAppendCommand(c, "GET ch:%ld:%ld", t, (base + k) % 1000);
            int broken = 0, set_ok[10] = {0};
            for (int k = 0; k < 20 && !broken; k++) {
                redisReply *rep = NULL;
                if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
                    churn_fail(c->errstr);
                    broken = 1;
                    break;
                }
                if (rep->type == REDIS_REPLY_ERROR)
                    churn_fail(rep->str); /* its GET may then read the older value: not counted as wrong */
                else if (k < 10)
                    set_ok[k] = rep->type == REDIS_REPLY_STATUS;
                else if (set_ok[k - 10] && (rep->type != REDIS_REPLY_STRING || atol(rep->str) != base + k - 10))
                    __atomic_add_fetch(&churn_wrong, 1, __ATOMIC_RELAXED);
                __atomic_add_fetch(&churn_ops, 1, __ATOMIC_RELAXED);
                freeReplyObject(rep);
            }
            if (broken) break;
            sleep_ms(2);
        }
        redisFree(c);
        __atomic_add_fetch(&churn_sessions, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void set_endpoint_type(const char *type) {
    for (int i = 0; i < nc.nnodes; i++) {
        char ok[16];
        nsc_query(nc.ip[i], ok, sizeof(ok), "CONFIG SET cluster-preferred-endpoint-type %s", type);
    }
}

/* seeds.test: three nodes starting at `from`, and one address where nothing listens. */
static void point_seeds(int from, int dead_net) {
    char lines[512];
    int n = snprintf(lines, sizeof(lines), "127.0.%d.99 seeds.test\n", dead_net);
    for (int k = 0; k < 3; k++)
        n += snprintf(lines + n, sizeof(lines) - (size_t)n, "%s seeds.test\n", nc.ip[(from + k) % nc.nnodes]);
    nsc_set_hosts(&nc, lines);
}

/* A key in each of the 16384 slots, written and read back through slotgate: how many were right. */
static int every_slot_served(void) {
    static char names[SLOT_COUNT][24];
    static int have;
    for (long i = 0; have < SLOT_COUNT; i++) { /* the first name found for each slot */
        char k[24];
        int len = snprintf(k, sizeof(k), "slot:%ld", i);
        unsigned s = slot_for_key(k, (size_t)len);
        if (!names[s][0]) memcpy(names[s], k, (size_t)len + 1), have++;
    }
    redisContext *c = connect_port(SG_PORT);
    int right = 0;
    for (int s = 0; c && s < SLOT_COUNT; s += 512) {
        for (int k = s; k < s + 512; k++) redisAppendCommand(c, "SET %s v%d", names[k], k);
        for (int k = s; k < s + 512; k++) redisAppendCommand(c, "GET %s", names[k]);
        for (int k = 0; k < 1024; k++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) break;
            char want[16];
            snprintf(want, sizeof(want), "v%d", s + k - 512);
            if (k >= 512 && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want)) right++;
            freeReplyObject(r);
        }
    }
    if (c) redisFree(c);
    return right;
}

/* Is ha:i on any node (replicas with READONLY)? */
static int on_some_node(long long i) {
    for (int n = 0; n < nc.nnodes; n++) {
        redisContext *c = nsc_connect(nc.ip[n]);
        if (!c) continue;
        freeReplyObject(redisCommand(c, "READONLY"));
        redisReply *r = redisCommand(c, "GET ha:%lld", i);
        int found = r && r->type == REDIS_REPLY_STRING && atoll(r->str) == i;
        if (r) freeReplyObject(r);
        redisFree(c);
        if (found) return 1;
    }
    return 0;
}

/* Every acknowledged write read back through slotgate in pipelines; returns those Redis lost. */
static long long verify_writes(struct load *l, long long *wrong) {
    redisContext *c = connect_port(SG_PORT);
    long long lost = 0, batch[1000];
    *wrong = 0;
    for (long long i = 0; c && i < MAX_KEYS;) {
        int n = 0;
        for (; i < MAX_KEYS && n < 1000; i++)
            if (l->acked[i]) batch[n++] = i, redisAppendCommand(c, "GET ha:%lld", i);
        for (int k = 0; k < n; k++) {
            redisReply *r = NULL;
            ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
            int ok = r->type == REDIS_REPLY_STRING && atoll(r->str) == batch[k];
            freeReplyObject(r);
            if (ok) continue;
            if (on_some_node(batch[k]))
                (*wrong)++;
            else
                lost++;
        }
    }
    if (c) redisFree(c);
    return lost;
}

START_TEST(soak) {
    const char *env = getenv("SOAK_SECONDS");
    long long seconds = env ? atoll(env) : 600;
    nsc_start(&nc, 10, 3, 1);
    sleep_ms(3000); /* replicas' first sync */
    point_seeds(0, 10);
    slotgate_start(&sg, SG_PORT, "--threads 2 --dns-cache-ttl-ms 2000", "seeds.test:6379", 1);
    struct load l = {0};
    load_start(&l, SG_PORT, 8, MAX_KEYS, (int)seconds + 900);
    pthread_t th[CHURNERS];
    for (long t = 0; t < CHURNERS; t++) pthread_create(&th[t], NULL, churn, (void *)t);
    sleep_ms(20000); /* warm: every worker's connections to every master are open */
    int fds0 = internal_fds();
    long long rss0 = proc_rss_kib(sg.pid), start = now_ms();
    fprintf(stderr, "soak: start: slotgate RSS %lld KiB, %d descriptors besides clients\n", rss0, fds0);
    int cycles = 0, unsettled = 0, restarts = 0, kills = 0, moves = 0;
    long long errors_seen = 0;
    while (now_ms() - start < seconds * 1000) {
        long long cycle_start = now_ms();
        int i = cycles % nc.nnodes, sig = cycles % 4 == 3 ? SIGKILL : SIGTERM;
        set_endpoint_type(cycles % 2 ? "hostname" : "ip");
        nsc_node_stop(&nc, i, sig);
        restarts++;
        kills += sig == SIGKILL;
        snprintf(nc.ip[i], sizeof(nc.ip[i]), "127.0.%d.%d", 11 + cycles % 240, i + 1);
        moves++;
        point_seeds(cycles + 1, 11 + cycles % 240);
        nsc_node_start(&nc, i);
        set_endpoint_type(cycles % 2 ? "hostname" : "ip");
        if (nsc_wait(&nc, 90000) < 0) unsettled++; /* Redis's own business; slotgate is judged at the end */
        long long errs = l.errors + churn_errors;
        fprintf(stderr,
                "soak: cycle %d at %llds: node %d %s, back on %s (%s endpoints): %lld errors this cycle; "
                "RSS %lld KiB, %d fds, %lld load ops, %lld client sessions\n",
                cycles, (now_ms() - start) / 1000, i, sig == SIGKILL ? "killed" : "stopped", nc.ip[i],
                cycles % 2 ? "hostname" : "ip", errs - errors_seen, proc_rss_kib(sg.pid), proc_fds(sg.pid), l.ops,
                churn_sessions);
        errors_seen = errs;
        cycles++;
        long long left = cycle_start + CYCLE_S * 1000LL - now_ms();
        if (left > 0) sleep_ms((int)left);
    }
    int fds_end = internal_fds();
    long long rss_end = proc_rss_kib(sg.pid);
    churn_stop = 1;
    for (int t = 0; t < CHURNERS; t++) pthread_join(th[t], NULL);
    load_stop(&l);
    int served = every_slot_served();
    long long wrong, lost = verify_writes(&l, &wrong);
    sleep_ms(3000);
    long long rss_idle = proc_rss_kib(sg.pid);
    fprintf(stderr,
            "soak: %lld s, %d cycles: %d restarts (%d SIGKILL), %d address changes, %d seed changes; "
            "%lld load ops (%lld acknowledged writes, %lld errors: first '%s', last '%s'); %lld client sessions, "
            "%lld ops, %lld errors (last: %s), %lld GETs not reading their acknowledged SET; slots served at the end "
            "%d/16384; acknowledged writes lost by Redis %lld, "
            "answered wrong by slotgate %lld; descriptors besides clients %d -> %d; RSS %lld -> %lld KiB under "
            "load, %lld KiB idle; cycles where the cluster itself did not settle in 90 s: %d\n",
            (now_ms() - start) / 1000, cycles, restarts, kills, moves, cycles, l.ops, l.written, l.errors,
            l.first_error, l.last_error, churn_sessions, churn_ops, churn_errors, churn_error, churn_wrong, served,
            lost, wrong, fds0, fds_end, rss0, rss_end, rss_idle, unsettled);
    ck_assert_int_eq(served, SLOT_COUNT);
    ck_assert_int_eq(wrong, 0);
    ck_assert_int_eq(churn_wrong, 0);
    ck_assert_msg(fds_end <= fds0 + FD_SLACK, "descriptors %d -> %d", fds0, fds_end);
    ck_assert_msg(rss_end <= rss0 + rss0 / 10 + RSS_SLACK, "RSS %lld -> %lld KiB", rss0, rss_end);
    ck_assert_int_eq(kill(sg.pid, 0), 0); /* the one slotgate, never restarted */
    load_free(&l);
    ck_assert_int_eq(slotgate_stop(&sg), 0);
    nsc_stop(&nc);
}
END_TEST

int main(int argc, char **argv) {
    netns_enter(argc, argv);
    const char *env = getenv("SOAK_SECONDS");
    struct suite_spec spec = {
        .name = "soak", .timeout = (int)((env ? atoll(env) : 600) + 1800), .no_fork = 1, .tests = {TEST(soak)}};
    return run_suite_spec(&spec);
}
