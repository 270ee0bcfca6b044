/* RESP request parser and reply scanner: every split point, inline commands, malformed input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/resp.h"
#include "../support/run.h"

#define MAXBULK (512LL * 1024 * 1024)

/* Feeds buf[0..len) to a fresh parser in two pieces split at `split` (the buffer grows as a socket's
 * would), and collects every command as "arg|arg|..." lines. Returns the number of commands, or -1
 * with the error text in err. */
static int parse_all(const char *buf, size_t len, size_t split, char *out, size_t outlen, char *err) {
    struct resp_request r;
    resp_request_init(&r, MAXBULK, 1024 * 1024);
    size_t start = 0, avail = split, n = 0;
    int cmds = 0;
    out[0] = '\0';
    for (;;) {
        int rc = resp_request_parse(&r, buf + start, avail - start, err, RESP_ERR_LEN);
        if (rc == RESP_ERROR) {
            resp_request_free(&r);
            return -1;
        }
        if (rc == RESP_AGAIN) {
            if (avail == len) break;
            avail = len;
            continue;
        }
        if (r.argc > 0) {
            for (uint32_t i = 0; i < r.argc; i++)
                n += (size_t)snprintf(out + n, outlen - n, "%s%.*s", i ? "|" : "", (int)r.argv[i].len,
                                      resp_request_arg(&r, buf + start, i));
            n += (size_t)snprintf(out + n, outlen - n, "\n");
            cmds++;
        }
        start += r.cmd_len;
        resp_request_reset(&r);
    }
    resp_request_free(&r);
    ck_assert_uint_eq(start, len); /* everything consumed */
    return cmds;
}

static const char PIPELINE[] = "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"
                               "PING\r\n"
                               "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
                               "\r\n"
                               "set \"a b\" 'c\\'d' \"\\x41\\n\"\n"
                               "*0\r\n"
                               "*1\r\n$4\r\nPING\r\n";
static const char EXPECTED[] = "SET|foo|bar\nPING\nGET|\nset|a b|c'd|A\n\nPING\n";

START_TEST(pipeline_every_split_point) {
    char out[1024], err[RESP_ERR_LEN];
    size_t len = sizeof(PIPELINE) - 1;
    int cmds = parse_all(PIPELINE, len, (size_t)_i, out, sizeof(out), err);
    ck_assert_int_eq(cmds, 5);
    ck_assert_str_eq(out, EXPECTED);
}
END_TEST

START_TEST(one_byte_at_a_time) {
    struct resp_request r;
    char err[RESP_ERR_LEN];
    const char *cmd = "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
    size_t len = strlen(cmd);
    resp_request_init(&r, MAXBULK, 1024);
    for (size_t i = 1; i < len; i++) ck_assert_int_eq(resp_request_parse(&r, cmd, i, err, sizeof(err)), RESP_AGAIN);
    ck_assert_int_eq(resp_request_parse(&r, cmd, len, err, sizeof(err)), RESP_DONE);
    ck_assert_uint_eq(r.argc, 2);
    ck_assert_uint_eq(r.cmd_len, len);
    ck_assert_int_eq(memcmp(resp_request_arg(&r, cmd, 1), "0123456789", 10), 0);
    resp_request_free(&r);
}
END_TEST

static const struct {
    const char *input;
    const char *error;
} malformed[] = {
    {"*abc\r\n", "Protocol error: invalid multibulk length"},
    {"*-\r\n", "Protocol error: invalid multibulk length"},
    {"*2000000\r\n", "Protocol error: invalid multibulk length"},
    {"*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"},
    {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$99999999999999999999\r\n", "Protocol error: invalid bulk length"},
    {"set \"a\r\n", "Protocol error: unbalanced quotes in request"},
    {"set \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
    {"set 'a\r\n", "Protocol error: unbalanced quotes in request"},
};

START_TEST(malformed_input_gets_redis_errors) {
    char out[256], err[RESP_ERR_LEN];
    const char *in = malformed[_i].input;
    ck_assert_int_eq(parse_all(in, strlen(in), strlen(in), out, sizeof(out), err), -1);
    ck_assert_str_eq(err, malformed[_i].error);
}
END_TEST

START_TEST(oversized_lines_are_refused) {
    struct resp_request r;
    char err[RESP_ERR_LEN];
    size_t n = RESP_INLINE_MAX + 10;
    char *big = malloc(n);
    memset(big, 'a', n);
    resp_request_init(&r, MAXBULK, 1024);
    ck_assert_int_eq(resp_request_parse(&r, big, n, err, sizeof(err)), RESP_ERROR);
    ck_assert_str_eq(err, "Protocol error: too big inline request");
    resp_request_reset(&r);
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    ck_assert_int_eq(resp_request_parse(&r, big, n, err, sizeof(err)), RESP_ERROR);
    ck_assert_str_eq(err, "Protocol error: too big mbulk count string");
    resp_request_free(&r);
    free(big);
}
END_TEST

START_TEST(many_arguments_grow_argv) {
    struct resp_request r;
    char err[RESP_ERR_LEN];
    size_t cap = 100000, n = 0;
    char *buf = malloc(cap);
    n += (size_t)sprintf(buf, "*1000\r\n");
    for (int i = 0; i < 1000; i++) n += (size_t)sprintf(buf + n, "$%d\r\n%d\r\n", i < 10 ? 1 : i < 100 ? 2 : 3, i);
    resp_request_init(&r, MAXBULK, 1024 * 1024);
    ck_assert_int_eq(resp_request_parse(&r, buf, n, err, sizeof(err)), RESP_DONE);
    ck_assert_uint_eq(r.argc, 1000);
    ck_assert_int_eq(memcmp(resp_request_arg(&r, buf, 999), "999", 3), 0);
    resp_request_free(&r);
    free(buf);
}
END_TEST

/* Reply scanner: complete replies of every RESP2 type, split anywhere. */
static const char REPLIES[] = "+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"
                              "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n$0\r\n\r\n";
static const size_t REPLY_LENS[] = {5, 10, 5, 11, 5, 5, 4, 29};

START_TEST(scanner_every_split_point) {
    struct resp_scanner s;
    char err[RESP_ERR_LEN];
    size_t len = sizeof(REPLIES) - 1, start = 0, avail = (size_t)_i, k = 0, rl;
    resp_scanner_init(&s, MAXBULK);
    for (;;) {
        int rc = resp_scan_reply(&s, REPLIES + start, avail - start, &rl, err, sizeof(err));
        ck_assert_int_ne(rc, RESP_ERROR);
        if (rc == RESP_AGAIN) {
            if (avail == len) break;
            avail = len;
            continue;
        }
        ck_assert_uint_lt(k, sizeof(REPLY_LENS) / sizeof(REPLY_LENS[0]));
        ck_assert_uint_eq(rl, REPLY_LENS[k]);
        k++;
        start += rl;
    }
    ck_assert_uint_eq(k, 8);
    ck_assert_uint_eq(start, len);
}
END_TEST

static const char *bad_replies[] = {"?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcde\r\n", "*-5\r\n", "$1\r\nab"};

START_TEST(scanner_rejects_garbage) {
    struct resp_scanner s;
    char err[RESP_ERR_LEN];
    size_t rl;
    resp_scanner_init(&s, MAXBULK);
    const char *b = bad_replies[_i];
    int rc = resp_scan_reply(&s, b, strlen(b), &rl, err, sizeof(err));
    if (_i == 5)
        ck_assert_int_eq(rc, RESP_AGAIN); /* merely incomplete */
    else
        ck_assert_int_eq(rc, RESP_ERROR);
}
END_TEST

START_TEST(scanner_limits_nesting) {
    struct resp_scanner s;
    char err[RESP_ERR_LEN], buf[512];
    size_t n = 0, rl;
    for (int i = 0; i < RESP_MAX_DEPTH + 1; i++) n += (size_t)sprintf(buf + n, "*1\r\n");
    n += (size_t)sprintf(buf + n, ":1\r\n");
    resp_scanner_init(&s, MAXBULK);
    ck_assert_int_eq(resp_scan_reply(&s, buf, n, &rl, err, sizeof(err)), RESP_ERROR);
    ck_assert_str_eq(err, "reply nested too deeply");
}
END_TEST

START_TEST(redirects_are_parsed) {
    struct redirect rd;
    const char *m = "-MOVED 3999 127.0.0.1:6381\r\n";
    ck_assert_int_eq(resp_parse_redirect(m, strlen(m), &rd), REDIR_MOVED);
    ck_assert_uint_eq(rd.slot, 3999);
    ck_assert_str_eq(rd.host, "127.0.0.1");
    ck_assert_int_eq(rd.port, 6381);
    const char *a = "-ASK 1 ::1:7000\r\n";
    ck_assert_int_eq(resp_parse_redirect(a, strlen(a), &rd), REDIR_ASK);
    ck_assert_str_eq(rd.host, "::1");
    ck_assert_int_eq(rd.port, 7000);
    const char *h = "-MOVED 12 redis-0.redis.svc:6379\r\n";
    ck_assert_int_eq(resp_parse_redirect(h, strlen(h), &rd), REDIR_MOVED);
    ck_assert_str_eq(rd.host, "redis-0.redis.svc");
    /* Redis 7's unknown endpoint (cluster-preferred-endpoint-type unknown-endpoint) and "?" (hostnames
     * preferred, the node has none): parsed, the caller decides (backend.c). */
    const char *u = "-MOVED 3999 :6381\r\n", *q = "-ASK 5 ?:6390\r\n";
    ck_assert_int_eq(resp_parse_redirect(u, strlen(u), &rd), REDIR_MOVED);
    ck_assert_str_eq(rd.host, "");
    ck_assert_int_eq(rd.port, 6381);
    ck_assert_int_eq(resp_parse_redirect(q, strlen(q), &rd), REDIR_ASK);
    ck_assert_str_eq(rd.host, "?");
    ck_assert_int_eq(rd.port, 6390);
    const char *bad[] = {"-MOVED x 1.2.3.4:5\r\n", "-MOVED 99999 1.2.3.4:5\r\n", "-MOVED 1 nohost\r\n",
                         "-MOVEDX 1 a:1\r\n", "-ERR MOVED 1 a:1\r\n"};
    for (size_t i = 0; i < 5; i++) ck_assert_int_eq(resp_parse_redirect(bad[i], strlen(bad[i]), &rd), REDIR_NONE);
    ck_assert(resp_error_is("-TRYAGAIN Multiple keys\r\n", 25, "TRYAGAIN"));
    ck_assert(resp_error_is("-CLUSTERDOWN\r\n", 14, "CLUSTERDOWN"));
    ck_assert(!resp_error_is("-CLUSTERDOWNX\r\n", 15, "CLUSTERDOWN"));
}
END_TEST

START_TEST(integers_like_redis) {
    long long v;
    ck_assert_int_eq(resp_parse_ll("0", 1, &v), 0);
    ck_assert_int_eq(resp_parse_ll("-9223372036854775808", 20, &v), 0);
    ck_assert(v == (-9223372036854775807LL - 1));
    ck_assert_int_eq(resp_parse_ll("9223372036854775807", 19, &v), 0);
    ck_assert_int_eq(resp_parse_ll("9223372036854775808", 19, &v), -1);
    ck_assert_int_eq(resp_parse_ll("01", 2, &v), -1);
    ck_assert_int_eq(resp_parse_ll("+1", 2, &v), -1);
    ck_assert_int_eq(resp_parse_ll("-", 1, &v), -1);
    ck_assert_int_eq(resp_parse_ll("", 0, &v), -1);
}
END_TEST

START_TEST(pubsub_confirmations) {
    const char *name;
    size_t nlen;
    long long count;
    const char *sub = "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n";
    ck_assert_int_eq(resp_parse_confirmation(sub, strlen(sub), &name, &nlen, &count), 0);
    ck_assert(nlen == 4 && memcmp(name, "news", 4) == 0 && count == 2);
    const char *none = "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n";
    ck_assert_int_eq(resp_parse_confirmation(none, strlen(none), &name, &nlen, &count), 5);
    ck_assert(name == NULL && count == 0);
    const char *msg = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    ck_assert_int_eq(resp_parse_confirmation(msg, strlen(msg), &name, &nlen, &count), -1);
    const char *cut = "*3\r\n$9\r\nsubscribe\r\n$400\r\nnews\r\n:2\r\n";
    ck_assert_int_eq(resp_parse_confirmation(cut, strlen(cut), &name, &nlen, &count), -1);
}
END_TEST

/* RESP3 replies as Redis 7 sends them to a HELLO 3 connection: each framed whole, at every split point,
 * with their exact lengths (an attribute with the value it describes counts as one). */
static const char *const RESP3_REPLIES[] = {
    "_\r\n",
    "#t\r\n",
    "#f\r\n",
    ",3.14\r\n",
    ",-inf\r\n",
    "(3492890328409238509324850943850943825024385\r\n",
    "!21\r\nSYNTAX invalid syntax\r\n",
    "=15\r\ntxt:Some string\r\n",
    "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
    "~3\r\n+a\r\n+b\r\n+c\r\n",
    "%0\r\n",
    "~0\r\n",
    ">3\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n$-1\r\n",
    "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    "*2\r\n%1\r\n$1\r\nk\r\n~1\r\n_\r\n#f\r\n", /* nested */
};

START_TEST(resp3_replies_framed_at_every_split) {
    static char all[2048];
    size_t lens[32], n = 0, total = 0;
    for (size_t i = 0; i < sizeof(RESP3_REPLIES) / sizeof(*RESP3_REPLIES); i++) {
        lens[n++] = strlen(RESP3_REPLIES[i]);
        memcpy(all + total, RESP3_REPLIES[i], lens[n - 1]);
        total += lens[n - 1];
    }
    for (size_t split = 0; split <= total; split++) {
        struct resp_scanner s;
        char err[RESP_ERR_LEN];
        size_t start = 0, avail = split, k = 0, rl;
        resp_scanner_init_proto(&s, MAXBULK, 1);
        for (;;) {
            int rc = resp_scan_reply(&s, all + start, avail - start, &rl, err, sizeof(err));
            ck_assert_msg(rc != RESP_ERROR, "split %zu, reply %zu: %s", split, k, err);
            if (rc == RESP_AGAIN) {
                if (avail == total) break;
                avail = total;
                continue;
            }
            ck_assert_uint_eq(rl, lens[k]);
            k++;
            start += rl;
        }
        ck_assert_uint_eq(k, n);
    }
}
END_TEST

/* On a RESP2 connection RESP3's types are what they were: not RESP. And RESP3's own rules hold. */
START_TEST(resp3_types_refused_on_resp2_and_checked_on_resp3) {
    static const char *const on_resp2[] = {"_\r\n", "#t\r\n", ",1\r\n", "%1\r\n", "~1\r\n", ">1\r\n", "|1\r\n"};
    static const char *const bad_resp3[] = {"_x\r\n",          "#y\r\n",  "(12a\r\n", "=3\r\ntxt\r\n",
                                            "=5\r\nabcde\r\n", "!-1\r\n", "%-1\r\n",  ",\r\n"};
    struct resp_scanner s;
    char err[RESP_ERR_LEN];
    size_t rl;
    for (size_t i = 0; i < sizeof(on_resp2) / sizeof(*on_resp2); i++) {
        resp_scanner_init(&s, MAXBULK);
        ck_assert_int_eq(resp_scan_reply(&s, on_resp2[i], strlen(on_resp2[i]), &rl, err, sizeof(err)), RESP_ERROR);
    }
    for (size_t i = 0; i < sizeof(bad_resp3) / sizeof(*bad_resp3); i++) {
        resp_scanner_init_proto(&s, MAXBULK, 1);
        ck_assert_msg(resp_scan_reply(&s, bad_resp3[i], strlen(bad_resp3[i]), &rl, err, sizeof(err)) == RESP_ERROR,
                      "accepted %s", bad_resp3[i]);
    }
}
END_TEST

static char seen_keys[256];
static void note_key(const char *k, size_t kl, void *ctx) {
    (void)ctx;
    strncat(seen_keys, k, kl);
    strcat(seen_keys, ",");
}

/* RESP3 pushes from a node: confirmations as pushes, and client-side caching's invalidations. */
START_TEST(pushes_from_nodes) {
    const char *name;
    size_t nlen;
    long long count;
    static const char sub[] = ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    ck_assert_int_eq(resp_parse_confirmation(sub, sizeof(sub) - 1, &name, &nlen, &count), 0);
    ck_assert_int_eq((int)nlen, 2);
    ck_assert_int_eq(count, 1);
    static const char inv[] = ">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nfoo\r\n$0\r\n\r\n";
    seen_keys[0] = '\0';
    ck_assert_int_eq(resp_parse_invalidation(inv, sizeof(inv) - 1, note_key, NULL), 2);
    ck_assert_str_eq(seen_keys, "foo,,");
    static const char all[] = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
    ck_assert_int_eq(resp_parse_invalidation(all, sizeof(all) - 1, note_key, NULL), RESP_INVALIDATE_ALL);
    const char *bad[] = {">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nfoo\r\n",  /* one key short */
                         ">2\r\n$10\r\ninvalidate\r\n*1\r\n$9\r\nfoo\r\n",  /* length past the end */
                         ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n",  /* a message */
                         "*2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n"}; /* RESP2 */
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        seen_keys[0] = '\0';
        ck_assert_int_eq(resp_parse_invalidation(bad[i], strlen(bad[i]), note_key, NULL), -1);
        ck_assert_str_eq(seen_keys, "");
    }
}
END_TEST

SUITE_MAIN(.name = "resp",
           .tests = {LOOP_TEST(pipeline_every_split_point, (int)sizeof(PIPELINE)), TEST(one_byte_at_a_time),
                     LOOP_TEST(malformed_input_gets_redis_errors, (int)(sizeof(malformed) / sizeof(malformed[0]))),
                     TEST(oversized_lines_are_refused), TEST(many_arguments_grow_argv),
                     LOOP_TEST(scanner_every_split_point, (int)sizeof(REPLIES)), LOOP_TEST(scanner_rejects_garbage, 6),
                     TEST(scanner_limits_nesting), TEST(redirects_are_parsed), TEST(integers_like_redis),
                     TEST(pubsub_confirmations), TEST(resp3_replies_framed_at_every_split),
                     TEST(resp3_types_refused_on_resp2_and_checked_on_resp3), TEST(pushes_from_nodes)})
