/* Corners where slotgate once did not behave like one Redis 7 server, each against a real 3-master
 * cluster: a runaway script or function stopped through slotgate with SCRIPT KILL / FUNCTION KILL while
 * other clients get -BUSY (and the node shows busy on /nodes); PUBLISH counting every subscriber of this
 * slotgate and keeping a channel's messages in order; every (P|S)UNSUBSCRIBE form answered as Redis
 * answers it; INFO with every section and field name a Redis 7 server has; blocked_clients counting
 * every blocking command; and a '|' in a command name being an unknown command. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/run.h"

#define BASE        22200
#define SG_PORT     22290
#define ORACLE_PORT 22280 /* a plain redis-server: what a client of one server sees */

static struct cluster cl;
static struct slotgate sg;
static pid_t oracle;

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 0, SG_PORT, "--threads 2 --probe-interval-ms 200");
    oracle = oracle_start(ORACLE_PORT, cl.dir, "oracle");
}

static void suite_teardown(void) {
    oracle_stop(oracle);
    fixture_down(&cl, &sg);
}

/* Before each test: no script or function left running on a node by a test that failed. */
static void no_script_running(void) {
    for (int i = 0; i < 3; i++) {
        redisContext *d = connect_port(BASE + i);
        freeReplyObject(cmd(d, "SCRIPT KILL"));
        freeReplyObject(cmd(d, "FUNCTION KILL"));
        redisFree(d);
    }
}

static redisContext *sgc(void) {
    redisContext *c = connect_port(SG_PORT);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Sends without waiting for the reply. */
static void send_only(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_eq(redisvAppendCommand(c, fmt, ap), REDIS_OK);
    va_end(ap);
    int done = 0;
    while (!done) ck_assert_int_eq(redisBufferWrite(c, &done), REDIS_OK);
}

static redisReply *next_reply(redisContext *c) {
    redisReply *r = NULL;
    ck_assert_msg(redisGetReply(c, (void **)&r) == REDIS_OK, "no reply: %s", c->errstr);
    return r;
}

/* Is the node on port shown busy on /nodes? */
static int node_busy_on_admin(int port) {
    json_t *j = http_json(sg.admin_port, "/nodes", 200);
    json_t *nodes = json_object_get(j, "nodes"), *n;
    size_t i;
    char addr[32];
    int busy = -1;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    json_array_foreach(nodes, i, n) if (strcmp(json_string_value(json_object_get(n, "addr")), addr) == 0) busy =
        json_is_true(json_object_get(n, "busy"));
    json_decref(j);
    return busy;
}

static void set_busy_threshold(int ms) {
    for (int i = 0; i < 3; i++) {
        redisContext *d = connect_port(BASE + i);
        redisReply *r = cmd(d, "CONFIG SET busy-reply-threshold %d", ms);
        freeReplyObject(r);
        redisFree(d);
    }
}

/* A key on the master on port (and one on another master, into other). */
static void key_on(int port, char *key, size_t len, const char *prefix) {
    for (int i = 0;; i++) {
        snprintf(key, len, "%s%d", prefix, i);
        if (cluster_master_for_key(&cl, key) == port) return;
    }
}

/* Client A runs a script (or function) that never ends, through slotgate. Other clients' requests for
 * that master get Redis's -BUSY once it passes busy-reply-threshold (not a stall behind it), requests for
 * other masters are answered, the node shows busy on /nodes, and a KILL through slotgate ends it with
 * Redis's own error for client A. */
static void runaway(const char *verb, const char *what, const char *kill_cmd, const char *busy_text) {
    char k[32], other[32];
    int port = BASE;
    key_on(port, k, sizeof(k), "spin:");
    key_on(BASE + 1, other, sizeof(other), "calm:");
    redisContext *a = sgc(), *b = sgc(), *killer = sgc();
    expect_str(b, "OK", "SET %s before", k);
    expect_str(b, "OK", "SET %s fine", other);
    send_only(a, "%s %s 1 %s", verb, what, k);
    sleep_ms(100);
    long long t0 = now_ms();
    redisReply *r = cmd(b, "GET %s", k); /* Redis answers it once the script passes the threshold */
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_msg(strncmp(r->str, busy_text, strlen(busy_text)) == 0, "GET during the script: %s", r->str);
    ck_assert_int_lt(now_ms() - t0, 3000);
    freeReplyObject(r);
    expect_str(b, "fine", "GET %s", other);
    WAIT_UNTIL(5000, node_busy_on_admin(port) == 1, "/nodes never showed 127.0.0.1:%d busy", port);
    ck_assert(slotgate_log_has(&sg, "answers -BUSY"));
    expect_str(killer, "OK", kill_cmd);
    r = next_reply(a);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_msg(strncmp(r->str, "ERR Script killed by user with", 30) == 0, "the killed client got: %s", r->str);
    freeReplyObject(r);
    expect_str(b, "before", "GET %s", k); /* the master serves everyone again */
    r = cmd(killer, kill_cmd);
    ck_assert_str_eq(r->str, "NOTBUSY No scripts in execution right now.");
    freeReplyObject(r);
    WAIT_UNTIL(5000, node_busy_on_admin(port) == 0, "/nodes still shows 127.0.0.1:%d busy", port);
    redisFree(a);
    redisFree(b);
    redisFree(killer);
}

START_TEST(a_runaway_script_is_killed_through_slotgate) {
    set_busy_threshold(300);
    runaway("EVAL", "while true do end", "SCRIPT KILL",
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL");
}
END_TEST

START_TEST(a_runaway_function_is_killed_through_slotgate) {
    set_busy_threshold(300);
    redisContext *c = sgc();
    expect_str(c, "spinlib", "FUNCTION LOAD REPLACE %s",
               "#!lua name=spinlib\nredis.register_function('spin', function(keys, args) while true do end end)");
    redisFree(c);
    runaway("FCALL", "spin", "FUNCTION KILL", "BUSY Redis is busy running a script. You can only call FUNCTION KILL");
}
END_TEST

static long long publish_count(redisContext *c, const char *channel) {
    redisReply *r = cmd(c, "PUBLISH %s again", channel);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

START_TEST(publish_counts_every_subscriber_of_this_slotgate) {
    /* Subscribers on different connections land on different masters and, with two threads, on
     * different workers; a single server would count all of them. */
    redisContext *s1 = sgc(), *s2 = sgc(), *s3 = sgc(), *pub = sgc();
    redisReply *r;
    send_only(s1, "SUBSCRIBE news");
    send_only(s2, "SUBSCRIBE news other");
    send_only(s3, "PSUBSCRIBE ne*");
    for (int i = 0; i < 1; i++) freeReplyObject(next_reply(s1));
    for (int i = 0; i < 2; i++) freeReplyObject(next_reply(s2));
    freeReplyObject(next_reply(s3));
    for (int i = 0; i < 20; i++) {
        r = cmd(pub, "PUBLISH news m%d", i);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        ck_assert_int_eq(r->integer, 3);
        freeReplyObject(r);
    }
    r = cmd(pub, "PUBLISH other x");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    /* one channel's messages arrive in the order they were published */
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof(want), "m%d", i);
        r = next_reply(s1);
        ck_assert_str_eq(r->element[2]->str, want);
        freeReplyObject(r);
        r = next_reply(s3);
        ck_assert_str_eq(r->element[3]->str, want);
        freeReplyObject(r);
    }
    r = cmd(pub, "PUBSUB NUMSUB news other none");
    ck_assert_int_eq(r->elements, 6);
    ck_assert_int_eq(r->element[1]->integer, 2);
    ck_assert_int_eq(r->element[3]->integer, 1);
    ck_assert_int_eq(r->element[5]->integer, 0);
    freeReplyObject(r);
    r = cmd(pub, "PUBSUB NUMPAT");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = cmd(pub, "PUBSUB CHANNELS n*");
    ck_assert_int_eq(r->elements, 1);
    ck_assert_str_eq(r->element[0]->str, "news");
    freeReplyObject(r);
    r = cmd(pub, "INFO stats");
    ck_assert_msg(strstr(r->str, "\r\npubsub_channels:2\r\npubsub_patterns:1\r\n"), "%s", r->str);
    freeReplyObject(r);
    /* subscribers that leave are no longer counted */
    redisFree(s1);
    redisFree(s3);
    WAIT_UNTIL(5000, publish_count(pub, "news") == 1, "PUBLISH still counts %lld after two subscribers left",
               publish_count(pub, "news"));
    redisFree(s2);
    redisFree(pub);
}
END_TEST

static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Every form, subscribed or not, with the bytes a single Redis 7.0 server sends (inline commands in one
 * write, so a hang shows as a short read). */
static const struct {
    const char *in, *want;
} unsub_cases[] = {
    {"UNSUBSCRIBE foo bar\r\nPING\r\n",
     "*3\r\n$11\r\nunsubscribe\r\n$3\r\nfoo\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$3\r\nbar\r\n:0\r\n+PONG\r\n"},
    {"UNSUBSCRIBE\r\nPING\r\n", "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n+PONG\r\n"},
    {"PUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nPING\r\n",
     "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n+PONG\r\n"},
    {"PUNSUBSCRIBE a b\r\nSUNSUBSCRIBE q\r\nPING\r\n",
     "*3\r\n$12\r\npunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$1\r\nb\r\n:0\r\n"
     "*3\r\n$12\r\nsunsubscribe\r\n$1\r\nq\r\n:0\r\n+PONG\r\n"},
    {"SUBSCRIBE foo\r\nUNSUBSCRIBE foo bar\r\nPING\r\n",
     "*3\r\n$9\r\nsubscribe\r\n$3\r\nfoo\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$3\r\nfoo\r\n:0\r\n"
     "*3\r\n$11\r\nunsubscribe\r\n$3\r\nbar\r\n:0\r\n+PONG\r\n"},
    {"SUBSCRIBE a a\r\nUNSUBSCRIBE a a\r\nGET nokey\r\n",
     "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
     "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n$-1\r\n"},
    {"SSUBSCRIBE a\r\nUNSUBSCRIBE x\r\nSUNSUBSCRIBE\r\nPING\r\n",
     "*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n"
     "*3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:0\r\n+PONG\r\n"},
    {"SUBSCRIBE a b\r\nPSUBSCRIBE p*\r\nSUNSUBSCRIBE x\r\nGET a\r\nPING\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE a\r\n"
     "UNSUBSCRIBE b\r\nPING\r\n",
     "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
     "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n*3\r\n$12\r\nsunsubscribe\r\n$1\r\nx\r\n:0\r\n"
     "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
     "context\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:2\r\n"
     "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n+PONG\r\n"},
};

START_TEST(every_unsubscribe_form_answers_like_redis) {
    char buf[2048];
    const int ports[2] = {ORACLE_PORT, SG_PORT}; /* the expected bytes are a single server's, checked first */
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < (int)(sizeof(unsub_cases) / sizeof(*unsub_cases)); i++) {
            int fd = raw_connect(ports[p]);
            const char *in = unsub_cases[i].in, *want = unsub_cases[i].want;
            ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
            size_t n = 0;
            while (n < strlen(want)) {
                ssize_t got = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (got <= 0) break;
                n += (size_t)got;
            }
            buf[n] = '\0';
            ck_assert_msg(strcmp(buf, want) == 0, "port %d, case %d (%s): got\n%s", ports[p], i, in, buf);
            close(fd);
        }
    }
}
END_TEST

/* Field names of an INFO reply, one "section/field" per line, skipping the per-command, per-error and
 * per-database lines whose names depend on traffic. */
static char *info_fields(redisContext *c, const char *args) {
    redisReply *r = cmd(c, "INFO %s", args);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    char *out = calloc(1, 3 * strlen(r->str) + 64), section[32] = ""; /* "Section/" before each name */
    char *save, *line = strtok_r(r->str, "\r\n", &save);
    for (; line; line = strtok_r(NULL, "\r\n", &save)) {
        if (line[0] == '#') {
            snprintf(section, sizeof(section), "%s", line + 2);
            sprintf(out + strlen(out), "%s/\n", section);
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon || !strncmp(line, "cmdstat_", 8) || !strncmp(line, "errorstat_", 10) ||
            !strncmp(line, "latency_percentiles_usec_", 25) || !strncmp(line, "db", 2))
            continue;
        *colon = '\0';
        sprintf(out + strlen(out), "%s/%s\n", section, line);
    }
    freeReplyObject(r);
    return out;
}

START_TEST(info_has_every_section_and_field_of_redis) {
    redisContext *c = sgc(), *o = connect_port(ORACLE_PORT);
    const char *forms[] = {"", "default", "all", "everything", "cpu", "server clients", "persistence", "nosuch"};
    for (size_t f = 0; f < sizeof(forms) / sizeof(*forms); f++) {
        char *mine = info_fields(c, forms[f]), *want = info_fields(o, forms[f]);
        /* every section and field Redis gives, in Redis's order (slotgate's extras may stand between) */
        const char *at = mine;
        for (char *save, *l = strtok_r(want, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char needle[128];
            snprintf(needle, sizeof(needle), "%s\n", l);
            const char *hit = strstr(at, needle);
            ck_assert_msg(hit != NULL, "INFO %s: %s missing or out of order; slotgate has:\n%s", forms[f], l, mine);
            at = hit;
        }
        free(mine);
        free(want);
    }
    /* values that hold through a proxy: its own process, the cluster's data */
    ck_assert_int_eq(info_int(c, "server", "process_id"), sg.pid);
    ck_assert_int_eq(info_int(c, "server", "tcp_port"), SG_PORT);
    redisContext *d = connect_port(BASE);
    redisReply *r = cmd(d, "INFO server"), *mine = cmd(c, "INFO server");
    const char *v = strstr(r->str, "redis_version:");
    char version[32];
    sscanf(v, "redis_version:%31[0-9.]", version);
    char want[64];
    snprintf(want, sizeof(want), "\r\nredis_version:%s\r\n", version);
    ck_assert_msg(strstr(mine->str, want), "slotgate says %s, the masters %s", mine->str, version);
    freeReplyObject(r);
    freeReplyObject(mine);
    expect_str(c, "OK", "FLUSHALL");
    for (int i = 0; i < 30; i++) expect_str(c, "OK", "SET info:%d v", i);
    long long sum = 0;
    for (int m = 0; m < 3; m++) {
        redisContext *n = connect_port(BASE + m);
        sum += info_int(n, "persistence", "rdb_changes_since_last_save");
        redisFree(n);
    }
    ck_assert_int_eq(info_int(c, "persistence", "rdb_changes_since_last_save"), sum);
    r = cmd(c, "INFO keyspace");
    ck_assert_msg(strstr(r->str, "db0:keys=30,expires=0,"), "%s", r->str);
    freeReplyObject(r);
    r = cmd(c, "INFO cpu");
    ck_assert(strncmp(r->str, "# CPU\r\nused_cpu_sys:", 20) == 0);
    ck_assert(strstr(r->str, "used_cpu_user:") && !strstr(r->str, "# Server"));
    freeReplyObject(r);
    r = cmd(c, "INFO commandstats");
    ck_assert_msg(strstr(r->str, "\r\ncmdstat_set:calls="), "%s", r->str);
    freeReplyObject(r);
    ck_assert_int_ge(info_int(c, "clients", "connected_clients"), 1);
    redisFree(d);
    redisFree(o);
    redisFree(c);
}
END_TEST

START_TEST(blocked_clients_counts_every_blocking_command) {
    redisContext *c = sgc();
    redisReply *r = cmd(c, "XGROUP CREATE blk:s g $ MKSTREAM");
    freeReplyObject(r);
    redisContext *b[5];
    for (int i = 0; i < 5; i++) b[i] = sgc();
    send_only(b[0], "BLPOP blk:list 0");
    send_only(b[1], "XREAD BLOCK 0 STREAMS blk:s $");
    send_only(b[2], "XREADGROUP GROUP g c1 BLOCK 0 STREAMS blk:s >");
    send_only(b[3], "BZPOPMIN blk:z 30");
    send_only(b[4], "XREAD BLOCK 30000 STREAMS blk:s $");
    WAIT_UNTIL(5000, info_int(c, "clients", "blocked_clients") == 5, "blocked_clients never reached 5: %lld",
               info_int(c, "clients", "blocked_clients"));
    ck_assert_int_eq(info_int(c, "clients", "clients_in_timeout_table"), 2);
    for (int i = 0; i < 5; i++) redisFree(b[i]);
    WAIT_UNTIL(5000, info_int(c, "clients", "blocked_clients") == 0,
               "blocked_clients stayed above 0 after the clients left");
    redisFree(c);
}
END_TEST

START_TEST(a_pipe_in_a_command_name_is_an_unknown_command) {
    redisContext *c = sgc();
    redisReply *r = cmd(c, "CONFIG|GET maxmemory");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->str, "ERR unknown command 'CONFIG|GET', with args beginning with: 'maxmemory' ");
    freeReplyObject(r);
    r = cmd(c, "client|id");
    ck_assert_str_eq(r->str, "ERR unknown command 'client|id', with args beginning with: ");
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

/* The same bytes to a single server and to slotgate: the same bytes back (HELLO's client id aside). */
static void same_as_redis(const char *in) {
    char got[2][4096];
    const int ports[2] = {ORACLE_PORT, SG_PORT};
    for (int p = 0; p < 2; p++) {
        int fd = raw_connect(ports[p]);
        ck_assert_int_eq(write(fd, in, strlen(in)), (ssize_t)strlen(in));
        ck_assert_int_eq(write(fd, "PING last\r\n", 11), 11);
        size_t n = 0;
        while (n < sizeof(got[p]) - 1) { /* up to the marker's reply */
            ssize_t r = read(fd, got[p] + n, sizeof(got[p]) - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            got[p][n] = '\0';
            if (strstr(got[p], "$4\r\nlast\r\n")) break;
        }
        got[p][n] = '\0';
        close(fd);
        /* the connection's id differs, as between two servers */
        for (char *id = strstr(got[p], "$2\r\nid\r\n:"); id; id = strstr(id + 9, "$2\r\nid\r\n:")) {
            char *e = strstr(id + 9, "\r\n"); /* "$2\r\nid\r\n:" is 9 bytes: the digits follow */
            id[9] = 'N';
            memmove(id + 10, e, strlen(e) + 1);
        }
    }
    ck_assert_msg(strcmp(got[0], got[1]) == 0, "for %s\nredis:    %s\nslotgate: %s", in, got[0], got[1]);
}

START_TEST(connection_commands_answer_like_redis) {
    same_as_redis("AUTH default whatever\r\nAUTH foo\r\nAUTH foo bar\r\nHELLO 2 AUTH default x\r\n");
    same_as_redis("HELLO\r\nHELLO 2 SETNAME app\r\nCLIENT GETNAME\r\n"); /* the version is the masters' */
    same_as_redis("CLIENT REPLY OFF\r\nPING\r\nGET x\r\nCLIENT REPLY ON\r\nPING\r\nCLIENT REPLY SKIP\r\nPING a\r\n"
                  "PING b\r\nCLIENT REPLY FOO\r\n");
    same_as_redis("CLIENT NO-EVICT on\r\nCLIENT NO-EVICT off\r\nCLIENT NO-EVICT maybe\r\nCLIENT GETREDIR\r\n"
                  "CLIENT TRACKINGINFO\r\n");
}
END_TEST

/* Queued in a transaction, these would run on the node's connection that slotgate shares between its
 * clients: refused while queueing (the transaction then aborts), and every client keeps working. */
START_TEST(commands_that_change_the_connection_are_refused_in_multi) {
    const char *refused[] = {"CLIENT REPLY OFF", "SUBSCRIBE x", "HELLO 2", "CLIENT SETNAME n", "READONLY", "AUTH x y"};
    redisContext *c = sgc();
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        expect_str(c, "OK", "MULTI");
        expect_str(c, "QUEUED", "SET multi:k 1");
        expect_str(c, "ERR Command not allowed inside a transaction", refused[i]);
        expect_str(c, "EXECABORT Transaction discarded because of previous errors.", "EXEC");
    }
    /* the nodes' shared connections were left as they were: every client, on either worker, is served */
    char k[3][32];
    for (int m = 0; m < 3; m++) key_on(BASE + m, k[m], sizeof(k[m]), "multi:");
    for (int i = 0; i < 8; i++) {
        redisContext *o = sgc();
        for (int m = 0; m < 3; m++) {
            redisReply *r = cmd(o, "GET %s", k[m]);
            ck_assert_msg(r->type == REDIS_REPLY_NIL, "client %d, GET %s: %d %s", i, k[m], r->type,
                          r->str ? r->str : "");
            freeReplyObject(r);
        }
        redisFree(o);
    }
    redisFree(c);
}
END_TEST

SUITE_MAIN(.name = "corners", .setup = suite_setup, .teardown = suite_teardown, .before_each = no_script_running,
           .timeout = 120,
           .tests = {
               TEST(a_runaway_script_is_killed_through_slotgate), TEST(a_runaway_function_is_killed_through_slotgate),
               TEST(publish_counts_every_subscriber_of_this_slotgate), TEST(every_unsubscribe_form_answers_like_redis),
               TEST(info_has_every_section_and_field_of_redis), TEST(blocked_clients_counts_every_blocking_command),
               TEST(a_pipe_in_a_command_name_is_an_unknown_command), TEST(connection_commands_answer_like_redis),
               TEST(commands_that_change_the_connection_are_refused_in_multi)})
