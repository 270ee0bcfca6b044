/* The admin endpoint's routes by prefix (admin.c serves them): GET /routes (each route, each backend
 * with what its map says, a migration's and mirroring's figures) and POST /routes/check (a migration's
 * consistency check). Built from the admin view alone; no HTTP here. */
#include "adminroutes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../health/status.h"
#include "migrator.h"
#include "routing.h"

/* Routes by prefix: each route, and each backend with what its map says (masters and their replicas). */
static json_t *backend_json(const char *name, int kind, char *const *seeds, int nseeds, const char *sentinel_master,
                            struct slotmap *m) {
    json_t *s = json_array(), *masters = json_array();
    for (int i = 0; i < nseeds; i++) json_array_append_new(s, json_string(seeds[i]));
    for (int i = 0; m && i < m->nshards; i++) {
        json_t *o = admin_shard_json(m, &m->shards[i]);
        json_object_set_new(o, "slots", json_integer(m->shards[i].nslots));
        json_array_append_new(masters, o);
    }
    json_t *j = json_pack("{s:s, s:s, s:o, s:i, s:I, s:o}", "name", name, "kind", conf_kind_name(kind), "seeds", s,
                          "slots_covered", m ? (int)m->covered : 0, "map_version", m ? (json_int_t)m->version : 0,
                          "shards", masters);
    if (sentinel_master) json_object_set_new(j, "sentinel_master", json_string(sentinel_master));
    return j;
}

static const char *backend_name(const struct conf *conf, int b) {
    return b > 0 && b <= conf->nbackends ? conf->backends[b - 1].name : "default";
}

/* The migration's figures: the data path's (every worker's) and the background copy's. */
static json_t *migration_json(const struct admin_view *v, const struct prefix_table *t, struct migrator *m) {
    const struct conf *conf = v->workers[0].conf;
    const struct prefix_route *r = &t->routes[t->migrating];
    struct stat_totals tot;
    worker_totals(v->workers, v->nworkers, &tot);
    json_t *j = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "prefix", r->prefix, "from",
                          backend_name(conf, r->backend), "to", backend_name(conf, r->migrate_to - 1), "data_path",
                          "writes", (json_int_t)tot.s.mig_writes, "copy_transactions", (json_int_t)tot.s.mig_batches,
                          "keys_copied", (json_int_t)tot.s.mig_copies, "keys_deleted", (json_int_t)tot.s.mig_deletes,
                          "copy_errors", (json_int_t)tot.s.mig_copy_errors, "reads", (json_int_t)tot.s.mig_reads,
                          "read_fallbacks", (json_int_t)tot.s.mig_fallbacks);
    json_object_set_new(j, "background", m ? migrator_json(m) : json_null());
    return j;
}

json_t *admin_routes_json(const struct admin_view *v) {
    const struct conf *conf = v->workers[0].conf;
    json_t *routes = json_array(), *backends = json_array(), *migration = json_null();
    struct routing *rt = v->routing;
    int mirrors = 0;
    pthread_mutex_lock(&rt->lock);
    const struct prefix_table *t = rt->table;
    for (int i = 0; t && i < t->n; i++) {
        const struct prefix_route *r = &t->routes[i];
        json_t *e = json_pack("{s:s, s:s, s:b}", "prefix", r->prefix, "backend", backend_name(conf, r->backend),
                              "strip_prefix", r->strip);
        if (r->mirror) {
            mirrors++;
            json_object_set_new(e, "mirror",
                                json_pack("{s:s, s:s, s:i}", "backend", backend_name(conf, r->mirror - 1), "commands",
                                          r->mirror_all ? "all" : "writes", "percent",
                                          r->mirror_percent ? r->mirror_percent : 100));
        }
        if (r->migrate_to) json_object_set_new(e, "migrate_to", json_string(backend_name(conf, r->migrate_to - 1)));
        json_array_append_new(routes, e);
    }
    if (!t) /* every key */
        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:b}", "prefix", "", "backend", "default", "strip_prefix", 0));
    if (t && t->migrating >= 0) migration = migration_json(v, t, rt->migrator);
    json_t *since = admin_iso_time(rt->since);
    pthread_mutex_unlock(&rt->lock);
    struct slotmap *m = status_map(v->status);
    json_array_append_new(backends,
                          backend_json("default", conf->backend_kind, conf->seeds, conf->nseeds,
                                       conf->backend_kind == KIND_SENTINEL ? conf->sentinel_master : NULL, m));
    if (m) slotmap_unref(m);
    for (int b = 0; b < conf->nbackends; b++) {
        const struct conf_backend *x = &conf->backends[b];
        m = status_backend_map(v->status, b + 1);
        json_array_append_new(backends, backend_json(x->name, x->kind, x->seeds, x->nseeds,
                                                     x->kind == KIND_SENTINEL ? x->sentinel_master : NULL, m));
        if (m) slotmap_unref(m);
    }
    json_t *out = json_pack("{s:o, s:o, s:o, s:o}", "routes", routes, "since", since, "backends", backends, "migration",
                            migration);
    if (mirrors) {
        struct stat_totals tot;
        worker_totals(v->workers, v->nworkers, &tot);
        uint64_t answered = tot.s.mirror_replies + tot.s.mirror_errors;
        json_object_set_new(out, "mirror",
                            json_pack("{s:I, s:I, s:I, s:I, s:f}", "sent", (json_int_t)tot.s.mirror_sent, "replies",
                                      (json_int_t)tot.s.mirror_replies, "errors", (json_int_t)tot.s.mirror_errors,
                                      "dropped", (json_int_t)tot.s.mirror_dropped, "mean_latency_us",
                                      answered ? (double)tot.s.mirror_latency_us / (double)answered : 0.0));
    }
    return out;
}

unsigned admin_routes_check(const struct admin_view *v, const char *sample, const char *tol, const char *repair,
                            json_t **body, const char **err) {
    int pct = sample ? atoi(sample) : 100, ms = tol ? atoi(tol) : 2000, fix = repair && !strcmp(repair, "1");
    if (pct < 1 || pct > 100 || ms < 0) return *err = "sample is a percentage (1-100), ttl-tolerance-ms >= 0", 400;
    struct routing *rt = v->routing;
    pthread_mutex_lock(&rt->lock);
    int rc = rt->migrator ? migrator_check(rt->migrator, pct, ms, fix) : -2;
    pthread_mutex_unlock(&rt->lock);
    if (rc == -2) return *err = "no route is migrating (no migrate-to in routes)", 409;
    if (rc == -1) return *err = "a check is under way already: see /routes", 409;
    *body =
        json_pack("{s:s, s:i, s:i, s:b}", "check", "started: its result comes on /routes (migration.background.check)",
                  "sample_percent", pct, "ttl_tolerance_ms", ms, "repair", fix);
    return 202;
}
