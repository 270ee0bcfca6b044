/* See loadview.h. */
#include "loadview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../health/oneshot.h"
#include "../lib/buf.h"
#include "../router/rebalance.h"
#include "slotload.h"
#include "worker.h"

#define LV_MAX_MASTERS 256
#define LV_ASK_TIMEOUT 2.0 /* seconds the masters have to answer /rebalance's questions */

struct lv_master {
    char id[SM_ID_LEN];
    char host[SM_HOST_LEN];
    int port;
    int slots;
    uint64_t sum[SL_KINDS];
    double after;
};

struct lv_window {
    uint64_t (*slots)[SL_KINDS];
    double start, end;
    uint64_t total[SL_KINDS];
};

static int read_window(const struct admin_view *v, struct lv_window *w) {
    if (!(w->slots = malloc(sizeof(*w->slots) * SLOT_COUNT))) return -1;
    slotload_read(v->workers, v->nworkers, v->workers[0].shared.slotload, w->slots, &w->start, &w->end);
    memset(w->total, 0, sizeof(w->total));
    for (int s = 0; s < SLOT_COUNT; s++)
        for (int k = 0; k < SL_KINDS; k++) w->total[k] += w->slots[s][k];
    return 0;
}

static json_t *window_json(const struct admin_view *v, const struct lv_window *w) {
    return json_pack("{s:i, s:o, s:o, s:f, s:b}", "window_seconds", v->workers[0].conf->slot_load_window_seconds,
                     "from", admin_iso_time(w->start), "to", admin_iso_time(w->end), "seconds", w->end - w->start,
                     "complete", w->end - w->start >= v->workers[0].conf->slot_load_window_seconds - 0.5);
}

static json_t *sums_json(const uint64_t *k, double seconds) {
    return json_pack("{s:I, s:I, s:I, s:f}", "requests", (json_int_t)k[SL_REQUESTS], "bytes_in",
                     (json_int_t)k[SL_BYTES_IN], "bytes_out", (json_int_t)k[SL_BYTES_OUT], "requests_per_second",
                     seconds > 0 ? (double)k[SL_REQUESTS] / seconds : 0.0);
}

/* The masters of the slot map, with what their slots carried. */
static int map_masters(const struct slotmap *m, const struct lv_window *w, struct lv_master *ms, int *owner) {
    int n = 0;
    for (int s = 0; s < m->nshards && n < LV_MAX_MASTERS; s++) {
        const struct sm_node *nd = &m->nodes[m->shards[s].master];
        struct lv_master *x = &ms[n++];
        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%s", nd->id);
        snprintf(x->host, sizeof(x->host), "%s", nd->host);
        x->port = nd->port;
    }
    for (int s = 0; s < SLOT_COUNT; s++) {
        int sh = m->slot_shard[s] == SM_NO_SHARD || m->slot_shard[s] >= n ? -1 : m->slot_shard[s];
        owner[s] = sh;
        if (sh < 0) continue;
        ms[sh].slots++;
        for (int k = 0; k < SL_KINDS; k++) ms[sh].sum[k] += w->slots[s][k];
    }
    return n;
}

static double max_over_mean(const struct lv_master *ms, int n, int kind) {
    double total = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        total += (double)ms[i].sum[kind];
        if ((double)ms[i].sum[kind] > mx) mx = (double)ms[i].sum[kind];
    }
    return total > 0 ? mx * n / total : 0;
}

json_t *loadview_load(const struct admin_view *v, int with_slots) {
    struct lv_window w;
    if (read_window(v, &w) < 0) return NULL;
    struct slotmap *m = status_map(v->status);
    static __thread struct lv_master ms[LV_MAX_MASTERS];
    static __thread int owner[SLOT_COUNT];
    int n = m ? map_masters(m, &w, ms, owner) : 0;
    double secs = w.end - w.start;
    json_t *masters = json_array();
    for (int i = 0; i < n; i++) {
        char addr[SM_HOST_LEN + 8];
        snprintf(addr, sizeof(addr), "%s:%d", ms[i].host, ms[i].port);
        json_t *o = json_pack("{s:s, s:s, s:i}", "addr", addr, "id", ms[i].id, "slots", ms[i].slots);
        json_t *sums = sums_json(ms[i].sum, secs);
        json_object_update(o, sums);
        json_decref(sums);
        json_object_set_new(
            o, "share",
            json_real(w.total[SL_REQUESTS] ? (double)ms[i].sum[SL_REQUESTS] / (double)w.total[SL_REQUESTS] : 0.0));
        json_array_append_new(masters, o);
    }
    /* the ten slots that carried the most requests */
    int top[10], ntop = 0;
    for (int s = 0; s < SLOT_COUNT; s++) {
        uint64_t r = w.slots[s][SL_REQUESTS];
        if (!r) continue;
        if (ntop < 10)
            top[ntop++] = s;
        else if (r > w.slots[top[9]][SL_REQUESTS])
            top[9] = s;
        else
            continue;
        for (int i = ntop - 1; i > 0 && w.slots[top[i]][SL_REQUESTS] > w.slots[top[i - 1]][SL_REQUESTS]; i--) {
            int t = top[i];
            top[i] = top[i - 1], top[i - 1] = t;
        }
    }
    json_t *hot = json_array();
    for (int i = 0; i < ntop; i++) {
        int s = top[i];
        json_t *o = sums_json(w.slots[s], secs);
        json_object_set_new(o, "slot", json_integer(s));
        char addr[SM_HOST_LEN + 8] = "";
        if (owner[s] >= 0 && m) snprintf(addr, sizeof(addr), "%s:%d", ms[owner[s]].host, ms[owner[s]].port);
        json_object_set_new(o, "master", addr[0] ? json_string(addr) : json_null());
        json_array_append_new(hot, o);
    }
    json_t *j = window_json(v, &w);
    json_object_set_new(j, "totals", sums_json(w.total, secs));
    json_object_set_new(j, "max_over_mean", json_real(max_over_mean(ms, n, SL_REQUESTS)));
    json_object_set_new(j, "masters", masters);
    json_object_set_new(j, "hot_slots", hot);
    if (with_slots) { /* [slot, requests, bytes_in, bytes_out] for every slot that carried load */
        json_t *arr = json_array();
        for (int s = 0; s < SLOT_COUNT; s++)
            if (w.slots[s][SL_REQUESTS] || w.slots[s][SL_BYTES_IN])
                json_array_append_new(arr, json_pack("[i, I, I, I]", s, (json_int_t)w.slots[s][SL_REQUESTS],
                                                     (json_int_t)w.slots[s][SL_BYTES_IN],
                                                     (json_int_t)w.slots[s][SL_BYTES_OUT]));
        json_object_set_new(j, "slots", arr);
    }
    if (m) slotmap_unref(m);
    free(w.slots);
    return j;
}

/* ---- rebalance advice ---- */

/* Masters CLUSTER NODES lists with no slot (one just added), appended to ms. */
static int add_empty_masters(const char *nodes, struct lv_master *ms, int n) {
    for (const char *line = nodes; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[1024], *f[9], *save = NULL;
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) - 1 ? len : sizeof(buf) - 1), line);
        line = eol ? eol + 1 : NULL;
        int nf = 0;
        for (char *t = strtok_r(buf, " \r", &save); t && nf < 9; t = strtok_r(NULL, " \r", &save)) f[nf++] = t;
        if (nf != 8) continue; /* a master owning slots has more fields; a replica's flags say so below */
        if (!strstr(f[2], "master") || strstr(f[2], "fail") || strstr(f[2], "handshake") || strstr(f[2], "noaddr") ||
            strcmp(f[7], "connected") != 0)
            continue;
        int known = 0;
        for (int i = 0; i < n; i++) known |= !strcmp(ms[i].id, f[0]);
        char *at = strchr(f[1], '@'), *colon;
        if (known || !at || n >= LV_MAX_MASTERS) continue;
        *at = '\0';
        if (!(colon = strrchr(f[1], ':'))) continue;
        *colon = '\0';
        struct lv_master *x = &ms[n++];
        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%s", f[0]);
        snprintf(x->host, sizeof(x->host), "%s", f[1]);
        x->port = atoi(colon + 1);
    }
    return n;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

json_t *loadview_rebalance(const struct admin_view *v, const struct rebalance_opts *o, char **script) {
    *script = NULL;
    const struct conf *conf = v->workers[0].conf;
    struct lv_window w;
    if (read_window(v, &w) < 0) return NULL;
    struct slotmap *m = status_map(v->status);
    if (!m) {
        free(w.slots);
        return json_pack("{s:s}", "error", "no slot map yet");
    }
    static __thread struct lv_master ms[LV_MAX_MASTERS];
    static __thread int owner[SLOT_COUNT];
    static __thread double load[SLOT_COUNT];
    int nmap = map_masters(m, &w, ms, owner), n = nmap;
    /* masters with no slot yet: CLUSTER NODES of the masters, the first answer taken */
    struct oneshot ask[LV_MAX_MASTERS];
    int nask = 0;
    for (int i = 0; i < nmap && nask < 3; i++) {
        memset(&ask[nask], 0, sizeof(ask[0]));
        snprintf(ask[nask].host, sizeof(ask[0].host), "%s", ms[i].host);
        ask[nask].port = ms[i].port;
        ask[nask++].kind = OS_CLUSTER_NODES;
    }
    oneshot_run(conf, ask, nask, LV_ASK_TIMEOUT);
    int nodes_known = 0;
    for (int i = 0; i < nask && !nodes_known; i++)
        if (ask[i].reply && ask[i].reply->type == REDIS_REPLY_STRING)
            n = add_empty_masters(ask[i].reply->str, ms, n), nodes_known = 1;
    oneshot_free(ask, nask);
    for (int s = 0; s < SLOT_COUNT; s++)
        load[s] = o->by_bytes ? (double)(w.slots[s][SL_BYTES_IN] + w.slots[s][SL_BYTES_OUT])
                              : (double)w.slots[s][SL_REQUESTS];
    int max_moves = o->max_moves > 0 && o->max_moves <= 4096 ? o->max_moves : 100;
    struct rb_move *moves = calloc((size_t)max_moves, sizeof(*moves));
    double *after = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    struct oneshot *counts = calloc((size_t)max_moves, sizeof(*counts));
    struct rb_result res = {0};
    int nm = moves && after && counts
                 ? rebalance_plan(load, owner, n, o->tolerance, o->min_gain, max_moves, moves, &res, after)
                 : 0;
    for (int i = 0; i < nm; i++) { /* the keys each move carries, from the slot's current owner */
        snprintf(counts[i].host, sizeof(counts[i].host), "%s", ms[moves[i].from].host);
        counts[i].port = ms[moves[i].from].port;
        counts[i].kind = OS_COUNTKEYSINSLOT;
        counts[i].slot = moves[i].slot;
    }
    if (nm > 0) oneshot_run(conf, counts, nm, LV_ASK_TIMEOUT);
    /* the JSON and the script */
    const char *cert = conf->tls_client_cert_file ? conf->tls_client_cert_file : conf->tls_cert_file;
    const char *key = conf->tls_client_key_file ? conf->tls_client_key_file : conf->tls_key_file;
    char cli[2048];
    if (conf->tls_cluster)
        snprintf(cli, sizeof(cli), "redis-cli --tls%s%s%s%s%s%s%s%s", conf->tls_ca_cert_file ? " --cacert " : "",
                 or_empty(conf->tls_ca_cert_file), conf->tls_ca_cert_dir ? " --cacertdir " : "",
                 or_empty(conf->tls_ca_cert_dir), cert ? " --cert " : "", or_empty(cert), key ? " --key " : "",
                 or_empty(key));
    else
        snprintf(cli, sizeof(cli), "redis-cli");
    struct sbuf sh = {0};
    sbuf_printf(&sh,
                "#!/bin/sh\n"
                "# Rebalance advice from slotgate: %d slot move(s) by %s measured over %.0f s; the busiest master\n"
                "# at %.2fx the mean now, %.2fx after. Review before running; slotgate moves nothing itself.\n"
                "# A password for the nodes: export REDISCLI_AUTH=... (MIGRATE sends it on as AUTH).\n"
                "set -eu\n"
                "R=${REDIS_CLI:-%s}\n"
                "ok() { out=$(\"$@\"); [ \"$out\" = OK ] || { echo \"$*: $out\" >&2; exit 1; }; }\n"
                "move_keys() { # from-host from-port slot to-host to-port\n"
                "  fh=$1 fp=$2 s=$3 th=$4 tp=$5\n"
                "  if [ -n \"${REDISCLI_AUTH:-}\" ]; then set -- AUTH \"$REDISCLI_AUTH\"; else set --; fi\n"
                "  while :; do\n"
                "    keys=$($R -h \"$fh\" -p \"$fp\" --raw CLUSTER GETKEYSINSLOT \"$s\" 100)\n"
                "    [ -n \"$keys\" ] || return 0\n"
                "    out=$(printf '%%s\\n' \"$keys\" | xargs -d '\\n' $R -h \"$fh\" -p \"$fp\" MIGRATE \"$th\" \"$tp\" "
                "\"\" 0 10000 \"$@\" KEYS)\n"
                "    case $out in OK|NOKEY) ;; *) echo \"MIGRATE of slot $s: $out\" >&2; exit 1 ;; esac\n"
                "  done\n"
                "}\n",
                nm, o->by_bytes ? "bytes" : "requests", w.end - w.start, res.before_max_over_mean,
                res.after_max_over_mean, cli);
    json_t *jm = json_array();
    long long keys_total = 0;
    int keys_known = 1;
    for (int i = 0; i < nm; i++) {
        const struct lv_master *f = &ms[moves[i].from], *t = &ms[moves[i].to];
        long long nkeys =
            counts[i].reply && counts[i].reply->type == REDIS_REPLY_INTEGER ? counts[i].reply->integer : -1;
        if (nkeys >= 0)
            keys_total += nkeys;
        else
            keys_known = 0;
        char fa[SM_HOST_LEN + 8], ta[SM_HOST_LEN + 8];
        snprintf(fa, sizeof(fa), "%s:%d", f->host, f->port);
        snprintf(ta, sizeof(ta), "%s:%d", t->host, t->port);
        json_t *cmds = json_array();
        char line[1024];
#define CMD(...) (snprintf(line, sizeof(line), __VA_ARGS__), json_array_append_new(cmds, json_string(line)))
        CMD("redis-cli -h %s -p %d CLUSTER SETSLOT %d IMPORTING %s", t->host, t->port, moves[i].slot, f->id);
        CMD("redis-cli -h %s -p %d CLUSTER SETSLOT %d MIGRATING %s", f->host, f->port, moves[i].slot, t->id);
        CMD("redis-cli -h %s -p %d CLUSTER GETKEYSINSLOT %d 100, then MIGRATE %s %d \"\" 0 10000 KEYS <those keys>, "
            "until no key is left",
            f->host, f->port, moves[i].slot, t->host, t->port);
        CMD("redis-cli -h %s -p %d CLUSTER SETSLOT %d NODE %s", t->host, t->port, moves[i].slot, t->id);
        CMD("redis-cli -h %s -p %d CLUSTER SETSLOT %d NODE %s", f->host, f->port, moves[i].slot, t->id);
#undef CMD
        json_t *jo = json_pack("{s:i, s:s, s:s, s:I, s:o, s:o}", "slot", moves[i].slot, "from", fa, "to", ta, "load",
                               (json_int_t)moves[i].load, "keys", nkeys >= 0 ? json_integer(nkeys) : json_null(),
                               "commands", cmds);
        if (nkeys < 0) json_object_set_new(jo, "keys_error", json_string(counts[i].err));
        json_array_append_new(jm, jo);
        sbuf_printf(&sh,
                    "\n# slot %d: %lld key(s), %.0f %s in the window, %s -> %s\n"
                    "ok $R -h %s -p %d CLUSTER SETSLOT %d IMPORTING %s\n"
                    "ok $R -h %s -p %d CLUSTER SETSLOT %d MIGRATING %s\n"
                    "move_keys %s %d %d %s %d\n"
                    "ok $R -h %s -p %d CLUSTER SETSLOT %d NODE %s\n"
                    "ok $R -h %s -p %d CLUSTER SETSLOT %d NODE %s\n",
                    moves[i].slot, nkeys, moves[i].load, o->by_bytes ? "bytes" : "requests", fa, ta, t->host, t->port,
                    moves[i].slot, f->id, f->host, f->port, moves[i].slot, t->id, f->host, f->port, moves[i].slot,
                    t->host, t->port, t->host, t->port, moves[i].slot, t->id, f->host, f->port, moves[i].slot, t->id);
    }
    if (nm > 0 && n > 0) sbuf_printf(&sh, "\n$R --cluster check %s:%d\n", ms[0].host, ms[0].port);
    json_t *before = json_array(), *aft = json_array();
    for (int i = 0; i < n; i++) {
        char addr[SM_HOST_LEN + 8];
        snprintf(addr, sizeof(addr), "%s:%d", ms[i].host, ms[i].port);
        double b =
            o->by_bytes ? (double)(ms[i].sum[SL_BYTES_IN] + ms[i].sum[SL_BYTES_OUT]) : (double)ms[i].sum[SL_REQUESTS];
        json_array_append_new(before, json_pack("{s:s, s:s, s:i, s:I}", "addr", addr, "id", ms[i].id, "slots",
                                                ms[i].slots, "load", (json_int_t)b));
        int slots_after = ms[i].slots;
        for (int k = 0; k < nm; k++) slots_after += (moves[k].to == i) - (moves[k].from == i);
        json_array_append_new(aft, json_pack("{s:s, s:s, s:i, s:I}", "addr", addr, "id", ms[i].id, "slots", slots_after,
                                             "load", (json_int_t)(after ? after[i] : 0)));
    }
    json_t *j = window_json(v, &w);
    json_object_set_new(j, "by", json_string(o->by_bytes ? "bytes" : "requests"));
    json_object_set_new(j, "tolerance", json_real(o->tolerance));
    json_object_set_new(j, "min_gain", json_real(o->min_gain));
    json_object_set_new(j, "masters_without_slots_known", json_boolean(nodes_known));
    json_object_set_new(j, "before",
                        json_pack("{s:f, s:o}", "max_over_mean", res.before_max_over_mean, "masters", before));
    json_object_set_new(j, "after", json_pack("{s:f, s:o}", "max_over_mean", res.after_max_over_mean, "masters", aft));
    json_object_set_new(j, "slots_to_move", json_integer(nm));
    json_object_set_new(j, "keys_to_move", keys_known ? json_integer(keys_total) : json_null());
    json_object_set_new(j, "moves", jm);
    json_object_set_new(j, "script", json_string("/rebalance?format=sh"));
    if (nm > 0) oneshot_free(counts, nm);
    free(counts);
    free(moves);
    free(after);
    free(w.slots);
    slotmap_unref(m);
    *script = sh.p; /* NULL if out of memory */
    return j;
}
