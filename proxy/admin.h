/* The HTTP admin endpoint: JSON views of the slot map, nodes, cluster, statistics and configuration,
 * health and readiness probes, Prometheus metrics and a dashboard page. Served by GNU libmicrohttpd
 * on a thread of its own, so a slow or malformed HTTP client never touches a worker's loop; it only
 * reads what the status board (health/status.h) and the workers' counters publish. */
#ifndef SLOTGATE_ADMIN_H
#define SLOTGATE_ADMIN_H

#include <jansson.h>
#include <stddef.h>

#include "worker.h"

struct admin;

struct admin_view {
    struct status *status;
    struct worker *workers;
    int nworkers;
    struct shared_counter *total_clients;
    int maxclients;
    struct routing *routing; /* routes by prefix and a migration's progress (routing.h) */
};

/* NULL with err when the listener cannot be opened (the port is taken, a bad address). */
struct admin *admin_start(const struct conf *c, const struct admin_view *view, char *err, size_t errlen);
/* The configuration /config shows (after start and after each SIGHUP). Main thread. */
void admin_set_config(struct admin *a, const struct conf *c);
void admin_stop(struct admin *a);
/* HTTPS: reads admin-tls-cert-file and -key-file again and serves them if they changed (main thread:
 * once a second, and on SIGHUP with forced set, which also says why a bad pair was not taken). */
void admin_tls_check(struct admin *a, int forced);

/* A wall-clock time as JSON, ISO 8601 with milliseconds ("2026-12-01T15:55:53.456Z"); null for 0. */
json_t *admin_iso_time(double t);
struct slotmap;
struct sm_shard;
json_t *admin_shard_json(const struct slotmap *m, const struct sm_shard *sh); /* as /slots and /routes show it */

/* metrics.c: the Prometheus text exposition of everything /stats, /nodes and /cluster show. */
struct sbuf;
int metrics_render(const struct admin_view *v, struct sbuf *out);

#endif
