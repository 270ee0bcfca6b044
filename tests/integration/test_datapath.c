/* The data path against a real 3-master Redis Cluster and the real slotgate binary: values written
 * and read back over all masters, pipelines in order, local commands, errors in Redis's words,
 * MOVED after a slot moved, ASK while a slot is half-migrated, the replies to one read written together,
 * redis-benchmark with no errors; a worker kept watching its ring (io-spin-us) still serving everyone. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../router/slot.h"
#include "../support/cluster.h"
#include "../support/run.h"

#define BASE    21000
#define SG_PORT 21090

static struct cluster cl;
static struct slotgate sg;

static void suite_setup(void) { fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 2 --log-level verbose"); }
static void suite_teardown(void) { fixture_down(&cl, &sg); }

static redisContext *sgc(void) {
    redisContext *c = connect_port(SG_PORT);
    ck_assert_ptr_nonnull(c);
    return c;
}

START_TEST(local_commands_and_errors_like_redis) {
    redisContext *c = sgc(), *direct = connect_port(BASE);
    expect_str(c, "PONG", "PING");
    expect_str(c, "hello", "PING hello");
    expect_str(c, "a\r\nb", "ECHO %b", "a\r\nb", (size_t)4);
    expect_str(c, "OK", "SELECT 0");
    expect_str(c, "ERR SELECT is not allowed in cluster mode", "SELECT 1");
    /* Errors a single Redis would give, with the same text. */
    const char *same[] = {"NOSUCHCMD a b", "GET", "SET k", "HSET h f"};
    for (size_t i = 0; i < 4; i++) {
        redisReply *a = cmd(c, same[i]), *b = cmd(direct, same[i]);
        ck_assert_int_eq(a->type, REDIS_REPLY_ERROR);
        ck_assert_int_eq(b->type, REDIS_REPLY_ERROR);
        ck_assert_str_eq(a->str, b->str);
        freeReplyObject(a);
        freeReplyObject(b);
    }
    expect_str(c, "CROSSSLOT Keys in request don't hash to the same slot", "RENAME a b");
    expect_str(c, "ERR slotgate refuses 'MONITOR': MONITOR would watch one node, not the cluster", "MONITOR");
    expect_str(c, "OK", "SET {t}a 1"); /* the connection is still usable */
    expect_str(c, "OK", "RENAME {t}a {t}b");
    expect_str(c, "1", "GET {t}b");
    expect_str(c, "OK", "QUIT");
    redisFree(c);
    redisFree(direct);
}
END_TEST

/* 10,000 keys of five types, written in pipelined batches and read back, then counted on the masters
 * themselves: every master holds its share and nothing is lost or duplicated. */
START_TEST(ten_thousand_keys_over_all_masters) {
    redisContext *c = sgc();
    const int N = 10000, BATCH = 500;
    for (int i = 0; i < N; i++) {
        switch (i % 5) {
        case 0: redisAppendCommand(c, "SET str:%d v%d", i, i); break;
        case 1: redisAppendCommand(c, "HSET hash:%d f %d", i, i); break;
        case 2: redisAppendCommand(c, "RPUSH list:%d a%d b%d", i, i, i); break;
        case 3: redisAppendCommand(c, "ZADD zset:%d %d m", i, i); break;
        case 4: redisAppendCommand(c, "INCRBY ctr:%d %d", i, i); break;
        }
        if (i % BATCH == BATCH - 1) {
            for (int k = 0; k < BATCH; k++) {
                redisReply *r;
                ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
                ck_assert_msg(r->type != REDIS_REPLY_ERROR, "write failed: %s", r->str);
                freeReplyObject(r);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        char want[32];
        redisReply *r;
        switch (i % 5) {
        case 0:
            snprintf(want, sizeof(want), "v%d", i);
            expect_str(c, want, "GET str:%d", i);
            break;
        case 1:
            snprintf(want, sizeof(want), "%d", i);
            expect_str(c, want, "HGET hash:%d f", i);
            break;
        case 2:
            r = cmd(c, "LRANGE list:%d 0 -1", i);
            ck_assert_int_eq(r->elements, 2);
            snprintf(want, sizeof(want), "b%d", i);
            ck_assert_str_eq(r->element[1]->str, want);
            freeReplyObject(r);
            break;
        case 3:
            snprintf(want, sizeof(want), "%d", i);
            expect_str(c, want, "ZSCORE zset:%d m", i);
            break;
        case 4:
            r = cmd(c, "GET ctr:%d", i);
            ck_assert_int_eq(atoi(r->str), i);
            freeReplyObject(r);
            break;
        }
    }
    long long total = 0;
    for (int m = 0; m < 3; m++) {
        redisContext *d = connect_port(BASE + m);
        redisReply *r = cmd(d, "DBSIZE");
        ck_assert_msg(r->integer > 2500, "master %d holds only %lld keys", BASE + m, r->integer);
        total += r->integer;
        freeReplyObject(r);
        redisFree(d);
    }
    ck_assert_int_ge(total, N); /* other tests may have added a few */
    redisFree(c);
}
END_TEST

/* 1,000 mixed commands in one pipeline, over every master plus local answers and errors: the replies
 * come back in exactly the order the commands were sent. */
START_TEST(pipeline_of_1000_mixed_commands_in_order) {
    redisContext *c = sgc();
    for (int i = 0; i < 1000; i++) {
        switch (i % 8) {
        case 0: redisAppendCommand(c, "SET pipe:%d %d", i, i); break;
        case 1: redisAppendCommand(c, "GET pipe:%d", i - 1); break;
        case 2: redisAppendCommand(c, "INCR pipectr:%d", i); break;
        case 3: redisAppendCommand(c, "PING"); break;
        case 4: redisAppendCommand(c, "LPUSH pipelist:%d x", i); break;
        case 5: redisAppendCommand(c, "ECHO e%d", i); break;
        case 6: redisAppendCommand(c, "RENAME pipe:%d pipe:%d", i, i + 1); break; /* CROSSSLOT (different slots) */
        case 7: redisAppendCommand(c, "EXISTS pipe:%d", i - 7); break;
        }
    }
    for (int i = 0; i < 1000; i++) {
        redisReply *r;
        char want[32];
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        switch (i % 8) {
        case 0: ck_assert_str_eq(r->str, "OK"); break;
        case 1:
            snprintf(want, sizeof(want), "%d", i - 1);
            ck_assert_str_eq(r->str, want);
            break;
        case 2: ck_assert_int_eq(r->integer, 1); break;
        case 3: ck_assert_str_eq(r->str, "PONG"); break;
        case 4: ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER); break;
        case 5:
            snprintf(want, sizeof(want), "e%d", i);
            ck_assert_str_eq(r->str, want);
            break;
        case 6: {
            char a[32], b[32];
            snprintf(a, sizeof(a), "pipe:%d", i);
            snprintf(b, sizeof(b), "pipe:%d", i + 1);
            if (slot_for_key(a, strlen(a)) != slot_for_key(b, strlen(b))) {
                ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
                ck_assert_str_eq(r->str, "CROSSSLOT Keys in request don't hash to the same slot");
            } else {
                ck_assert_int_eq(r->type, REDIS_REPLY_ERROR); /* pipe:i does not exist: no such key */
                ck_assert_str_eq(r->str, "ERR no such key");
            }
            break;
        }
        case 7: ck_assert_int_eq(r->integer, 1); break;
        }
        freeReplyObject(r);
    }
    redisFree(c);
}
END_TEST

static int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SG_PORT)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads until `want` bytes arrived or the peer closed; returns bytes read. */
static size_t read_all(int fd, char *buf, size_t want) {
    size_t n = 0;
    while (n < want) {
        ssize_t r = read(fd, buf + n, want - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

START_TEST(inline_commands_and_byte_by_byte_frames) {
    int fd = raw_connect();
    const char *in = "PING\r\nSET inl \"a b\"\r\nGET inl\r\n\r\nget inl\n";
    ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
    const char *want = "+PONG\r\n+OK\r\n$3\r\na b\r\n$3\r\na b\r\n";
    char buf[256];
    ck_assert_uint_eq(read_all(fd, buf, strlen(want)), strlen(want));
    ck_assert_str_eq(buf, want);
    /* A multibulk frame sent one byte per write still parses. */
    const char *frame = "*3\r\n$3\r\nSET\r\n$4\r\nbyte\r\n$5\r\nslow!\r\n*2\r\n$3\r\nGET\r\n$4\r\nbyte\r\n";
    for (size_t i = 0; i < strlen(frame); i++) ck_assert_int_eq(write(fd, frame + i, 1), 1);
    want = "+OK\r\n$5\r\nslow!\r\n";
    ck_assert_uint_eq(read_all(fd, buf, strlen(want)), strlen(want));
    ck_assert_str_eq(buf, want);
    close(fd);
}
END_TEST

START_TEST(protocol_error_is_written_then_connection_closed) {
    int fd = raw_connect();
    const char *in = "GET nokey\r\n*1\r\n$x\r\nPING\r\n";
    ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
    char buf[256];
    read_all(fd, buf, sizeof(buf) - 1); /* until slotgate closes the connection */
    ck_assert_str_eq(buf, "$-1\r\n-ERR Protocol error: invalid bulk length\r\n");
    close(fd);
    redisContext *c = sgc(); /* others are unaffected */
    expect_str(c, "PONG", "PING");
    redisFree(c);
}
END_TEST

/* Moves `slot` (and its keys) from its master to `to_port`, the way redis-cli --cluster reshard does.
 * With finish 0 it stops half way: the slot is MIGRATING/IMPORTING and only `nmove` keys moved. */
static void migrate_slot(int slot, int to_port, int nmove, int finish) {
    int from_port = cluster_master_for_slot(&cl, slot);
    char from_id[41], to_id[41];
    node_id(from_port, from_id);
    node_id(to_port, to_id);
    redisContext *from = connect_port(from_port), *to = connect_port(to_port);
    freeReplyObject(cmd(to, "CLUSTER SETSLOT %d IMPORTING %s", slot, from_id));
    freeReplyObject(cmd(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, to_id));
    redisReply *keys = cmd(from, "CLUSTER GETKEYSINSLOT %d 1000", slot);
    size_t n = finish ? keys->elements : (size_t)nmove;
    for (size_t i = 0; i < n && i < keys->elements; i++) {
        redisReply *r = cmd(from, "MIGRATE 127.0.0.1 %d %s 0 5000", to_port, keys->element[i]->str);
        ck_assert_msg(r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r->str);
        freeReplyObject(r);
    }
    freeReplyObject(keys);
    if (finish) {
        for (int m = 0; m < 3; m++) {
            redisContext *x = connect_port(BASE + m);
            freeReplyObject(cmd(x, "CLUSTER SETSLOT %d NODE %s", slot, to_id));
            redisFree(x);
        }
    }
    redisFree(from);
    redisFree(to);
}

static int other_master(int port) { return port == BASE ? BASE + 1 : BASE; }

/* A slotgate that learns of a moved slot only from the MOVED or ASK it gets: no periodic refresh and
 * probes too rare to notice, so the redirection tests know the path they name is the one that ran. */
static void start_blind(struct slotgate *blind) {
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(blind, SG_PORT + 5, "--threads 1 --refresh-interval-ms 3600000 --probe-interval-ms 60000", seed, 1);
}

START_TEST(moved_after_a_slot_moves) {
    struct slotgate blind;
    start_blind(&blind);
    redisContext *c = connect_port(SG_PORT + 5);
    const char *key = "moved:key";
    int slot = (int)slot_for_key(key, strlen(key));
    expect_str(c, "OK", "SET %s before", key);
    int from = cluster_master_for_slot(&cl, slot), to = other_master(from);
    long long moved = info_int(c, "stats", "moved_redirections");
    migrate_slot(slot, to, 0, 1);
    /* slotgate still thinks `from` owns the slot: the MOVED it gets is followed, not shown. */
    expect_str(c, "before", "GET %s", key);
    ck_assert_int_eq(info_int(c, "stats", "moved_redirections"), moved + 1); /* that path, and once */
    expect_str(c, "OK", "SET %s after", key);
    redisContext *d = connect_port(to);
    expect_str(d, "after", "GET %s", key); /* the write went to the new owner */
    redisFree(d);
    for (int i = 0; i < 100; i++) expect_str(c, "after", "GET %s", key);
    ck_assert_int_eq(info_int(c, "stats", "moved_redirections"), moved + 1); /* the slot table was patched */
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&blind), 0);
}
END_TEST

START_TEST(ask_while_a_slot_is_half_migrated) {
    struct slotgate blind;
    start_blind(&blind);
    redisContext *c = connect_port(SG_PORT + 5);
    char key[10][32];
    for (int i = 0; i < 10; i++) {
        snprintf(key[i], sizeof(key[i]), "{asktag}k%d", i);
        expect_str(c, "OK", "SET %s v%d", key[i], i);
    }
    int slot = (int)slot_for_key("asktag", 6);
    int from = cluster_master_for_slot(&cl, slot), to = other_master(from);
    long long ask = info_int(c, "stats", "ask_redirections"), moved = info_int(c, "stats", "moved_redirections");
    migrate_slot(slot, to, 5, 0); /* 5 keys moved, 5 still on the source */
    for (int i = 0; i < 10; i++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        expect_str(c, want, "GET %s", key[i]); /* half of them answered through ASK */
    }
    ck_assert_int_eq(info_int(c, "stats", "ask_redirections"), ask + 5);
    ck_assert_int_eq(info_int(c, "stats", "moved_redirections"), moved); /* ASK leaves the map alone */
    /* A new key in a migrating slot is created on the target (the source answers ASK). */
    expect_str(c, "OK", "SET {asktag}new fresh");
    expect_str(c, "fresh", "GET {asktag}new");
    redisContext *d = connect_port(to);
    freeReplyObject(cmd(d, "ASKING"));
    expect_str(d, "fresh", "GET {asktag}new");
    redisFree(d);
    ck_assert_int_eq(info_int(c, "stats", "ask_redirections"), ask + 7); /* and the new key's SET and GET */
    migrate_slot(slot, to, 0, 1); /* finish: the rest moves, the slot changes owner */
    for (int i = 0; i < 10; i++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        expect_str(c, want, "GET %s", key[i]);
    }
    ck_assert_int_eq(info_int(c, "stats", "moved_redirections"), moved + 1); /* one MOVED, then the patched table */
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&blind), 0);
}
END_TEST

/* A key held by a master other than those in `not`, written to buf; returns that master's port. */
static int key_on_other_master(char *buf, size_t len, const char *prefix, const int * not, int nnot) {
    for (int i = 0;; i++) {
        snprintf(buf, len, "%s%d", prefix, i);
        int port = cluster_master_for_key(&cl, buf), taken = 0;
        for (int j = 0; j < nnot; j++) taken |= not [j] == port;
        if (!taken) return port;
    }
}

/* Like Redis, slotgate writes the replies to what one read brought once all of them are ready, in one
 * write, even when they come from three nodes and one of them is busy for a while; but a blocking
 * command does not hold back the replies ahead of it. What the client sees: its first read returns
 * every reply, or exactly the replies ahead of the blocking command. */
START_TEST(replies_to_one_read_leave_together) {
    char k[3][32];
    int port[3];
    for (int i = 0; i < 3; i++) port[i] = key_on_other_master(k[i], sizeof(k[i]), "together:", port, i);
    redisContext *c = sgc();
    for (int i = 0; i < 3; i++) expect_str(c, "OK", "SET %s v%d", k[i], i);
    redisFree(c);
    /* k[0]'s node spends tens of milliseconds in a script while the other two answer at once */
    const char *busy = "local i = 0 while i < 2000000 do i = i + 1 end return 1";
    char in[1024], buf[1024];
    snprintf(in, sizeof(in),
             "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n"
             "*4\r\n$4\r\nEVAL\r\n$%zu\r\n%s\r\n$1\r\n1\r\n$%zu\r\n%s\r\n*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
             strlen(k[1]), k[1], strlen(k[2]), k[2], strlen(busy), busy, strlen(k[0]), k[0], strlen(k[0]), k[0]);
    const char *want = "$2\r\nv1\r\n$2\r\nv2\r\n:1\r\n$2\r\nv0\r\n";
    for (int round = 0; round < 5; round++) {
        int fd = raw_connect();
        ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
        ssize_t n = read(fd, buf, sizeof(buf) - 1); /* one read: whatever the first write carried */
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, want);
        close(fd);
    }
    /* GET then BLPOP on an empty list: the GET's reply comes while the BLPOP still waits (1 s) */
    snprintf(in, sizeof(in),
             "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n*3\r\n$5\r\nBLPOP\r\n$14\r\ntogether:empty\r\n$1\r\n1\r\n", strlen(k[1]),
             k[1]);
    int fd = raw_connect();
    ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "$2\r\nv1\r\n");
    ck_assert_uint_eq(read_all(fd, buf, 5), 5);
    ck_assert_str_eq(buf, "*-1\r\n");
    close(fd);
}
END_TEST

/* io-spin-us: a client in a tight loop of requests keeps its worker watching the ring (a watch mostly
 * finds the client's next request or its reply, and the worker seldom sleeps); meanwhile new clients are
 * accepted and answered, a BLPOP's timeout fires, every value read back is the one written, and INFO
 * counts the watches that found work (none on epoll, which ignores the setting). */
static int spin_stop; /* both shared with the loop's thread through __atomic */
static void *spin_loop(void *arg) {
    long *done = arg;
    redisContext *c = connect_port(SG_PORT + 6);
    for (long i = 0; i < 200000 && !__atomic_load_n(&spin_stop, __ATOMIC_RELAXED); i++) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "spin:%p:%ld", (void *)done, i % 100);
        snprintf(v, sizeof(v), "v%ld", i);
        redisReply *r = redisCommand(c, "SET %s %s", k, v);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        r = ok ? redisCommand(c, "GET %s", k) : NULL;
        ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, v) == 0;
        freeReplyObject(r);
        if (!ok) {
            __atomic_store_n(done, -1 - i, __ATOMIC_RELAXED);
            break;
        }
        __atomic_store_n(done, i + 1, __ATOMIC_RELAXED);
    }
    redisFree(c);
    return NULL;
}

static int log_says(const char *path, const char *text) {
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

START_TEST(a_spinning_worker_still_serves_everyone) {
    struct slotgate sp;
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(&sp, SG_PORT + 6, "--threads 1 --io-spin-us 1000", seed, 1);
    int on_ring = log_says(sp.log, ": io_uring,");
    long done = 0;
    __atomic_store_n(&spin_stop, 0, __ATOMIC_RELAXED);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, spin_loop, &done), 0);
    long long deadline = now_ms() + 20000; /* bounds the waits below: a stalled loop fails the checks after */
    while (__atomic_load_n(&done, __ATOMIC_RELAXED) >= 0 && __atomic_load_n(&done, __ATOMIC_RELAXED) < 1000 &&
           now_ms() < deadline)
        usleep(1000);
    for (int i = 0; i < 20; i++) { /* each a new connection, while the loop goes on */
        redisContext *c = connect_port(SG_PORT + 6);
        expect_str(c, "OK", "SET spin:other%d w%d", i, i);
        char want[16];
        snprintf(want, sizeof(want), "w%d", i);
        expect_str(c, want, "GET spin:other%d", i);
        if (i % 5 == 0) {
            redisReply *r = cmd(c, "BLPOP spin:empty 0.1");
            ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
            freeReplyObject(r);
        }
        redisFree(c);
    }
    long before = __atomic_load_n(&done, __ATOMIC_RELAXED); /* and it still goes on after them */
    while (__atomic_load_n(&done, __ATOMIC_RELAXED) >= 0 && __atomic_load_n(&done, __ATOMIC_RELAXED) < before + 1000 &&
           now_ms() < deadline)
        usleep(1000);
    __atomic_store_n(&spin_stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    ck_assert_int_ge(done, before + 1000); /* negative: the request that read back a wrong value */
    redisContext *c = connect_port(SG_PORT + 6);
    if (on_ring)
        ck_assert_int_gt(info_int(c, "stats", "io_spin_hits"), 1000);
    else
        ck_assert_int_eq(info_int(c, "stats", "io_spin_hits") + info_int(c, "stats", "io_spin_misses"), 0);
    redisFree(c);
    ck_assert_int_eq(slotgate_stop(&sp), 0);
}
END_TEST

START_TEST(redis_benchmark_runs_with_no_errors) {
    char cmdline[512], line[512];
    snprintf(cmdline, sizeof(cmdline),
             "redis-benchmark -p %d -t set,get,incr,lpush,hset -P 16 -c 50 -n 200000 -r 100000 --csv 2>&1", SG_PORT);
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    int rows = 0, errors = 0;
    while (fgets(line, sizeof(line), p)) {
        if (strstr(line, "rror") || strstr(line, "ERR")) errors++, fputs(line, stderr);
        if (line[0] == '"' && strncmp(line, "\"test\"", 6) != 0) rows++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(rows, 5);
}
END_TEST

SUITE_MAIN(.name = "datapath", .setup = suite_setup, .teardown = suite_teardown, .timeout = 300,
           .tests = {TEST(local_commands_and_errors_like_redis), TEST(ten_thousand_keys_over_all_masters),
                     TEST(pipeline_of_1000_mixed_commands_in_order), TEST(inline_commands_and_byte_by_byte_frames),
                     TEST(protocol_error_is_written_then_connection_closed), TEST(moved_after_a_slot_moves),
                     TEST(ask_while_a_slot_is_half_migrated), TEST(replies_to_one_read_leave_together),
                     TEST(a_spinning_worker_still_serves_everyone), TEST(redis_benchmark_runs_with_no_errors)})
