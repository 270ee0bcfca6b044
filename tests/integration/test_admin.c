/* The admin endpoint against a real 3+3 cluster, through curl: every endpoint's fields checked against
 * what the cluster itself says (CLUSTER SLOTS, CLUSTER INFO, DBSIZE), /metrics parsed strictly as
 * Prometheus text, the dashboard rendered in headless Chromium, and a killed master seen going down
 * and its replica taking over. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/cluster.h"
#include "../support/http.h"
#include "../support/run.h"

#define BASE    21500
#define SG_PORT 21590
#define ADMIN   (SG_PORT + SLOTGATE_ADMIN_OFFSET)

static struct cluster cl;
static struct slotgate sg;

static void suite_setup(void) {
    fixture_up(&cl, &sg, BASE, 3, 1, SG_PORT, "--threads 1 --probe-interval-ms 200 --probe-down-after 2");
}
static void suite_teardown(void) { fixture_down(&cl, &sg); }

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}
static long long jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* The JSON range holding [start, end] agrees with one CLUSTER SLOTS entry: master and replicas. */
static int range_matches(json_t *ranges, const redisReply *e) {
    long long start = e->element[0]->integer, end = e->element[1]->integer;
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r) {
        if (jint(r, "start") > start || jint(r, "end") < end) continue;
        char addr[64];
        json_t *m = json_object_get(r, "master");
        snprintf(addr, sizeof(addr), "%s:%lld", e->element[2]->element[0]->str, e->element[2]->element[1]->integer);
        if (strcmp(jstr(m, "addr"), addr) || strcmp(jstr(m, "id"), e->element[2]->element[2]->str)) return 0;
        json_t *reps = json_object_get(r, "replicas");
        if (json_array_size(reps) != e->elements - 3) return 0;
        for (size_t k = 3; k < e->elements; k++) {
            snprintf(addr, sizeof(addr), "%s:%lld", e->element[k]->element[0]->str, e->element[k]->element[1]->integer);
            int found = 0;
            for (size_t x = 0; x < json_array_size(reps); x++)
                found |= !strcmp(jstr(json_array_get(reps, x), "addr"), addr);
            if (!found) return 0;
        }
        return 1;
    }
    return 0;
}

/* /slots (kept in *j, the last one read) against CLUSTER SLOTS. */
static int slots_match(json_t **j, const redisReply *cs) {
    json_decref(*j);
    *j = http_json(ADMIN, "/slots", 200);
    int ok = 1;
    for (size_t i = 0; i < cs->elements; i++) ok &= range_matches(json_object_get(*j, "ranges"), cs->element[i]);
    return ok;
}

START_TEST(slots_match_cluster_slots) {
    redisContext *n = connect_port(BASE);
    redisReply *cs = cmd(n, "CLUSTER SLOTS");
    json_t *j = NULL;
    WAIT_UNTIL(8000, slots_match(&j, cs), "/slots never matched CLUSTER SLOTS: %s", json_dumps(j, 0));
    ck_assert(json_is_true(json_object_get(j, "complete")));
    ck_assert_int_eq(jint(j, "slots_covered"), 16384);
    ck_assert_int_eq(jint(j, "masters"), 3);
    ck_assert_int_ge(jint(j, "version"), 1);
    ck_assert_msg(strncmp(jstr(j, "refreshed_from"), "127.0.0.1:215", 13) == 0, "from %s", jstr(j, "refreshed_from"));
    ck_assert_int_eq(strlen(jstr(j, "refreshed_at")), 24); /* 2026-11-25T14:10:56.786Z */
    long long total = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "ranges"), i, r) total += jint(r, "slots");
    ck_assert_int_eq(total, 16384);
    json_decref(j);
    freeReplyObject(cs);

    static const int probe[] = {0, 5461, 10923, 16383};
    for (size_t k = 0; k < 4; k++) {
        char path[64], want[32];
        snprintf(path, sizeof(path), "/slots/%d", probe[k]);
        snprintf(want, sizeof(want), "127.0.0.1:%d", cluster_master_for_slot(&cl, probe[k]));
        j = http_json(ADMIN, path, 200);
        ck_assert_int_eq(jint(j, "slot"), probe[k]);
        ck_assert_str_eq(jstr(json_object_get(j, "master"), "addr"), want);
        ck_assert_int_eq(json_array_size(json_object_get(j, "replicas")), 1);
        json_decref(j);
    }
    /* /keyslot: the same slot as CLUSTER KEYSLOT, hash tags included */
    redisReply *ks = cmd(n, "CLUSTER KEYSLOT %s", "{user1000}.following");
    j = http_json(ADMIN, "/keyslot?key=%7Buser1000%7D.following", 200);
    ck_assert_int_eq(jint(j, "slot"), ks->integer);
    ck_assert_str_eq(jstr(j, "key"), "{user1000}.following");
    char want[32];
    snprintf(want, sizeof(want), "127.0.0.1:%d", cluster_master_for_slot(&cl, (int)ks->integer));
    ck_assert_str_eq(jstr(json_object_get(j, "master"), "addr"), want);
    json_decref(j);
    freeReplyObject(ks);
    json_decref(http_json(ADMIN, "/slots/16384", 400));
    json_decref(http_json(ADMIN, "/slots/abc", 400));
    j = http_json(ADMIN, "/keyslot", 400);
    ck_assert_str_eq(jstr(j, "error"), "give the key as ?key=...");
    json_decref(j);
    redisFree(n);
}
END_TEST

static long long dbsize(int port) {
    redisContext *c = connect_port(port);
    redisReply *r = cmd(c, "DBSIZE");
    long long n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static json_t *node_by_addr(json_t *nodes, const char *addr) {
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(nodes, "nodes"), i, x) if (!strcmp(jstr(x, "addr"), addr)) return x;
    return NULL;
}

/* /nodes (kept in *j) lists all six nodes, each with its DBSIZE, and lag only for replicas. */
static int nodes_settled(json_t **j) {
    json_decref(*j);
    *j = http_json(ADMIN, "/nodes", 200);
    int settled = json_array_size(json_object_get(*j, "nodes")) == 6;
    for (int k = 0; k < 6 && settled; k++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", BASE + k);
        json_t *x = node_by_addr(*j, addr);
        settled = x && jint(x, "keys") == dbsize(BASE + k) &&
                  json_is_integer(json_object_get(x, "lag_bytes")) == !strcmp(jstr(x, "role"), "replica");
    }
    return settled;
}

START_TEST(nodes_show_roles_keys_memory_and_traffic) {
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < 300; i++) freeReplyObject(cmd(c, "SET nk:%d v%d", i, i));
    json_t *j = NULL;
    WAIT_UNTIL(8000, nodes_settled(&j), "/nodes never agreed with DBSIZE on every node: %s", json_dumps(j, 0));
    long long requests = 0, slots = 0;
    int masters = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "nodes"), i, x) {
        const char *role = jstr(x, "role");
        ck_assert_str_eq(jstr(x, "state"), "up");
        ck_assert_str_eq(jstr(x, "reported_role"), role);
        ck_assert_int_eq(strlen(jstr(x, "id")), 40);
        ck_assert_int_gt(jint(x, "used_memory_bytes"), 100000);
        ck_assert(json_real_value(json_object_get(x, "probe_latency_ms")) > 0);
        ck_assert(json_is_true(json_object_get(x, "in_slot_map")));
        ck_assert(json_is_null(json_object_get(x, "last_error")));
        if (!strcmp(role, "master")) {
            masters++;
            slots += jint(x, "slots");
            requests += jint(x, "requests");
            ck_assert_int_ge(jint(x, "connections"), 1);
            ck_assert_int_gt(jint(x, "keys"), 50); /* 300 keys spread over 3 masters */
        } else {
            ck_assert_str_eq(role, "replica");
            json_t *m = node_by_addr(j, jstr(x, "master"));
            ck_assert_msg(m && !strcmp(jstr(m, "role"), "master"), "replica %s: master %s", jstr(x, "addr"),
                          jstr(x, "master"));
            ck_assert_str_eq(jstr(x, "master_link_status"), "up");
            ck_assert_int_ge(jint(x, "lag_bytes"), 0);
            ck_assert_int_eq(jint(x, "slots"), 0);
        }
    }
    ck_assert_int_eq(masters, 3);
    ck_assert_int_eq(slots, 16384);
    ck_assert_int_ge(requests, 300);
    json_decref(j);
    redisFree(c);
}
END_TEST

/* /cluster (kept in *j): state ok, the masters' keys, three replicas. */
static int cluster_settled(json_t **j) {
    json_decref(*j);
    *j = http_json(ADMIN, "/cluster", 200);
    return !strcmp(jstr(*j, "state"), "ok") &&
           jint(*j, "keys_total") == dbsize(BASE) + dbsize(BASE + 1) + dbsize(BASE + 2) && jint(*j, "replicas") == 3;
}

START_TEST(cluster_view_matches_cluster_info) {
    redisContext *n = connect_port(BASE + 1);
    redisReply *info = cmd(n, "CLUSTER INFO");
    const char *at = strstr(info->str, "cluster_current_epoch:");
    long long epoch = at ? atoll(at + 22) : -1;
    json_t *j = NULL;
    WAIT_UNTIL(8000, cluster_settled(&j), "/cluster: %s", json_dumps(j, 0));
    ck_assert_int_eq(jint(j, "slots_assigned"), 16384);
    ck_assert_int_eq(jint(j, "slots_ok"), 16384);
    ck_assert_int_eq(jint(j, "slots_pfail"), 0);
    ck_assert_int_eq(jint(j, "slots_fail"), 0);
    ck_assert_int_eq(jint(j, "known_nodes"), 6);
    ck_assert_int_eq(jint(j, "size"), 3);
    ck_assert_int_eq(jint(j, "masters"), 3);
    ck_assert_int_eq(jint(j, "current_epoch"), epoch);
    ck_assert_int_eq(jint(j, "nodes_up"), 6);
    ck_assert_int_eq(jint(j, "slots_covered_by_map"), 16384);
    json_t *dist = json_object_get(j, "keys_by_master");
    ck_assert_int_eq(json_array_size(dist), 3);
    long long sum = 0;
    for (size_t i = 0; i < 3; i++) sum += jint(json_array_get(dist, i), "keys");
    ck_assert_int_eq(sum, jint(j, "keys_total"));
    json_decref(j);
    freeReplyObject(info);
    redisFree(n);
}
END_TEST

static long long family_count(json_t *stats, const char *family, const char *what) {
    return jint(json_object_get(json_object_get(stats, "commands_by_family"), family), what);
}

START_TEST(stats_count_commands_by_family_and_info_agrees) {
    json_t *before = http_json(ADMIN, "/stats", 200);
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < 10; i++) freeReplyObject(cmd(c, "SET st:%d x", i));
    for (int i = 0; i < 5; i++) freeReplyObject(cmd(c, "RPUSH stlist %d", i));
    for (int i = 0; i < 2; i++) freeReplyObject(cmd(c, "HSET sthash f%d v", i));
    redisReply *r = cmd(c, "NOSUCHCOMMAND a b");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    json_t *after = http_json(ADMIN, "/stats", 200);
    ck_assert_int_eq(family_count(after, "string", "calls") - family_count(before, "string", "calls"), 10);
    ck_assert_int_eq(family_count(after, "list", "calls") - family_count(before, "list", "calls"), 5);
    ck_assert_int_eq(family_count(after, "hash", "calls") - family_count(before, "hash", "calls"), 2);
    ck_assert_int_eq(family_count(after, "other", "errors") - family_count(before, "other", "errors"), 1);
    ck_assert_int_ge(jint(after, "commands_processed") - jint(before, "commands_processed"), 18);
    ck_assert_int_ge(jint(after, "error_replies") - jint(before, "error_replies"), 1);
    ck_assert_int_ge(jint(after, "clients_connected"), 1);
    json_t *lat = json_object_get(after, "latency_us");
    ck_assert_int_ge(jint(lat, "count") - jint(json_object_get(before, "latency_us"), "count"), 18);
    double p50 = json_real_value(json_object_get(lat, "p50")), p99 = json_real_value(json_object_get(lat, "p99"));
    ck_assert_msg(p50 > 0 && p99 >= p50 && json_real_value(json_object_get(lat, "p999")) >= p99, "%s",
                  json_dumps(lat, 0));
    ck_assert(json_is_integer(json_object_get(json_object_get(after, "redirections"), "moved")));
    ck_assert_int_ge(jint(json_object_get(after, "refreshes"), "ok"), 1);
    json_t *refreshes = json_object_get(after, "refreshes");
    ck_assert_msg(jint(refreshes, "failed") > 0 ? strlen(jstr(refreshes, "last_error")) > 0
                                                : json_is_null(json_object_get(refreshes, "last_error")),
                  "refreshes: %s", json_dumps(refreshes, 0));
    /* INFO over RESP: Redis's format, the same figures */
    r = cmd(c, "INFO stats");
    ck_assert_ptr_nonnull(strstr(r->str, "# Stats\r\n"));
    ck_assert_ptr_nonnull(strstr(r->str, "\r\nlatency_p99_usec:"));
    const char *at = strstr(r->str, "total_commands_processed:");
    ck_assert_int_ge(atoll(at + 25), jint(after, "commands_processed"));
    freeReplyObject(r);
    r = cmd(c, "INFO cluster");
    ck_assert_msg(strstr(r->str, "cluster_known_nodes:6\r\n") && strstr(r->str, "nodes_up:6\r\n") &&
                      strstr(r->str, "cluster_reported_state:ok\r\n"),
                  "%s", r->str);
    freeReplyObject(r);
    r = cmd(c, "INFO commandstats");
    ck_assert_msg(strstr(r->str, "# Commandstats\r\ncmdfamily_string:calls="), "%s", r->str);
    freeReplyObject(r);
    json_decref(before);
    json_decref(after);
    redisFree(c);
}
END_TEST

/* ---- a strict reader of the Prometheus text format (0.0.4) ---- */

struct family {
    char name[128], type[32];
};

static int valid_name(const char *s, size_t n) {
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':')) return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':')) return 0;
    return 1;
}

/* Checks every line; fills the value of `want` (a full series, e.g. slotgate_ready) when present. */
static void check_exposition(char *text, const char *want, double *want_value, int *node_up_series) {
    struct family fam[128];
    int nfam = 0, line_no = 0;
    double last_le = -1, last_bucket = -1, inf_bucket = -1, count = -1;
    char last_series[512] = "";
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (!strncmp(line, "# HELP ", 7)) continue;
        if (!strncmp(line, "# TYPE ", 7)) {
            char name[128], type[32];
            ck_assert_msg(sscanf(line + 7, "%127s %31s", name, type) == 2, "line %d: %s", line_no, line);
            ck_assert_msg(valid_name(name, strlen(name)), "line %d: bad name %s", line_no, name);
            ck_assert_msg(!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram"),
                          "line %d: type %s", line_no, type);
            for (int i = 0; i < nfam; i++) ck_assert_msg(strcmp(fam[i].name, name), "TYPE twice for %s", name);
            ck_assert_msg(!strcmp(type, "counter") == (strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total")),
                          "counter names end in _total, others do not: %s", name);
            ck_assert_int_lt(nfam, 128);
            snprintf(fam[nfam].name, sizeof(fam[nfam].name), "%s", name);
            snprintf(fam[nfam].type, sizeof(fam[nfam].type), "%s", type);
            nfam++;
            continue;
        }
        ck_assert_msg(line[0] != '#', "line %d: unknown comment %s", line_no, line);
        size_t nlen = strcspn(line, "{ ");
        ck_assert_msg(valid_name(line, nlen), "line %d: bad metric name: %s", line_no, line);
        char *p = line + nlen;
        char le[32] = "";
        if (*p == '{') { /* labels: name="value" with \\, \" and \n escapes, comma separated */
            p++;
            while (*p != '}') {
                size_t ln = strcspn(p, "=");
                ck_assert_msg(valid_name(p, ln) && p[ln] == '=' && p[ln + 1] == '"', "line %d: label: %s", line_no,
                              line);
                int is_le = ln == 2 && !strncmp(p, "le", 2);
                p += ln + 2;
                size_t vn = 0;
                while (*p && *p != '"') {
                    if (*p == '\\') {
                        ck_assert_msg(p[1] == '\\' || p[1] == '"' || p[1] == 'n', "line %d: escape", line_no);
                        p++;
                    }
                    if (is_le && vn < sizeof(le) - 1) le[vn++] = *p;
                    p++;
                }
                ck_assert_msg(*p == '"', "line %d: unterminated label value", line_no);
                p++;
                ck_assert_msg(*p == ',' || *p == '}', "line %d: after a label: %s", line_no, p);
                if (*p == ',') p++;
            }
            p++;
        }
        ck_assert_msg(*p == ' ', "line %d: no value: %s", line_no, line);
        char *end;
        double v = strtod(p + 1, &end);
        ck_assert_msg(end != p + 1 && *end == '\0', "line %d: value: %s", line_no, line);
        /* its family: declared before it, by TYPE */
        const struct family *f = NULL;
        for (int i = 0; i < nfam && !f; i++) {
            size_t fl = strlen(fam[i].name);
            if (!strncmp(line, fam[i].name, fl) &&
                (nlen == fl || (!strcmp(fam[i].type, "histogram") &&
                                (!strncmp(line + fl, "_bucket", 7) || !strncmp(line + fl, "_sum", 4) ||
                                 !strncmp(line + fl, "_count", 6)))))
                f = &fam[i];
        }
        ck_assert_msg(f != NULL, "line %d: sample before its TYPE: %s", line_no, line);
        if (!strcmp(f->type, "histogram") && strstr(line, "_bucket{")) {
            /* each series (its labels but le) has its own buckets: they grow within it */
            char series[512];
            size_t sl = 0;
            for (const char *q = line; *q && *q != ' ' && sl < sizeof(series) - 1;) {
                if (!strncmp(q, "le=\"", 4)) {
                    q = strchr(q + 4, '"');
                    q = q ? q + 1 : "";
                    continue;
                }
                series[sl++] = *q++;
            }
            series[sl] = '\0';
            if (strcmp(series, last_series)) last_le = -1, last_bucket = -1;
            snprintf(last_series, sizeof(last_series), "%s", series);
            double b = !strcmp(le, "+Inf") ? 1e300 : strtod(le, NULL);
            ck_assert_msg(b > last_le && v >= last_bucket, "line %d: buckets must grow: %s", line_no, line);
            last_le = b, last_bucket = v;
            if (b == 1e300 && strstr(line, "_bucket{le=")) inf_bucket = v; /* the unlabelled one's, for _count */
        }
        if (!strcmp(f->type, "histogram") && strstr(line, "_count ")) count = v;
        if (!strcmp(f->type, "counter")) ck_assert_msg(v >= 0, "line %d: negative counter", line_no);
        if (!strncmp(line, want, strlen(want)) && line[strlen(want)] == ' ') *want_value = v;
        if (!strncmp(line, "slotgate_node_up{", 17)) (*node_up_series)++;
    }
    ck_assert_msg(inf_bucket >= 0 && inf_bucket == count, "+Inf bucket %g, _count %g", inf_bucket, count);
}

START_TEST(metrics_are_strict_prometheus_text) {
    struct http_reply r;
    http_request(&r, "GET", ADMIN, "/metrics", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"), "%s", r.headers);
    char path[128];
    snprintf(path, sizeof(path), "/tmp/slotgate-test-%d-metrics.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(r.body, f);
    fclose(f);
    double covered = -1, ready = -1;
    int node_up = 0, unused = 0;
    char *copy = strdup(r.body);
    check_exposition(copy, "slotgate_slots_covered", &covered, &node_up);
    free(copy);
    copy = strdup(r.body);
    check_exposition(copy, "slotgate_ready", &ready, &unused);
    free(copy);
    ck_assert_msg(covered == 16384 && ready == 1, "covered %g ready %g", covered, ready);
    ck_assert_int_eq(node_up, 6);
    ck_assert_ptr_nonnull(strstr(r.body, "slotgate_commands_total{family=\"string\"} "));
    ck_assert_ptr_nonnull(strstr(r.body, "slotgate_request_duration_seconds_bucket{le=\"0.001\"} "));
    /* Prometheus's own checker too, where Debian's prometheus package is installed */
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char cmdline[256];
        snprintf(cmdline, sizeof(cmdline), "/usr/bin/promtool check metrics < %s", path);
        ck_assert_int_eq(system(cmdline), 0);
    }
    unlink(path);
    http_reply_free(&r);
}
END_TEST

START_TEST(unknown_paths_other_methods_and_garbage) {
    struct http_reply r;
    http_request(&r, "GET", ADMIN, "/no/such/thing", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(r.body, "\"error\": \"not found\""));
    http_reply_free(&r);
    http_request(&r, "POST", ADMIN, "/stats", "-d x=1");
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.headers, "Allow: GET, HEAD"), "%s", r.headers);
    http_reply_free(&r);
    http_request(&r, "DELETE", ADMIN, "/slots", NULL);
    ck_assert_int_eq(r.status, 405);
    http_reply_free(&r);
    /* Not HTTP at all, and a request line far over the limit: the data path does not notice. */
    redisContext *c = connect_port(SG_PORT);
    redisContext *raw = redisConnect("127.0.0.1", ADMIN);
    ck_assert(raw && !raw->err);
    static const char junk[] = "\x01\x02\xff garbage\r\n\r\nGET /";
    ck_assert_int_eq(write(raw->fd, junk, sizeof(junk) - 1), (long)sizeof(junk) - 1);
    char big[100000];
    memset(big, 'A', sizeof(big));
    ssize_t w = write(raw->fd, big, sizeof(big));
    (void)w;
    expect_str(c, "PONG", "PING");
    redisFree(raw);
    json_t *j = http_json(ADMIN, "/healthz", 200);
    ck_assert_str_eq(jstr(j, "status"), "ok");
    json_decref(j);
    freeReplyObject(cmd(c, "SET garbage:after ok"));
    expect_str(c, "ok", "GET garbage:after");
    redisFree(c);
}
END_TEST

/* With admin-token: probes stay open, everything else wants the token; /config never shows a secret;
 * log-format json writes one JSON object a line. */
START_TEST(token_redaction_and_json_logs) {
    struct slotgate s2;
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(&s2, SG_PORT + 1,
                   "--threads 1 --admin-token t0ken-42 --requirepass s3cret-pw --users app:apppw-9 --log-format json",
                   seed, 0);
    int admin = s2.admin_port;
    json_decref(http_json(admin, "/healthz", 200));
    struct http_reply r;
    http_request(&r, "GET", admin, "/config", NULL);
    ck_assert_int_eq(r.status, 401);
    ck_assert_msg(strstr(r.headers, "WWW-Authenticate: Bearer"), "%s", r.headers);
    http_reply_free(&r);
    http_request(&r, "GET", admin, "/config", "-H 'Authorization: Bearer wrong-token'");
    ck_assert_int_eq(r.status, 401);
    http_reply_free(&r);
    http_request(&r, "GET", admin, "/config", "-H 'Authorization: Bearer t0ken-42'");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(!strstr(r.body, "s3cret-pw") && !strstr(r.body, "t0ken-42") && !strstr(r.body, "apppw-9"), "%s",
                  r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(jstr(j, "requirepass"), "(redacted)");
    ck_assert_str_eq(jstr(j, "admin-token"), "(redacted)");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "users"), 0)), "app:(redacted)");
    ck_assert_str_eq(jstr(j, "log-format"), "json");
    ck_assert_int_eq(jint(j, "port"), SG_PORT + 1);
    json_decref(j);
    http_reply_free(&r);
    /* a wrong AUTH is refused, counted and logged without the password */
    redisContext *c = connect_port(SG_PORT + 1);
    redisReply *rr = redisCommand(c, "AUTH %s", "not-the-password");
    ck_assert_str_eq(rr->str, "WRONGPASS invalid username-password pair or user is disabled.");
    freeReplyObject(rr);
    rr = redisCommand(c, "AUTH app apppw-9");
    ck_assert_str_eq(rr->str, "OK");
    freeReplyObject(rr);
    redisFree(c);
    http_request(&r, "GET", admin, "/stats", "-H 'Authorization: Bearer t0ken-42'");
    ck_assert_msg(strstr(r.body, "\"auth_failures\": 1"), "%s", r.body);
    http_reply_free(&r);
    http_request(&r, "GET", admin, "/readyz", NULL); /* no token needed: probes */
    ck_assert_msg(r.status == 200 || r.status == 503, "%d", r.status);
    http_reply_free(&r);
    FILE *f = fopen(s2.log, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int lines = 0, ready_line = 0, auth_line = 0;
    while (fgets(line, sizeof(line), f)) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        ck_assert_msg(o && json_is_object(o), "log line is not a JSON object: %s", line);
        ck_assert_int_eq(strlen(jstr(o, "time")), 24);
        ck_assert_msg(strlen(jstr(o, "level")) > 0 && json_is_integer(json_object_get(o, "pid")), "%s", line);
        ready_line |= strstr(jstr(o, "msg"), "ready to accept connections") != NULL;
        ck_assert_msg(!strstr(line, "s3cret-pw") && !strstr(line, "t0ken-42") && !strstr(line, "not-the-password"),
                      "a secret in the log: %s", line);
        auth_line |= strstr(jstr(o, "msg"), "authentication failed for user 'default'") != NULL;
        json_decref(o);
        lines++;
    }
    fclose(f);
    ck_assert_int_ge(lines, 2);
    ck_assert(ready_line);
    ck_assert(auth_line);
    ck_assert_int_eq(slotgate_stop(&s2), 0);
}
END_TEST

START_TEST(readyz_is_503_until_the_slot_map_is_full) {
    for (int i = 0; i < cl.nnodes; i++) kill(cl.pids[i], SIGSTOP); /* no node answers CLUSTER SLOTS */
    struct slotgate s3;
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", BASE);
    slotgate_start(&s3, SG_PORT + 2, "--threads 1", seed, 0);
    json_t *j = http_json(s3.admin_port, "/readyz", 503);
    ck_assert(json_is_false(json_object_get(j, "ready")));
    ck_assert_msg(strstr(jstr(j, "reason"), "no slot map"), "%s", jstr(j, "reason"));
    json_decref(j);
    struct http_reply r;
    http_request(&r, "GET", s3.admin_port, "/metrics", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "\nslotgate_ready 0\n"));
    http_reply_free(&r);
    for (int i = 0; i < cl.nnodes; i++) kill(cl.pids[i], SIGCONT);
    long long start = now_ms();
    int status = 0;
    while (status != 200 && now_ms() - start < 10000) {
        http_request(&r, "GET", s3.admin_port, "/readyz", NULL);
        status = r.status;
        http_reply_free(&r);
        if (status != 200) sleep_ms(50);
    }
    ck_assert_int_eq(status, 200);
    fprintf(stderr, "readyz: 200 %lld ms after the cluster answered\n", now_ms() - start);
    ck_assert_int_eq(slotgate_stop(&s3), 0);
    ck_assert_int_eq(cluster_wait_ok(&cl, 10000), 0);
}
END_TEST

static int count_rows(const char *dom, const char *needle) {
    int n = 0;
    for (const char *p = dom; (p = strstr(p, needle)); p++) n++;
    return n;
}

START_TEST(dashboard_renders_the_slot_grid_in_chromium) {
    struct http_reply r;
    http_request(&r, "GET", ADMIN, "/", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(!strstr(r.body, "src=\"http") && !strstr(r.body, "href=\"http"), "external assets in the page");
    http_reply_free(&r);
    /* a hot key for the hot-key panel (counted one request in 8, published once a second) */
    redisContext *c = connect_port(SG_PORT);
    for (int i = 0; i < 800; i++) redisAppendCommand(c, "GET dash:hot");
    for (int i = 0; i < 800; i++) {
        redisReply *x = NULL;
        ck_assert_int_eq(redisGetReply(c, (void **)&x), REDIS_OK);
        freeReplyObject(x);
    }
    size_t blen = 1536 * 1024; /* and a big key for the big-key panel */
    char *big = malloc(blen);
    memset(big, 'z', blen);
    redisReply *x = redisCommand(c, "SET dash:big %b", big, blen);
    ck_assert_msg(x && x->type == REDIS_REPLY_STATUS, "SET dash:big");
    freeReplyObject(x);
    free(big);
    redisFree(c);
    sleep_ms(1500);
    char *dom = chromium_page(ADMIN, "", "--dump-dom", NULL);
    ck_assert_msg(strstr(dom, "<td>dash:hot</td>"), "no hot-key row: %.3000s", dom);
    ck_assert_msg(strstr(dom, "<td>dash:big</td>"), "no big-key row: %.3000s", dom);
    ck_assert_msg(strstr(dom, "data-slots-drawn=\"16384\""), "slot grid not drawn: %.2000s", dom);
    ck_assert_msg(strstr(dom, "data-masters=\"3\""), "%.2000s", dom);
    ck_assert_msg(strstr(dom, "data-state=\"ok\""), "%.2000s", dom);
    json_t *nodes = http_json(ADMIN, "/nodes", 200);
    ck_assert_msg(count_rows(dom, "<tr data-addr=\"") == 6, "node rows: %d; /nodes: %s",
                  count_rows(dom, "<tr data-addr=\""), json_dumps(nodes, JSON_COMPACT));
    json_decref(nodes);
    free(dom);
    char png[128];
    snprintf(png, sizeof(png), "/tmp/slotgate-test-%d-dashboard.png", (int)getpid());
    free(chromium_page(ADMIN, "", "--screenshot=", png));
    /* the grid: three masters' colours, a third of 640x640 pixels each */
    const char *const colours[3] = {"4e79a7", "f28e2b", "59a14f"};
    long counts[3];
    png_colour_counts(png, colours, 3, counts);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(counts[i] > 120000 && counts[i] < 150000, "colour %s covers %ld pixels", colours[i], counts[i]);
    unlink(png);
}
END_TEST

/* kill -9 of a master: /nodes shows it down within a few probes, then its replica as the master of its
 * slots once the cluster has failed over; the dashboard shows the dead node's row as down. */
START_TEST(killed_master_goes_down_and_its_replica_takes_over) {
    int victim = cluster_master_for_slot(&cl, 0);
    char vaddr[32], raddr[64] = "";
    snprintf(vaddr, sizeof(vaddr), "127.0.0.1:%d", victim);
    json_t *j = http_json(ADMIN, "/nodes", 200);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "nodes"), i, x) if (!strcmp(jstr(x, "master"), vaddr))
        snprintf(raddr, sizeof(raddr), "%s", jstr(x, "addr"));
    json_decref(j);
    ck_assert_msg(raddr[0], "no replica of %s in /nodes", vaddr);
    kill(cl.pids[victim - BASE], SIGKILL);
    long long t0 = now_ms(), down_at = 0, promoted_at = 0;
    while ((!down_at || !promoted_at) && now_ms() - t0 < 20000) {
        j = http_json(ADMIN, "/nodes", 200);
        json_t *v = node_by_addr(j, vaddr), *rep = node_by_addr(j, raddr);
        if (!down_at && v && !strcmp(jstr(v, "state"), "down")) down_at = now_ms();
        if (!promoted_at && rep && !strcmp(jstr(rep, "role"), "master") && !strcmp(jstr(rep, "state"), "up"))
            promoted_at = now_ms();
        if (promoted_at) { /* the dead node is still shown, down, out of the slot map */
            ck_assert_msg(v && !strcmp(jstr(v, "state"), "down"), "%s", json_dumps(j, 0));
            ck_assert(json_is_false(json_object_get(v, "in_slot_map")));
        }
        json_decref(j);
        sleep_ms(100);
    }
    ck_assert_msg(down_at, "%s never shown down", vaddr);
    ck_assert_msg(promoted_at, "%s never shown as master", raddr);
    fprintf(stderr, "kill -9 %s: down on /nodes after %lld ms, %s master after %lld ms\n", vaddr, down_at - t0, raddr,
            promoted_at - t0);
    j = http_json(ADMIN, "/slots/0", 200);
    ck_assert_str_eq(jstr(json_object_get(j, "master"), "addr"), raddr);
    json_decref(j);
    char *dom = chromium_page(ADMIN, "", "--dump-dom", NULL);
    char row[96];
    snprintf(row, sizeof(row), "<tr data-addr=\"%s\" data-state=\"down\">", vaddr);
    ck_assert_msg(strstr(dom, row), "dashboard does not show %s down: %.3000s", vaddr, dom);
    free(dom);
}
END_TEST

SUITE_MAIN(.name = "admin", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
           .tests = {
               TEST(slots_match_cluster_slots), TEST(nodes_show_roles_keys_memory_and_traffic),
               TEST(cluster_view_matches_cluster_info), TEST(stats_count_commands_by_family_and_info_agrees),
               TEST(metrics_are_strict_prometheus_text), TEST(unknown_paths_other_methods_and_garbage),
               TEST(token_redaction_and_json_logs), TEST(readyz_is_503_until_the_slot_map_is_full),
               TEST(dashboard_renders_the_slot_grid_in_chromium),
               TEST(killed_master_goes_down_and_its_replica_takes_over) /* last: it changes the cluster */
           })
