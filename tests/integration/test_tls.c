/* TLS on both sides: a real Redis Cluster with tls-port, tls-cluster yes and tls-replication yes (its
 * plaintext ports stay open only for the tests' own checks), slotgate with tls-cluster yes in front of
 * it, serving TLS clients on tls-port (client certificates required) and HTTPS on its admin endpoint.
 * Certificates are made by the openssl command at the start. Clients: redis-cli --tls, a TLS client of
 * this test (OpenSSL + hiredis's reader), and node-redis over TLS. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../support/cluster.h"
#include "../support/run.h"
#include "../support/tlsclient.h"

#define BASE       22614 /* plaintext 22614-22619 */
#define TLS_OFFSET 10    /* the nodes' TLS ports: 22624-22629 (bus: 32624-32629) */
#define SG_PORT    22630
#define SG_TLS     22631
#define SG2_PORT   22632 /* a second slotgate: tls-auth-clients optional */
#define SG2_TLS    22633

static struct cluster cl;
static struct slotgate sg;
static char dir[128], ca[200], ccert[200], ckey[200];

static void suite_setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/slotgate-tls-%d", (int)getpid());
    tls_make_certs(dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(ccert, sizeof(ccert), "%s/client.crt", dir);
    snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
    cluster_use_tls(dir, TLS_OFFSET);
    cluster_start(&cl, BASE, 3, 1);
    char args[1400], seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE + TLS_OFFSET);
    snprintf(args, sizeof(args),
             "--threads 2 --tls-port %d --tls-cert-file %s/server.crt --tls-key-file %s/server.key "
             "--tls-ca-cert-file %s --tls-cluster yes --tls-client-cert-file %s/client.crt "
             "--tls-client-key-file %s/client.key --tls-handshake-timeout-ms 1000 --probe-interval-ms 200 "
             "--admin-tls-cert-file %s/server.crt --admin-tls-key-file %s/server.key",
             SG_TLS, dir, dir, ca, dir, dir, dir, dir);
    setenv("SLOTGATE_CLIENT_OUTPUT_BUFFER_LIMIT", "normal 32mb 0 0", 1);
    slotgate_start(&sg, SG_PORT, args, seed, 1);
    unsetenv("SLOTGATE_CLIENT_OUTPUT_BUFFER_LIMIT");
}

static void suite_teardown(void) {
    int rc = slotgate_stop(&sg);
    cluster_stop(&cl);
    cluster_use_tls(NULL, 0);
    char line[200];
    snprintf(line, sizeof(line), "rm -rf %s", dir);
    if (system(line) != 0) fprintf(stderr, "could not remove %s\n", dir);
    ck_assert_msg(rc == 0, "slotgate did not exit cleanly (see its log)");
}

static struct tconn *open_ok(int port) {
    char err[256];
    struct tconn *t = tconn_open(port, ca, ccert, ckey, err, sizeof(err));
    ck_assert_msg(t != NULL, "TLS connection to %d: %s", port, err);
    return t;
}

static void texpect(struct tconn *t, const char *want, const char *fmt, const char *a, const char *b) {
    redisReply *r = tcmd(t, fmt, a, b);
    ck_assert_msg(r != NULL, "no reply: %s", t->err);
    ck_assert_msg((r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) && strcmp(r->str, want) == 0,
                  "%s: want %s, got type %d %s", fmt, want, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

/* Runs a shell command line and returns its stdout (trailing newline cut). */
static void run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void run(char *out, size_t len, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    FILE *p = popen(line, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    pclose(p);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = '\0';
}

#define CLI "redis-cli --tls --cacert %s --cert %s --key %s -p %d"

/* redis-cli --tls, a pipeline, a multi-key command across masters, and the TLS ports followed. */
START_TEST(tls_redis_cli_and_pipeline) {
    char out[4096];
    run(out, sizeof(out), CLI " SET tls:cli hello", ca, ccert, ckey, SG_TLS);
    ck_assert_str_eq(out, "OK");
    run(out, sizeof(out), CLI " GET tls:cli", ca, ccert, ckey, SG_TLS);
    ck_assert_str_eq(out, "hello");
    struct tconn *t = open_ok(SG_TLS);
    for (int i = 0; i < 2000; i++) ck_assert_int_eq(tsend(t, "SET tls:p:%d v%d", i, i), 0);
    for (int i = 0; i < 2000; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        ck_assert_int_eq(tsend(t, "GET tls:p:%s", want), 0);
    }
    for (int i = 0; i < 2000; i++) {
        redisReply *r = tread(t);
        ck_assert_msg(r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK"), "SET %d", i);
        freeReplyObject(r);
    }
    for (int i = 0; i < 2000; i++) { /* in order */
        redisReply *r = tread(t);
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        ck_assert_msg(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want), "GET %d: %s", i, r ? r->str : "-");
        freeReplyObject(r);
    }
    redisReply *r = tcmd(t, "MGET tls:p:1 tls:p:2 tls:p:3 tls:p:4 tls:cli");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq(r->element[0]->str, "v1");
    ck_assert_str_eq(r->element[3]->str, "v4");
    ck_assert_str_eq(r->element[4]->str, "hello");
    freeReplyObject(r);
    /* the same data through the plaintext port: one cluster behind both */
    redisContext *c = connect_port(SG_PORT);
    expect_str(c, "v1999", "GET tls:p:1999");
    /* CLUSTER SLOTS to a TLS client names slotgate's TLS port */
    r = tcmd(t, "CLUSTER SLOTS");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->element[0]->element[2]->element[1]->integer, SG_TLS);
    freeReplyObject(r);
    tconn_close(t);
    redisFree(c);
    /* slotgate talks to the nodes' TLS ports, learnt from CLUSTER SLOTS asked over TLS (the plaintext ports
     * are base..base+5) */
    run(out, sizeof(out), "curl -s --max-time 10 --cacert %s https://127.0.0.1:%d/nodes", ca, sg.admin_port);
    for (int i = 0; i < 6; i++) {
        char want[64], plain[64];
        snprintf(want, sizeof(want), "\"addr\": \"127.0.0.1:%d\"", BASE + TLS_OFFSET + i);
        snprintf(plain, sizeof(plain), "\"addr\": \"127.0.0.1:%d\"", BASE + i);
        ck_assert_msg(strstr(out, want) && !strstr(out, plain), "/nodes: %s missing (or plaintext ports): %.2000s",
                      want, out);
    }
}
END_TEST

/* Large values streamed both ways over TLS. */
START_TEST(tls_large_values) {
    size_t len = 8 * 1024 * 1024 + 17;
    char *v = malloc(len);
    for (size_t i = 0; i < len; i++) v[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    struct tconn *t = open_ok(SG_TLS);
    redisReply *r = tcmd(t, "SET tls:big %b", v, len);
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "SET big: %s", r ? r->str : t->err);
    freeReplyObject(r);
    for (int k = 0; k < 2; k++) {
        r = tcmd(t, "GET tls:big");
        ck_assert_msg(r && r->type == REDIS_REPLY_STRING && r->len == len && !memcmp(r->str, v, len), "GET big");
        freeReplyObject(r);
    }
    redisContext *c = connect_port(SG_PORT); /* the node has it whole */
    r = cmd(c, "STRLEN tls:big");
    ck_assert_int_eq(r->integer, (long long)len);
    freeReplyObject(r);
    redisFree(c);
    tconn_close(t);
    free(v);
}
END_TEST

/* Pub/sub, a blocking command and a transaction, each on a TLS client. */
START_TEST(tls_pubsub) {
    struct tconn *a = open_ok(SG_TLS), *b = open_ok(SG_TLS);
    redisReply *r = tcmd(a, "SUBSCRIBE tls:chan");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    r = tcmd(b, "PUBLISH tls:chan hello");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = tread(a);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq(r->element[0]->str, "message");
    ck_assert_str_eq(r->element[2]->str, "hello");
    freeReplyObject(r);
    tconn_close(a);
    tconn_close(b);
}
END_TEST

static void blocking_and_txn(void) {
    struct tconn *a = open_ok(SG_TLS), *b = open_ok(SG_TLS);
    redisReply *r = tcmd(b, "DEL tls:list");
    freeReplyObject(r);
    ck_assert_int_eq(tsend(a, "BLPOP tls:list 10"), 0);
    sleep_ms(200);
    r = tcmd(b, "LPUSH tls:list x");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = tread(a);
    ck_assert_msg(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "BLPOP reply");
    ck_assert_str_eq(r->element[1]->str, "x");
    freeReplyObject(r);
    texpect(a, "OK", "MULTI", NULL, NULL);
    texpect(a, "QUEUED", "SET {tls}:t 1", NULL, NULL);
    texpect(a, "QUEUED", "INCR {tls}:t", NULL, NULL);
    r = tcmd(a, "EXEC");
    ck_assert_msg(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->integer == 2, "EXEC");
    freeReplyObject(r);
    tconn_close(a);
    tconn_close(b);
}

START_TEST(tls_blocking_and_transaction) { blocking_and_txn(); }
END_TEST

/* Reads raw bytes from t until they contain want (or ms pass); 1 when they did. */
static int raw_until(struct tconn *t, const char *want, char *got, size_t len, int ms) {
    size_t n = 0;
    got[0] = '\0';
    for (long long until = now_ms() + ms; now_ms() < until && n < len - 1;) {
        int k = tread_raw(t, got + n, len - 1 - n, 100);
        if (k > 0) n += (size_t)k, got[n] = '\0';
        if (memmem(got, n, want, strlen(want))) return 1;
    }
    return 0;
}

/* Client-side caching over TLS: HELLO 3, CLIENT TRACKING on, a read, a write from another client: the
 * invalidation push arrives. (hiredis 0.14 cannot parse RESP3: the bytes are checked.) */
START_TEST(tls_client_side_caching) {
    struct tconn *t = open_ok(SG_TLS), *w = open_ok(SG_TLS);
    redisReply *r = tcmd(w, "SET tls:cached v1");
    freeReplyObject(r);
    char got[4096];
    static const char hello[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
    static const char track[] = "*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n";
    static const char get[] = "*2\r\n$3\r\nGET\r\n$10\r\ntls:cached\r\n";
    ck_assert_int_eq(twrite_raw(t, hello, sizeof(hello) - 1), 0);
    ck_assert_msg(raw_until(t, "proto\r\n:3", got, sizeof(got), 3000), "HELLO 3: %s", got);
    ck_assert_int_eq(twrite_raw(t, track, sizeof(track) - 1), 0);
    ck_assert_msg(raw_until(t, "+OK\r\n", got, sizeof(got), 3000), "TRACKING: %s", got);
    ck_assert_int_eq(twrite_raw(t, get, sizeof(get) - 1), 0);
    ck_assert_msg(raw_until(t, "$2\r\nv1\r\n", got, sizeof(got), 3000), "GET: %s", got);
    r = tcmd(w, "SET tls:cached v2");
    freeReplyObject(r);
    ck_assert_msg(raw_until(t, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$10\r\ntls:cached\r\n", got, sizeof(got), 3000),
                  "no invalidation: %s", got);
    tconn_close(t);
    tconn_close(w);
}
END_TEST

/* tls-auth-clients yes: no certificate, or one of another CA, is refused; optional: none is fine. */
START_TEST(tls_client_certificates) {
    char err[256], rogue_cert[200], rogue_key[200];
    snprintf(rogue_cert, sizeof(rogue_cert), "%s/rogue.crt", dir);
    snprintf(rogue_key, sizeof(rogue_key), "%s/rogue.key", dir);
    struct tconn *t = tconn_open(SG_TLS, ca, NULL, NULL, err, sizeof(err));
    ck_assert_msg(t == NULL, "a client with no certificate was served");
    t = tconn_open(SG_TLS, ca, rogue_cert, rogue_key, err, sizeof(err));
    ck_assert_msg(t == NULL, "a client with another CA's certificate was served");
    char out[512];
    run(out, sizeof(out), "redis-cli --tls --cacert %s -p %d PING 2>&1", ca, SG_TLS);
    ck_assert_msg(strstr(out, "PONG") == NULL, "redis-cli with no certificate: %s", out);
    t = open_ok(SG_TLS);
    texpect(t, "OK", "SET tls:cli hello", NULL, NULL);
    tconn_close(t);

    struct slotgate sg2;
    char args[1200], seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE + TLS_OFFSET);
    snprintf(args, sizeof(args),
             "--threads 1 --tls-port %d --tls-cert-file %s/server.crt --tls-key-file %s/server.key "
             "--tls-ca-cert-file %s --tls-cluster yes --tls-auth-clients optional",
             SG2_TLS, dir, dir, ca);
    slotgate_start(&sg2, SG2_PORT, args, seed, 1);
    t = tconn_open(SG2_TLS, ca, NULL, NULL, err, sizeof(err));
    ck_assert_msg(t != NULL, "optional: no certificate is fine: %s", err);
    texpect(t, "hello", "GET tls:cli", NULL, NULL);
    tconn_close(t);
    t = tconn_open(SG2_TLS, ca, rogue_cert, rogue_key, err, sizeof(err));
    ck_assert_msg(t == NULL, "optional: a certificate of another CA is still refused");
    ck_assert_int_eq(slotgate_stop(&sg2), 0);
}
END_TEST

/* A client that connects and stalls in its handshake is closed after tls-handshake-timeout-ms (1000);
 * others are served meanwhile. */
START_TEST(tls_stalled_handshake) {
    int fds[2];
    for (int k = 0; k < 2; k++) {
        fds[k] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SG_TLS)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        ck_assert_int_eq(connect(fds[k], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    /* one sends nothing, the other the start of a ClientHello record and no more */
    ck_assert_int_eq(send(fds[1], "\x16\x03\x01\x02\x00\x01", 6, 0), 6);
    struct tconn *t = open_ok(SG_TLS);
    texpect(t, "OK", "SET tls:cli hello", NULL, NULL);
    texpect(t, "hello", "GET tls:cli", NULL, NULL);
    long long start = now_ms();
    for (int k = 0; k < 2; k++) {
        struct pollfd p = {.fd = fds[k], .events = POLLIN};
        ck_assert_msg(poll(&p, 1, 8000) == 1, "stalled handshake %d still open after 8 s", k);
        char b[64];
        ck_assert_int_le(recv(fds[k], b, sizeof(b), 0), 0); /* closed (or reset), nothing said */
        close(fds[k]);
    }
    fprintf(stderr, "stalled handshakes closed after %lld ms\n", now_ms() - start);
    texpect(t, "hello", "GET tls:cli", NULL, NULL);
    tconn_close(t);
    redisContext *c = connect_port(SG_PORT);
    ck_assert_int_ge(info_int(c, "stats", "tls_handshake_timeouts"), 2);
    redisFree(c);
}
END_TEST

/* ---- load over TLS, for rotation, failover and reshard ---- */

struct load {
    pthread_t th;
    int stop, reconnect_every;
    long ops, writes, errors;
    char last_error[256];
};

static void *load_main(void *arg) {
    struct load *l = arg;
    struct tconn *t = NULL;
    long long until = now_ms() + 120000; /* bounded, whatever the test does */
    for (long i = 0; !__atomic_load_n(&l->stop, __ATOMIC_RELAXED) && i < 2000000 && now_ms() < until; i++) {
        if (!t || (l->reconnect_every && i % l->reconnect_every == 0)) {
            tconn_close(t);
            char err[200];
            t = tconn_open(SG_TLS, ca, ccert, ckey, err, sizeof(err));
            if (!t) {
                l->errors++;
                snprintf(l->last_error, sizeof(l->last_error), "connect: %s", err);
                sleep_ms(10);
                continue;
            }
        }
        redisReply *r = tcmd(t, "SET tls:load:%ld %ld", i % 5000, i);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (ok) {
            freeReplyObject(r);
            r = tcmd(t, "GET tls:load:%ld", i % 5000);
            char want[32];
            snprintf(want, sizeof(want), "%ld", i);
            ok = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want);
        }
        l->ops += 2;
        if (!ok) {
            l->errors++;
            snprintf(l->last_error, sizeof(l->last_error), "%s", r && r->str ? r->str : t->err);
            if (!r) tconn_close(t), t = NULL;
        } else {
            l->writes++;
        }
        if (r) freeReplyObject(r);
    }
    tconn_close(t);
    return NULL;
}

static void load_start(struct load *l, int reconnect_every) {
    memset(l, 0, sizeof(*l));
    l->reconnect_every = reconnect_every;
    pthread_create(&l->th, NULL, load_main, l);
}

static void load_stop(struct load *l, const char *what) {
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
    pthread_join(l->th, NULL);
    fprintf(stderr, "%s: %ld ops, %ld acknowledged writes, %ld client-visible errors%s%s\n", what, l->ops, l->writes,
            l->errors, l->errors ? "; last: " : "", l->last_error);
    ck_assert_msg(l->ops > 100, "%s: the load did not run", what);
    ck_assert_msg(l->errors == 0, "%s: %ld errors, last: %s", what, l->errors, l->last_error);
}

static void peer_cn(char *out, size_t len) {
    struct tconn *t = open_ok(SG_TLS);
    tconn_peer_cn(t, out, len);
    tconn_close(t);
}

/* Certificates renewed on disk under load (new connections every 20 requests): taken within seconds,
 * no client error; then by SIGHUP; a bad file is refused and the running certificate stays. */
START_TEST(tls_certificate_rotation_under_load) {
    struct load l;
    load_start(&l, 20);
    sleep_ms(500);
    char cn[128], line[600];
    tls_sign(dir, "server", "rotated-on-disk");
    WAIT_UNTIL(5000, (peer_cn(cn, sizeof(cn)), !strcmp(cn, "rotated-on-disk")), "not taken from disk: %s", cn);
    ck_assert_msg(slotgate_log_has(&sg, "TLS certificates changed on disk: reloaded"), "no reload logged");
    /* SIGHUP reads them again too */
    tls_sign(dir, "server", "rotated-by-sighup");
    kill(sg.pid, SIGHUP);
    WAIT_UNTIL(3000, (peer_cn(cn, sizeof(cn)), !strcmp(cn, "rotated-by-sighup")), "not taken on SIGHUP: %s", cn);
    /* a broken certificate: logged, the running one stays */
    snprintf(line, sizeof(line), "cp %s/server.crt %s/server.good && echo broken > %s/server.crt", dir, dir, dir);
    ck_assert_int_eq(system(line), 0);
    WAIT_UNTIL(5000, slotgate_log_has(&sg, "were not reloaded, the running ones stay"), "the broken file not logged");
    peer_cn(cn, sizeof(cn));
    ck_assert_str_eq(cn, "rotated-by-sighup");
    snprintf(line, sizeof(line), "mv %s/server.good %s/server.crt", dir, dir);
    ck_assert_int_eq(system(line), 0);
    sleep_ms(1500);
    load_stop(&l, "certificate rotation (on disk, SIGHUP, a broken file) under TLS load");
}
END_TEST

static int master_port_of(const char *key) { return cluster_master_for_key(&cl, key); }

/* A graceful failover and a reshard of the TLS cluster under TLS load: no client-visible error. */
START_TEST(tls_failover_and_reshard_under_load) {
    struct load l;
    load_start(&l, 0);
    sleep_ms(500);
    int master = master_port_of("tls:load:1");
    int replica = cluster_replica_of(&cl, master + TLS_OFFSET); /* replicas follow the TLS port */
    ck_assert_int_gt(replica, 0);
    redisContext *d = connect_port(replica);
    expect_str(d, "OK", "CLUSTER FAILOVER");
    redisFree(d);
    ck_assert_msg(wait_role(replica, "master", 15000), "the replica was not promoted");
    sleep_ms(1500);
    load_stop(&l, "graceful CLUSTER FAILOVER under TLS load");

    load_start(&l, 0);
    sleep_ms(300);
    char from[41], to[41];
    node_id(master_port_of("tls:load:1"), from);
    node_id(master_port_of("tls:load:2") != master_port_of("tls:load:1") ? master_port_of("tls:load:2")
                                                                         : master_port_of("tls:load:3"),
            to);
    if (!strcmp(from, to)) node_id(BASE + 1 == master_port_of("tls:load:1") ? BASE + 2 : BASE + 1, to);
    cluster_wait_settled(&cl);
    ck_assert_int_eq(cluster_cli(&cl,
                                 "redis-cli --tls --cacert %s --cert %s --key %s --cluster reshard 127.0.0.1:%d "
                                 "--cluster-from %s --cluster-to %s --cluster-slots 300 --cluster-yes",
                                 ca, ccert, ckey, master_port_of("tls:load:1") + TLS_OFFSET, from, to),
                     0);
    sleep_ms(1000);
    load_stop(&l, "reshard of 300 slots under TLS load");
}
END_TEST

/* client-output-buffer-limit over TLS: a client that asks for 80 MiB and reads nothing is closed past
 * its 32 MiB hard limit; another is not disturbed. */
START_TEST(tls_output_limit) {
    struct tconn *t = open_ok(SG_TLS), *other = open_ok(SG_TLS);
    texpect(other, "OK", "SET tls:cli hello", NULL, NULL);
    redisReply *r;
    size_t len = 8 * 1024 * 1024;
    char *v = calloc(1, len);
    memset(v, 'q', len);
    r = tcmd(t, "SET tls:big8 %b", v, len);
    freeReplyObject(r);
    free(v);
    for (int i = 0; i < 10; i++) tsend(t, "GET tls:big8");
    WAIT_UNTIL(10000, slotgate_log_has(&sg, "over its hard limit"), "the client was not closed at its limit");
    texpect(other, "hello", "GET tls:cli", NULL, NULL);
    tconn_close(t);
    tconn_close(other);
}
END_TEST

/* HTTPS on the admin endpoint (admin-tls-cert-file): /healthz answers over TLS. */
START_TEST(tls_admin_https) {
    char out[4096];
    run(out, sizeof(out), "curl -s -i --max-time 10 --cacert %s https://127.0.0.1:%d/healthz", ca, sg.admin_port);
    ck_assert_msg(strstr(out, "200 OK") && strstr(out, "\"status\": \"ok\""), "HTTPS /healthz: %s", out);
    run(out, sizeof(out), "curl -s -i --max-time 5 http://127.0.0.1:%d/healthz 2>&1 | head -c 200", sg.admin_port);
    ck_assert_msg(strstr(out, "200 OK") == NULL, "plain HTTP was answered: %s", out);
    run(out, sizeof(out), "curl -s --max-time 5 --cacert %s/other-ca.crt https://127.0.0.1:%d/healthz; echo rc=$?", dir,
        sg.admin_port);
    ck_assert_msg(strstr(out, "rc=60") != NULL, "a client trusting another CA did not refuse it: %s", out);
}
END_TEST

/* Nodes announced by host name (cluster-announce-hostname localhost, preferred endpoint type hostname):
 * slotgate connects to "localhost", sends it as SNI and checks the node's certificate names it (the test
 * certificates do); requests keep working; then back to addresses. */
START_TEST(tls_nodes_by_hostname) {
    for (int i = 0; i < cl.nnodes; i++) {
        redisContext *d = connect_port(BASE + i);
        expect_str(d, "OK", "CONFIG SET cluster-announce-hostname localhost");
        expect_str(d, "OK", "CONFIG SET cluster-preferred-endpoint-type hostname");
        redisFree(d);
    }
    char out[16384], want[64];
    snprintf(want, sizeof(want), "\"addr\": \"localhost:%d\"", BASE + TLS_OFFSET);
    WAIT_UNTIL(15000,
               (run(out, sizeof(out), "curl -s --max-time 5 --cacert %s https://127.0.0.1:%d/nodes", ca, sg.admin_port),
                strstr(out, want) != NULL),
               "slotgate never learnt the nodes by name: %.1500s", out);
    struct tconn *t = open_ok(SG_TLS);
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof(k), "tls:host:%d", i);
        texpect(t, "OK", "SET %s %s", k, k);
        texpect(t, k, "GET %s", k, NULL);
    }
    tconn_close(t);
    /* the connections to the nodes by name passed the certificate check (none failed) */
    run(out, sizeof(out), "curl -s --max-time 5 --cacert %s https://127.0.0.1:%d/nodes", ca, sg.admin_port);
    ck_assert_msg(!strstr(out, "TLS handshake failed"), "a node's certificate was refused: %.1500s", out);
    for (int i = 0; i < cl.nnodes; i++) {
        redisContext *d = connect_port(BASE + i);
        expect_str(d, "OK", "CONFIG SET cluster-preferred-endpoint-type ip");
        redisFree(d);
    }
    snprintf(want, sizeof(want), "\"addr\": \"127.0.0.1:%d\"", BASE + TLS_OFFSET);
    WAIT_UNTIL(15000,
               (run(out, sizeof(out), "curl -s --max-time 5 --cacert %s https://127.0.0.1:%d/nodes", ca, sg.admin_port),
                strstr(out, want) != NULL),
               "slotgate never went back to addresses");
}
END_TEST

/* node-redis over TLS (tests/node/scenarios.mjs noderedis_tls). */
START_TEST(tls_node_redis) {
    ck_assert_msg(access("tests/node/node_modules/redis/package.json", R_OK) == 0,
                  "the Node clients are not installed: make test installs them");
    char line[1024], out[16384];
    snprintf(line, sizeof(line),
             "cd tests/node && TLS_PORT=%d TLS_DIR=%s timeout 60 node scenarios.mjs noderedis_tls 2>&1", SG_TLS, dir);
    FILE *p = popen(line, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    fprintf(stderr, "%s", out);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "noderedis_tls failed:\n%s", out);
}
END_TEST

SUITE_MAIN(.name = "tls", .setup = suite_setup, .teardown = suite_teardown, .timeout = 180,
           .tests = {TEST(tls_redis_cli_and_pipeline), TEST(tls_large_values), TEST(tls_pubsub),
                     TEST(tls_blocking_and_transaction), TEST(tls_client_side_caching), TEST(tls_client_certificates),
                     TEST(tls_stalled_handshake), TEST(tls_certificate_rotation_under_load), TEST(tls_output_limit),
                     TEST(tls_admin_https), TEST(tls_node_redis), TEST(tls_nodes_by_hostname),
                     TEST(tls_failover_and_reshard_under_load)})
