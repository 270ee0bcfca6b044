/* The reply policy (router/reply.c), every case side by side: the reply, what the request is, what
 * happens. now = 100 s, deadline 105 s unless a case says otherwise. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../router/reply.h"
#include "../support/run.h"

#define NOW 100.0

static const struct {
    const char *reply;
    struct reply_req req; /* node_host, now and deadline filled below when 0 */
    enum reply_action want;
    const char *want_text;    /* REPLY_FAIL's text, or the redirection's host:port */
    const char *want_refresh; /* NULL: none */
} cases[] = {
    /* plain requests */
    {"$1\r\nv\r\n", {.path = RP_PLAIN}, REPLY_DELIVER, NULL, NULL},
    {"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
     {.path = RP_PLAIN},
     REPLY_DELIVER_ERROR,
     NULL,
     NULL},
    {"-MOVED 3999 127.0.0.1:6381\r\n", {.path = RP_PLAIN, .max_redirects = 5}, REPLY_MOVED, "127.0.0.1:6381", "MOVED"},
    {"-MOVED 3999 127.0.0.1:6381\r\n",
     {.path = RP_PLAIN, .redirects = 5, .max_redirects = 5},
     REPLY_FAIL,
     "ERR slotgate: too many redirections for slot 3999 (last: MOVED 3999 127.0.0.1:6381)",
     NULL},
    {"-ASK 3999 127.0.0.1:6382\r\n", {.path = RP_PLAIN, .max_redirects = 5}, REPLY_ASK, "127.0.0.1:6382", NULL},
    {"-ASK 3999 :6382\r\n", {.path = RP_PLAIN, .max_redirects = 5}, REPLY_ASK, "10.0.0.9:6382", NULL}, /* "" */
    {"-MOVED 3999 ?:6381\r\n",
     {.path = RP_PLAIN, .max_redirects = 5, .max_retries = 100},
     REPLY_RETRY,
     NULL,
     "redirect to an unknown endpoint"},
    {"-MOVED 3999 ?:6381\r\n",
     {.path = RP_PLAIN, .max_redirects = 5, .max_retries = 100, .deadline = NOW + 0.01},
     REPLY_FAIL,
     "CLUSTERDOWN slotgate: slot 3999 moved to a node that announces no address",
     "redirect to an unknown endpoint"},
    {"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
     {.path = RP_PLAIN, .max_retries = 100},
     REPLY_RETRY,
     NULL,
     NULL},
    {"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
     {.path = RP_PLAIN, .retries = 100, .max_retries = 100},
     REPLY_DELIVER_ERROR,
     NULL,
     NULL},
    {"-CLUSTERDOWN The cluster is down\r\n", {.path = RP_PLAIN, .max_retries = 100}, REPLY_RETRY, NULL, "CLUSTERDOWN"},
    {"-CLUSTERDOWN The cluster is down\r\n",
     {.path = RP_PLAIN, .retries = 3, .max_retries = 100, .deadline = NOW + 0.1},
     REPLY_DELIVER_ERROR,
     NULL,
     NULL}, /* the 160 ms backoff would pass the deadline */
    /* a master demoted to replica (Sentinel, REPLICAOF): refresh the map and send it again, within the deadline */
    {"-READONLY You can't write against a read only replica.\r\n",
     {.path = RP_PLAIN, .max_retries = 100},
     REPLY_RETRY,
     NULL,
     "READONLY: a master became a replica"},
    {"-READONLY You can't write against a read only replica.\r\n",
     {.path = RP_PLAIN, .retries = 3, .max_retries = 100, .deadline = NOW + 0.1},
     REPLY_DELIVER_ERROR,
     NULL,
     NULL},
    {"-NOSCRIPT No matching script. Please use EVAL.\r\n",
     {.path = RP_PLAIN, .can_reload_script = 1},
     REPLY_RELOAD_SCRIPT,
     NULL,
     NULL},
    {"-NOSCRIPT No matching script. Please use EVAL.\r\n", {.path = RP_PLAIN}, REPLY_DELIVER_ERROR, NULL, NULL},
    /* a client's own transaction connection: every reply is the client's */
    {"-MOVED 3999 127.0.0.1:6381\r\n", {.path = RP_TXN, .max_redirects = 5}, REPLY_DELIVER, NULL, NULL},
    {"-EXECABORT Transaction discarded because of previous errors.\r\n", {.path = RP_TXN}, REPLY_DELIVER, NULL, NULL},
    /* a streamed upload: nothing can be sent again */
    {"-MOVED 12 127.0.0.1:6381\r\n",
     {.path = RP_UPLOAD, .slot = 12},
     REPLY_FAIL,
     "TRYAGAIN slotgate: slot 12 moved while the value was being sent; send it again",
     NULL},
    {"-OOM command not allowed\r\n", {.path = RP_UPLOAD}, REPLY_DELIVER, NULL, NULL},
    {"+OK\r\n", {.path = RP_UPLOAD}, REPLY_DELIVER, NULL, NULL},
    /* inside a MULTI ... EXEC group */
    {"+QUEUED\r\n", {.path = RP_GROUP_QUEUED}, REPLY_SKIP, NULL, NULL},
    {"-MOVED 3999 127.0.0.1:6381\r\n", {.path = RP_GROUP_QUEUED}, REPLY_SKIP, "127.0.0.1:6381", "MOVED"},
    {"-TRYAGAIN x\r\n", {.path = RP_GROUP_QUEUED}, REPLY_SKIP, NULL, NULL},
    /* EXEC's reply after a refused command: the group goes again, or the client gets the EXECABORT */
    {"-EXECABORT Transaction discarded because of previous errors.\r\n",
     {.path = RP_PLAIN, .group_retry = 1, .max_retries = 100},
     REPLY_RETRY,
     NULL,
     NULL},
    {"-EXECABORT Transaction discarded because of previous errors.\r\n",
     {.path = RP_PLAIN, .group_retry = 1, .retries = 100, .max_retries = 100},
     REPLY_DELIVER_ERROR,
     NULL,
     NULL},
};

START_TEST(decides) {
    struct reply_req q = cases[_i].req;
    struct reply_decision d;
    q.node_host = "10.0.0.9";
    q.now = NOW;
    if (q.deadline == 0) q.deadline = NOW + 5;
    const char *p = cases[_i].reply;
    reply_decide(p, strlen(p), &q, &d);
    ck_assert_msg(d.action == cases[_i].want, "case %d (%s): action %d, want %d", _i, p, d.action, cases[_i].want);
    if (d.action == REPLY_FAIL) ck_assert_str_eq(d.text, cases[_i].want_text);
    if (cases[_i].want_text && d.action != REPLY_FAIL) {
        char to[300];
        snprintf(to, sizeof(to), "%s:%d", d.rd.host, d.rd.port);
        ck_assert_str_eq(to, cases[_i].want_text);
    }
    if (cases[_i].want_refresh)
        ck_assert_msg(d.refresh_why && !strcmp(d.refresh_why, cases[_i].want_refresh), "case %d: refresh %s", _i,
                      d.refresh_why ? d.refresh_why : "none");
    else
        ck_assert_msg(!d.refresh_why, "case %d: refresh %s, want none", _i, d.refresh_why);
    if (d.action == REPLY_RETRY) ck_assert(d.retry_at > NOW && d.retry_at <= NOW + 0.5);
    if (cases[_i].req.path == RP_GROUP_QUEUED) ck_assert_int_eq(d.group_retry, p[0] == '-');
}
END_TEST

START_TEST(backoff_doubles_to_half_a_second) {
    const double want[] = {0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5};
    for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(reply_backoff(i), want[i], 1e-9);
}
END_TEST

/* A migration's reads: what a command answers for a missing key sends it to the old backend. */
START_TEST(misses_as_a_migration_reads_them) {
    const char *miss[] = {"$-1\r\n",
                          "_\r\n",
                          "*-1\r\n",
                          "*0\r\n",
                          "~0\r\n",
                          "%0\r\n",
                          ":0\r\n",
                          ":-2\r\n",
                          "+none\r\n",
                          "*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n",
                          "*2\r\n_\r\n$1\r\nb\r\n",
                          "-CLUSTERDOWN The cluster is down\r\n"};
    const char *hit[] = {"$1\r\nv\r\n",
                         ":1\r\n",
                         ":-1\r\n",
                         ":10\r\n",
                         ":-20\r\n",
                         "+string\r\n",
                         "+OK\r\n",
                         "*1\r\n$1\r\na\r\n",
                         "%1\r\n$1\r\na\r\n$1\r\nb\r\n",
                         "*10\r\n",
                         "$0\r\n\r\n"};
    for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++)
        ck_assert_msg(reply_is_miss(miss[i], strlen(miss[i])), "%s", miss[i]);
    for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
        ck_assert_msg(!reply_is_miss(hit[i], strlen(hit[i])), "%s", hit[i]);
}
END_TEST

SUITE_MAIN(.name = "reply", .tests = {LOOP_TEST(decides, sizeof(cases) / sizeof(cases[0])),
                                      TEST(backoff_doubles_to_half_a_second), TEST(misses_as_a_migration_reads_them)})
