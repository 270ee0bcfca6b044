/* Configuration: defaults, file < environment < flags, and errors that name the setting. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../conf/conf.h"
#include "../support/run.h"

static char path[64];

static const char *write_file(const char *json) {
    snprintf(path, sizeof(path), "/tmp/slotgate-conf-test-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    return path;
}

static int load(struct conf *c, char **argv, char **envp, char *err) {
    int argc = 0;
    while (argv[argc]) argc++;
    return conf_load(c, argc, argv, envp, err, CONF_ERR_LEN);
}

START_TEST(defaults_and_positional_seeds) {
    struct conf c;
    char err[CONF_ERR_LEN];
    char *argv[] = {"slotgate", "127.0.0.1:7000", "10.0.0.1:7001", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    ck_assert_int_eq(c.nseeds, 2);
    ck_assert_str_eq(c.seeds[1], "10.0.0.1:7001");
    ck_assert_str_eq(c.bind, "127.0.0.1"); /* loopback unless configured */
    ck_assert_int_eq(c.port, 7777);
    ck_assert_int_eq(c.log_level, LOG_NOTICE);
    ck_assert(c.proto_max_bulk_len == 512LL * 1024 * 1024);
    conf_free(&c);
}
END_TEST

START_TEST(file_then_env_then_flags) {
    struct conf c;
    char err[CONF_ERR_LEN];
    write_file("{\"seeds\": [\"a:1\", \"b:2\"], \"port\": 1000, \"threads\": 3, \"log-level\": \"debug\","
               " \"proto-max-bulk-len\": \"64mb\", \"backend-password\": \"s3cret\"}");
    char *argv[] = {"slotgate", "--config", path, "--port", "3000", NULL};
    char *envp[] = {"SLOTGATE_PORT=2000", "SLOTGATE_THREADS=5", "HOME=/root", NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    ck_assert_int_eq(c.port, 3000); /* flag over env over file */
    ck_assert_int_eq(c.threads, 5); /* env over file */
    ck_assert_int_eq(c.nseeds, 2);  /* file */
    ck_assert_int_eq(c.log_level, LOG_DEBUG);
    ck_assert(c.proto_max_bulk_len == 64LL * 1024 * 1024);
    ck_assert_str_eq(c.backend_password, "s3cret");
    conf_free(&c);
    unlink(path);
}
END_TEST

static const struct {
    const char *file; /* NULL: no file */
    const char *flag, *value;
    const char *env;
    const char *error_part;
} errors[] = {
    {"{\"seeds\": [\"a:1\"], \"prot\": 1}", NULL, NULL, NULL, "unknown setting 'prot'"},
    {"{\"seeds\": [\"a:1\"], \"port\": \"x\"}", NULL, NULL, NULL, "port: must be an integer"},
    {"{\"seeds\": [\"a:1\"], \"port\": 70000}", NULL, NULL, NULL, "port: 70000 is out of range (0 to 65535)"},
    {"{\"seeds\": \"nocolon\"}", NULL, NULL, NULL, "seeds: 'nocolon' is not host:port"},
    {"{\"seeds\": [1]}", NULL, NULL, NULL, "seeds: every element must be a string"},
    {"[1, 2]", NULL, NULL, NULL, "must hold a JSON object"},
    {"{\"seeds\": [\"a:1\"],", NULL, NULL, NULL, "config file"},
    {NULL, "--threads", "0", NULL, "threads: 0 is out of range (1 to 256)"},
    {NULL, "--log-level", "loud", NULL, "log-level: 'loud' is not one of debug, verbose, notice, warning"},
    {NULL, "--proto-max-bulk-len", "12parsecs", NULL, "proto-max-bulk-len: '12parsecs' is not a size"},
    {NULL, NULL, NULL, "SLOTGATE_PORT=abc", "SLOTGATE_PORT: port: 'abc' is not an integer"},
    {NULL, NULL, NULL, "SLOTGATE_NOPE=1", "unknown setting 'nope'"},
    {NULL, "--client-output-buffer-limit", "pubsub 32mb 8mb", NULL, "client-output-buffer-limit: 'pubsub 32mb 8mb'"},
    {NULL, "--client-output-buffer-limit", "public 1 1 1", NULL, "with class normal or pubsub"},
    {NULL, "--client-output-buffer-limit", "normal 1 1 -5", NULL, "client-output-buffer-limit: 'normal 1 1 -5'"},
};

/* Redis's own syntax; a class not given keeps its value; replica limits from a redis.conf are ignored. */
START_TEST(output_buffer_limits_as_redis_writes_them) {
    struct conf c;
    char err[CONF_ERR_LEN] = "";
    char *argv[] = {"slotgate", "--client-output-buffer-limit", "normal 1gb 256mb 30 replica 256mb 64mb 60",
                    "127.0.0.1:7000", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    ck_assert_int_eq(c.obl[CONF_OBL_NORMAL].hard, 1024LL * 1024 * 1024);
    ck_assert_int_eq(c.obl[CONF_OBL_NORMAL].soft, 256LL * 1024 * 1024);
    ck_assert_int_eq(c.obl[CONF_OBL_NORMAL].soft_seconds, 30);
    ck_assert_int_eq(c.obl[CONF_OBL_PUBSUB].hard, 32LL * 1024 * 1024); /* Redis's default, kept */
    ck_assert_int_eq(c.obl[CONF_OBL_PUBSUB].soft, 8LL * 1024 * 1024);
    ck_assert_int_eq(c.obl[CONF_OBL_PUBSUB].soft_seconds, 60);
    conf_free(&c);
}
END_TEST

START_TEST(bad_values_name_the_setting) {
    struct conf c;
    char err[CONF_ERR_LEN] = "";
    char *argv[8] = {"slotgate"};
    char *envp[2] = {NULL, NULL};
    int n = 1;
    if (errors[_i].file) argv[n++] = "--config", argv[n++] = (char *)write_file(errors[_i].file);
    if (errors[_i].flag) argv[n++] = (char *)errors[_i].flag, argv[n++] = (char *)errors[_i].value;
    argv[n++] = "127.0.0.1:7000";
    argv[n] = NULL;
    if (errors[_i].env) envp[0] = (char *)errors[_i].env;
    if (errors[_i].file) { /* the file supplies seeds in these cases; drop the positional one */
        argv[n - 1] = NULL;
    }
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_EXIT_ERROR);
    ck_assert_msg(strstr(err, errors[_i].error_part) != NULL, "error '%s' lacks '%s'", err, errors[_i].error_part);
    conf_free(&c);
    unlink(path);
}
END_TEST

START_TEST(no_seed_is_an_error) {
    struct conf c;
    char err[CONF_ERR_LEN];
    char *argv[] = {"slotgate", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_EXIT_ERROR);
    ck_assert(strstr(err, "seeds: no seed node given") != NULL);
    conf_free(&c);
}
END_TEST

/* /config: every setting by name, secrets redacted, lists as arrays. */
START_TEST(json_view_redacts_secrets) {
    struct conf c;
    char err[CONF_ERR_LEN];
    char *argv[] = {"slotgate",        "--requirepass", "pw1",  "--admin-token",  "tok", "--users",
                    "app:pw2,ops:pw3", "--log-format",  "json", "127.0.0.1:7000", NULL};
    char *envp[] = {"SLOTGATE_BACKEND_PASSWORD=pw4", NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    json_t *j = conf_to_json(&c);
    char *text = json_dumps(j, JSON_COMPACT);
    ck_assert_msg(!strstr(text, "pw1") && !strstr(text, "pw2") && !strstr(text, "pw3") && !strstr(text, "pw4") &&
                      !strstr(text, "tok\""),
                  "%s", text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "requirepass")), "(redacted)");
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend-password")), "(redacted)");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "users"), 1)), "ops:(redacted)");
    ck_assert(json_is_null(json_object_get(j, "backend-user")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "log-format")), "json");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "seeds"), 0)), "127.0.0.1:7000");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "admin-port")), 7778);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "drain-timeout-ms")), 10000);
    ck_assert_int_eq(c.log_format, LOG_FORMAT_JSON);
    free(text);
    json_decref(j);
    conf_free(&c);
}
END_TEST

struct change {
    char names[512];
    int live, restart;
};
static void on_change(void *ctx, const char *name, const char *from, const char *to, int live) {
    struct change *ch = ctx;
    (void)from;
    (void)to;
    strcat(ch->names, name);
    strcat(ch->names, live ? "+ " : "- ");
    if (live)
        ch->live++;
    else
        ch->restart++;
}

/* SIGHUP: live settings copied, others reported only. */
START_TEST(reload_applies_only_live_settings) {
    struct conf cur, next;
    char err[CONF_ERR_LEN];
    char *a1[] = {"slotgate", "--config", (char *)write_file("{\"read-policy\": \"master\", \"port\": 7000}"),
                  "127.0.0.1:7000", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&cur, a1, envp, err), CONF_RUN);
    write_file("{\"read-policy\": \"replica-only\", \"port\": 7001, \"command-timeout-ms\": 900, "
               "\"log-level\": \"debug\", \"backend-connections\": 4}");
    ck_assert_int_eq(load(&next, a1, envp, err), CONF_RUN);
    struct change ch = {.names = ""};
    ck_assert_int_eq(conf_reload_diff(&cur, &next, on_change, &ch), 4);
    ck_assert_int_eq(ch.restart, 1);
    ck_assert_str_eq(ch.names, "port- backend-connections+ command-timeout-ms+ log-level+ read-policy+ ");
    ck_assert_int_eq(cur.read_policy, READ_REPLICA_ONLY);
    ck_assert_int_eq(cur.command_timeout_ms, 900);
    ck_assert_int_eq(cur.log_level, LOG_DEBUG);
    ck_assert_int_eq(cur.backend_connections, 4);
    ck_assert_int_eq(cur.port, 7000); /* needs a restart */
    ck_assert(conf_is_live("read-policy") && !conf_is_live("port") && !conf_is_live("requirepass"));
    ck_assert(conf_is_live("timeout") && conf_is_live("client-output-buffer-limit")); /* as README says */
    conf_free(&cur);
    conf_free(&next);
    unlink(path);
}
END_TEST

/* backend-password-file: the first line of the file is the password; /config shows the file, not it. */
START_TEST(backend_password_from_a_file) {
    struct conf c;
    char err[CONF_ERR_LEN], arg[128];
    const char *file = write_file("s3cret-from-file\nsecond line\n");
    snprintf(arg, sizeof(arg), "%s", file);
    char *argv[] = {"slotgate", "--backend-password-file", arg, "127.0.0.1:7000", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    ck_assert_str_eq(c.backend_password, "s3cret-from-file");
    json_t *j = conf_to_json(&c);
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend-password")), "(redacted)");
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend-password-file")), arg);
    json_decref(j);
    conf_free(&c);
    write_file("\n");
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_EXIT_ERROR);
    ck_assert_msg(strstr(err, "backend-password-file:") && strstr(err, "is empty"), "%s", err);
    conf_free(&c);
    unlink(path);
}
END_TEST

/* TLS settings: what Redis refuses at start, with the setting named; a valid set loads with Redis's
 * defaults (tls-auth-clients yes, session cache 20480 for 300 s). */
START_TEST(tls_settings_checked_at_start) {
    struct conf c;
    char err[CONF_ERR_LEN];
    char *envp[] = {NULL};
    struct {
        char *argv[16];
        const char *want; /* NULL: loads */
    } cases[] = {
        {{"slotgate", "--port", "0", "127.0.0.1:7000", NULL}, "port: 0 with no tls-port"},
        {{"slotgate", "--tls-port", "6380", "127.0.0.1:7000", NULL}, "tls-port: needs tls-cert-file"},
        {{"slotgate", "--tls-port", "7777", "--tls-cert-file", "c", "--tls-key-file", "k", "127.0.0.1:7000", NULL},
         "tls-port: 7777 is also port"},
        {{"slotgate", "--tls-port", "6380", "--tls-cert-file", "c", "--tls-key-file", "k", "127.0.0.1:7000", NULL},
         "either tls-ca-cert-file or tls-ca-cert-dir must be specified"},
        {{"slotgate", "--tls-cluster", "yes", "127.0.0.1:7000", NULL}, "(tls-cluster yes)"},
        {{"slotgate", "--tls-auth-clients", "maybe", "127.0.0.1:7000", NULL},
         "tls-auth-clients: 'maybe' is not one of yes, optional, no"},
        {{"slotgate", "--admin-tls-cert-file", "c", "127.0.0.1:7000", NULL}, "admin-tls-cert-file: needs"},
        {{"slotgate", "--tls-port", "6380", "--port", "0", "--tls-cert-file", "c", "--tls-key-file", "k",
          "--tls-auth-clients", "no", "127.0.0.1:7000", NULL},
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load(&c, cases[i].argv, envp, err);
        if (cases[i].want) {
            ck_assert_msg(rc == CONF_EXIT_ERROR && strstr(err, cases[i].want), "case %zu: %s", i, err);
        } else {
            ck_assert_msg(rc == CONF_RUN, "case %zu: %s", i, err);
            ck_assert_int_eq(c.tls_port, 6380);
            ck_assert_int_eq(c.port, 0);
            ck_assert_int_eq(c.tls_auth_clients, 0);
            ck_assert_int_eq(c.tls_session_caching, 1);
            ck_assert_int_eq(c.tls_session_cache_size, 20480);
            ck_assert_int_eq(c.tls_session_cache_timeout, 300);
        }
        conf_free(&c);
    }
    char *argv[] = {"slotgate", "--tls-cluster",  "yes", "--tls-ca-cert-file", "ca", "--tls-key-file-pass",
                    "pw",       "127.0.0.1:7000", NULL};
    ck_assert_int_eq(load(&c, argv, envp, err), CONF_RUN);
    ck_assert_int_eq(c.tls_auth_clients, 1); /* Redis's default */
    json_t *j = conf_to_json(&c);
    ck_assert_str_eq(json_string_value(json_object_get(j, "tls-key-file-pass")), "(redacted)");
    ck_assert_str_eq(json_string_value(json_object_get(j, "tls-auth-clients")), "yes");
    json_decref(j);
    conf_free(&c);
}
END_TEST

/* backend-kind: the three kinds by name, sentinel needs its master's name, the sentinels' password is a
 * secret like the others. */
START_TEST(backend_kinds) {
    struct conf c;
    char err[CONF_ERR_LEN];
    char *ok[] = {"slotgate", "--backend-kind",  "Sentinel", "--sentinel-master", "mymaster", "--sentinel-password",
                  "pw",       "127.0.0.1:26379", NULL};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&c, ok, envp, err), CONF_RUN);
    ck_assert_int_eq(c.backend_kind, KIND_SENTINEL);
    ck_assert_str_eq(c.sentinel_master, "mymaster");
    json_t *j = conf_to_json(&c);
    ck_assert_str_eq(json_string_value(json_object_get(j, "backend-kind")), "sentinel");
    ck_assert_str_eq(json_string_value(json_object_get(j, "sentinel-password")), "(redacted)");
    json_decref(j);
    conf_free(&c);
    char *no_name[] = {"slotgate", "--backend-kind", "sentinel", "127.0.0.1:26379", NULL};
    ck_assert_int_eq(load(&c, no_name, envp, err), CONF_EXIT_ERROR);
    ck_assert_str_eq(err, "backend-kind sentinel needs sentinel-master (the master's name)");
    conf_free(&c);
    char *bad[] = {"slotgate", "--backend-kind", "replicated", "127.0.0.1:6379", NULL};
    ck_assert_int_eq(load(&c, bad, envp, err), CONF_EXIT_ERROR);
    ck_assert_str_eq(err, "--backend-kind: 'replicated' is not one of cluster, sentinel, standalone");
    conf_free(&c);
    char *solo[] = {"slotgate", "--backend-kind", "standalone", "127.0.0.1:6379", NULL};
    ck_assert_int_eq(load(&c, solo, envp, err), CONF_RUN);
    ck_assert_int_eq(c.backend_kind, KIND_STANDALONE);
    conf_free(&c);
}
END_TEST

/* backends and routes: read from the file, checked (names, fields, prefixes), shown with passwords
 * redacted; a route to an unknown backend, a repeated prefix, a sentinel backend without its master's
 * name and an unknown field are refused with the setting named. */
static int load_file(struct conf *c, const char *json, char *err) {
    char arg[160];
    snprintf(arg, sizeof(arg), "%s", write_file(json));
    char *argv[] = {"slotgate", "--config", arg, NULL};
    char *envp[] = {NULL};
    return load(c, argv, envp, err);
}

START_TEST(backends_and_routes) {
    struct conf c;
    char err[CONF_ERR_LEN];
    ck_assert_int_eq(
        load_file(&c,
                  "{\"seeds\": [\"127.0.0.1:7000\"], \"backends\": {\"sessions\": {\"backend-kind\": "
                  "\"sentinel\", \"seeds\": [\"10.0.0.1:26379\"], \"sentinel-master\": \"m\", "
                  "\"backend-password\": \"pw\"}, \"old\": {\"backend-kind\": \"standalone\", "
                  "\"seeds\": [\"10.0.0.9:6379\"]}}, \"routes\": [{\"prefix\": \"session:\", \"backend\": "
                  "\"sessions\", \"strip-prefix\": true}, {\"prefix\": \"legacy:\", \"backend\": \"old\"}, "
                  "{\"prefix\": \"app:\", \"backend\": \"default\"}]}",
                  err),
        CONF_RUN);
    ck_assert_int_eq(c.nbackends, 2);
    ck_assert_str_eq(c.backends[0].name, "sessions");
    ck_assert_int_eq(c.backends[0].kind, KIND_SENTINEL);
    ck_assert_str_eq(c.backends[0].seeds[0], "10.0.0.1:26379");
    ck_assert_int_eq(c.backends[1].kind, KIND_STANDALONE);
    ck_assert_int_eq(c.nroutes, 3);
    ck_assert_int_eq(c.routes[0].backend, 1);
    ck_assert(c.routes[0].strip);
    ck_assert_int_eq(c.routes[1].backend, 2);
    ck_assert_int_eq(c.routes[2].backend, 0);
    json_t *j = conf_to_json(&c);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "backends"), "sessions"),
                                                       "backend-password")),
                     "(redacted)");
    json_decref(j);
    conf_free(&c);
    const struct {
        const char *json, *err;
    } bad[] = {
        {"{\"seeds\": [\"a:1\"], \"routes\": [{\"prefix\": \"x:\", \"backend\": \"nope\"}]}",
         "routes: entry 0 names backend 'nope', which is not in backends"},
        {"{\"seeds\": [\"a:1\"], \"routes\": [{\"prefix\": \"x:\", \"backend\": \"default\"}, {\"prefix\": \"x:\", "
         "\"backend\": \"default\"}]}",
         "routes: two routes for the prefix 'x:'"},
        {"{\"seeds\": [\"a:1\"], \"backends\": {\"s\": {\"backend-kind\": \"sentinel\", \"seeds\": [\"b:2\"]}}}",
         "backends: 's' is a sentinel backend: it needs sentinel-master"},
        {"{\"seeds\": [\"a:1\"], \"backends\": {\"s\": {\"seeds\": [\"b:2\"], \"color\": \"red\"}}}",
         "backends: 's': unknown setting 'color' (backend-kind, seeds, sentinel-master, sentinel-user, "
         "sentinel-password, backend-user, backend-password)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(load_file(&c, bad[i].json, err), CONF_EXIT_ERROR);
        ck_assert_str_eq(err, bad[i].err);
        conf_free(&c);
    }
}
END_TEST

/* A route's mirror (writes or all, a percentage) and migration (migrate-to), and what is refused. */
START_TEST(mirror_and_migration_routes) {
    struct conf c;
    char err[CONF_ERR_LEN];
    const char *backends = "\"backends\": {\"old\": {\"backend-kind\": \"standalone\", \"seeds\": [\"b:2\"]}, "
                           "\"shadow\": {\"seeds\": [\"c:3\"]}}";
    char json[1000];
    snprintf(json, sizeof(json),
             "{\"seeds\": [\"a:1\"], %s, \"routes\": [{\"prefix\": \"\", \"backend\": \"old\", \"migrate-to\": "
             "\"default\"}, {\"prefix\": \"m:\", \"backend\": \"default\", \"mirror\": \"shadow\", "
             "\"mirror-commands\": \"all\", \"mirror-percent\": 25}]}",
             backends);
    ck_assert_int_eq(load_file(&c, json, err), CONF_RUN);
    ck_assert_int_eq(c.routes[0].backend, 1);
    ck_assert_int_eq(c.routes[0].migrate_to, 0);
    ck_assert_int_eq(c.routes[0].mirror, -1);
    ck_assert_int_eq(c.routes[1].mirror, 2);
    ck_assert_int_eq(c.routes[1].mirror_all, 1);
    ck_assert_int_eq(c.routes[1].mirror_percent, 25);
    ck_assert_int_eq(c.routes[1].migrate_to, -1);
    conf_free(&c);
    const struct {
        const char *routes, *err;
    } bad[] = {
        {"[{\"prefix\": \"\", \"backend\": \"old\", \"migrate-to\": \"default\", \"mirror\": \"shadow\"}]",
         "routes: entry 0: a route mirrors or migrates, not both"},
        {"[{\"prefix\": \"a\", \"backend\": \"old\", \"migrate-to\": \"default\"}, {\"prefix\": \"b\", "
         "\"backend\": \"old\", \"migrate-to\": \"shadow\"}]",
         "routes: one migration at a time (entries 0 and 1 have migrate-to)"},
        {"[{\"prefix\": \"a\", \"backend\": \"old\", \"mirror\": \"old\"}]",
         "routes: entry 0: mirror and migrate-to name another backend than 'old'"},
        {"[{\"prefix\": \"a\", \"backend\": \"old\", \"mirror\": \"shadow\", \"mirror-percent\": 0}]",
         "routes: entry 0: bad value for 'mirror-percent'"},
        {"[{\"prefix\": \"a\", \"backend\": \"old\", \"mirror\": \"nowhere\"}]",
         "routes: entry 0 names backend 'nowhere', which is not in backends"},
        {"[{\"prefix\": \"a\", \"backend\": \"old\", \"mirror-commands\": \"reads\"}]",
         "routes: entry 0: bad value for 'mirror-commands'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "{\"seeds\": [\"a:1\"], %s, \"routes\": %s}", backends, bad[i].routes);
        ck_assert_int_eq(load_file(&c, json, err), CONF_EXIT_ERROR);
        ck_assert_str_eq(err, bad[i].err);
        conf_free(&c);
    }
}
END_TEST

SUITE_MAIN(.name = "conf",
           .tests = {TEST(defaults_and_positional_seeds), TEST(file_then_env_then_flags),
                     LOOP_TEST(bad_values_name_the_setting, (int)(sizeof(errors) / sizeof(errors[0]))),
                     TEST(no_seed_is_an_error), TEST(json_view_redacts_secrets),
                     TEST(reload_applies_only_live_settings), TEST(backend_password_from_a_file),
                     TEST(tls_settings_checked_at_start), TEST(output_buffer_limits_as_redis_writes_them),
                     TEST(backend_kinds), TEST(backends_and_routes), TEST(mirror_and_migration_routes)})
