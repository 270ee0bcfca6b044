/* slotgate's wiring: configuration, the command table, N worker threads, the slot-map refresher on
 * the main thread's loop, and signals. The only place that knows about all the modules. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../conf/conf.h"
#include "../health/probe.h"
#include "../health/refresh.h"
#include "log.h"
#include "proxy.h"
#include "scripts.h"

extern char **environ;

struct app {
    struct conf conf;
    struct cmdtable *cmds;
    struct worker *workers;
    int nworkers;
    struct refresher *refresher;
    struct prober *prober;
    int total_clients;
    int node_timeout_ms;
    struct scripts *scripts;
};

static void publish(void *ctx, struct slotmap *m) {
    struct app *a = ctx;
    if (a->prober) prober_set_map(a->prober, m);
    for (int i = 0; i < a->nworkers; i++) worker_publish_map(&a->workers[i], m);
}

static void publish_cmds(void *ctx, struct cmdtable *t) {
    struct app *a = ctx;
    for (int i = 0; i < a->nworkers; i++) worker_publish_cmds(&a->workers[i], t);
}

static void want_refresh(void *ctx, const char *why) { refresher_request(((struct app *)ctx)->refresher, why); }

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)revents;
    log_notice("received %s, shutting down", s->signum == SIGINT ? "SIGINT" : "SIGTERM");
    ev_break(loop, EVBREAK_ALL);
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

/* Start-up failed: release what main made (workers that did start are ended with the process). */
static int start_failed(struct app *a) {
    free(a->workers);
    refresher_free(a->refresher);
    cmdtable_free(a->cmds);
    scripts_free(a->scripts);
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
    signal(SIGPIPE, SIG_IGN);
    log_set_level(a.conf.log_level);
    raise_fd_limit(a.conf.maxclients);
    a.cmds = cmdtable_new_builtin(a.conf.allow_commands, a.conf.nallow_commands);
    struct ev_loop *loop = ev_default_loop(0);
    a.refresher = refresher_new(loop, &a.conf, publish, publish_cmds, &a);
    a.workers = calloc((size_t)a.conf.threads, sizeof(*a.workers));
    a.scripts = scripts_new(10000, 64 * 1024 * 1024);
    if (!a.cmds || !a.refresher || !a.workers || !a.scripts) {
        fprintf(stderr, "slotgate: out of memory at start\n");
        return start_failed(&a);
    }
    if (worker_check_port(a.conf.bind, a.conf.port, err, sizeof(err)) < 0) {
        log_warning("%s", err);
        return start_failed(&a);
    }
    for (int i = 0; i < a.conf.threads; i++) {
        if (worker_init(&a.workers[i], i, &a.conf, a.cmds, err, sizeof(err)) < 0) {
            log_warning("%s", err);
            return start_failed(&a);
        }
        a.workers[i].total_clients = &a.total_clients;
        a.workers[i].node_timeout_ms = &a.node_timeout_ms;
        a.workers[i].want_refresh = want_refresh;
        a.workers[i].refresh_ctx = &a;
        a.workers[i].all = a.workers;
        a.workers[i].scripts = a.scripts;
        a.workers[i].nworkers = a.conf.threads;
        a.nworkers++;
    }
    for (int i = 0; i < a.nworkers; i++) {
        if (worker_start(&a.workers[i]) != 0) {
            log_warning("cannot start worker thread: %s", strerror(errno));
            exit(1); /* threads already running: the process ends them */
        }
    }
    ev_signal sigint, sigterm;
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sigterm);
    refresher_set_node_timeout_sink(a.refresher, &a.node_timeout_ms);
    a.prober = prober_new(loop, &a.conf, a.refresher);
    refresher_start(a.refresher);
    log_notice("slotgate %s ready to accept connections on %s:%d (%d worker threads, seeds: %s%s)", "0.1.0",
               a.conf.bind, a.conf.port, a.nworkers, a.conf.seeds[0], a.conf.nseeds > 1 ? ", ..." : "");
    ev_run(loop, 0);
    for (int i = 0; i < a.nworkers; i++) worker_stop(&a.workers[i]);
    for (int i = 0; i < a.nworkers; i++) worker_destroy(&a.workers[i]);
    free(a.workers);
    prober_free(a.prober);
    refresher_free(a.refresher);
    cmdtable_free(a.cmds);
    scripts_free(a.scripts);
    conf_free(&a.conf);
    ev_loop_destroy(loop);
    log_notice("slotgate stopped");
    return 0;
}
