/* See cluster.h. */
#include "cluster.h"

#include "../../router/slot.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED 64

static struct {
    pid_t pid;
    pid_t owner;
} tracked[MAX_TRACKED];
static int cleanup_installed;
static char tracked_dir[4][128];
static pid_t tracked_dir_owner[4];

static void kill_tracked(void) {
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i].pid > 0 && tracked[i].owner == getpid()) {
            kill(tracked[i].pid, SIGCONT);
            kill(tracked[i].pid, SIGKILL);
            waitpid(tracked[i].pid, NULL, 0);
            tracked[i].pid = 0;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (tracked_dir[i][0] && tracked_dir_owner[i] == getpid()) {
            char rm[160];
            snprintf(rm, sizeof(rm), "rm -rf %.128s", tracked_dir[i]);
            if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tracked_dir[i]);
            tracked_dir[i][0] = '\0';
        }
    }
}

static void track_dir(const char *dir) {
    for (int i = 0; i < 4; i++) {
        if (!tracked_dir[i][0]) {
            snprintf(tracked_dir[i], sizeof(tracked_dir[i]), "%s", dir);
            tracked_dir_owner[i] = getpid();
            return;
        }
    }
}

static void untrack_dir(const char *dir) {
    for (int i = 0; i < 4; i++)
        if (strcmp(tracked_dir[i], dir) == 0) tracked_dir[i][0] = '\0';
}

static void on_fatal_signal(int sig) {
    kill_tracked();
    signal(sig, SIG_DFL);
    raise(sig);
}

void track_pid(pid_t pid) {
    if (!cleanup_installed) {
        cleanup_installed = 1;
        atexit(kill_tracked);
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        signal(SIGHUP, on_fatal_signal);
    }
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i].pid <= 0) {
            tracked[i].pid = pid;
            tracked[i].owner = getpid();
            return;
        }
    }
}

void untrack_pid(pid_t pid) {
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i].pid == pid) tracked[i].pid = 0;
}

long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t spawn(char *const argv[], const char *log_path) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0); /* Ctrl-C on the test run reaches us only through the test's cleanup */
        /* Check ends a failed test's process with _exit(), which skips atexit(): the kernel then
         * kills what that process started, so no server outlives the test that started it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    track_pid(pid);
    return pid;
}

redisContext *connect_port(int port) {
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "command '%s' failed: %s", fmt, c->errstr);
    return r;
}

/* The command's reply, which must be a string, a status or an error. */
static redisReply *string_reply(redisContext *c, const char *fmt, va_list ap) {
    redisReply *r = redisvCommand(c, fmt, ap);
    ck_assert_msg(r != NULL, "command '%s' failed: %s", fmt, c->errstr);
    ck_assert_msg(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR,
                  "'%s': unexpected reply type %d", fmt, r->type);
    return r;
}

void expect_str(redisContext *c, const char *want, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = string_reply(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(strcmp(r->str, want) == 0, "'%s': got '%s', want '%s'", fmt, r->str, want);
    freeReplyObject(r);
}

int reply_is(redisContext *c, const char *want, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap); /* any type: a nil or an error is simply not yet */
    va_end(ap);
    ck_assert_msg(r != NULL, "command '%s' failed: %s", fmt, c->errstr);
    int ok = (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) && strcmp(r->str, want) == 0;
    freeReplyObject(r);
    return ok;
}

long long info_int(redisContext *c, const char *section, const char *field) {
    redisReply *r = cmd(c, "INFO %s", section);
    char key[80];
    snprintf(key, sizeof(key), "\r\n%s:", field);
    const char *at = r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    ck_assert_msg(at != NULL, "INFO %s has no %s:\n%s", section, field, r->str ? r->str : "");
    long long v = atoll(at + strlen(key));
    freeReplyObject(r);
    return v;
}

int info_has(redisContext *c, const char *section, const char *text) {
    redisReply *r = cmd(c, "INFO %s", section);
    int ok = r->type == REDIS_REPLY_STRING && strstr(r->str, text) != NULL;
    freeReplyObject(r);
    return ok;
}

static int ping_port(int port) {
    redisContext *c = connect_port(port);
    if (!c) return 0;
    redisReply *r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok;
}

int port_in_use(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int used = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return used;
}

/* Scratch folders of earlier runs whose test process is gone (it failed and could not clean up). */
static void remove_stale_dirs(int base_port) {
    char cmdline[256];
    snprintf(cmdline, sizeof(cmdline),
             "for d in /tmp/slotgate-test-*-%d; do [ -d \"$d\" ] || continue; p=${d#/tmp/slotgate-test-}; p=${p%%-*}; "
             "kill -0 \"$p\" 2>/dev/null || rm -rf \"$d\"; done",
             base_port);
    if (system(cmdline) != 0) fprintf(stderr, "could not clean stale test folders\n");
}

pid_t node_spawn(const char *dir, int port) { return node_spawn_with_files_of(dir, port, port); }

static char tls_dir[128];
static int tls_offset;

void cluster_use_tls(const char *certdir, int offset) {
    snprintf(tls_dir, sizeof(tls_dir), "%s", certdir ? certdir : "");
    tls_offset = certdir ? offset : 0;
}

pid_t node_spawn_with_files_of(const char *dir, int port, int files_port) {
    char ps[16], conf[64], dbf[64], log[200], tps[16], cert[200], key[200], ca[200];
    snprintf(ps, sizeof(ps), "%d", port);
    snprintf(conf, sizeof(conf), "nodes-%d.conf", files_port);
    snprintf(dbf, sizeof(dbf), "dump-%d.rdb", files_port);
    snprintf(log, sizeof(log), "%s/redis-%d.log", dir, port);
    snprintf(tps, sizeof(tps), "%d", port + tls_offset);
    snprintf(cert, sizeof(cert), "%s/node.crt", tls_dir);
    snprintf(key, sizeof(key), "%s/node.key", tls_dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
    /* validity factor 0: a replica that fell behind on a loaded 2-core CI machine still takes over */
    char *argv[] = {"redis-server", "--port", ps, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                    "--cluster-config-file", conf, "--cluster-node-timeout", "2000",
                    "--cluster-replica-validity-factor", "0", "--dir", (char *)dir, "--dbfilename", dbf, "--save", "",
                    "--appendonly", "no",
                    /* TLS: clients on port + offset, the bus and replication over TLS; port stays open in
                     * plaintext for the tests' own checks (hiredis 0.14 has no TLS) */
                    "--tls-port", tps, "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca,
                    "--tls-cluster", "yes", "--tls-replication", "yes", NULL};
    if (!tls_offset) argv[21] = NULL;
    return spawn(argv, log);
}

void cluster_start(struct cluster *cl, int base_port, int masters, int replicas) {
    memset(cl, 0, sizeof(*cl));
    cl->base_port = base_port;
    cl->nmasters = masters;
    cl->nnodes = masters * (1 + replicas);
    snprintf(cl->dir, sizeof(cl->dir), "/tmp/slotgate-test-%d-%d", (int)getpid(), base_port);
    remove_stale_dirs(base_port);
    mkdir(cl->dir, 0755);
    track_dir(cl->dir);
    for (int i = 0; i < cl->nnodes; i++) { /* servers of a failed earlier test may still be dying */
        long long until = now_ms() + 10000;
        while (port_in_use(base_port + i) || port_in_use(base_port + i + 10000) ||
               (tls_offset &&
                (port_in_use(base_port + i + tls_offset) || port_in_use(base_port + i + tls_offset + 10000)))) {
            ck_assert_msg(now_ms() < until, "port %d is still in use by something else", base_port + i);
            sleep_ms(50);
        }
    }
    char cmdline[4096];
    int n = snprintf(cmdline, sizeof(cmdline), "redis-cli --cluster create");
    for (int i = 0; i < cl->nnodes; i++) {
        int port = base_port + i;
        cl->pids[i] = node_spawn(cl->dir, port);
        n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " 127.0.0.1:%d", port);
    }
    for (int i = 0; i < cl->nnodes; i++) {
        long long until = now_ms() + 10000;
        while (!ping_port(base_port + i)) {
            ck_assert_msg(now_ms() < until, "redis-server on port %d did not start", base_port + i);
            sleep_ms(50);
        }
    }
    snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --cluster-replicas %d --cluster-yes > %s/create.log 2>&1",
             replicas, cl->dir);
    if (system(cmdline) != 0) {
        char show[300];
        snprintf(show, sizeof(show), "cat %s/create.log >&2", cl->dir);
        if (system(show) != 0) fprintf(stderr, "(no create.log)\n");
        ck_abort_msg("redis-cli --cluster create failed");
    }
    ck_assert_msg(cluster_wait_ok(cl, 20000) == 0, "cluster did not become ok");
    /* Replicas show up in the other nodes' CLUSTER SLOTS only seconds after --cluster create (gossip):
     * a slotgate started before that would learn a map without them until its next refresh. */
    for (int i = 0; i < cl->nnodes && replicas > 0; i++) {
        long long until = now_ms() + 30000;
        for (;;) {
            redisContext *c = connect_port(base_port + i);
            redisReply *r = c ? redisCommand(c, "CLUSTER SLOTS") : NULL;
            int full = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
            for (size_t k = 0; full && k < r->elements; k++) full = r->element[k]->elements >= (size_t)(3 + replicas);
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
            if (full) break;
            ck_assert_msg(now_ms() < until, "node %d never listed every replica", base_port + i);
            sleep_ms(100);
        }
    }
    /* A replica promoted before its first sync finished would start empty: failover tests would then
     * measure Redis losing data, not slotgate. */
    for (int i = 0; i < cl->nnodes; i++) {
        long long until = now_ms() + 20000;
        for (;;) {
            redisContext *c = connect_port(base_port + i);
            redisReply *r = c ? redisCommand(c, "INFO replication") : NULL;
            int ready = r && r->type == REDIS_REPLY_STRING &&
                        (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
            if (ready) break;
            ck_assert_msg(now_ms() < until, "replica on port %d never finished its first sync", base_port + i);
            sleep_ms(50);
        }
    }
}

void cluster_stop(struct cluster *cl) {
    for (int i = 0; i < cl->nnodes; i++) {
        if (cl->pids[i] > 0) {
            kill(cl->pids[i], SIGCONT);
            kill(cl->pids[i], SIGKILL);
            waitpid(cl->pids[i], NULL, 0);
            untrack_pid(cl->pids[i]);
            cl->pids[i] = 0;
        }
    }
    char rm[200];
    snprintf(rm, sizeof(rm), "rm -rf %s", cl->dir);
    if (cl->dir[0] && system(rm) != 0) fprintf(stderr, "could not remove %s\n", cl->dir);
    untrack_dir(cl->dir);
}

void node_id(int port, char out[41]) {
    redisContext *c = connect_port(port);
    ck_assert_ptr_nonnull(c);
    redisReply *r = cmd(c, "CLUSTER MYID");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    snprintf(out, 41, "%s", r->str);
    freeReplyObject(r);
    redisFree(c);
}

int cluster_master_for_key(struct cluster *cl, const char *key) {
    return cluster_master_for_slot(cl, (int)slot_for_key(key, strlen(key)));
}

int cluster_master_for_slot(struct cluster *cl, int slot) {
    for (int i = 0; i < cl->nnodes; i++) {
        if (cl->pids[i] <= 0) continue;
        redisContext *c = connect_port(cl->base_port + i);
        if (!c) continue;
        redisReply *r = redisCommand(c, "CLUSTER SLOTS");
        int port = -1;
        if (r && r->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < r->elements; k++) {
                redisReply *e = r->element[k];
                if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
                    port = (int)e->element[2]->element[1]->integer;
            }
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (port > 0) return port;
    }
    return -1;
}

/* All live nodes say cluster_state:ok and give the same CLUSTER SLOTS owner for a sample of slots. */
int cluster_wait_ok(struct cluster *cl, int timeout_ms) {
    long long until = now_ms() + timeout_ms;
    while (now_ms() < until) {
        int ok = 1;
        int owner[4] = {-1, -1, -1, -1};
        for (int i = 0; i < cl->nnodes && ok; i++) {
            if (cl->pids[i] <= 0) continue;
            redisContext *c = connect_port(cl->base_port + i);
            if (!c) {
                ok = 0;
                break;
            }
            redisReply *r = redisCommand(c, "CLUSTER INFO");
            ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
                 strstr(r->str, "cluster_slots_ok:16384");
            if (r) freeReplyObject(r);
            redisFree(c);
            if (!ok) break;
            int slots[4] = {0, 5000, 10000, 16383};
            for (int k = 0; k < 4 && ok; k++) {
                struct cluster one = *cl;
                for (int j = 0; j < one.nnodes; j++)
                    if (j != i) one.pids[j] = 0;
                int p = cluster_master_for_slot(&one, slots[k]);
                if (owner[k] < 0)
                    owner[k] = p;
                else if (owner[k] != p)
                    ok = 0;
            }
        }
        if (ok) return 0;
        sleep_ms(100);
    }
    return -1;
}

const char *slotgate_bin(void) {
    const char *b = getenv("TEST_SLOTGATE_BIN");
    return b && *b ? b : "./slotgate";
}

void slotgate_start(struct slotgate *sg, int port, const char *args, const char *seeds, int wait_map) {
    char *argv[64], buf[2048], ps[16], aps[16];
    int n = 0;
    snprintf(ps, sizeof(ps), "%d", port);
    snprintf(buf, sizeof(buf), "%s %s", args ? args : "", seeds);
    argv[n++] = (char *)slotgate_bin();
    argv[n++] = "--port";
    argv[n++] = ps;
    /* Each slotgate's admin endpoint on its own port (SLOTGATE_ADMIN_OFFSET above the RESP port), and a
     * short drain so a test that stops slotgate with a blocked client waits seconds, not the default. */
    sg->admin_port = 0;
    if (!args || !strstr(args, "--admin-port")) {
        sg->admin_port = port + SLOTGATE_ADMIN_OFFSET;
        snprintf(aps, sizeof(aps), "%d", sg->admin_port);
        argv[n++] = "--admin-port";
        argv[n++] = aps;
    }
    if (!args || !strstr(args, "--drain-timeout-ms")) {
        argv[n++] = "--drain-timeout-ms";
        argv[n++] = "3000";
    }
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && n < 62; t = strtok_r(NULL, " ", &save)) argv[n++] = t;
    argv[n] = NULL;
    sg->port = port;
    snprintf(sg->log, sizeof(sg->log), "/tmp/slotgate-test-%d-sg-%d.log", (int)getpid(), port);
    unlink(sg->log);
    ck_assert_msg(!port_in_use(port), "port %d is taken before slotgate starts", port);
    sg->pid = spawn(argv, sg->log);
    long long until = now_ms() + 15000;
    for (;;) {
        ck_assert_msg(now_ms() < until, "slotgate on port %d did not become ready (log %s)", port, sg->log);
        redisContext *c = connect_port(port);
        if (c) {
            redisReply *r = redisCommand(c, "GET __slotgate_ready_probe__");
            int ready = r && (!wait_map || r->type != REDIS_REPLY_ERROR);
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ready) return;
        }
        sleep_ms(50);
    }
}

int slotgate_stop(struct slotgate *sg) {
    int status = 0, clean = 1;
    if (sg->pid <= 0) return 0;
    kill(sg->pid, SIGTERM);
    long long until = now_ms() + 15000;
    while (waitpid(sg->pid, &status, WNOHANG) == 0) {
        if (now_ms() > until) {
            kill(sg->pid, SIGKILL);
            waitpid(sg->pid, &status, 0);
            fprintf(stderr, "slotgate did not stop within 15 s of SIGTERM\n");
            clean = 0;
            break;
        }
        sleep_ms(20);
    }
    untrack_pid(sg->pid);
    sg->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) clean = 0;
    FILE *f = fopen(sg->log, "r");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) clean = 0;
        if (!clean) fputs(line, stderr);
    }
    if (f) fclose(f);
    if (clean && !getenv("TEST_KEEP_LOGS"))
        unlink(sg->log);
    else
        fprintf(stderr, "slotgate exited with status 0x%x; log kept at %s\n", status, sg->log);
    return clean ? 0 : -1;
}

void fixture_up(struct cluster *cl, struct slotgate *sg, int base, int masters, int replicas, int sg_port,
                const char *args) {
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", base);
    cluster_start(cl, base, masters, replicas);
    slotgate_start(sg, sg_port, args, seed, 1);
}

void fixture_down(struct cluster *cl, struct slotgate *sg) {
    int rc = slotgate_stop(sg);
    cluster_stop(cl);
    ck_assert_msg(rc == 0, "slotgate did not exit cleanly (see its log)");
}

int cluster_replica_of(struct cluster *cl, int master_port) {
    for (int i = 0; i < cl->nnodes; i++) {
        if (cl->pids[i] <= 0) continue;
        redisContext *d = connect_port(cl->base_port + i);
        if (!d) continue;
        redisReply *r = redisCommand(d, "ROLE");
        int found = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && strcmp(r->element[0]->str, "slave") == 0 &&
                    r->element[2]->integer == master_port;
        if (r) freeReplyObject(r);
        redisFree(d);
        if (found) return cl->base_port + i;
    }
    return -1;
}

int node_role_is(int port, const char *role) {
    redisContext *d = connect_port(port);
    if (!d) return 0;
    redisReply *r = redisCommand(d, "ROLE");
    int ok = r && r->type == REDIS_REPLY_ARRAY && strcmp(r->element[0]->str, role) == 0;
    if (r) freeReplyObject(r);
    redisFree(d);
    return ok;
}

int wait_role(int port, const char *role, int ms) {
    for (long long until = now_ms() + ms; now_ms() < until; sleep_ms(50))
        if (node_role_is(port, role)) return 1;
    return 0;
}

int cluster_cli(struct cluster *cl, const char *fmt, ...) {
    char cmdline[1024], full[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmdline, sizeof(cmdline), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s >>%s/cli.log 2>&1", cmdline, cl->dir);
    int rc = system(full);
    if (rc != 0) {
        snprintf(full, sizeof(full), "tail -20 %s/cli.log >&2", cl->dir);
        if (system(full) != 0) fprintf(stderr, "(no cli.log)\n");
    }
    return rc;
}

/* redis-cli --cluster check from a live node until it passes. A reshard that timed out on a loaded
 * machine can leave a slot open (migrating/importing), which check reports until someone closes it:
 * after 10 s, --cluster fix does, as an operator would. */
void cluster_wait_settled(struct cluster *cl) {
    char check[160];
    long long until = now_ms() + 40000, fix_at = now_ms() + 10000;
    for (;;) {
        int port = cl->base_port;
        for (int i = 0; i < cl->nnodes; i++)
            if (cl->pids[i] > 0 && ping_port(cl->base_port + i)) {
                port = cl->base_port + i;
                break;
            }
        snprintf(check, sizeof(check), "redis-cli --cluster check 127.0.0.1:%d >/dev/null 2>&1", port);
        if (system(check) == 0) return;
        ck_assert_msg(now_ms() < until, "the cluster did not settle");
        if (fix_at && now_ms() > fix_at) {
            fix_at = 0;
            if (cluster_cli(cl, "redis-cli --cluster fix 127.0.0.1:%d --cluster-yes", port) != 0)
                fprintf(stderr, "redis-cli --cluster fix failed (see cli.log)\n");
        }
        sleep_ms(200);
    }
}

void cluster_wait_joined(struct cluster *cl, int port, const char *id) {
    for (int i = 0; i < cl->nnodes; i++) { /* every node has met the new one */
        if (cl->pids[i] <= 0) continue;
        for (long long until = now_ms() + 30000;; sleep_ms(100)) {
            redisContext *d = connect_port(cl->base_port + i);
            redisReply *r = d ? redisCommand(d, "CLUSTER NODES") : NULL;
            int knows = r && r->type == REDIS_REPLY_STRING && strstr(r->str, id);
            if (r) freeReplyObject(r);
            if (d) redisFree(d);
            if (knows) break;
            ck_assert_msg(now_ms() < until, "node %d never met the new node", cl->base_port + i);
        }
    }
    for (long long until = now_ms() + 30000;; sleep_ms(100)) { /* it knows every slot's owner (MIGRATE needs that) */
        redisContext *d = connect_port(port);
        redisReply *r = d ? redisCommand(d, "CLUSTER INFO") : NULL;
        int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
        if (r) freeReplyObject(r);
        if (d) redisFree(d);
        if (ok) break;
        ck_assert_msg(now_ms() < until, "the new node never saw the cluster as ok");
    }
    cluster_wait_settled(cl);
}

long long proc_rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long kib = 0;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) kib = atoll(line + 6);
    if (f) fclose(f);
    return kib;
}

int proc_fds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = -2; /* . and .. */
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n;
}

int slotgate_log_has(const struct slotgate *sg, const char *text) {
    FILE *f = fopen(sg->log, "r");
    char line[1024];
    int found = 0;
    while (f && !found && fgets(line, sizeof(line), f)) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

pid_t oracle_start(int port, const char *dir, const char *name) {
    char p[16], rdb[128], log[256];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(rdb, sizeof(rdb), "%s.rdb", name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    char *argv[] = {"redis-server", "--port", p,       "--bind",    "127.0.0.1",    "--save", "",
                    "--appendonly", "no",     "--dir", (char *)dir, "--dbfilename", rdb,      NULL};
    pid_t pid = spawn(argv, log);
    for (int i = 0; i < 100 && !port_in_use(port); i++) sleep_ms(50);
    return pid;
}

void oracle_stop(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    untrack_pid(pid);
}
