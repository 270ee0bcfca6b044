/* RESP3 and client-side caching through slotgate, against a real 3-master cluster (one replica each)
 * and a plain redis-server beside it as the oracle: every reply type a RESP3 client gets is the bytes
 * Redis sends; the replies slotgate builds itself (merges, INFO, CLUSTER, CLIENT) are in RESP3's types;
 * pub/sub messages are pushes and ordinary commands work on a subscribed connection; and CLIENT TRACKING
 * (default, BCAST with prefixes, OPTIN, NOLOOP, REDIRECT for a RESP2 client) tells a client of every
 * change to what it cached, whoever made it, after a reshard, a failover and FLUSHALL, and of nothing
 * else, with the table bounded by tracking-table-max-keys and nothing left behind by a client that goes. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../router/slot.h"
#include "../support/cluster.h"
#include "../support/resp3.h"
#include "../support/run.h"

#define BASE        22600
#define SG_PORT     22690
#define ORACLE_PORT 22680
#define MAX_KEYS    2000 /* tracking-table-max-keys of this suite's slotgate */

static struct cluster cl;
static struct slotgate sg;
static pid_t oracle;

/* HELLO's version is the masters' lowest, once the probes have read it: the oracle's then. */
static int version_known(void) {
    redisContext *a = connect_port(SG_PORT), *b = connect_port(ORACLE_PORT);
    redisReply *x = cmd(a, "HELLO 2"), *y = cmd(b, "HELLO 2");
    int same = x->type == REDIS_REPLY_ARRAY && y->type == REDIS_REPLY_ARRAY && x->elements > 3 && y->elements > 3 &&
               strcmp(x->element[3]->str, y->element[3]->str) == 0;
    freeReplyObject(x);
    freeReplyObject(y);
    redisFree(a);
    redisFree(b);
    return same;
}

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 1, SG_PORT, "--threads 2 --probe-interval-ms 200 --tracking-table-max-keys 2000");
    oracle = oracle_start(ORACLE_PORT, cl.dir, "oracle3");
    for (int i = 0; i < 100 && !version_known(); i++) sleep_ms(50);
}

static void suite_teardown(void) {
    oracle_stop(oracle);
    fixture_down(&cl, &sg);
}

static struct r3 *hello3(int port) {
    struct r3 *c = r3_connect(port);
    char *r = r3_cmdl(c, "HELLO 3");
    ck_assert_msg(r[0] == '%', "HELLO 3: %s", r3_show(r));
    free(r);
    return c;
}

/* "$2\r\nid\r\n:123" -> ":N": connection IDs differ between two servers */
static void mask_id(char *p) {
    for (char *id = strstr(p, "$2\r\nid\r\n:"); id; id = strstr(id + 9, "$2\r\nid\r\n:")) {
        char *e = strstr(id + 9, "\r\n");
        id[9] = 'N';
        memmove(id + 10, e, strlen(e) + 1);
    }
}

/* Each line to both, one at a time; each reply (and any push before it) must be the same bytes. */
static void same_as_redis3(const char *const *lines, int n) {
    struct r3 *s = r3_connect(SG_PORT), *o = r3_connect(ORACLE_PORT);
    for (int i = 0; i < n; i++) {
        char *a = r3_cmdl(s, lines[i]), *b = r3_cmdl(o, lines[i]);
        mask_id(a);
        mask_id(b);
        char want[8192];
        snprintf(want, sizeof(want), "%s", r3_show(b));
        ck_assert_msg(strcmp(a, b) == 0, "%s\n  redis:    %s\n  slotgate: %s", lines[i], want, r3_show(a));
        free(a);
        free(b);
    }
    r3_close(s);
    r3_close(o);
}

/* 1. Every kind of reply, RESP3 and back, byte for byte as one Redis 7 server sends it. */
START_TEST(replies_are_what_redis_sends_in_resp3) {
    static const char *const lines[] = {
        "HELLO 3",
        "DEL r3:a r3:b r3:c r3:h r3:s r3:z r3:l r3:f r3:g r3:st r3:nokey",
        "SET r3:a 1",
        "MSET r3:b 2 r3:c 3",
        "MGET r3:a r3:nokey r3:b r3:c", /* split over three slots, merged by slotgate */
        "GET r3:nokey",
        "EXISTS r3:a r3:b r3:nokey",
        "HSET r3:h f1 v1 f2 v2",
        "HGETALL r3:h",
        "HGET r3:h nofield",
        "SADD r3:s x",
        "SMEMBERS r3:s",
        "SISMEMBER r3:s x",
        "ZADD r3:z 1.5 m1 2 m2",
        "ZSCORE r3:z m1",
        "ZRANGE r3:z 0 -1 WITHSCORES",
        "ZINCRBY r3:z 0.25 m1",
        "ZMSCORE r3:z m1 nope",
        "INCRBYFLOAT r3:f 1.5",
        "RPUSH r3:l a b c",
        "LPOP r3:l 10",
        "LPOP r3:nolist",
        "RPOP r3:nolist 2",
        "XADD r3:st 1-1 f v",
        "XRANGE r3:st - +",
        "XREAD COUNT 1 STREAMS r3:st 0",
        "XREAD COUNT 1 STREAMS r3:nostream 0",
        "GEOADD r3:g 13.361389 38.115556 Palermo",
        "GEOPOS r3:g Palermo nope",
        "GEODIST r3:g Palermo Palermo",
        "OBJECT ENCODING r3:a",
        "TYPE r3:h",
        "TTL r3:a",
        "INCR r3:h",
        "PING",
        "PING hi",
        "ECHO hello",
        "CLIENT GETNAME",
        "CLIENT SETNAME me",
        "CLIENT GETNAME",
        "EVAL return{1,2,{3,'a'},redis.call('get',KEYS[1])} 1 r3:a",
        "EVAL redis.setresp(3);return(redis.call('hgetall',KEYS[1])) 1 r3:h",
        "EVAL return(redis.call('get',KEYS[1])) 1 r3:nokey",
        "CONFIG GET maxmemory",
        "COMMAND INFO get",
        "COMMAND DOCS get",
        "ACL WHOAMI",
        "CLIENT TRACKINGINFO",
        "CLIENT CACHING yes",
        "CLIENT TRACKING on BCAST OPTIN",
        "CLIENT TRACKING on PREFIX r3:",
        "CLIENT TRACKING on BCAST PREFIX r3: PREFIX r3:x",
        "CLIENT TRACKING on OPTIN OPTOUT",
        "CLIENT TRACKING on REDIRECT 987654321",
        "CLIENT TRACKING on OPTIN",
        "CLIENT CACHING no",
        "CLIENT CACHING yes",
        "CLIENT TRACKINGINFO", /* still shows caching-yes: the choice is for this command */
        "CLIENT TRACKINGINFO",
        "CLIENT GETREDIR",
        "CLIENT TRACKING on OPTOUT",
        "CLIENT TRACKING off",
        "CLIENT GETREDIR",
        "BLPOP r3:nolist 0.01",
        "HELLO 2", /* the client's own connections (a script's, a blocking command's) follow it */
        "MGET r3:a r3:nokey",
        "HGETALL r3:h",
        "EVAL redis.setresp(3);return(redis.call('hgetall',KEYS[1])) 1 r3:h",
        "BLPOP r3:nolist 0.01",
        "CLIENT TRACKINGINFO",
        "HELLO 4",
        "HELLO 3 AUTH default whatever",
        "ZSCORE r3:z m1",
        "EVAL return(redis.call('get',KEYS[1])) 1 r3:nokey",
        "RESET",
        "ZSCORE r3:z m1",
        "EVAL return(redis.call('get',KEYS[1])) 1 r3:nokey",
    };
    same_as_redis3(lines, (int)(sizeof(lines) / sizeof(lines[0])));
}
END_TEST

static int starts_with(const char *p, const char *prefix) { return strncmp(p, prefix, strlen(prefix)) == 0; }

/* The output of redis-cli -3 (a RESP3 client: HELLO 3 first, then the commands, printed as it decodes
 * RESP3's types) given the same commands, from slotgate and from the oracle. */
static void redis_cli3(int port, const char *cmds, char *out, size_t cap) {
    char line[1024];
    snprintf(line, sizeof(line), "printf '%s' | redis-cli -3 --no-raw -p %d 2>&1", cmds, port);
    FILE *p = popen(line, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
}

START_TEST(redis_cli_3_sees_what_redis_gives) {
    const char *cmds =
        "DEL r3:cli:h r3:cli:z\\nHSET r3:cli:h a 1 b 2\\nHGETALL r3:cli:h\\nZADD r3:cli:z 2.5 m\\n"
        "ZSCORE r3:cli:z m\\nZRANGE r3:cli:z 0 -1 WITHSCORES\\nGET r3:cli:none\\nSMISMEMBER r3:cli:s a\\n"
        "CONFIG GET maxmemory\\nCLIENT TRACKINGINFO\\nHELLO 3\\n";
    static char a[16384], b[16384];
    redis_cli3(SG_PORT, cmds, a, sizeof(a));
    redis_cli3(ORACLE_PORT, cmds, b, sizeof(b));
    /* HELLO's id: the connection's number on each server */
    char *outs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        char *x = strstr(outs[i], "4# \"id\" => ");
        if (!x) continue;
        char *eol = strchr(x, '\n');
        x[10] = 'N';
        if (eol) memmove(x + 11, eol, strlen(eol) + 1);
    }
    ck_assert_msg(strstr(a, "1# \"a\" => \"1\"") && strstr(a, "(double) 2.5"), "%s", a);
    ck_assert_msg(strcmp(a, b) == 0, "redis-cli -3 through slotgate:\n%s\nfrom redis-server:\n%s", a, b);
}
END_TEST

/* 2. What slotgate builds or merges itself is in RESP3's types too. */
START_TEST(replies_slotgate_builds_are_resp3) {
    struct r3 *c = hello3(SG_PORT);
    r3_expectl(c, "MSET r3:k1 a r3:k2 b r3:k3 c", "+OK\r\n");
    char *r = r3_cmdl(c, "DBSIZE");
    ck_assert_msg(r[0] == ':', "DBSIZE: %s", r3_show(r));
    free(r);
    const char *verbatim[] = {"INFO", "INFO keyspace", "CLUSTER INFO", "CLUSTER NODES", "CLIENT INFO", "CLIENT LIST"};
    for (size_t i = 0; i < sizeof(verbatim) / sizeof(*verbatim); i++) {
        r = r3_cmdl(c, verbatim[i]);
        ck_assert_msg(r[0] == '=' && strstr(r, "\r\ntxt:"), "%s is not verbatim text: %.80s", verbatim[i], r3_show(r));
        free(r);
    }
    r = r3_cmdl(c, "CLIENT INFO");
    ck_assert_msg(strstr(r, " resp=3"), "%s", r3_show(r));
    free(r);
    r = r3_cmdl(c, "INFO keyspace");
    ck_assert_msg(strstr(r, "txt:# Keyspace\r\ndb0:keys="), "%s", r3_show(r));
    free(r);
    r = r3_cmdl(c, "CLUSTER SLOTS");
    ck_assert_msg(starts_with(r, "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n") && strstr(r, "\r\n%0\r\n"), "%s", r3_show(r));
    free(r);
    r = r3_cmdl(c, "CLUSTER SHARDS");
    ck_assert_msg(starts_with(r, "*1\r\n%2\r\n$5\r\nslots\r\n") && strstr(r, "*1\r\n%7\r\n$2\r\nid\r\n"), "%s",
                  r3_show(r));
    free(r);
    r = r3_cmdl(c, "KEYS r3:k?");
    ck_assert_msg(starts_with(r, "*3\r\n"), "%s", r3_show(r));
    free(r);
    /* SCAN walks every master: the three keys come back once each */
    char cursor[32] = "0";
    int found = 0;
    do {
        char line[96];
        snprintf(line, sizeof(line), "SCAN %s MATCH r3:k? COUNT 1000", cursor);
        r = r3_cmdl(c, line);
        ck_assert_msg(starts_with(r, "*2\r\n$"), "%s", r3_show(r));
        char *p = strchr(r + 5, '\n') + 1;
        snprintf(cursor, sizeof(cursor), "%.*s", (int)(strchr(p, '\r') - p), p);
        for (char *k = strstr(r, "r3:k"); k; k = strstr(k + 1, "r3:k")) found++;
        free(r);
    } while (strcmp(cursor, "0") != 0);
    ck_assert_int_eq(found, 3);
    r3_expectl(c, "MGET r3:k1 r3:none r3:k3", "*3\r\n$1\r\na\r\n_\r\n$1\r\nc\r\n");
    r3_expectl(c, "DEL r3:k1 r3:k2 r3:k3 r3:none", ":3\r\n");
    /* and in RESP2 again after HELLO 2: nothing of RESP3 is left */
    free(r3_cmdl(c, "HELLO 2"));
    r3_expectl(c, "MGET r3:k1 r3:none", "*2\r\n$-1\r\n$-1\r\n");
    r = r3_cmdl(c, "INFO server");
    ck_assert_msg(r[0] == '$', "%s", r3_show(r));
    free(r);
    r3_close(c);
}
END_TEST

/* 3. Pub/sub in RESP3: confirmations and messages are pushes, of channels, patterns and shard channels,
 * and the subscribed connection runs ordinary commands too. */
START_TEST(pubsub_messages_are_pushes) {
    struct r3 *s = hello3(SG_PORT), *p = r3_connect(SG_PORT);
    r3_expectl(s, "SUBSCRIBE r3ch", ">3\r\n$9\r\nsubscribe\r\n$4\r\nr3ch\r\n:1\r\n");
    r3_expectl(s, "PSUBSCRIBE r3p*", ">3\r\n$10\r\npsubscribe\r\n$4\r\nr3p*\r\n:2\r\n");
    r3_expectl(s, "SSUBSCRIBE r3sch", ">3\r\n$10\r\nssubscribe\r\n$5\r\nr3sch\r\n:1\r\n");
    r3_expectl(s, "SET r3:sub 1", "+OK\r\n"); /* RESP2 would refuse it while subscribed */
    r3_expectl(s, "GET r3:sub", "$1\r\n1\r\n");
    r3_expectl(s, "PING", "+PONG\r\n");
    r3_expectl(p, "PUBLISH r3ch hello", ":1\r\n");
    r3_expectl(p, "PUBLISH r3px hi", ":1\r\n");
    r3_expectl(p, "SPUBLISH r3sch m", ":1\r\n");
    const char *want[] = {">3\r\n$7\r\nmessage\r\n$4\r\nr3ch\r\n$5\r\nhello\r\n",
                          ">4\r\n$8\r\npmessage\r\n$4\r\nr3p*\r\n$4\r\nr3px\r\n$2\r\nhi\r\n",
                          ">3\r\n$8\r\nsmessage\r\n$5\r\nr3sch\r\n$1\r\nm\r\n"};
    /* each once; channel messages cross the cluster bus to the subscription's node while the shard
     * channel's come from its own master, so between kinds the order is the cluster's */
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char *m = r3_read(s, 3000);
        ck_assert_msg(m != NULL, "%d messages of 3", i);
        int k = 0;
        while (k < 3 && strcmp(m, want[k]) != 0) k++;
        ck_assert_msg(k < 3 && !seen[k], "message %d: %s", i, r3_show(m));
        seen[k] = 1;
        free(m);
    }
    r3_expectl(s, "UNSUBSCRIBE r3ch", ">3\r\n$11\r\nunsubscribe\r\n$4\r\nr3ch\r\n:1\r\n");
    r3_expectl(s, "PUNSUBSCRIBE", ">3\r\n$12\r\npunsubscribe\r\n$4\r\nr3p*\r\n:0\r\n");
    r3_expectl(s, "SUNSUBSCRIBE", ">3\r\n$12\r\nsunsubscribe\r\n$5\r\nr3sch\r\n:0\r\n");
    r3_expectl(s, "UNSUBSCRIBE", ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    r3_expectl(p, "PUBLISH r3ch gone", ":0\r\n");
    char *none = r3_read(s, 300);
    ck_assert_msg(none == NULL, "unexpected: %s", r3_show(none));
    r3_close(s);
    r3_close(p);
}
END_TEST

/* Invalidation pushes until ms pass with none: the keys they name, space separated ("*" for a null
 * invalidation), in arrival order. */
static void read_invalidations(struct r3 *c, int ms, char *out, size_t cap) {
    out[0] = '\0';
    for (char *m; (m = r3_read(c, ms));) {
        ck_assert_msg(starts_with(m, ">2\r\n$10\r\ninvalidate\r\n"), "not an invalidation: %s", r3_show(m));
        char *p = m + 21;
        if (*p == '_') {
            strncat(out, "* ", cap - strlen(out) - 1);
        } else {
            long n = strtol(p + 1, &p, 10);
            p += 2;
            for (long i = 0; i < n; i++) {
                long kl = strtol(p + 1, &p, 10);
                p += 2;
                char key[256];
                snprintf(key, sizeof(key), "%.*s ", (int)kl, p);
                strncat(out, key, cap - strlen(out) - 1);
                p += kl + 2;
            }
        }
        free(m);
    }
    size_t n = strlen(out);
    if (n) out[n - 1] = '\0';
}

static void direct_set(const char *key, const char *value) {
    redisContext *d = connect_port(cluster_master_for_key(&cl, key));
    expect_str(d, "OK", "SET %s %s", key, value);
    redisFree(d);
}

/* Three keys, one on each master. */
static void keys_on_each_master(const char *prefix, char keys[3][32]) {
    int ports[3] = {0, 0, 0}, n = 0;
    for (int i = 0; n < 3 && i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s%d", prefix, i);
        int port = cluster_master_for_key(&cl, k), seen = 0;
        for (int j = 0; j < n; j++) seen |= ports[j] == port;
        if (!seen) ports[n] = port, snprintf(keys[n++], 32, "%s", k);
    }
    ck_assert_int_eq(n, 3);
}

/* 4. Default mode: a client is told once of each change to a key it read, on any master, made through
 * slotgate or straight to the node; then of nothing until it reads the key again; FLUSHALL is a null. */
START_TEST(tracking_tells_of_every_change_to_what_was_read) {
    char keys[3][32], got[1024], want[256];
    keys_on_each_master("r3:t", keys);
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    r3_expectl(c, "CLIENT TRACKING on", "+OK\r\n");
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof(line), "SET %s v%d", keys[i], i);
        r3_expectl(w, line, "+OK\r\n");
        snprintf(line, sizeof(line), "GET %s", keys[i]);
        free(r3_cmdl(c, line));
    }
    read_invalidations(c, 300, got, sizeof(got));
    ck_assert_msg(got[0] == '\0', "told of nothing yet, got: %s", got);
    /* through slotgate, by another client */
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof(line), "SET %s changed", keys[i]);
        r3_expectl(w, line, "+OK\r\n");
        read_invalidations(c, 1000, got, sizeof(got));
        ck_assert_msg(strcmp(got, keys[i]) == 0, "after SET %s: %s", keys[i], got);
    }
    /* told once: a second change before it reads again says nothing */
    r3_sendl(w, "SET r3:untouched 1");
    free(r3_read(w, 2000));
    direct_set(keys[0], "again");
    read_invalidations(c, 500, got, sizeof(got));
    ck_assert_msg(got[0] == '\0', "told again without reading again: %s", got);
    /* straight to the node */
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof(line), "GET %s", keys[i]);
        free(r3_cmdl(c, line));
        direct_set(keys[i], "direct");
        read_invalidations(c, 1000, got, sizeof(got));
        ck_assert_msg(strcmp(got, keys[i]) == 0, "after a SET on the node: %s", got);
    }
    /* a write the client did not read says nothing; an expiry does */
    r3_expectl(w, "SET r3:notread 1", "+OK\r\n");
    char line[96];
    snprintf(line, sizeof(line), "GET %s", keys[1]);
    free(r3_cmdl(c, line));
    snprintf(line, sizeof(line), "PEXPIRE %s 50", keys[1]);
    r3_expectl(w, line, ":1\r\n");
    snprintf(want, sizeof(want), "%s", keys[1]);
    sleep_ms(300);
    snprintf(line, sizeof(line), "GET %s", keys[1]); /* the expiry happens as it is read */
    free(r3_cmdl(w, line));
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_msg(strcmp(got, want) == 0, "after the key expired: %s", got);
    /* FLUSHALL on a node: a null invalidation, drop everything */
    snprintf(line, sizeof(line), "GET %s", keys[2]);
    free(r3_cmdl(c, line));
    redisContext *d = connect_port(cluster_master_for_key(&cl, keys[2]));
    expect_str(d, "OK", "FLUSHALL");
    redisFree(d);
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_msg(strcmp(got, "*") == 0, "after FLUSHALL: %s", got);
    r3_close(c);
    r3_close(w);
}
END_TEST

/* 5. BCAST with prefixes: every change to a matching key, on every master, read or not; nothing else. */
START_TEST(tracking_bcast_prefixes) {
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    r3_expectl(c, "CLIENT TRACKING on BCAST PREFIX r3u: PREFIX r3v:", "+OK\r\n");
    r3_expectl(c, "CLIENT TRACKINGINFO",
               "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n"
               "$4\r\nr3u:\r\n$4\r\nr3v:\r\n");
    char ukeys[3][32], got[1024];
    keys_on_each_master("r3u:", ukeys);
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof(line), "SET %s 1", ukeys[i]);
        r3_expectl(w, line, "+OK\r\n");
        read_invalidations(c, 1000, got, sizeof(got));
        ck_assert_msg(strcmp(got, ukeys[i]) == 0, "after %s: %s", line, got);
    }
    direct_set("r3v:direct", "1");
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, "r3v:direct");
    r3_expectl(w, "SET r3w:other 1", "+OK\r\n");
    direct_set("r3x", "1");
    read_invalidations(c, 500, got, sizeof(got));
    ck_assert_msg(got[0] == '\0', "told of keys matching no prefix: %s", got);
    r3_close(c);
    r3_close(w);
}
END_TEST

/* 6. OPTIN: only the read after CLIENT CACHING yes is tracked; OPTOUT: all but the one after CACHING no. */
START_TEST(tracking_optin_and_optout) {
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    char got[1024];
    r3_expectl(c, "CLIENT TRACKING on OPTIN", "+OK\r\n");
    free(r3_cmdl(c, "GET r3:o1"));
    r3_expectl(c, "CLIENT CACHING yes", "+OK\r\n");
    free(r3_cmdl(c, "GET r3:o2"));
    free(r3_cmdl(c, "GET r3:o3")); /* the yes was for one command only */
    r3_expectl(w, "MSET r3:o1 1 r3:o2 2 r3:o3 3", "+OK\r\n");
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, "r3:o2");
    r3_expectl(c, "CLIENT TRACKING off", "+OK\r\n");
    r3_expectl(c, "CLIENT TRACKING on OPTOUT", "+OK\r\n");
    r3_expectl(c, "CLIENT CACHING no", "+OK\r\n");
    free(r3_cmdl(c, "GET r3:o1"));
    free(r3_cmdl(c, "GET r3:o2"));
    r3_expectl(w, "MSET r3:o1 1 r3:o2 2", "+OK\r\n");
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, "r3:o2");
    r3_close(c);
    r3_close(w);
}
END_TEST

/* 7. NOLOOP: not told of its own writes, still of others'. */
START_TEST(tracking_noloop) {
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    char got[1024];
    r3_expectl(c, "CLIENT TRACKING on NOLOOP", "+OK\r\n");
    free(r3_cmdl(c, "MGET r3:n1 r3:n2"));
    r3_expectl(c, "SET r3:n1 mine", "+OK\r\n");
    r3_expectl(w, "SET r3:n2 theirs", "+OK\r\n");
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, "r3:n2");
    r3_close(c);
    r3_close(w);
}
END_TEST

/* 8. REDIRECT for RESP2 clients: the invalidations reach a connection subscribed to __redis__:invalidate,
 * whichever worker thread either connection landed on. */
START_TEST(tracking_redirect_for_resp2_clients) {
    int same = 0, cross = 0;
    for (int round = 0; round < 24 && !(same >= 1 && cross >= 1); round++) {
        redisContext *sub = connect_port(SG_PORT);
        redisReply *idr = cmd(sub, "CLIENT ID");
        long long id = idr->integer;
        freeReplyObject(idr);
        freeReplyObject(cmd(sub, "SUBSCRIBE __redis__:invalidate"));
        struct r3 *t = r3_connect(SG_PORT); /* RESP2: no HELLO */
        char line[96], key[32];
        snprintf(line, sizeof(line), "CLIENT TRACKING on REDIRECT %lld", id);
        r3_expectl(t, line, "+OK\r\n");
        char *cid = r3_cmdl(t, "CLIENT ID");
        long long tid = strtoll(cid + 1, NULL, 10);
        free(cid);
        if ((tid & 255) == (id & 255))
            same++;
        else
            cross++;
        snprintf(line, sizeof(line), "%lld", id);
        r3_expectl(t, "CLIENT GETREDIR", (snprintf(key, sizeof(key), ":%lld\r\n", id), key));
        snprintf(key, sizeof(key), "r3:redir%d", round);
        snprintf(line, sizeof(line), "GET %s", key);
        free(r3_cmdl(t, line));
        redisContext *w = connect_port(SG_PORT);
        expect_str(w, "OK", "SET %s 1", key);
        redisFree(w);
        redisReply *m = NULL;
        ck_assert_int_eq(redisGetReply(sub, (void **)&m), REDIS_OK);
        ck_assert_int_eq(m->type, REDIS_REPLY_ARRAY);
        ck_assert_int_eq(m->elements, 3);
        ck_assert_str_eq(m->element[0]->str, "message");
        ck_assert_str_eq(m->element[1]->str, "__redis__:invalidate");
        ck_assert_int_eq(m->element[2]->type, REDIS_REPLY_ARRAY);
        ck_assert_int_eq(m->element[2]->elements, 1);
        ck_assert_str_eq(m->element[2]->element[0]->str, key);
        freeReplyObject(m);
        /* the redirection's client goes: the tracking client is flagged as Redis flags it */
        redisFree(sub);
        free(r3_cmdl(t, line));
        w = connect_port(SG_PORT);
        expect_str(w, "OK", "SET %s 2", key);
        redisFree(w);
        int broken = 0;
        for (int i = 0; i < 100 && !broken; i++) {
            char *info = r3_cmdl(t, "CLIENT TRACKINGINFO");
            broken = strstr(info, "broken_redirect") != NULL;
            free(info);
            if (!broken) sleep_ms(20);
        }
        ck_assert_msg(broken, "TRACKINGINFO never said broken_redirect");
        char *ci = r3_cmdl(t, "CLIENT INFO");
        ck_assert_msg(strstr(ci, " flags=tR "), "%s", r3_show(ci));
        free(ci);
        r3_close(t);
    }
    fprintf(stderr, "redirect: %d pairs on one worker, %d across workers\n", same, cross);
    ck_assert_int_ge(same, 1);
    ck_assert_int_ge(cross, 1);
}
END_TEST

/* 9. The table is bounded: past tracking-table-max-keys the oldest keys are invalidated and dropped; a
 * client that goes leaves no tracking state. */
START_TEST(tracking_table_is_bounded_and_cleaned_up) {
    struct r3 *c = hello3(SG_PORT);
    r3_expectl(c, "CLIENT TRACKING on", "+OK\r\n");
    int total = 5000, told = 0;
    for (int i = 0; i < total; i += 100) { /* MGETs of 100 keys spread over every master */
        char line[4096];
        int n = snprintf(line, sizeof(line), "MGET");
        for (int k = i; k < i + 100; k++) n += snprintf(line + n, sizeof(line) - (size_t)n, " r3:b%d", k);
        r3_sendl(c, line);
    }
    for (int replies = 0; replies < total / 100;) {
        char *m = r3_read(c, 5000);
        ck_assert_ptr_nonnull(m);
        if (m[0] == '>')
            told++;
        else
            replies++;
        free(m);
    }
    for (char *m; (m = r3_read(c, 500));) told += m[0] == '>', free(m);
    ck_assert_int_eq(told, total - MAX_KEYS);
    redisContext *info = connect_port(SG_PORT);
    WAIT_UNTIL(3000, info_int(info, "stats", "tracking_total_keys") == MAX_KEYS, "tracking_total_keys %lld",
               info_int(info, "stats", "tracking_total_keys"));
    ck_assert_int_eq(info_int(info, "clients", "tracking_clients"), 1);
    /* the newest keys are the ones still tracked: a change to one of them is told */
    redisContext *w = connect_port(SG_PORT);
    expect_str(w, "OK", "SET r3:b%d x", total - 1);
    char got[256];
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, "r3:b4999");
    r3_close(c);
    WAIT_UNTIL(3000, info_int(info, "stats", "tracking_total_keys") == 0, "keys left: %lld",
               info_int(info, "stats", "tracking_total_keys"));
    ck_assert_int_eq(info_int(info, "clients", "tracking_clients"), 0);
    redisFree(w);
    redisFree(info);
}
END_TEST

static void migrate_slot(int slot, int to_port) {
    int from_port = cluster_master_for_slot(&cl, slot);
    char from_id[41], to_id[41];
    node_id(from_port, from_id);
    node_id(to_port, to_id);
    redisContext *from = connect_port(from_port), *to = connect_port(to_port);
    freeReplyObject(cmd(to, "CLUSTER SETSLOT %d IMPORTING %s", slot, from_id));
    freeReplyObject(cmd(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, to_id));
    redisReply *keys = cmd(from, "CLUSTER GETKEYSINSLOT %d 1000", slot);
    for (size_t i = 0; i < keys->elements; i++)
        freeReplyObject(cmd(from, "MIGRATE 127.0.0.1 %d %s 0 5000", to_port, keys->element[i]->str));
    freeReplyObject(keys);
    for (int m = 0; m < cl.nnodes; m++) {
        redisContext *x = connect_port(BASE + m);
        freeReplyObject(cmd(x, "CLUSTER SETSLOT %d NODE %s", slot, to_id));
        redisFree(x);
    }
    redisFree(from);
    redisFree(to);
}

/* 10. A reshard: the keys of the moved slot are invalidated, and the new master's changes are seen. */
START_TEST(tracking_follows_a_reshard) {
    const char *key = "r3:moving";
    int slot = (int)slot_for_key(key, strlen(key));
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    char got[256];
    r3_expectl(w, "SET r3:moving before", "+OK\r\n");
    r3_expectl(c, "CLIENT TRACKING on", "+OK\r\n");
    r3_expectl(c, "GET r3:moving", "$6\r\nbefore\r\n");
    int from = cluster_master_for_slot(&cl, slot), to = -1;
    for (int p = BASE; p < BASE + cl.nnodes && to < 0; p++)
        if (p != from && node_role_is(p, "master")) to = p;
    migrate_slot(slot, to);
    read_invalidations(c, 3000, got, sizeof(got));
    ck_assert_msg(strstr(got, key) != NULL, "after the reshard: '%s'", got);
    r3_expectl(c, "GET r3:moving", "$6\r\nbefore\r\n");
    direct_set(key, "after"); /* on its new master */
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, key);
    r3_expectl(c, "GET r3:moving", "$5\r\nafter\r\n");
    r3_close(c);
    r3_close(w);
}
END_TEST

/* 11. A failover: the keys of the failed-over master are invalidated, RESP3 replies keep coming right
 * through it, and the new master's changes are seen. */
START_TEST(tracking_follows_a_failover) {
    const char *key = "r3:failing";
    struct r3 *c = hello3(SG_PORT), *w = r3_connect(SG_PORT);
    char got[256];
    r3_expectl(w, "SET r3:failing v1", "+OK\r\n");
    r3_expectl(c, "CLIENT TRACKING on", "+OK\r\n");
    r3_expectl(c, "GET r3:failing", "$2\r\nv1\r\n");
    int master = cluster_master_for_key(&cl, key), replica = cluster_replica_of(&cl, master);
    ck_assert_int_gt(replica, 0);
    redisContext *d = connect_port(replica);
    WAIT_UNTIL(10000, reply_is(d, "OK", "CLUSTER FAILOVER"), "CLUSTER FAILOVER refused");
    redisFree(d);
    /* reads sent while the replica takes over: held or redirected, answered in RESP3 all the same */
    for (int i = 0; i < 200; i++) {
        r3_sendl(w, "GET r3:failing");
        if (i % 10 == 0) sleep_ms(5);
    }
    for (int i = 0; i < 200; i++) {
        char *g = r3_read(w, 10000);
        ck_assert_msg(g && strcmp(g, "$2\r\nv1\r\n") == 0, "GET %d during the failover: %s", i, r3_show(g));
        free(g);
    }
    ck_assert(wait_role(replica, "master", 10000));
    read_invalidations(c, 3000, got, sizeof(got));
    ck_assert_msg(strstr(got, key) != NULL, "after the failover: '%s'", got);
    r3_expectl(c, "GET r3:failing", "$2\r\nv1\r\n");
    direct_set(key, "v2"); /* on the new master */
    read_invalidations(c, 1000, got, sizeof(got));
    ck_assert_str_eq(got, key);
    r3_close(c);
    r3_close(w);
}
END_TEST

SUITE_MAIN(.name = "resp3", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .tests = {TEST(replies_are_what_redis_sends_in_resp3), TEST(replies_slotgate_builds_are_resp3),
                     TEST(redis_cli_3_sees_what_redis_gives), TEST(pubsub_messages_are_pushes),
                     TEST(tracking_tells_of_every_change_to_what_was_read), TEST(tracking_bcast_prefixes),
                     TEST(tracking_optin_and_optout), TEST(tracking_noloop), TEST(tracking_redirect_for_resp2_clients),
                     TEST(tracking_table_is_bounded_and_cleaned_up), TEST(tracking_follows_a_reshard),
                     TEST(tracking_follows_a_failover)})
