/* Settings table and the three sources that fill it. Nothing else in slotgate reads argv or the
 * environment. Values from every source go through conf_set(), so the checks are written once. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SLOTGATE_VERSION
#define SLOTGATE_VERSION "0.1.0"
#endif

enum {
    T_INT,
    T_BYTES,
    T_STR,
    T_LEVEL,
    T_SEEDS,
    T_NAMES,
    T_USERS,
    T_READ,
    T_FORMAT,
    T_OBL,
    T_YESNO,
    T_TLSAUTH,
    T_KIND,
    T_ENGINE,
    T_JSON
};

struct setting {
    const char *name;
    int type;
    size_t off;
    long long min, max;
    int secret;
    const char *help;
};

#define O(f) offsetof(struct conf, f)
static const struct setting settings[] = {
    {"seeds", T_SEEDS, O(seeds), 0, 0, 0, "cluster nodes to learn the slot map from (host:port, comma separated)"},
    {"bind", T_STR, O(bind), 0, 0, 0, "address to accept clients on (default 127.0.0.1)"},
    {"port", T_INT, O(port), 0, 65535, 0, "port to accept clients on, 0 for none (tls-port only) (default 7777)"},
    {"threads", T_INT, O(threads), 1, 256, 0, "worker threads (default: number of cores)"},
    {"backend-connections", T_INT, O(backend_connections), 1, 64, 0, "connections per node per worker (default 1)"},
    {"connect-timeout-ms", T_INT, O(connect_timeout_ms), 10, 600000, 0, "backend connect timeout (default 1000)"},
    {"command-timeout-ms", T_INT, O(command_timeout_ms), 10, 3600000, 0,
     "deadline of a backend request (default 5000)"},
    {"refresh-interval-ms", T_INT, O(refresh_interval_ms), 100, 3600000, 0, "periodic slot-map refresh (default 2000)"},
    {"log-level", T_LEVEL, O(log_level), 0, 0, 0, "debug, verbose, notice or warning (default notice)"},
    {"io-engine", T_ENGINE, O(io_engine), 0, 0, 0,
     "auto (io_uring where the kernel allows it, else epoll), io_uring or epoll: how the workers read and write "
     "their plaintext sockets (logged at start)"},
    {"io-spin-us", T_INT, O(io_spin_us), 0, 1000, 0,
     "io_uring: a worker with at most one request alive watches its ring this many microseconds for more "
     "before it sleeps (default 0: sleeps at once)"},
    {"backend-kind", T_KIND, O(backend_kind), 0, 0, 0,
     "cluster (seeds: cluster nodes), sentinel (seeds: sentinels, with sentinel-master) or standalone (the seed is "
     "the server, with its replicas for reads)"},
    {"sentinel-master", T_STR, O(sentinel_master), 0, 0, 0, "backend-kind sentinel: the master's name"},
    {"sentinel-user", T_STR, O(sentinel_user), 0, 0, 0, "ACL user for the sentinels (default: none)"},
    {"sentinel-password", T_STR, O(sentinel_password), 0, 0, 1, "password for the sentinels (never logged)"},
    {"backends", T_JSON, O(backends_json), 0, 0, 0,
     "backends besides the default one, by name: {\"sessions\": {\"backend-kind\": \"sentinel\", \"seeds\": "
     "[...], \"sentinel-master\": \"m\"}}"},
    {"routes", T_JSON, O(routes_json), 0, 0, 0,
     "keys to backends by prefix: [{\"prefix\": \"session:\", \"backend\": \"sessions\", \"strip-prefix\": true}]"},
    {"backend-user", T_STR, O(backend_user), 0, 0, 0, "ACL user for backend connections"},
    {"backend-password", T_STR, O(backend_password), 0, 0, 1, "password for backend connections (never logged)"},
    {"backend-password-file", T_STR, O(backend_password_file), 0, 0, 0,
     "file holding the backend password (its first line), e.g. a mounted Kubernetes Secret"},
    {"maxclients", T_INT, O(maxclients), 1, 1000000, 0, "most clients connected at once (default 10000)"},
    {"proto-max-bulk-len", T_BYTES, O(proto_max_bulk_len), 1024 * 1024, 1LL << 32, 0,
     "largest bulk string (default 512mb)"},
    {"max-multibulk-len", T_INT, O(max_multibulk_len), 1, 2147483647, 0,
     "most arguments in one command (default 1048576)"},
    {"client-query-buffer-limit", T_BYTES, O(client_query_buffer_limit), 1024 * 1024, 1LL << 32, 0,
     "largest unparsed client input (default 1gb)"},
    {"client-max-pending-bytes", T_BYTES, O(client_max_pending_bytes), 16 * 1024, 1LL << 32, 0,
     "replies queued for a client before reading it pauses (default 64mb)"},
    {"client-output-buffer-limit", T_OBL, O(obl), 0, 0, 0,
     "as Redis's: <class> <hard> <soft> <soft seconds> for class normal and pubsub; a client over the hard "
     "limit, or over the soft one that long, is disconnected (default normal 0 0 0 pubsub 32mb 8mb 60)"},
    {"dns-cache-ttl-ms", T_INT, O(dns_cache_ttl_ms), 100, 86400000, 0,
     "how long a resolved host name is used before it is looked up again (default 5000)"},
    {"max-redirects", T_INT, O(max_redirects), 1, 100, 0, "MOVED/ASK hops followed for one request (default 5)"},
    {"failover-hold-ms", T_INT, O(failover_hold_ms), 0, 600000, 0,
     "hold requests for an unreachable master this long (default 0: cluster-node-timeout + 3000)"},
    {"probe-interval-ms", T_INT, O(probe_interval_ms), 100, 60000, 0, "how often every node is probed (default 1000)"},
    {"probe-down-after", T_INT, O(probe_down_after), 1, 100, 0,
     "failed probes in a row before a node is down (default 3)"},
    {"read-policy", T_READ, O(read_policy), 0, 0, 0,
     "master, prefer-replica or replica-only, for read-only commands (default master)"},
    {"requirepass", T_STR, O(requirepass), 0, 0, 1, "password clients must AUTH with (default: none)"},
    {"users", T_USERS, O(users), 0, 0, 1,
     "users clients AUTH as: Redis ACL rule strings (\"alice on >secret ~app:* +@read\"), or name:password for a "
     "user who may do everything (comma separated, or a JSON array)"},
    {"aclfile", T_STR, O(aclfile), 0, 0, 0,
     "a file of users in Redis's aclfile format (\"user alice on >secret ...\")"},
    {"acllog-max-len", T_INT, O(acllog_max_len), 0, 1000000, 0, "ACL LOG entries kept (default 128)"},
    {"slowlog-log-slower-than", T_INT, O(slowlog_log_slower_than), -1, 2147483647, 0,
     "requests slower than this many microseconds go to SLOWLOG (default 10000, -1: none, 0: all)"},
    {"slowlog-max-len", T_INT, O(slowlog_max_len), 0, 1000000, 0, "SLOWLOG entries kept (default 128)"},
    {"hotkeys-sample", T_INT, O(hotkeys_sample), 0, 1000000, 0,
     "hot keys: one request in this many (at random) is counted (default 8, 1: all, 0: off)"},
    {"hotkeys-window-seconds", T_INT, O(hotkeys_window_seconds), 1, 86400, 0,
     "hot keys are counted over the last one or two windows of this length (default 10)"},
    {"slot-load-sample", T_INT, O(slot_load_sample), 0, 1000000, 0,
     "per-slot load: one request in this many (at random) is counted, weighted by it (default 8, 1: all, 0: off)"},
    {"slot-load-window-seconds", T_INT, O(slot_load_window_seconds), 1, 86400, 0,
     "per-slot load (/load, /rebalance) is reported over the last complete window of this length (default 10)"},
    {"bigkeys-value-bytes", T_BYTES, O(bigkeys_value_bytes), 1, 1LL << 40, 0,
     "a value (argument or reply) this large is logged as a big key (default 1mb)"},
    {"bigkeys-elements", T_INT, O(bigkeys_elements), 1, 2147483647, 0,
     "a reply of this many elements, or a write of this many arguments, is logged as a big key (default 10000)"},
    {"bigkeys-log-max-len", T_INT, O(bigkeys_log_max_len), 0, 1000000, 0, "big keys kept (default 128)"},
    {"hotkeys-metrics-top", T_INT, O(hotkeys_metrics_top), 0, 64, 0,
     "hot keys /metrics shows, per kind (reads, writes) (default 5)"},
    {"protected-mode", T_YESNO, O(protected_mode), 0, 0, 0,
     "yes (default): listening beyond loopback with no password and no users, clients from other addresses than "
     "127.0.0.1 and ::1 get -DENIED, as Redis's protected mode"},
    {"admin-protected-mode", T_YESNO, O(admin_protected_mode), 0, 0, 0,
     "yes (default): the admin endpoint listening beyond loopback with no admin-token answers only /healthz and "
     "/readyz to other addresses than 127.0.0.1 and ::1"},
    {"allow-commands", T_NAMES, O(allow_commands), 0, 0, 0,
     "refused-by-default commands to allow, e.g. config|set,flushall"},
    {"admin-bind", T_STR, O(admin_bind), 0, 0, 0, "address of the HTTP admin endpoint (default 127.0.0.1)"},
    {"admin-port", T_INT, O(admin_port), 0, 65535, 0, "port of the HTTP admin endpoint, 0 for none (default 7778)"},
    {"admin-token", T_STR, O(admin_token), 0, 0, 1,
     "bearer token the admin endpoint requires, except /healthz and /readyz (default: none)"},
    {"log-format", T_FORMAT, O(log_format), 0, 0, 0, "text (Redis's log lines) or json (one object a line)"},
    {"drain-timeout-ms", T_INT, O(drain_timeout_ms), 0, 3600000, 0,
     "on SIGTERM/SIGINT, how long requests in flight may take to finish (default 10000)"},
    {"timeout", T_INT, O(timeout), 0, 31536000, 0,
     "close a client idle this many seconds, as Redis's timeout (default 0: never)"},
    {"tracking-table-max-keys", T_INT, O(tracking_table_max_keys), 0, 2147483647, 0,
     "keys remembered for client-side caching per worker; past it the oldest are invalidated (default "
     "1000000, 0: no limit)"},
    {"tls-port", T_INT, O(tls_port), 0, 65535, 0, "port to accept TLS clients on, 0 for none (default 0)"},
    {"tls-cert-file", T_STR, O(tls_cert_file), 0, 0, 0, "certificate (PEM, chain) slotgate shows TLS clients"},
    {"tls-key-file", T_STR, O(tls_key_file), 0, 0, 0, "private key of tls-cert-file (PEM)"},
    {"tls-key-file-pass", T_STR, O(tls_key_file_pass), 0, 0, 1, "passphrase of tls-key-file, if it is encrypted"},
    {"tls-client-cert-file", T_STR, O(tls_client_cert_file), 0, 0, 0,
     "certificate slotgate shows the nodes with tls-cluster (default: tls-cert-file)"},
    {"tls-client-key-file", T_STR, O(tls_client_key_file), 0, 0, 0, "private key of tls-client-cert-file"},
    {"tls-client-key-file-pass", T_STR, O(tls_client_key_file_pass), 0, 0, 1, "passphrase of tls-client-key-file"},
    {"tls-ca-cert-file", T_STR, O(tls_ca_cert_file), 0, 0, 0,
     "CA certificates (PEM) that client certificates and the nodes' certificates are checked against"},
    {"tls-ca-cert-dir", T_STR, O(tls_ca_cert_dir), 0, 0, 0, "a directory of CA certificates (c_rehash form)"},
    {"tls-auth-clients", T_TLSAUTH, O(tls_auth_clients), 0, 0, 0,
     "TLS clients must show a certificate the CA signed: yes, optional or no (default yes)"},
    {"tls-protocols", T_STR, O(tls_protocols), 0, 0, 0, "TLS versions allowed (default \"TLSv1.2 TLSv1.3\")"},
    {"tls-ciphers", T_STR, O(tls_ciphers), 0, 0, 0, "ciphers for TLSv1.2 and below (OpenSSL's cipher list form)"},
    {"tls-ciphersuites", T_STR, O(tls_ciphersuites), 0, 0, 0, "cipher suites for TLSv1.3"},
    {"tls-prefer-server-ciphers", T_YESNO, O(tls_prefer_server_ciphers), 0, 0, 0,
     "slotgate's cipher order wins over the client's (default no)"},
    {"tls-session-caching", T_YESNO, O(tls_session_caching), 0, 0, 0, "TLS clients may resume sessions (default yes)"},
    {"tls-session-cache-size", T_INT, O(tls_session_cache_size), 1, 100000000, 0,
     "TLS sessions remembered (default 20480)"},
    {"tls-session-cache-timeout", T_INT, O(tls_session_cache_timeout), 1, 31536000, 0,
     "seconds a TLS session may be resumed (default 300)"},
    {"tls-cluster", T_YESNO, O(tls_cluster), 0, 0, 0,
     "every connection to the nodes uses TLS, their certificates checked against the CA (default no)"},
    {"tls-handshake-timeout-ms", T_INT, O(tls_handshake_timeout_ms), 100, 600000, 0,
     "a TLS client that has not finished its handshake in this long is closed (default 10000)"},
    {"admin-tls-cert-file", T_STR, O(admin_tls_cert_file), 0, 0, 0, "certificate: the admin endpoint serves HTTPS"},
    {"admin-tls-key-file", T_STR, O(admin_tls_key_file), 0, 0, 0, "private key of admin-tls-cert-file"},
};
/* Settings a SIGHUP may change in a running slotgate; the others need a restart. */
static const char *const live_settings[] = {"log-level",
                                            "log-format",
                                            "connect-timeout-ms",
                                            "command-timeout-ms",
                                            "refresh-interval-ms",
                                            "read-policy",
                                            "backend-connections",
                                            "maxclients",
                                            "proto-max-bulk-len",
                                            "max-multibulk-len",
                                            "client-query-buffer-limit",
                                            "client-max-pending-bytes",
                                            "max-redirects",
                                            "io-spin-us",
                                            "failover-hold-ms",
                                            "probe-interval-ms",
                                            "probe-down-after",
                                            "drain-timeout-ms",
                                            "client-output-buffer-limit",
                                            "timeout",
                                            "tracking-table-max-keys",
                                            "tls-handshake-timeout-ms",
                                            "slowlog-log-slower-than",
                                            "slowlog-max-len",
                                            "hotkeys-sample",
                                            "hotkeys-window-seconds",
                                            "hotkeys-metrics-top",
                                            "bigkeys-value-bytes",
                                            "bigkeys-elements",
                                            "bigkeys-log-max-len",
                                            "slot-load-sample",
                                            "slot-load-window-seconds"};
#undef O
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int set_obl(struct conf *c, const char *value, char *err, size_t errlen);
static const char *policies[] = {"master", "prefer-replica", "replica-only"};
static const char *formats[] = {"text", "json"};
static const char *tls_auth[] = {"no", "yes", "optional"};

void conf_defaults(struct conf *c) {
    memset(c, 0, sizeof(*c));
    c->bind = strdup("127.0.0.1");
    c->port = 7777;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (int)n : 1;
    c->backend_connections = 1;
    c->tracking_table_max_keys = 1000000;
    c->acllog_max_len = 128;
    c->slowlog_log_slower_than = 10000;
    c->slowlog_max_len = 128;
    c->hotkeys_sample = 8;
    c->hotkeys_window_seconds = 10;
    c->slot_load_window_seconds = 10;
    c->slot_load_sample = 8;
    c->hotkeys_metrics_top = 5;
    c->bigkeys_value_bytes = 1024 * 1024;
    c->bigkeys_elements = 10000;
    c->bigkeys_log_max_len = 128;
    c->protected_mode = 1;
    c->admin_protected_mode = 1;
    c->connect_timeout_ms = 1000;
    c->command_timeout_ms = 5000;
    c->refresh_interval_ms = 2000;
    c->log_level = LOG_NOTICE;
    c->maxclients = 10000;
    c->proto_max_bulk_len = 512LL * 1024 * 1024;
    c->max_multibulk_len = 1024 * 1024;
    c->client_query_buffer_limit = 1024LL * 1024 * 1024;
    c->client_max_pending_bytes = 64LL * 1024 * 1024;
    c->obl[CONF_OBL_PUBSUB] = (struct conf_obl){32LL * 1024 * 1024, 8LL * 1024 * 1024, 60};
    c->dns_cache_ttl_ms = 5000;
    c->max_redirects = 5;
    c->probe_interval_ms = 1000;
    c->probe_down_after = 3;
    c->admin_bind = strdup("127.0.0.1");
    c->admin_port = 7778;
    c->drain_timeout_ms = 10000;
    c->tls_auth_clients = 1;
    c->tls_session_caching = 1;
    c->tls_session_cache_size = 20480;
    c->tls_session_cache_timeout = 300;
    c->tls_handshake_timeout_ms = 10000;
}

static const struct setting *find_setting(const char *name) {
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0) return &settings[i];
    return NULL;
}

/* "512mb", "1gb", "64k", plain bytes: Redis's memory units (k/kb/m/mb/g/gb, 1000 vs 1024 as Redis). */
static int parse_bytes(const char *v, long long *out) {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0) return -1;
    long long mul = 1;
    if (!strcasecmp(end, ""))
        mul = 1;
    else if (!strcasecmp(end, "k"))
        mul = 1000;
    else if (!strcasecmp(end, "kb"))
        mul = 1024;
    else if (!strcasecmp(end, "m"))
        mul = 1000 * 1000;
    else if (!strcasecmp(end, "mb"))
        mul = 1024 * 1024;
    else if (!strcasecmp(end, "g"))
        mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(end, "gb"))
        mul = 1024LL * 1024 * 1024;
    else
        return -1;
    if (n > (1LL << 50) / mul) return -1;
    *out = n * mul;
    return 0;
}

int conf_valid_seed(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || colon[1] == '\0') return 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    return *end == '\0' && p > 0 && p <= 65535;
}

static int set_seeds(struct conf *c, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < c->nseeds; i++) free(c->seeds[i]);
    c->nseeds = 0;
    char *copy = strdup(value), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!conf_valid_seed(tok) || c->nseeds == CONF_MAX_SEEDS) {
            snprintf(err, errlen, "seeds: '%s' is not host:port (or more than %d seeds)", tok, CONF_MAX_SEEDS);
            free(copy);
            return -1;
        }
        c->seeds[c->nseeds++] = strdup(tok);
    }
    free(copy);
    return 0;
}

static int set_names(struct conf *c, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < c->nallow_commands; i++) free(c->allow_commands[i]);
    c->nallow_commands = 0;
    char *copy = strdup(value), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (c->nallow_commands == CONF_MAX_SEEDS) {
            snprintf(err, errlen, "allow-commands: more than %d names", CONF_MAX_SEEDS);
            free(copy);
            return -1;
        }
        for (char *p = tok; *p; p++) *p = *p == ' ' ? '|' : (char)tolower((unsigned char)*p);
        c->allow_commands[c->nallow_commands++] = strdup(tok);
    }
    free(copy);
    return 0;
}

/* Entries are ACL rule strings ("alice on >secret ~app:*") or name:password; a JSON array's come joined by
 * newlines (rules may hold commas), a flag's or variable's by commas. The rules themselves are checked
 * when the users are built (proxy/users.c). */
static int set_users(struct conf *c, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < c->nusers; i++) free(c->users[i]);
    c->nusers = 0;
    char *copy = strdup(value), *save = NULL;
    const char *sep = strchr(value, '\n') ? "\n" : ",";
    for (char *tok = strtok_r(copy, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
        while (*tok == ' ') tok++;
        char *colon = strchr(tok, ':'), *space = strchr(tok, ' ');
        if ((!space && (!colon || colon == tok || colon[1] == '\0')) || c->nusers == CONF_MAX_SEEDS) {
            snprintf(err, errlen, "users: every entry must be an ACL rule string or name:password (at most %d)",
                     CONF_MAX_SEEDS);
            free(copy);
            return -1;
        }
        c->users[c->nusers++] = strdup(tok);
    }
    free(copy);
    return 0;
}

int conf_set(struct conf *c, const char *name, const char *value, char *err, size_t errlen) {
    const struct setting *s = find_setting(name);
    if (!s) return snprintf(err, errlen, "unknown setting '%s'", name), -1;
    char *field = (char *)c + s->off;
    long long n;
    char *end;
    switch (s->type) {
    case T_INT:
        errno = 0;
        n = strtoll(value, &end, 10);
        if (errno || end == value || *end) return snprintf(err, errlen, "%s: '%s' is not an integer", name, value), -1;
        goto range;
    case T_BYTES:
        if (parse_bytes(value, &n) < 0)
            return snprintf(err, errlen, "%s: '%s' is not a size (e.g. 512mb)", name, value), -1;
    range:
        if (n < s->min || n > s->max)
            return snprintf(err, errlen, "%s: %s is out of range (%lld to %lld)", name, value, s->min, s->max), -1;
        if (s->type == T_INT)
            *(int *)field = (int)n;
        else
            *(long long *)field = n;
        return 0;
    case T_STR:
    case T_JSON: /* checked and read once all the settings are in (parse_routing) */
        free(*(char **)field);
        *(char **)field = strdup(value);
        return 0;
    case T_LEVEL:
        for (int i = 0; i <= LOG_WARNING; i++)
            if (!strcasecmp(value, log_level_name(i))) return c->log_level = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of debug, verbose, notice, warning", name, value), -1;
    case T_SEEDS: return set_seeds(c, value, err, errlen);
    case T_NAMES: return set_names(c, value, err, errlen);
    case T_USERS: return set_users(c, value, err, errlen);
    case T_READ:
        for (int i = 0; i < 3; i++)
            if (!strcasecmp(value, policies[i])) return c->read_policy = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of master, prefer-replica, replica-only", name, value), -1;
    case T_FORMAT:
        for (int i = 0; i < 2; i++)
            if (!strcasecmp(value, formats[i])) return c->log_format = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of text, json", name, value), -1;
    case T_OBL: return set_obl(c, value, err, errlen);
    case T_YESNO:
        if (!strcasecmp(value, "yes")) return *(int *)((char *)c + s->off) = 1, 0;
        if (!strcasecmp(value, "no")) return *(int *)((char *)c + s->off) = 0, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of yes, no", name, value), -1;
    case T_KIND:
        for (int i = 0; i < 3; i++)
            if (!strcasecmp(value, conf_kind_name(i))) return c->backend_kind = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of cluster, sentinel, standalone", name, value), -1;
    case T_ENGINE:
        for (int i = 0; i < 3; i++)
            if (!strcasecmp(value, conf_engine_name(i))) return c->io_engine = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of auto, io_uring, epoll", name, value), -1;
    case T_TLSAUTH:
        for (int i = 0; i < 3; i++)
            if (!strcasecmp(value, tls_auth[i])) return *(int *)((char *)c + s->off) = i, 0;
        return snprintf(err, errlen, "%s: '%s' is not one of yes, optional, no", name, value), -1;
    }
    return -1;
}

/* "normal 0 0 0 pubsub 32mb 8mb 60": Redis's client-output-buffer-limit. Classes not given keep their
 * value; replica (slave) limits are accepted and ignored, so a line copied from redis.conf works. */
static int set_obl(struct conf *c, const char *value, char *err, size_t errlen) {
    char buf[256], *save = NULL;
    struct conf_obl next[2] = {c->obl[0], c->obl[1]};
    snprintf(buf, sizeof(buf), "%s", value);
    int n = 0;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), n++) {
        char *hard = strtok_r(NULL, " \t", &save), *soft = strtok_r(NULL, " \t", &save);
        char *secs = strtok_r(NULL, " \t", &save);
        int cls = !strcasecmp(tok, "normal")                                   ? CONF_OBL_NORMAL
                  : !strcasecmp(tok, "pubsub")                                 ? CONF_OBL_PUBSUB
                  : (!strcasecmp(tok, "replica") || !strcasecmp(tok, "slave")) ? 2
                                                                               : -1;
        struct conf_obl o;
        char *end;
        if (cls < 0 || !secs || parse_bytes(hard, &o.hard) < 0 || parse_bytes(soft, &o.soft) < 0 ||
            (o.soft_seconds = strtoll(secs, &end, 10)) < 0 || *end)
            return snprintf(err, errlen,
                            "client-output-buffer-limit: '%s' is not <class> <hard> <soft> <soft seconds> ... "
                            "with class normal or pubsub",
                            value),
                   -1;
        if (cls < 2) next[cls] = o;
    }
    if (!n) return snprintf(err, errlen, "client-output-buffer-limit: empty"), -1;
    c->obl[0] = next[0];
    c->obl[1] = next[1];
    return 0;
}

/* A JSON value as the string conf_set() takes; seeds may be an array or one string. */
static int json_to_string(const struct setting *s, json_t *v, char *buf, size_t len, char *err, size_t errlen) {
    if ((s->type == T_SEEDS || s->type == T_NAMES || s->type == T_USERS) && json_is_array(v)) {
        size_t i, n = 0;
        json_t *e;
        buf[0] = '\0';
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) return snprintf(err, errlen, "%s: every element must be a string", s->name), -1;
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? (s->type == T_USERS ? "\n" : ",") : "",
                                  json_string_value(e));
        }
        if (n >= len) return snprintf(err, errlen, "%s: too long", s->name), -1;
        return 0;
    }
    if (s->type == T_JSON && (json_is_object(v) || json_is_array(v))) {
        char *text = json_dumps(v, JSON_COMPACT);
        int ok = text && strlen(text) < len;
        if (ok) snprintf(buf, len, "%s", text);
        free(text);
        return ok ? 0 : (snprintf(err, errlen, "%s: too long", s->name), -1);
    }
    if (json_is_boolean(v) && s->type == T_YESNO) return snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no"), 0;
    if (json_is_string(v) && s->type != T_INT) return snprintf(buf, len, "%s", json_string_value(v)), 0;
    if (json_is_integer(v) && (s->type == T_INT || s->type == T_BYTES))
        return snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), 0;
    const char *want = s->type == T_INT     ? "an integer"
                       : s->type == T_BYTES ? "an integer or a size string"
                       : s->type == T_SEEDS ? "an array of \"host:port\" strings"
                                            : "a string";
    return snprintf(err, errlen, "%s: must be %s", s->name, want), -1;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return snprintf(err, errlen, "config file %s: %s (line %d)", path, jerr.text, jerr.line), -1;
    if (!json_is_object(root)) {
        json_decref(root);
        return snprintf(err, errlen, "config file %s: must hold a JSON object", path), -1;
    }
    const char *key;
    json_t *v;
    char buf[8192], e2[CONF_ERR_LEN];
    json_object_foreach(root, key, v) {
        const struct setting *s = find_setting(key);
        if (!s) {
            snprintf(err, errlen, "config file %s: unknown setting '%s'", path, key);
            goto fail;
        }
        if (json_to_string(s, v, buf, sizeof(buf), e2, sizeof(e2)) < 0 || conf_set(c, key, buf, e2, sizeof(e2)) < 0) {
            snprintf(err, errlen, "config file %s: %s", path, e2);
            goto fail;
        }
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    return -1;
}

static int load_env(struct conf *c, char **envp, char *err, size_t errlen) {
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "SLOTGATE_", 9) != 0) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char name[128];
        size_t n = (size_t)(eq - *e) - 9;
        if (n >= sizeof(name)) n = sizeof(name) - 1;
        for (size_t i = 0; i < n; i++) name[i] = (*e)[9 + i] == '_' ? '-' : (char)tolower((unsigned char)(*e)[9 + i]);
        name[n] = '\0';
        if (strcmp(name, "config") == 0) continue; /* read before the file, see conf_load */
        char e2[CONF_ERR_LEN];
        if (conf_set(c, name, eq + 1, e2, sizeof(e2)) < 0) {
            snprintf(err, errlen, "environment SLOTGATE_%.*s: %s", (int)((eq - *e) - 9), *e + 9, e2);
            return -1;
        }
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "Usage: slotgate [--config FILE] [--bind ADDR] [--port N] [--threads N] [--log-level LEVEL] [OPTIONS] "
               "SEED [SEED...]\n"
               "       slotgate --check-config FILE | --help | --version\n\n"
               "A Redis Cluster proxy: slot-unaware clients connect to one address and use the whole cluster.\n"
               "SEED is host:port of any cluster node. Every setting can also come from the JSON file (same name)\n"
               "or an environment variable SLOTGATE_NAME (upper case, '-' as '_'); flags win over the environment,\n"
               "which wins over the file.\n\nSettings:\n");
    for (size_t i = 0; i < NSETTINGS; i++) fprintf(f, "  --%-28s %s\n", settings[i].name, settings[i].help);
}

/* backend-password-file: its first line (without the newline) is the backend password. */
static int read_secret_file(struct conf *c, char *err, size_t errlen) {
    FILE *f = fopen(c->backend_password_file, "r");
    char line[1024];
    if (!f) return snprintf(err, errlen, "backend-password-file: cannot read %s", c->backend_password_file), -1;
    if (!fgets(line, sizeof(line), f)) line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) return snprintf(err, errlen, "backend-password-file: %s is empty", c->backend_password_file), -1;
    free(c->backend_password);
    c->backend_password = strdup(line);
    return 0;
}

enum { OPT_HELP = 1000, OPT_VERSION, OPT_CHECK, OPT_CONFIG, OPT_SETTING };

/* What Redis refuses at start about TLS, and what slotgate needs besides: something to listen on, a
 * certificate for a TLS listener, a CA to check certificates against. */
static int check_tls(const struct conf *c, char *err, size_t errlen) {
    if (!c->port && !c->tls_port) return snprintf(err, errlen, "port: 0 with no tls-port: nothing to listen on"), -1;
    if (c->tls_port && c->tls_port == c->port)
        return snprintf(err, errlen, "tls-port: %d is also port", c->tls_port), -1;
    if (c->tls_port && (!c->tls_cert_file || !c->tls_key_file))
        return snprintf(err, errlen, "tls-port: needs tls-cert-file and tls-key-file"), -1;
    int need_ca = c->tls_cluster || (c->tls_port && c->tls_auth_clients);
    if (need_ca && !c->tls_ca_cert_file && !c->tls_ca_cert_dir)
        return snprintf(err, errlen,
                        "tls-ca-cert-file: either tls-ca-cert-file or tls-ca-cert-dir must be specified (%s)",
                        c->tls_cluster ? "tls-cluster yes" : "tls-auth-clients is not no"),
               -1;
    if (!c->admin_tls_cert_file != !c->admin_tls_key_file)
        return snprintf(err, errlen, "admin-tls-cert-file: needs admin-tls-key-file too (and the other way)"), -1;
    if (!c->tls_client_cert_file != !c->tls_client_key_file)
        return snprintf(err, errlen, "tls-client-cert-file: needs tls-client-key-file too (and the other way)"), -1;
    return 0;
}

int conf_load(struct conf *c, int argc, char **argv, char **envp, char *err, size_t errlen) {
    struct option opts[NSETTINGS + 5];
    size_t n = 0;
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    opts[n++] = (struct option){"check-config", required_argument, NULL, OPT_CHECK};
    opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    for (size_t i = 0; i < NSETTINGS; i++)
        opts[n++] = (struct option){settings[i].name, required_argument, NULL, OPT_SETTING + (int)i};
    opts[n] = (struct option){0, 0, 0, 0};

    conf_defaults(c);
    const char *file = NULL;
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, "SLOTGATE_CONFIG=", 16) == 0) file = *e + 16;
    int check_only = 0, opt;
    /* First pass: find --config/--check-config/--help/--version, so the file is loaded before the
     * environment and the other flags override it. */
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == OPT_HELP || opt == 'h') return usage(stdout), CONF_EXIT_OK;
        if (opt == OPT_VERSION) return printf("slotgate %s\n", SLOTGATE_VERSION), CONF_EXIT_OK;
        if (opt == OPT_CONFIG) file = optarg;
        if (opt == OPT_CHECK) file = optarg, check_only = 1;
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return CONF_EXIT_ERROR;
        }
    }
    if (file) {
        c->config_file = strdup(file);
        if (conf_load_file(c, file, err, errlen) < 0) return CONF_EXIT_ERROR;
    }
    if (load_env(c, envp, err, errlen) < 0) return CONF_EXIT_ERROR;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt >= OPT_SETTING) {
            char e2[CONF_ERR_LEN];
            if (conf_set(c, settings[opt - OPT_SETTING].name, optarg, e2, sizeof(e2)) < 0) {
                snprintf(err, errlen, "--%s", e2);
                return CONF_EXIT_ERROR;
            }
        }
    }
    if (optind < argc) {
        char e2[CONF_ERR_LEN];
        for (int i = 0; i < c->nseeds; i++) free(c->seeds[i]);
        c->nseeds = 0;
        for (int i = optind; i < argc; i++) {
            if (!conf_valid_seed(argv[i]) || c->nseeds == CONF_MAX_SEEDS) {
                snprintf(e2, sizeof(e2), "seeds: '%s' is not host:port", argv[i]);
                snprintf(err, errlen, "%s", e2);
                return CONF_EXIT_ERROR;
            }
            c->seeds[c->nseeds++] = strdup(argv[i]);
        }
    }
    if (c->nseeds == 0) {
        snprintf(err, errlen, "seeds: no seed node given (e.g. slotgate 127.0.0.1:7000, or \"seeds\" in the file)");
        return CONF_EXIT_ERROR;
    }
    if (c->backend_password_file && read_secret_file(c, err, errlen) < 0) return CONF_EXIT_ERROR;
    if (check_tls(c, err, errlen) < 0) return CONF_EXIT_ERROR;
    if (c->backend_kind == KIND_SENTINEL && (!c->sentinel_master || !*c->sentinel_master))
        return snprintf(err, errlen, "backend-kind sentinel needs sentinel-master (the master's name)"),
               CONF_EXIT_ERROR;
    if (conf_routing_parse(c, err, errlen) < 0) return CONF_EXIT_ERROR;
    if (check_only) return printf("configuration %s is valid\n", file), CONF_EXIT_OK;
    return CONF_RUN;
}

void conf_free(struct conf *c) {
    for (int i = 0; i < c->nseeds; i++) free(c->seeds[i]);
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == T_STR || settings[i].type == T_JSON) free(*(char **)((char *)c + settings[i].off));
    conf_routing_free(c);
    for (int i = 0; i < c->nusers; i++) free(c->users[i]);
    for (int i = 0; i < c->nallow_commands; i++) free(c->allow_commands[i]);
    free(c->config_file);
    memset(c, 0, sizeof(*c));
}

/* A setting's value as JSON; secrets that are set show as "(redacted)". */
static json_t *setting_json(const struct conf *c, const struct setting *s) {
    const char *field = (const char *)c + s->off;
    switch (s->type) {
    case T_INT: return json_integer(*(const int *)field);
    case T_BYTES: return json_integer(*(const long long *)field);
    case T_LEVEL: return json_string(log_level_name(c->log_level));
    case T_READ: return json_string(policies[c->read_policy >= 0 && c->read_policy < 3 ? c->read_policy : 0]);
    case T_FORMAT: return json_string(formats[c->log_format ? 1 : 0]);
    case T_YESNO: return json_string(*(const int *)field ? "yes" : "no");
    case T_TLSAUTH: return json_string(tls_auth[*(const int *)field % 3]);
    case T_KIND: return json_string(conf_kind_name(c->backend_kind));
    case T_ENGINE: return json_string(conf_engine_name(c->io_engine));
    case T_OBL:
        return json_sprintf("normal %lld %lld %lld pubsub %lld %lld %lld", c->obl[0].hard, c->obl[0].soft,
                            c->obl[0].soft_seconds, c->obl[1].hard, c->obl[1].soft, c->obl[1].soft_seconds);
    case T_STR: {
        const char *v = *(char *const *)field;
        return !v ? json_null() : s->secret ? json_string("(redacted)") : json_string(v);
    }
    case T_JSON: { /* as given, passwords redacted */
        const char *v = *(char *const *)field;
        json_t *j = v ? json_loads(v, 0, NULL) : NULL;
        const char *k;
        json_t *b;
        if (json_is_object(j)) json_object_foreach(j, k, b) {
                if (json_object_get(b, "backend-password"))
                    json_object_set_new(b, "backend-password", json_string("(redacted)"));
                if (json_object_get(b, "sentinel-password"))
                    json_object_set_new(b, "sentinel-password", json_string("(redacted)"));
            }
        return j ? j : json_null();
    }
    default: break;
    }
    /* lists: seeds, allow-commands, users (user names shown, passwords redacted) */
    char *const *list = (char *const *)field;
    int n = s->type == T_SEEDS ? c->nseeds : s->type == T_NAMES ? c->nallow_commands : c->nusers;
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        if (s->type == T_USERS && strchr(list[i], ' ')) { /* rules: every password and hash redacted */
            char buf[1024];
            size_t used = 0;
            char *copy = strdup(list[i]), *save = NULL;
            for (char *t = strtok_r(copy, " ", &save); t && used < sizeof(buf); t = strtok_r(NULL, " ", &save)) {
                int secret = t[0] == '>' || t[0] == '<' || t[0] == '#' || t[0] == '!';
                used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%.1s%s", used ? " " : "", secret ? t : "",
                                         secret ? "(redacted)" : t);
            }
            free(copy);
            json_array_append_new(a, json_string(buf));
        } else if (s->type == T_USERS) {
            const char *colon = strchr(list[i], ':');
            char buf[256];
            snprintf(buf, sizeof(buf), "%.*s:(redacted)", (int)(colon ? colon - list[i] : 0), list[i]);
            json_array_append_new(a, json_string(buf));
        } else {
            json_array_append_new(a, json_string(list[i]));
        }
    }
    return a;
}

json_t *conf_to_json(const struct conf *c) {
    json_t *o = json_object();
    for (size_t i = 0; i < NSETTINGS; i++) json_object_set_new(o, settings[i].name, setting_json(c, &settings[i]));
    json_object_set_new(o, "config-file", c->config_file ? json_string(c->config_file) : json_null());
    return o;
}

int conf_is_live(const char *name) {
    for (size_t i = 0; i < sizeof(live_settings) / sizeof(live_settings[0]); i++)
        if (strcmp(live_settings[i], name) == 0) return 1;
    return 0;
}

/* Every scalar setting SIGHUP may change, copied from src. Strings and lists stay as they are. */
int conf_is_loopback(const char *addr) {
    return addr && (!strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strcasecmp(addr, "localhost"));
}

void conf_copy_live(struct conf *dst, const struct conf *src) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (!conf_is_live(s->name)) continue;
        size_t size = s->type == T_BYTES ? sizeof(long long) : s->type == T_OBL ? sizeof(dst->obl) : sizeof(int);
        memcpy((char *)dst + s->off, (const char *)src + s->off, size);
    }
}

int conf_reload_diff(struct conf *cur, const struct conf *next, conf_change_fn report, void *ctx) {
    int changed = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        json_t *a = setting_json(cur, s), *b = setting_json(next, s);
        if (!json_equal(a, b)) {
            char *av = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT),
                 *bv = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
            int live = conf_is_live(s->name);
            report(ctx, s->name, av ? av : "?", bv ? bv : "?", live);
            changed += live;
            free(av);
            free(bv);
        }
        json_decref(a);
        json_decref(b);
    }
    conf_copy_live(cur, next);
    return changed;
}
