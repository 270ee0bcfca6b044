/* slotgate's configuration: one immutable struct, filled from (in increasing precedence) built-in
 * defaults, a JSON file, SLOTGATE_* environment variables and command-line flags. One table of
 * settings (conf.c) drives all three, so a setting has the same name, type and range everywhere. */
#ifndef SLOTGATE_CONF_H
#define SLOTGATE_CONF_H

#include <stddef.h>

#include "../lib/log.h" /* LOG_DEBUG ... LOG_WARNING, LOG_FORMAT_* */

#define CONF_ERR_LEN      512
#define CONF_MAX_SEEDS    64
#define CONF_MAX_BACKENDS 8 /* the default one (the top-level settings) and up to 7 named in "backends" */
#define CONF_MAX_ROUTES   256

enum { READ_MASTER = 0, READ_PREFER_REPLICA, READ_REPLICA_ONLY };
enum { KIND_CLUSTER = 0, KIND_SENTINEL, KIND_STANDALONE }; /* backend-kind */
enum { ENGINE_AUTO = 0, ENGINE_IO_URING, ENGINE_EPOLL };   /* io-engine */

/* A backend besides the default one ("backends": {"name": {...}}): what it is and how to reach it. */
struct conf_backend {
    char *name;
    int kind; /* KIND_* */
    char *seeds[CONF_MAX_SEEDS];
    int nseeds;
    char *sentinel_master, *sentinel_user, *sentinel_password;
    char *backend_user, *backend_password;
};

/* A route ("routes": [{"prefix": "session:", "backend": "sessions", "strip-prefix": true}]). */
struct conf_route {
    char *prefix;
    int backend; /* 0: the default backend, else 1 + its index in backends */
    int strip;
    int mirror;         /* "mirror": a backend as above, or -1 */
    int mirror_all;     /* "mirror-commands": "writes" (0, the default) or "all" */
    int mirror_percent; /* "mirror-percent": 1..100 (default 100) */
    int migrate_to;     /* "migrate-to": a backend as above, or -1 */
};

struct conf {
    char *seeds[CONF_MAX_SEEDS]; /* "host:port" */
    int nseeds;
    char *bind;
    int port;
    int threads;
    int backend_connections;
    int tracking_table_max_keys; /* CLIENT TRACKING's table bound, per worker (0: none) */
    int connect_timeout_ms;
    int command_timeout_ms;
    int refresh_interval_ms;
    int log_level;
    int backend_kind;                        /* KIND_* */
    int io_engine;                           /* ENGINE_*: io-engine */
    int io_spin_us;                          /* io-spin-us */
    char *sentinel_master;                   /* backend-kind sentinel: the master's name */
    char *sentinel_user, *sentinel_password; /* ... and the sentinels' own credentials */
    char *backend_user;
    char *backend_password;
    char *backend_password_file; /* read into backend_password at load */
    int maxclients;
    long long proto_max_bulk_len;
    int max_multibulk_len;
    long long client_query_buffer_limit;
    long long client_max_pending_bytes; /* replies waiting for a client before its reads pause */
    struct conf_obl {                   /* client-output-buffer-limit, per class (CONF_OBL_*) */
        long long hard, soft;           /* bytes; 0: none */
        long long soft_seconds;
    } obl[2];
    int dns_cache_ttl_ms;
    int max_redirects;
    int failover_hold_ms; /* 0: the cluster's cluster-node-timeout + 3000 */
    int probe_interval_ms;
    int probe_down_after; /* failed probes in a row before a node is down */
    int read_policy;      /* READ_* */
    char *requirepass;
    char *users[CONF_MAX_SEEDS]; /* ACL rule strings ("alice on >secret ~app:*"), or "name:password" */
    char *aclfile;               /* users in Redis's aclfile format */
    int acllog_max_len;
    int slowlog_log_slower_than; /* microseconds; -1: off, 0: every request */
    int slowlog_max_len;
    int hotkeys_sample;            /* one request in N is counted for the hot keys (0: off) */
    int hotkeys_window_seconds;    /* the window they are counted over */
    int slot_load_window_seconds;  /* per-slot load: the window it is reported over */
    int slot_load_sample;          /* ... one request in N counted */
    int hotkeys_metrics_top;       /* how many per kind /metrics shows */
    long long bigkeys_value_bytes; /* a value or reply this large is a big key */
    int bigkeys_elements;          /* a reply of this many elements, a write of this many arguments */
    int bigkeys_log_max_len;
    int protected_mode, admin_protected_mode; /* yes/no */
    int nusers;
    char *allow_commands[CONF_MAX_SEEDS]; /* refused-by-default commands allowed by name ("config|set") */
    int nallow_commands;
    char *admin_bind;
    int admin_port; /* 0: no admin endpoint */
    char *admin_token;
    int log_format; /* LOG_FORMAT_* */
    int drain_timeout_ms;
    int timeout; /* seconds a client may stay idle; 0: forever */
    char *config_file;
    /* several backends, chosen by key prefix: the JSON texts as given, and what they say */
    char *backends_json, *routes_json;
    struct conf_backend backends[CONF_MAX_BACKENDS - 1];
    int nbackends;
    struct conf_route routes[CONF_MAX_ROUTES];
    int nroutes;
    /* TLS (Redis's tls-* settings, same meaning): a listener for clients on tls_port, the cluster over
     * TLS with tls_cluster. The certificate and key files are read again on SIGHUP and when they change. */
    int tls_port; /* 0: none */
    char *tls_cert_file, *tls_key_file, *tls_key_file_pass;
    char *tls_client_cert_file, *tls_client_key_file, *tls_client_key_file_pass;
    char *tls_ca_cert_file, *tls_ca_cert_dir;
    int tls_auth_clients; /* TLS_AUTH_* of lib/tls.h: 0 no, 1 yes, 2 optional */
    char *tls_protocols, *tls_ciphers, *tls_ciphersuites;
    int tls_prefer_server_ciphers, tls_session_caching, tls_session_cache_size, tls_session_cache_timeout;
    int tls_cluster;
    int tls_handshake_timeout_ms;
    char *admin_tls_cert_file, *admin_tls_key_file;
};

enum { CONF_OBL_NORMAL = 0, CONF_OBL_PUBSUB };

enum { CONF_RUN = 0, CONF_EXIT_OK = 1, CONF_EXIT_ERROR = 2 };

/* Fills c from argv/env/file. Returns CONF_RUN, or CONF_EXIT_OK (--help/--version/--check-config done,
 * text already printed) or CONF_EXIT_ERROR with the reason, naming the setting, in err. */
int conf_load(struct conf *c, int argc, char **argv, char **envp, char *err, size_t errlen);
void conf_defaults(struct conf *c);
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);
int conf_set(struct conf *c, const char *name, const char *value, char *err, size_t errlen);
void conf_free(struct conf *c);

/* The effective configuration as a JSON object (jansson's json_t), secrets shown as "(redacted)". */
struct json_t;
struct json_t *conf_to_json(const struct conf *c);
/* Whether SIGHUP may change this setting in a running process. */
int conf_is_live(const char *name);
/* Copies the settings SIGHUP may change from src into dst (scalars only). */
void conf_copy_live(struct conf *dst, const struct conf *src);
/* Whether an address slotgate listens on is the loopback interface only (127.x.x.x, ::1, localhost). */
int conf_is_loopback(const char *addr);
/* SIGHUP: reports every setting that differs between cur and next (values as JSON text, secrets
 * redacted; live says whether it takes effect), then applies the live ones to cur. Returns how many
 * live settings changed. */
typedef void (*conf_change_fn)(void *ctx, const char *name, const char *from, const char *to, int live);
int conf_reload_diff(struct conf *cur, const struct conf *next, conf_change_fn report, void *ctx);

const char *conf_engine_name(int engine); /* io-engine's names */
/* routing.c: backend-kind's names; "backends" and "routes" read into c (-1 with err) and freed. */
const char *conf_kind_name(int kind);
int conf_routing_parse(struct conf *c, char *err, size_t errlen);
void conf_routing_free(struct conf *c);
int conf_valid_seed(const char *s); /* "host:port" */

#endif
