/* slotgate's wiring: configuration, the command table, N worker threads, the slot-map refresher on
 * the main thread's loop, and signals. The only place that knows about all the modules. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../health/probe.h"
#include "../health/refresh.h"
#include "../health/status.h"
#include "admin.h"
#include "../lib/dns.h"
#include "../lib/log.h"
#include "worker.h"
#include "scripts.h"
#include "bigkeys.h"
#include "slotload.h"
#include "../router/prefix.h"
#include "routing.h"
#include "slowlog.h"
#include "tlsconf.h"

extern char **environ;

struct app;

/* A backend besides the default one (routes by prefix): its own settings (the top-level ones with its
 * kind, seeds and credentials) and its own slot-map refresher, on the same loop. */
struct extra_backend {
    struct app *app;
    int index;        /* 1.. */
    struct conf conf; /* a shallow copy of app's: its strings are app's or conf.backends' */
    struct refresher *refresher;
};

struct app {
    struct conf conf;
    struct extra_backend extra[CONF_MAX_BACKENDS];
    struct routing routing; /* the routes in force, the migration's background work (routing.h) */
    struct cmdtable *cmds;
    struct users *users; /* who clients may be, and their ACL rules (users.h) */
    int protected_mode;  /* atomic, read by the workers: see protection() */
    struct acllog acllog;
    struct slowlog slowlog;
    struct bigkeys bigkeys;
    struct slotload slotload;
    struct worker *workers;
    int nworkers;
    struct refresher *refresher;
    struct prober *prober;
    struct shared_counter total_clients;
    int node_timeout_ms;
    struct scripts *scripts;
    struct subs *subs;
    char run_id[41];    /* INFO's run_id and master_replid: random, new at each start, as Redis's */
    long long mem_peak; /* INFO's used_memory_peak, shared by the workers */
    struct status *status;
    struct admin *admin;
    struct ev_loop *loop;
    int argc;
    char **argv;
    int draining;
    double drain_started;
    ev_timer drain_poll;
};

static void publish(void *ctx, struct slotmap *m) {
    struct app *a = ctx;
    if (a->prober) prober_set_map(a->prober, m);
    for (int i = 0; i < a->nworkers; i++) worker_publish_map(&a->workers[i], 0, m);
}

static void publish_extra(void *ctx, struct slotmap *m) {
    struct extra_backend *x = ctx;
    status_set_backend_map(x->app->status, x->index, m);
    for (int i = 0; i < x->app->nworkers; i++) worker_publish_map(&x->app->workers[i], x->index, m);
}

static void ignore_cmds(void *ctx, struct cmdtable *t) { /* the default backend's command table is the one used */
    (void)ctx;
    (void)t;
}

static void publish_cmds(void *ctx, struct cmdtable *t) {
    struct app *a = ctx;
    for (int i = 0; i < a->nworkers; i++) worker_publish_cmds(&a->workers[i], t);
}

static void want_refresh(void *ctx, int backend, const char *why) {
    struct app *a = ctx;
    struct refresher *h = backend > 0 && backend < CONF_MAX_BACKENDS && a->extra[backend].refresher
                              ? a->extra[backend].refresher
                              : a->refresher;
    refresher_request(h, why);
}

/* The table the workers route by, from c's routes (NULL when there are none). */
static int build_routes(const struct conf *c, struct prefix_table **out, char *err, size_t errlen) {
    *out = NULL;
    if (c->nroutes == 0) return 0;
    struct prefix_route r[CONF_MAX_ROUTES + 1];
    int n = 0, has_default = 0;
    for (int i = 0; i < c->nroutes; i++) {
        const struct conf_route *cr = &c->routes[i];
        r[n++] = (struct prefix_route){.prefix = cr->prefix,
                                       .backend = cr->backend,
                                       .strip = cr->strip,
                                       .mirror = cr->mirror + 1,
                                       .mirror_all = cr->mirror_all,
                                       .mirror_percent = cr->mirror_percent,
                                       .migrate_to = cr->migrate_to + 1};
        has_default |= !c->routes[i].prefix[0];
    }
    if (!has_default) /* every other key: the default backend */
        r[n++] = (struct prefix_route){.prefix = ""};
    return (*out = prefix_table_new(r, n, err, errlen)) ? 0 : -1;
}

/* routes by prefix: each backend's settings and refresher, the table the workers route by. */
static int routing_start(struct app *a, struct ev_loop *loop, char *err, size_t errlen) {
    const struct conf *c = &a->conf;
    for (int i = 0; i < c->nbackends; i++) {
        const struct conf_backend *b = &c->backends[i];
        struct extra_backend *x = &a->extra[i + 1];
        x->app = a;
        x->index = i + 1;
        x->conf = *c;
        x->conf.backend_kind = b->kind;
        memset(x->conf.seeds, 0, sizeof(x->conf.seeds));
        for (int k = 0; k < b->nseeds; k++) x->conf.seeds[k] = b->seeds[k];
        x->conf.nseeds = b->nseeds;
        x->conf.sentinel_master = b->sentinel_master;
        x->conf.sentinel_user = b->sentinel_user;
        x->conf.sentinel_password = b->sentinel_password;
        x->conf.backend_user = b->backend_user;
        x->conf.backend_password = b->backend_password;
        if (!(x->refresher = refresher_new(loop, &x->conf, publish_extra, ignore_cmds, x)))
            return snprintf(err, errlen, "out of memory"), -1;
        refresher_set_name(x->refresher, b->name);
    }
    pthread_mutex_init(&a->routing.lock, NULL);
    a->routing.since = status_wall_now();
    return build_routes(c, &a->routing.table, err, errlen);
}

/* A route with migrate-to: its background copy runs while the table holding it is in force. */
static void routing_migration(struct app *a) {
    struct prefix_table *t = a->routing.table;
    if (a->routing.migrator) migrator_stop(a->routing.migrator); /* a table's migration is its own */
    a->routing.migrator = t && t->migrating >= 0 ? migrator_start(&a->conf, a->status, t, t->migrating) : NULL;
}

/* SIGHUP: routes are live (a migration's cut-over is one); backends are not (each has its refresher and
 * its connections, made at start). Returns 1 when the routes changed. */
static int reload_routes(struct app *a, struct conf *next) {
    int same_routes = (!a->conf.routes_json && !next->routes_json) ||
                      (a->conf.routes_json && next->routes_json && !strcmp(a->conf.routes_json, next->routes_json));
    int same_backends =
        (!a->conf.backends_json && !next->backends_json) ||
        (a->conf.backends_json && next->backends_json && !strcmp(a->conf.backends_json, next->backends_json));
    if (same_routes) return 0;
    if (!same_backends) {
        log_warning("SIGHUP: routes not reloaded, the running ones stay: backends changed too, and backends take "
                    "effect only after a restart");
        return 0;
    }
    char err[256];
    struct prefix_table *t = NULL;
    if (build_routes(next, &t, err, sizeof(err)) < 0) {
        log_warning("SIGHUP: routes not reloaded, the running ones stay: %s", err);
        return 0;
    }
    for (int i = 0; i < a->nworkers; i++) worker_publish_prefixes(&a->workers[i], t);
    pthread_mutex_lock(&a->routing.lock);
    struct routing *r = &a->routing;
    unsigned slot = r->nretired++ % ROUTING_RETIRED; /* long replaced: no worker reads it any more */
    prefix_table_free(r->retired[slot]);
    r->retired[slot] = r->table;
    r->table = t;
    r->since = status_wall_now();
    routing_migration(a);
    pthread_mutex_unlock(&a->routing.lock);
    /* the running configuration says them now */
    char *tmp = a->conf.routes_json;
    a->conf.routes_json = next->routes_json, next->routes_json = tmp;
    for (int i = 0; i < CONF_MAX_ROUTES; i++) {
        struct conf_route x = a->conf.routes[i];
        a->conf.routes[i] = next->routes[i], next->routes[i] = x;
    }
    int n = a->conf.nroutes;
    a->conf.nroutes = next->nroutes, next->nroutes = n;
    log_notice("SIGHUP: routes reloaded (%d routes%s)", a->conf.nroutes,
               t && t->migrating >= 0 ? ", one migrating" : "");
    return 1;
}

static void on_drain_poll(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    struct app *a = t->data;
    int drained = 1;
    for (int i = 0; i < a->nworkers; i++) drained &= worker_is_drained(&a->workers[i]);
    if (drained) {
        log_notice("every request in flight was answered; closing client connections");
        ev_break(loop, EVBREAK_ALL);
    } else if (ev_now(loop) - a->drain_started >= a->conf.drain_timeout_ms / 1000.0) {
        struct stat_totals tot;
        worker_totals(a->workers, a->nworkers, &tot);
        log_warning("drain-timeout-ms %d reached with %llu requests unanswered; closing client connections",
                    a->conf.drain_timeout_ms, (unsigned long long)tot.s.live_reqs);
        ev_break(loop, EVBREAK_ALL);
    }
}

/* SIGTERM/SIGINT: readiness turns false, listeners close, requests already read are answered (within
 * drain-timeout-ms), then clients are closed and the process exits 0. A second signal stops at once. */
static void on_signal(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)revents;
    struct app *a = s->data;
    const char *name = s->signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (a->draining) {
        log_notice("received %s again, stopping now", name);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    a->draining = 1;
    __atomic_store_n(&a->status->draining, 1, __ATOMIC_RELAXED);
    log_notice("received %s: not ready, no new connections; draining requests in flight (up to %d ms)", name,
               a->conf.drain_timeout_ms);
    for (int i = 0; i < a->nworkers; i++) worker_drain(&a->workers[i]);
    a->drain_started = ev_now(loop);
    ev_timer_init(&a->drain_poll, on_drain_poll, 0.02, 0.02);
    a->drain_poll.data = a;
    ev_timer_start(loop, &a->drain_poll);
}

/* protected-mode, as Redis's: listening beyond loopback while the default user has no password and no
 * other user is defined, only clients from 127.0.0.1 and ::1 are served. Said at start and on SIGHUP. */
static void protection(struct app *a) {
    struct acl_user *def = users_find(a->users, "default", 7);
    int open = !conf_is_loopback(a->conf.bind) && a->users->n == 1 && def && def->nopass;
    int on = open && a->conf.protected_mode;
    if (on)
        log_notice("protected mode: listening on %s with no password and no users, only clients from 127.0.0.1 "
                   "and ::1 are served (set requirepass or users, or protected-mode no)",
                   a->conf.bind);
    else if (open)
        log_warning("protected-mode no: listening on %s with no password and no users, anyone who can reach it may "
                    "use the cluster",
                    a->conf.bind);
    __atomic_store_n(&a->protected_mode, on, __ATOMIC_RELAXED);
}

/* The TLS settings a SIGHUP applies (the contexts are built anew from them); the rest need a restart. */
static int tls_live(const char *name) {
    return (!strncmp(name, "tls-", 4) && strcmp(name, "tls-port") && strcmp(name, "tls-cluster") &&
            strcmp(name, "tls-handshake-timeout-ms"));
}

static void report_change(void *ctx, const char *name, const char *from, const char *to, int live) {
    (void)ctx;
    if (!strcmp(name, "users") || !strcmp(name, "requirepass") || !strcmp(name, "aclfile") || !strcmp(name, "routes"))
        return; /* said above (reload_routes for routes) */
    if (tls_live(name)) live = 1;
    if (live)
        log_notice("SIGHUP: %s changed from %s to %s", name, from, to);
    else
        log_warning("SIGHUP: %s changed from %s to %s in the configuration, but takes effect only after a restart",
                    name, from, to);
}

/* The string settings a TLS context is built from. */
#define TLS_STRINGS 11
static char **tls_string(struct conf *c, size_t i) {
    char **all[TLS_STRINGS] = {&c->tls_cert_file,        &c->tls_key_file,        &c->tls_key_file_pass,
                               &c->tls_client_cert_file, &c->tls_client_key_file, &c->tls_client_key_file_pass,
                               &c->tls_ca_cert_file,     &c->tls_ca_cert_dir,     &c->tls_protocols,
                               &c->tls_ciphers,          &c->tls_ciphersuites};
    return all[i];
}

/* SIGHUP: read the configuration again (file < environment < flags, as at start) and apply the settings
 * that can change live. An invalid file changes nothing. */
static void on_sighup(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)loop;
    (void)revents;
    struct app *a = s->data;
    struct conf next;
    char err[CONF_ERR_LEN];
    int rc = conf_load(&next, a->argc, a->argv, environ, err, sizeof(err));
    if (rc != CONF_RUN) {
        log_warning("SIGHUP: configuration not reloaded, the running one stays: %s", err);
        conf_free(&next);
        return;
    }
    /* users and their rules: built whole from the new file, or the running ones stay */
    char uerr[700] = "";
    struct users *users = users_build(&next, uerr, sizeof(uerr));
    if (!users) {
        log_warning("SIGHUP: users and ACL rules not reloaded, the running ones stay: %s", uerr);
    } else {
        for (int i = 0; i < a->nworkers; i++) worker_publish_users(&a->workers[i], users);
        users_unref(a->users);
        a->users = users;
        /* the running configuration shows them now (workers read the users, never these strings) */
        char *tmp = a->conf.requirepass;
        a->conf.requirepass = next.requirepass, next.requirepass = tmp;
        tmp = a->conf.aclfile;
        a->conf.aclfile = next.aclfile, next.aclfile = tmp;
        for (int i = 0; i < CONF_MAX_SEEDS; i++)
            tmp = a->conf.users[i], a->conf.users[i] = next.users[i], next.users[i] = tmp;
        int n = a->conf.nusers;
        a->conf.nusers = next.nusers, next.nusers = n;
        log_notice("SIGHUP: users and ACL rules reloaded (%d users)", users->n);
        protection(a);
    }
    if (a->conf.tls_port || a->conf.tls_cluster) {
        /* certificates read again (renewed or not); the new ones from the next connection on */
        struct conf trial = a->conf; /* tls-port and tls-cluster as running, the rest as the file says now */
        for (size_t i = 0; i < TLS_STRINGS; i++) *tls_string(&trial, i) = *tls_string(&next, i);
        trial.tls_auth_clients = next.tls_auth_clients;
        trial.tls_prefer_server_ciphers = next.tls_prefer_server_ciphers;
        trial.tls_session_caching = next.tls_session_caching;
        trial.tls_session_cache_size = next.tls_session_cache_size;
        trial.tls_session_cache_timeout = next.tls_session_cache_timeout;
        if (tlsconf_apply(&trial, err, sizeof(err)) < 0) {
            log_warning("SIGHUP: TLS certificates not reloaded, the running ones stay: %s", err);
        } else {
            for (size_t i = 0; i < TLS_STRINGS; i++) { /* the running configuration shows (and watches) them */
                char *tmp = *tls_string(&a->conf, i);
                *tls_string(&a->conf, i) = *tls_string(&next, i), *tls_string(&next, i) = tmp;
            }
            a->conf.tls_auth_clients = next.tls_auth_clients;
            a->conf.tls_prefer_server_ciphers = next.tls_prefer_server_ciphers;
            a->conf.tls_session_caching = next.tls_session_caching;
            a->conf.tls_session_cache_size = next.tls_session_cache_size;
            a->conf.tls_session_cache_timeout = next.tls_session_cache_timeout;
            tlsconf_rearm();
            log_notice("SIGHUP: TLS certificates reloaded (connections open keep theirs)");
        }
    }
    int routes_changed = reload_routes(a, &next);
    int changed = conf_reload_diff(&a->conf, &next, report_change, a) + routes_changed;
    conf_free(&next);
    log_set_level(a->conf.log_level);
    log_set_format(a->conf.log_format);
    for (int i = 0; i < a->nworkers; i++) worker_publish_conf(&a->workers[i], &a->conf);
    refresher_conf_changed(a->refresher);
    if (a->prober) prober_conf_changed(a->prober);
    admin_set_config(a->admin, &a->conf);
    admin_tls_check(a->admin, 1);
    log_notice("SIGHUP: configuration reloaded from %s (%d live settings changed)",
               a->conf.config_file ? a->conf.config_file : "the environment and flags", changed);
}

static void on_admin_tls_watch(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    admin_tls_check(((struct app *)t->data)->admin, 0);
}

/* Each client and backend connection is a descriptor: ask for maxclients plus room for backends. */
static void raise_fd_limit(int maxclients) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t want = (rlim_t)maxclients + 1024;
    if (rl.rlim_cur >= want) return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = want > rl.rlim_max ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        log_notice("open files limit raised from %llu to %llu", (unsigned long long)old,
                   (unsigned long long)rl.rlim_cur);
    if (rl.rlim_cur < want)
        log_warning("open files limit is %llu: fewer than maxclients %d can connect", (unsigned long long)rl.rlim_cur,
                    maxclients);
}

/* 40 hex digits from the kernel's random source (the clock and PID if it cannot be read). */
static void new_run_id(char out[41]) {
    unsigned char raw[20];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, sizeof(raw), f) : 0;
    if (f) fclose(f);
    for (size_t i = got; i < sizeof(raw); i++)
        raw[i] = (unsigned char)((unsigned)getpid() * 31u + (unsigned)time(NULL) + i);
    for (size_t i = 0; i < sizeof(raw); i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Start-up failed: release what main made (workers that did start are ended with the process). */
static int start_failed(struct app *a) {
    free(a->workers);
    refresher_free(a->refresher);
    for (int b = 1; b < CONF_MAX_BACKENDS; b++) refresher_free(a->extra[b].refresher);
    prefix_table_free(a->routing.table);
    cmdtable_free(a->cmds);
    scripts_free(a->scripts);
    subs_free(a->subs);
    status_free(a->status);
    users_unref(a->users);
    acllog_free(&a->acllog);
    slowlog_free(&a->slowlog);
    bigkeys_free(&a->bigkeys);
    slotload_free(&a->slotload);
    conf_free(&a->conf);
    return 1;
}

int main(int argc, char **argv) {
    struct app a = {0};
    char err[CONF_ERR_LEN];
    int rc = conf_load(&a.conf, argc, argv, environ, err, sizeof(err));
    if (rc != CONF_RUN) {
        if (rc == CONF_EXIT_ERROR) fprintf(stderr, "slotgate: configuration error: %s\n", err);
        conf_free(&a.conf);
        return rc == CONF_EXIT_OK ? 0 : 2;
    }
    char uerr[700] = "";
    a.users = users_build(&a.conf, uerr, sizeof(uerr));
    if (!a.users) { /* a rule Redis would refuse: said as a configuration error, as a bad setting is */
        fprintf(stderr, "slotgate: configuration error: %s\n", uerr);
        conf_free(&a.conf);
        return 2;
    }
    if (tlsconf_apply(&a.conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "slotgate: configuration error: %s\n", err);
        users_unref(a.users);
        conf_free(&a.conf);
        return 2;
    }
    acllog_init(&a.acllog);
    slowlog_init(&a.slowlog);
    bigkeys_init(&a.bigkeys);
    if (slotload_init(&a.slotload) < 0) {
        fprintf(stderr, "slotgate: out of memory\n");
        return start_failed(&a);
    }
    signal(SIGPIPE, SIG_IGN);
    /* Buffers of 256 KiB and more (a large value's) come from mmap and go back to the system when
     * freed; glibc would otherwise raise this threshold after the first such free and keep them. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    log_set_level(a.conf.log_level);
    log_set_format(a.conf.log_format);
    a.argc = argc;
    a.argv = argv;
    raise_fd_limit(a.conf.maxclients);
    a.cmds = cmdtable_new_builtin(a.conf.allow_commands, a.conf.nallow_commands);
    struct ev_loop *loop = ev_default_loop(0);
    dns_init(a.conf.dns_cache_ttl_ms / 1000.0);
    a.refresher = refresher_new(loop, &a.conf, publish, publish_cmds, &a);
    if (routing_start(&a, loop, err, sizeof(err)) < 0) {
        fprintf(stderr, "slotgate: configuration error: routes: %s\n", err);
        return start_failed(&a);
    }
    /* cache-line aligned (struct worker is): workers on other cores never write to a line one shares */
    a.workers = aligned_alloc(_Alignof(struct worker), (size_t)a.conf.threads * sizeof(*a.workers));
    if (a.workers) memset(a.workers, 0, (size_t)a.conf.threads * sizeof(*a.workers));
    a.scripts = scripts_new(10000, 64 * 1024 * 1024);
    a.subs = subs_new();
    new_run_id(a.run_id);
    a.status = status_new(a.conf.threads);
    a.loop = loop;
    if (!a.cmds || !a.refresher || !a.workers || !a.scripts || !a.subs || !a.status) {
        fprintf(stderr, "slotgate: out of memory at start\n");
        return start_failed(&a);
    }
    if ((a.conf.port && worker_check_port(a.conf.bind, a.conf.port, err, sizeof(err)) < 0) ||
        (a.conf.tls_port && worker_check_port(a.conf.bind, a.conf.tls_port, err, sizeof(err)) < 0)) {
        log_warning("%s", err);
        return start_failed(&a);
    }
    for (int i = 0; i < a.conf.threads; i++) {
        if (worker_init(&a.workers[i], i, &a.conf, a.cmds, a.users, err, sizeof(err)) < 0) {
            log_warning("%s", err);
            return start_failed(&a);
        }
        a.workers[i].shared.total_clients = &a.total_clients;
        a.workers[i].shared.node_timeout_ms = &a.node_timeout_ms;
        a.workers[i].shared.want_refresh = want_refresh;
        a.workers[i].shared.prefixes = a.workers[i].tmp.plan.prefixes = a.routing.table; /* the worker's one plan */
        a.workers[i].shared.backend_names[0] = "default";
        for (int b = 0; b < a.conf.nbackends; b++) a.workers[i].shared.backend_names[b + 1] = a.conf.backends[b].name;
        a.workers[i].shared.refresh_ctx = &a;
        a.workers[i].shared.all = a.workers;
        a.workers[i].shared.scripts = a.scripts;
        a.workers[i].shared.subs = a.subs;
        a.workers[i].shared.run_id = a.run_id;
        a.workers[i].shared.mem_peak = &a.mem_peak;
        a.workers[i].shared.acllog = &a.acllog;
        a.workers[i].shared.slowlog = &a.slowlog;
        a.workers[i].shared.bigkeys = &a.bigkeys;
        a.workers[i].shared.slotload = &a.slotload;
        a.workers[i].shared.protected_mode = &a.protected_mode;
        a.workers[i].shared.nworkers = a.conf.threads;
        a.workers[i].shared.status = a.status;
        a.nworkers++;
    }
    if (a.conf.admin_port) {
        struct admin_view view = {a.status, a.workers, a.nworkers, &a.total_clients, a.conf.maxclients, &a.routing};
        if (!(a.admin = admin_start(&a.conf, &view, err, sizeof(err)))) {
            log_warning("%s", err);
            return start_failed(&a);
        }
    }
    struct mallinfo2 mi = mallinfo2(); /* INFO's used_memory_startup */
    for (int i = 0; i < a.nworkers; i++) a.workers[i].shared.mem_startup = (long long)(mi.uordblks + mi.hblkhd);
    for (int i = 0; i < a.nworkers; i++) {
        if (worker_start(&a.workers[i]) != 0) {
            log_warning("cannot start worker thread: %s", strerror(errno));
            exit(1); /* threads already running: the process ends them */
        }
    }
    __atomic_store_n(&a.status->listening, 1, __ATOMIC_RELAXED);
    ev_signal sigint, sigterm, sighup;
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_init(&sighup, on_sighup, SIGHUP);
    sigint.data = sigterm.data = sighup.data = &a;
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sighup);
    refresher_set_node_timeout_sink(a.refresher, &a.node_timeout_ms);
    refresher_set_status(a.refresher, a.status);
    a.prober = prober_new(loop, &a.conf, a.refresher);
    if (a.prober) prober_set_status(a.prober, a.status);
    refresher_start(a.refresher);
    for (int b = 1; b < CONF_MAX_BACKENDS; b++)
        if (a.extra[b].refresher) refresher_start(a.extra[b].refresher);
    pthread_mutex_lock(&a.routing.lock);
    routing_migration(&a);
    pthread_mutex_unlock(&a.routing.lock);
    protection(&a);
    if (a.conf.tls_port || a.conf.tls_cluster) tlsconf_watch(loop, &a.conf);
    char ports[64] = "";
    if (a.conf.port) snprintf(ports, sizeof(ports), "port %d", a.conf.port);
    if (a.conf.tls_port)
        snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%stls-port %d", a.conf.port ? ", " : "",
                 a.conf.tls_port);
    log_notice("slotgate %s ready to accept connections on %s (%s; %d worker threads, seeds: %s%s%s)", SLOTGATE_VERSION,
               a.conf.bind, ports, a.nworkers, a.conf.seeds[0], a.conf.nseeds > 1 ? ", ..." : "",
               a.conf.tls_cluster ? "; TLS to the cluster" : "");
    if (a.admin)
        log_notice("admin endpoint on %s://%s:%d/", a.conf.admin_tls_cert_file ? "https" : "http", a.conf.admin_bind,
                   a.conf.admin_port);
    ev_timer admin_tls_watch;
    ev_timer_init(&admin_tls_watch, on_admin_tls_watch, 1.0, 1.0);
    admin_tls_watch.data = &a;
    if (a.admin && a.conf.admin_tls_cert_file) ev_timer_start(loop, &admin_tls_watch);
    ev_run(loop, 0);
    ev_timer_stop(loop, &admin_tls_watch);
    for (int i = 0; i < a.nworkers; i++) worker_stop(&a.workers[i]);
    tlsconf_unwatch(loop);
    admin_stop(a.admin);
    for (int i = 0; i < a.nworkers; i++) worker_destroy(&a.workers[i]);
    free(a.workers);
    prober_free(a.prober);
    refresher_free(a.refresher);
    for (int b = 1; b < CONF_MAX_BACKENDS; b++) refresher_free(a.extra[b].refresher);
    migrator_stop(a.routing.migrator);
    prefix_table_free(a.routing.table);
    for (int i = 0; i < ROUTING_RETIRED; i++) prefix_table_free(a.routing.retired[i]);
    pthread_mutex_destroy(&a.routing.lock);
    dns_shutdown();
    cmdtable_free(a.cmds);
    scripts_free(a.scripts);
    subs_free(a.subs);
    status_free(a.status);
    users_unref(a.users);
    acllog_free(&a.acllog);
    slowlog_free(&a.slowlog);
    bigkeys_free(&a.bigkeys);
    slotload_free(&a.slotload);
    conf_free(&a.conf);
    ev_loop_destroy(loop);
    log_notice("slotgate stopped");
    return 0;
}
