/* See admin.h. Every response is JSON built with jansson (the dashboard page and /metrics aside);
 * every handler copies what it needs from the status board under its lock and builds the body after. */
#include "admin.h"
#include "routing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../health/probe.h"
#include "../router/merge.h"
#include "../router/slot.h"
#include "../lib/dns.h"
#include "../lib/log.h"
#include "../lib/tls.h"
#include "bigkeys.h"
#include "adminroutes.h"
#include "loadview.h"

static const unsigned char dashboard[] = {
#include "dashboard.inc"
};

struct admin {
    struct MHD_Daemon *d;
    struct sockaddr_storage addr; /* where it listens */
    socklen_t addrlen;
    int port;
    char *cert, *key;           /* HTTPS (admin-tls-cert-file, -key-file): the PEM texts served now */
    char *cert_file, *key_file; /* ... read again when they change */
    char files_sig[160];        /* their identity, size and times when last read */
    struct admin_view v;
    char *token;
    int protect; /* admin-protected-mode: beyond loopback with no token, only local clients see past /readyz */
    pthread_mutex_t conf_lock;
    json_t *config; /* what /config shows */
};

/* ---- helpers ---- */

json_t *admin_iso_time(double t) {
    if (t <= 0) return json_null();
    time_t s = (time_t)t;
    struct tm tm;
    char buf[40];
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)((t - (double)s) * 1000));
    return json_string(buf);
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned code, const char *type, const void *body,
                                 size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    if (code == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"slotgate\"");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* Takes the reference to j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *j) {
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return send_body(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", "{\"error\":\"out of memory\"}\n", 26);
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (body) text = body, text[len++] = '\n';
    enum MHD_Result rc = send_body(c, code, "application/json", text, len);
    free(text);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *msg, const char *url) {
    return send_json(c, code, json_pack("{s:s, s:s?}", "error", msg, "path", url));
}

static json_t *node_ref(const struct slotmap *m, int i) {
    char addr[SM_HOST_LEN + 8];
    snprintf(addr, sizeof(addr), "%s:%d", m->nodes[i].host, m->nodes[i].port);
    return json_pack("{s:s, s:s}", "id", m->nodes[i].id, "addr", addr);
}

json_t *admin_shard_json(const struct slotmap *m, const struct sm_shard *sh) {
    json_t *replicas = json_array();
    for (int r = 0; r < sh->nreplicas; r++) json_array_append_new(replicas, node_ref(m, sh->replicas[r]));
    return json_pack("{s:o, s:o}", "master", node_ref(m, sh->master), "replicas", replicas);
}

/* Adds src's members to dst and releases src. */
static void merge_into(json_t *dst, json_t *src) {
    json_object_update(dst, src);
    json_decref(src);
}

/* ---- endpoints ---- */

static enum MHD_Result get_slots(struct admin *a, struct MHD_Connection *c) {
    struct slotmap *m = status_map(a->v.status);
    struct status *st = a->v.status;
    pthread_mutex_lock(&st->lock);
    struct refresh_status rs = st->refresh;
    pthread_mutex_unlock(&st->lock);
    json_t *ranges = json_array();
    for (unsigned s = 0; m && s < SLOT_COUNT;) {
        unsigned e = s;
        while (e + 1 < SLOT_COUNT && m->slot_shard[e + 1] == m->slot_shard[s]) e++;
        const struct sm_shard *sh = slotmap_shard(m, s);
        json_t *r = json_pack("{s:i, s:i, s:i}", "start", (int)s, "end", (int)e, "slots", (int)(e - s + 1));
        merge_into(r, sh ? admin_shard_json(m, sh) : json_pack("{s:n, s:[]}", "master", "replicas"));
        json_array_append_new(ranges, r);
        s = e + 1;
    }
    json_t *j = json_pack("{s:I, s:i, s:b, s:i, s:o, s:o, s:s, s:o}", "version", m ? (json_int_t)m->version : 0,
                          "slots_covered", m ? (int)m->covered : 0, "complete", m && slotmap_is_complete(m), "masters",
                          m ? m->nshards : 0, "refreshed_at", admin_iso_time(rs.last_ok), "changed_at",
                          admin_iso_time(rs.last_change), "refreshed_from", rs.from, "ranges", ranges);
    if (m) slotmap_unref(m);
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result one_slot(struct admin *a, struct MHD_Connection *c, int slot, const char *key) {
    struct slotmap *m = status_map(a->v.status);
    const struct sm_shard *sh = m ? slotmap_shard(m, (unsigned)slot) : NULL;
    json_t *j = key ? json_pack("{s:s, s:i}", "key", key, "slot", slot) : json_pack("{s:i}", "slot", slot);
    merge_into(j, sh ? admin_shard_json(m, sh) : json_pack("{s:n, s:[]}", "master", "replicas"));
    if (m) slotmap_unref(m);
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_slot(struct admin *a, struct MHD_Connection *c, const char *arg, const char *url) {
    char *end;
    long n = strtol(arg, &end, 10);
    if (!*arg || *end || n < 0 || n >= SLOT_COUNT) return send_error(c, 400, "slot must be 0 to 16383", url);
    return one_slot(a, c, (int)n, NULL);
}

static enum MHD_Result get_keyslot(struct admin *a, struct MHD_Connection *c, const char *url) {
    const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    if (!key) return send_error(c, 400, "give the key as ?key=...", url);
    return one_slot(a, c, (int)slot_for_key(key, strlen(key)), key);
}

/* The hot keys of every worker merged: reads and writes, each key with its estimated requests in the
 * window, the possible overestimate, its slot and the master serving it. */
static json_t *hotkeys_json(struct admin *a, int kind, struct slotmap *m, int max) {
    static __thread struct hk_entry e[HK_K * 4];
    uint64_t total;
    int n = hotkeys_collect(a->v.workers, a->v.nworkers, kind, e, HK_K * 4, &total);
    json_t *arr = json_array();
    for (int i = 0; i < n && i < max; i++) {
        size_t kept = e[i].len < HK_KEY_MAX ? e[i].len : HK_KEY_MAX;
        int slot = (int)slot_for_key(e[i].key, kept);
        const struct sm_shard *sh = m && e[i].len <= HK_KEY_MAX ? slotmap_shard(m, (unsigned)slot) : NULL;
        char addr[SM_HOST_LEN + 8] = "";
        if (sh) snprintf(addr, sizeof(addr), "%s:%d", m->nodes[sh->master].host, m->nodes[sh->master].port);
        json_t *o = json_pack("{s:s%, s:I, s:I, s:b}", "key", e[i].key, kept, "requests", (json_int_t)e[i].count,
                              "error", (json_int_t)e[i].err, "key_cut", e[i].len > HK_KEY_MAX);
        json_object_set_new(o, "slot", e[i].len <= HK_KEY_MAX ? json_integer(slot) : json_null());
        json_object_set_new(o, "master", sh ? json_string(addr) : json_null());
        json_array_append_new(arr, o);
    }
    return json_pack("{s:I, s:o}", "requests_counted", (json_int_t)total, "keys", arr);
}

static enum MHD_Result get_hotkeys(struct admin *a, struct MHD_Connection *c) {
    const char *count = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "count");
    int max = count ? atoi(count) : 20;
    if (max <= 0) max = 20;
    struct slotmap *m = status_map(a->v.status);
    json_t *j = json_pack("{s:i, s:i, s:o, s:o}", "window_seconds", a->v.workers[0].conf->hotkeys_window_seconds,
                          "sample_one_in", a->v.workers[0].conf->hotkeys_sample, "reads",
                          hotkeys_json(a, HK_READS, m, max), "writes", hotkeys_json(a, HK_WRITES, m, max));
    if (m) slotmap_unref(m);
    return send_json(c, MHD_HTTP_OK, j);
}

/* Per-slot load over the last complete window (slot-load-window-seconds): per master, the hottest slots,
 * and with ?slots=1 (the dashboard's load colouring) every slot that carried load. */
static enum MHD_Result get_load(struct admin *a, struct MHD_Connection *c) {
    const char *slots = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "slots");
    return send_json(c, MHD_HTTP_OK, loadview_load(&a->v, slots && strcmp(slots, "0") != 0));
}

/* Rebalance advice: ?by=requests|bytes, ?tolerance=0.05, ?min_gain=0.05, ?max_moves=100; ?format=sh for
 * the script. */
static enum MHD_Result get_rebalance(struct admin *a, struct MHD_Connection *c, const char *url) {
    const char *by = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "by");
    const char *tol = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tolerance");
    const char *max = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "max_moves");
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *gain = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "min_gain");
    struct rebalance_opts o = {.tolerance = 0.05, .min_gain = 0.05, .max_moves = 100};
    if (by && strcmp(by, "requests") != 0 && strcmp(by, "bytes") != 0)
        return send_error(c, 400, "by must be requests or bytes", url);
    o.by_bytes = by && !strcmp(by, "bytes");
    char *end;
    if (tol && ((o.tolerance = strtod(tol, &end)) < 0 || o.tolerance > 10 || *end || !*tol))
        return send_error(c, 400, "tolerance must be a number from 0 to 10", url);
    if (gain && ((o.min_gain = strtod(gain, &end)) < 0 || o.min_gain > 1 || *end || !*gain))
        return send_error(c, 400, "min_gain must be a number from 0 to 1", url);
    if (max && ((o.max_moves = (int)strtol(max, &end, 10)) < 1 || o.max_moves > 4096 || *end))
        return send_error(c, 400, "max_moves must be 1 to 4096", url);
    if (format && strcmp(format, "sh") != 0 && strcmp(format, "json") != 0)
        return send_error(c, 400, "format must be json or sh", url);
    char *script = NULL;
    json_t *j = loadview_rebalance(&a->v, &o, &script);
    if (format && !strcmp(format, "sh") && script) {
        json_decref(j);
        enum MHD_Result rc = send_body(c, MHD_HTTP_OK, "text/x-shellscript; charset=utf-8", script, strlen(script));
        free(script);
        return rc;
    }
    free(script);
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_routes(struct admin *a, struct MHD_Connection *c) {
    return send_json(c, MHD_HTTP_OK, admin_routes_json(&a->v));
}

/* POST /routes/check: the migration's consistency check starts (its result comes on /routes). */
static enum MHD_Result post_check(struct admin *a, struct MHD_Connection *c, const char *url) {
    const char *err = NULL;
    json_t *body = NULL;
    unsigned code = admin_routes_check(&a->v, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sample"),
                                       MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ttl-tolerance-ms"),
                                       MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "repair"), &body, &err);
    return err ? send_error(c, code, err, url) : send_json(c, code, body);
}

/* The big keys seen, newest first: requests and replies over bigkeys-value-bytes or bigkeys-elements. */
static enum MHD_Result get_bigkeys(struct admin *a, struct MHD_Connection *c) {
    const char *count = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "count");
    int max = count ? atoi(count) : 50;
    struct bigkey_entry *e = NULL;
    int n = bigkeys_get(a->v.workers[0].shared.bigkeys, max > 0 ? max : 50, &e);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        size_t kept = e[i].key_len < sizeof(e[i].key) ? e[i].key_len : sizeof(e[i].key);
        json_array_append_new(
            arr, json_pack("{s:I, s:o, s:s%, s:b, s:s, s:s, s:I, s:I, s:s}", "id", (json_int_t)e[i].id, "time",
                           admin_iso_time(e[i].time), "key", e[i].key, kept, "key_cut", e[i].key_len > sizeof(e[i].key),
                           "command", e[i].command, "what", e[i].is_reply ? "reply" : "request", "bytes",
                           (json_int_t)e[i].bytes, "elements", (json_int_t)e[i].elements, "client", e[i].client));
    }
    free(e);
    const struct conf *cf = a->v.workers[0].conf;
    return send_json(c, MHD_HTTP_OK,
                     json_pack("{s:I, s:i, s:o}", "value_bytes", (json_int_t)cf->bigkeys_value_bytes, "elements",
                               cf->bigkeys_elements, "entries", arr));
}

/* A copy of the board's nodes, for use after the lock is released. */
static struct node_status *copy_nodes(struct status *st, int *n, struct cluster_status *cl) {
    pthread_mutex_lock(&st->lock);
    *n = st->nnodes;
    struct node_status *copy = malloc(sizeof(*copy) * ((size_t)st->nnodes + 1));
    if (copy && st->nnodes) memcpy(copy, st->nodes, sizeof(*copy) * (size_t)st->nnodes);
    if (cl) *cl = st->cluster;
    pthread_mutex_unlock(&st->lock);
    if (!copy) *n = 0;
    return copy;
}

static long long lag_of(const struct node_status *all, int n, const struct node_status *x) {
    if (strcmp(x->role, "replica") != 0 || !x->probed) return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(all[i].addr, x->master_addr) == 0 && all[i].probed) {
            long long lag = all[i].repl_offset - x->repl_offset;
            return lag > 0 ? lag : 0;
        }
    return -1;
}

static unsigned slots_of(const struct slotmap *m, const char *addr) {
    for (int s = 0; m && s < m->nshards; s++) {
        char a[SM_HOST_LEN + 8];
        const struct sm_node *sn = &m->nodes[m->shards[s].master];
        snprintf(a, sizeof(a), "%s:%d", sn->host, sn->port);
        if (strcmp(a, addr) == 0) return m->shards[s].nslots;
    }
    return 0;
}

static enum MHD_Result get_nodes(struct admin *a, struct MHD_Connection *c) {
    int n;
    struct node_status *ns = copy_nodes(a->v.status, &n, NULL);
    struct slotmap *m = status_map(a->v.status);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const struct node_status *x = &ns[i];
        struct node_totals t;
        status_node_totals(a->v.status, x->addr, &t);
        long long lag = lag_of(ns, n, x);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:o, s:o}", "addr", x->addr, "id", x->id, "role",
                      !x->in_map     ? "none"
                      : x->is_master ? "master"
                                     : "replica",
                      "state", node_state_name(x->state), "reported_role", x->role[0] ? x->role : NULL, "slots",
                      (json_int_t)slots_of(m, x->addr), "probe_latency_ms",
                      x->probed ? json_real(x->latency_ms) : json_null(), "last_probe_ok", admin_iso_time(x->last_ok));
        json_object_set_new(o, "in_slot_map", json_boolean(x->in_map));
        json_object_set_new(o, "keys", json_integer(x->keys));
        json_object_set_new(o, "expires", json_integer(x->expires));
        json_object_set_new(o, "used_memory_bytes", json_integer(x->used_memory));
        json_object_set_new(o, "connections", json_integer(t.connections));
        json_object_set_new(o, "requests", json_integer((json_int_t)t.requests));
        json_object_set_new(o, "errors", json_integer((json_int_t)t.errors));
        json_object_set_new(o, "replication_offset", json_integer(x->repl_offset));
        if (strcmp(x->role, "replica") == 0) {
            json_object_set_new(o, "master", json_string(x->master_addr));
            json_object_set_new(o, "master_link_status", json_string(x->link));
            json_object_set_new(o, "lag_bytes", lag >= 0 ? json_integer(lag) : json_null());
        }
        json_object_set_new(o, "last_error", x->state == NODE_UP ? json_null() : json_string(x->last_error));
        json_object_set_new(o, "busy", json_boolean(x->busy_since > 0));
        json_object_set_new(o, "busy_since", x->busy_since > 0 ? admin_iso_time(x->busy_since) : json_null());
        json_object_set_new(o, "busy_error", x->busy_since > 0 ? json_string(x->busy_error) : json_null());
        json_array_append_new(arr, o);
    }
    free(ns);
    if (m) slotmap_unref(m);
    return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "nodes", arr));
}

static enum MHD_Result get_cluster(struct admin *a, struct MHD_Connection *c) {
    int n;
    struct cluster_status cl;
    struct node_status *ns = copy_nodes(a->v.status, &n, &cl);
    struct slotmap *m = status_map(a->v.status);
    long long total = 0;
    int masters = 0, replicas = 0, up = 0, suspect = 0, down = 0;
    for (int i = 0; i < n; i++) {
        if (ns[i].is_master)
            total += ns[i].keys, masters++;
        else if (ns[i].in_map)
            replicas++;
        up += ns[i].state == NODE_UP, suspect += ns[i].state == NODE_SUSPECT, down += ns[i].state == NODE_DOWN;
    }
    json_t *dist = json_array();
    for (int i = 0; i < n; i++) {
        if (!ns[i].is_master) continue;
        json_array_append_new(dist, json_pack("{s:s, s:s, s:I, s:I, s:f}", "addr", ns[i].addr, "id", ns[i].id, "keys",
                                              (json_int_t)ns[i].keys, "slots", (json_int_t)slots_of(m, ns[i].addr),
                                              "share", total ? (double)ns[i].keys / (double)total : 0.0));
    }
    json_t *j = json_pack("{s:s?, s:s?, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I}", "state",
                          cl.known ? cl.state : NULL, "seen_from", cl.known ? cl.from : NULL, "slots_assigned",
                          cl.slots_assigned, "slots_ok", cl.slots_ok, "slots_pfail", cl.slots_pfail, "slots_fail",
                          cl.slots_fail, "known_nodes", cl.known_nodes, "size", cl.size, "masters", masters, "replicas",
                          replicas, "current_epoch", (json_int_t)cl.current_epoch, "keys_total", (json_int_t)total);
    json_object_set_new(j, "slots_covered_by_map", json_integer(m ? m->covered : 0));
    json_object_set_new(j, "slot_map_version", json_integer(m ? (json_int_t)m->version : 0));
    json_object_set_new(j, "nodes_up", json_integer(up));
    json_object_set_new(j, "nodes_suspect", json_integer(suspect));
    json_object_set_new(j, "nodes_down", json_integer(down));
    json_object_set_new(j, "keys_by_master", dist);
    const struct conf *conf = a->v.workers[0].conf;
    json_object_set_new(j, "backend_kind", json_string(conf_kind_name(conf->backend_kind)));
    if (conf->backend_kind == KIND_SENTINEL) { /* the sentinels slotgate listens to, a failover waited out */
        struct sentinel_status x;
        status_sentinels(a->v.status, &x);
        json_t *list = json_array();
        for (int i = 0; i < x.n; i++)
            json_array_append_new(list, json_pack("{s:s, s:b}", "addr", x.s[i].addr, "subscribed", x.s[i].subscribed));
        json_object_set_new(j, "sentinel",
                            json_pack("{s:s, s:o, s:o, s:o}", "master_name", conf->sentinel_master, "sentinels", list,
                                      "failover_of", x.holding_for[0] ? json_string(x.holding_for) : json_null(),
                                      "failover_since", admin_iso_time(x.holding_since)));
    }
    free(ns);
    if (m) slotmap_unref(m);
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_stats(struct admin *a, struct MHD_Connection *c) {
    struct stat_totals t;
    worker_totals(a->v.workers, a->v.nworkers, &t);
    struct status *st = a->v.status;
    pthread_mutex_lock(&st->lock);
    struct refresh_status rs = st->refresh;
    pthread_mutex_unlock(&st->lock);
    json_t *fam = json_object();
    for (int f = 0; f < FAM_COUNT; f++)
        if (t.s.calls[f])
            json_object_set_new(
                fam, cmd_family_name(f),
                json_pack("{s:I, s:I}", "calls", (json_int_t)t.s.calls[f], "errors", (json_int_t)t.s.failed[f]));
    uint64_t count = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) count += t.s.latency[i];
    json_t *lat = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)count, "mean",
                            count ? (double)t.s.latency_us / (double)count : 0.0, "p50",
                            hist_quantile(t.s.latency, 0.5), "p90", hist_quantile(t.s.latency, 0.9), "p99",
                            hist_quantile(t.s.latency, 0.99), "p999", hist_quantile(t.s.latency, 0.999));
    json_t *j = json_pack(
        "{s:f, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I}, s:{s:I, s:I}, s:I, s:{s:I, s:I, s:I}, "
        "s:o}",
        "uptime_seconds", status_wall_now() - st->started, "worker_threads", a->v.nworkers, "clients_connected",
        (int)shared_counter_get(a->v.total_clients), "maxclients", a->v.maxclients, "connections_received",
        (json_int_t)t.s.connections, "rejected_connections", (json_int_t)t.s.rejected, "commands_processed",
        (json_int_t)t.s.commands, "error_replies", (json_int_t)t.s.errors, "requests_in_flight",
        (json_int_t)t.s.live_reqs, "commands_by_family", fam, "redirections", "moved", (json_int_t)t.s.moved, "ask",
        (json_int_t)t.s.ask, "retries", "tryagain", (json_int_t)t.s.tryagain, "clusterdown",
        (json_int_t)t.s.clusterdown, "backend_timeouts", (json_int_t)t.s.timeouts, "refreshes", "ok", (json_int_t)rs.ok,
        "failed", (json_int_t)rs.failed, "map_changes", (json_int_t)rs.changes, "latency_us", lat);
    json_object_set_new(json_object_get(j, "refreshes"), "last_error",
                        rs.failed ? json_string(rs.last_error) : json_null());
    json_object_set_new(j, "auth_failures", json_integer((json_int_t)t.s.auth_failures));
    json_object_set_new(j, "tls_handshakes",
                        json_pack("{sIsIsI}", "ok", (json_int_t)t.s.tls_handshakes, "failed",
                                  (json_int_t)t.s.tls_handshake_failed, "timeout",
                                  (json_int_t)t.s.tls_handshake_timeouts));
    json_object_set_new(j, "acl_denied",
                        json_pack("{sIsIsI}", "command", (json_int_t)t.s.acl_denied_cmd, "key",
                                  (json_int_t)t.s.acl_denied_key, "channel", (json_int_t)t.s.acl_denied_channel));
    json_object_set_new(j, "io_spin",
                        json_pack("{sIsI}", "hits", (json_int_t)t.s.spin_hits, "misses", (json_int_t)t.s.spin_misses));
    json_object_set_new(j, "idle_clients_closed", json_integer((json_int_t)t.s.idle_closed));
    json_object_set_new(j, "output_buffer_disconnections", json_integer((json_int_t)t.s.output_closed));
    json_object_set_new(j, "client_side_caching",
                        json_pack("{sIsIsIsIsIsI}", "tracking_clients", (json_int_t)t.s.trk_clients, "tracked_keys",
                                  (json_int_t)t.s.trk_keys, "tracked_items", (json_int_t)t.s.trk_items, "prefixes",
                                  (json_int_t)t.s.trk_prefixes, "table_bytes", (json_int_t)t.s.trk_bytes,
                                  "invalidations_sent", (json_int_t)t.s.invalidations));
    struct dns_stats ds;
    dns_get_stats(&ds);
    json_object_set_new(j, "dns",
                        json_pack("{sIsIsIsi}", "lookups", (json_int_t)ds.lookups, "failures", (json_int_t)ds.failures,
                                  "cache_hits", (json_int_t)ds.cache_hits, "names", ds.entries));
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_ready(struct admin *a, struct MHD_Connection *c) {
    char why[160];
    int ok = status_ready(a->v.status, why, sizeof(why));
    return send_json(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     json_pack("{s:b, s:s}", "ready", ok, "reason", why));
}

static enum MHD_Result get_metrics(struct admin *a, struct MHD_Connection *c) {
    struct sbuf b = {0};
    if (metrics_render(&a->v, &b) < 0) {
        sbuf_free(&b);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", "/metrics");
    }
    enum MHD_Result rc = send_body(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    sbuf_free(&b);
    return rc;
}

/* The token, compared in constant time. */
static int authorized(struct admin *a, struct MHD_Connection *c) {
    if (!a->token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    const char *got = h + 7;
    size_t glen = strlen(got), tlen = strlen(a->token);
    unsigned char diff = (unsigned char)(glen != tlen);
    for (size_t i = 0; i < tlen; i++) diff |= (unsigned char)(a->token[i] ^ (i < glen ? got[i] : 0));
    return diff == 0;
}

/* From 127.0.0.1 or ::1 (or an IPv4-mapped 127.0.0.1), as Redis's protected mode counts local. */
static int local_peer(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return IN6_IS_ADDR_LOOPBACK(a6) || (memcmp(a6->s6_addr, mapped, 12) == 0 && a6->s6_addr[12] == 127 &&
                                            a6->s6_addr[13] == 0 && a6->s6_addr[14] == 0 && a6->s6_addr[15] == 1);
    }
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)version;
    (void)upload;
    struct admin *a = cls;
    if (!*state) { /* first call for this request: headers only */
        *state = a;
        return MHD_YES;
    }
    if (*upload_size) { /* a body we do not want: discard it */
        *upload_size = 0;
        return MHD_YES;
    }
    int post_check_url = !strcmp(url, "/routes/check");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !(post_check_url && !strcmp(method, "POST")))
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", url);
    if (strcmp(url, "/healthz") == 0)
        return send_json(
            c, MHD_HTTP_OK,
            json_pack("{s:s, s:f}", "status", "ok", "uptime_seconds", status_wall_now() - a->v.status->started));
    if (strcmp(url, "/readyz") == 0) return get_ready(a, c);
    if (a->protect && !local_peer(c))
        return send_error(c, MHD_HTTP_FORBIDDEN,
                          "protected mode: the admin endpoint listens beyond loopback with no admin-token, so it "
                          "answers other addresses than 127.0.0.1 and ::1 only on /healthz and /readyz (set "
                          "admin-token, or admin-protected-mode no)",
                          url);
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) /* the page asks for data with the token */
        return send_body(c, MHD_HTTP_OK, "text/html; charset=utf-8", dashboard, sizeof(dashboard));
    if (!authorized(a, c)) return send_error(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is required", url);
    if (strcmp(url, "/slots") == 0) return get_slots(a, c);
    if (strncmp(url, "/slots/", 7) == 0) return get_slot(a, c, url + 7, url);
    if (strcmp(url, "/keyslot") == 0) return get_keyslot(a, c, url);
    if (strcmp(url, "/nodes") == 0) return get_nodes(a, c);
    if (strcmp(url, "/hotkeys") == 0) return get_hotkeys(a, c);
    if (strcmp(url, "/bigkeys") == 0) return get_bigkeys(a, c);
    if (strcmp(url, "/load") == 0) return get_load(a, c);
    if (strcmp(url, "/routes") == 0) return get_routes(a, c);
    if (post_check_url) {
        if (strcmp(method, "POST") != 0)
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST /routes/check starts the check", url);
        return post_check(a, c, url);
    }
    if (strcmp(url, "/rebalance") == 0) return get_rebalance(a, c, url);
    if (strcmp(url, "/cluster") == 0) return get_cluster(a, c);
    if (strcmp(url, "/stats") == 0) return get_stats(a, c);
    if (strcmp(url, "/metrics") == 0) return get_metrics(a, c);
    if (strcmp(url, "/config") == 0) {
        pthread_mutex_lock(&a->conf_lock);
        json_t *j = json_deep_copy(a->config);
        pthread_mutex_unlock(&a->conf_lock);
        return send_json(c, MHD_HTTP_OK, j);
    }
    return send_error(c, MHD_HTTP_NOT_FOUND, "not found", url);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    log_verbose("admin endpoint: %s", buf);
}

static char *read_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), NULL;
    char *buf = malloc(1024 * 1024 + 1); /* a certificate chain or key is a few KiB */
    size_t len = buf ? fread(buf, 1, 1024 * 1024 + 1, f) : 0;
    fclose(f);
    if (!buf || len > 1024 * 1024) return free(buf), snprintf(err, errlen, "cannot read %s (over 1 MiB?)", path), NULL;
    buf[len] = '\0';
    return buf;
}

/* Reads the certificate and key and checks that they load and match (OpenSSL); 0 with both, or -1. */
static int read_pair(const char *cert_file, const char *key_file, char **cert, char **key, char *err, size_t errlen) {
    struct tls_options o = {.cert_file = cert_file, .key_file = key_file};
    SSL_CTX *probe = tls_ctx_new(&o, 1, err, errlen);
    if (!probe) return -1;
    SSL_CTX_free(probe);
    if (!(*cert = read_file(cert_file, err, errlen))) return -1;
    if (!(*key = read_file(key_file, err, errlen))) return free(*cert), *cert = NULL, -1;
    return 0;
}

/* The daemon, on the given listening socket (-1: it binds one). */
static struct MHD_Daemon *daemon_start(struct admin *a, int listen_fd) {
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC; /* ITC: quiesce can hand over */
    if (a->addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (a->cert) flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {{a->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, a->cert},
                                   {MHD_OPTION_HTTPS_MEM_KEY, 0, a->key},
                                   {MHD_OPTION_END, 0, NULL}};
    if (listen_fd >= 0)
        return MHD_start_daemon(flags, (uint16_t)a->port, NULL, NULL, handle, a, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_EXTERNAL_LOGGER,
                                mhd_log, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    return MHD_start_daemon(flags, (uint16_t)a->port, NULL, NULL, handle, a, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&a->addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)64 * 1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY, tls,
                            MHD_OPTION_END);
}

/* The files' identity, size and modification times: read again only when these change. */
static void files_sig(const struct admin *a, char *out, size_t len) {
    struct stat c = {0}, k = {0};
    stat(a->cert_file, &c);
    stat(a->key_file, &k);
    snprintf(out, len, "%llu:%lld:%ld.%ld/%llu:%lld:%ld.%ld", (unsigned long long)c.st_ino, (long long)c.st_size,
             (long)c.st_mtim.tv_sec, c.st_mtim.tv_nsec, (unsigned long long)k.st_ino, (long long)k.st_size,
             (long)k.st_mtim.tv_sec, k.st_mtim.tv_nsec);
}

void admin_tls_check(struct admin *a, int forced) {
    if (!a || !a->cert_file) return;
    char sig[sizeof(a->files_sig)];
    files_sig(a, sig, sizeof(sig));
    if (!forced && !strcmp(sig, a->files_sig)) return;
    snprintf(a->files_sig, sizeof(a->files_sig), "%s", sig);
    char err[512], *cert = NULL, *key = NULL;
    if (read_pair(a->cert_file, a->key_file, &cert, &key, err, sizeof(err)) < 0) {
        if (forced) log_warning("admin endpoint: HTTPS certificate not reloaded, the running one stays: %s", err);
        return;
    }
    if (!strcmp(cert, a->cert) && !strcmp(key, a->key)) {
        free(cert), free(key);
        return;
    }
    /* A new daemon takes over the listening socket: nothing is refused in between (requests being
     * answered by the old one when it stops are cut, and a client or probe asks again). */
    char *old_cert = a->cert, *old_key = a->key;
    a->cert = cert, a->key = key;
    MHD_socket fd = MHD_quiesce_daemon(a->d);
    struct MHD_Daemon *next = fd != MHD_INVALID_SOCKET ? daemon_start(a, fd) : NULL;
    if (!next) {
        a->cert = old_cert, a->key = old_key;
        free(cert), free(key);
        if (fd == MHD_INVALID_SOCKET) { /* the old daemon still serves */
            log_warning("admin endpoint: cannot hand its socket over to take the new HTTPS certificate");
            return;
        }
        log_warning("admin endpoint: cannot start with the new HTTPS certificate; the old one stays");
        if (!(next = daemon_start(a, fd))) {
            log_warning("admin endpoint: stopped (cannot serve on its socket again)");
            close(fd);
        }
        MHD_stop_daemon(a->d);
        a->d = next;
        return;
    }
    struct MHD_Daemon *old = a->d;
    a->d = next;
    MHD_stop_daemon(old);
    free(old_cert), free(old_key);
    log_notice("admin endpoint: HTTPS certificate reloaded from %s", a->cert_file);
}

struct admin *admin_start(const struct conf *c, const struct admin_view *view, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", c->admin_port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    int rc = getaddrinfo(c->admin_bind, ps, &hints, &res);
    if (rc != 0) return snprintf(err, errlen, "admin-bind: '%s' is not an address", c->admin_bind), NULL;
    struct admin *a = calloc(1, sizeof(*a));
    if (!a) {
        freeaddrinfo(res);
        return NULL;
    }
    a->v = *view;
    a->token = c->admin_token && *c->admin_token ? strdup(c->admin_token) : NULL;
    a->protect = c->admin_protected_mode && !a->token && !conf_is_loopback(c->admin_bind);
    if (a->protect)
        log_notice("admin endpoint: protected mode (listening on %s with no admin-token): only /healthz and /readyz "
                   "for clients other than 127.0.0.1 and ::1",
                   c->admin_bind);
    else if (!a->token && !conf_is_loopback(c->admin_bind))
        log_warning("admin-protected-mode no: the admin endpoint on %s answers anyone with no token", c->admin_bind);
    pthread_mutex_init(&a->conf_lock, NULL);
    memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
    a->addrlen = res->ai_addrlen;
    a->port = c->admin_port;
    freeaddrinfo(res);
    if (c->admin_tls_cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "admin-tls-cert-file: this libmicrohttpd was built without TLS");
        } else if (read_pair(c->admin_tls_cert_file, c->admin_tls_key_file, &a->cert, &a->key, err, errlen) == 0) {
            a->cert_file = strdup(c->admin_tls_cert_file);
            a->key_file = strdup(c->admin_tls_key_file);
            files_sig(a, a->files_sig, sizeof(a->files_sig));
        }
        if (!a->cert) {
            free(a->token);
            pthread_mutex_destroy(&a->conf_lock);
            free(a);
            return NULL;
        }
    }
    a->d = daemon_start(a, -1);
    if (!a->d) {
        snprintf(err, errlen, "cannot start the admin endpoint on %s:%d (port taken?)", c->admin_bind, c->admin_port);
        free(a->cert), free(a->key), free(a->cert_file), free(a->key_file);
        free(a->token);
        pthread_mutex_destroy(&a->conf_lock);
        free(a);
        return NULL;
    }
    admin_set_config(a, c);
    return a;
}

void admin_set_config(struct admin *a, const struct conf *c) {
    if (!a) return;
    json_t *j = conf_to_json(c);
    pthread_mutex_lock(&a->conf_lock);
    json_t *old = a->config;
    a->config = j;
    pthread_mutex_unlock(&a->conf_lock);
    json_decref(old);
}

void admin_stop(struct admin *a) {
    if (!a) return;
    if (a->d) MHD_stop_daemon(a->d);
    free(a->cert), free(a->key), free(a->cert_file), free(a->key_file);
    json_decref(a->config);
    free(a->token);
    pthread_mutex_destroy(&a->conf_lock);
    free(a);
}
