/* Prometheus text exposition (format 0.0.4) of slotgate's figures: counters end in _total, times are
 * in seconds and sizes in bytes, every family has HELP and TYPE, label values are escaped. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../health/probe.h"
#include "../router/merge.h"
#include "admin.h"
#include "../lib/dns.h"

static int family(struct sbuf *b, const char *name, const char *type, const char *help) {
    return sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newlines escaped. */
static void esc(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 3 < cap; in++) {
        if (*in == '\\' || *in == '"')
            out[n++] = '\\', out[n++] = *in;
        else if (*in == '\n')
            out[n++] = '\\', out[n++] = 'n';
        else
            out[n++] = *in;
    }
    out[n] = '\0';
}

static double proc_cpu_seconds(void) {
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long long proc_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, rss = 0;
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static int proc_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return 0;
    while (readdir(d)) n++;
    closedir(d);
    return n > 2 ? n - 3 : 0; /* ".", ".." and the directory's own descriptor */
}

static int node_metrics(const struct admin_view *v, struct sbuf *b) {
    struct status *st = v->status;
    pthread_mutex_lock(&st->lock);
    int n = st->nnodes;
    struct node_status *ns = malloc(sizeof(*ns) * ((size_t)n + 1));
    if (ns && n) memcpy(ns, st->nodes, sizeof(*ns) * (size_t)n);
    pthread_mutex_unlock(&st->lock);
    if (!ns) return -1;
    struct node_totals *t = calloc((size_t)n + 1, sizeof(*t));
    char(*lbl)[2 * SM_HOST_LEN + 32] = calloc((size_t)n + 1, sizeof(*lbl));
    int rc = t && lbl ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++) {
        char addr[2 * SM_HOST_LEN];
        esc(ns[i].addr, addr, sizeof(addr));
        snprintf(lbl[i], sizeof(lbl[i]), "node=\"%s\"", addr);
        status_node_totals(st, ns[i].addr, &t[i]);
    }
    if (rc == 0)
        rc |= family(b, "slotgate_node_up", "gauge",
                     "1 when the node answers probes, 0 when suspect or down; role as in the slot map.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_up{%s,id=\"%s\",role=\"%s\"} %d\n", lbl[i], ns[i].id,
                          !ns[i].in_map     ? "none"
                          : ns[i].is_master ? "master"
                                            : "replica",
                          ns[i].state == NODE_UP);
    if (rc == 0)
        rc |= family(b, "slotgate_node_busy", "gauge",
                     "1 while the node answers -BUSY (a script or function running past busy-reply-threshold).");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_busy{%s} %d\n", lbl[i], ns[i].busy_since > 0);
    if (rc == 0)
        rc |= family(b, "slotgate_node_probe_latency_seconds", "gauge", "Round trip of the last answered probe.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_probe_latency_seconds{%s} %.6f\n", lbl[i], ns[i].latency_ms / 1000);
    if (rc == 0) rc |= family(b, "slotgate_node_keys", "gauge", "Keys the node holds (INFO keyspace).");
    for (int i = 0; rc == 0 && i < n; i++) rc |= sbuf_printf(b, "slotgate_node_keys{%s} %lld\n", lbl[i], ns[i].keys);
    if (rc == 0) rc |= family(b, "slotgate_node_used_memory_bytes", "gauge", "The node's used_memory (INFO memory).");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_used_memory_bytes{%s} %lld\n", lbl[i], ns[i].used_memory);
    if (rc == 0)
        rc |= family(b, "slotgate_node_replication_offset_bytes", "gauge",
                     "master_repl_offset of a master, slave_repl_offset of a replica.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_replication_offset_bytes{%s} %lld\n", lbl[i], ns[i].repl_offset);
    if (rc == 0)
        rc |= family(b, "slotgate_node_backend_connections", "gauge", "Connections slotgate holds open to the node.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_backend_connections{%s} %lld\n", lbl[i], (long long)t[i].connections);
    if (rc == 0) rc |= family(b, "slotgate_node_requests_total", "counter", "Replies slotgate received from the node.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_requests_total{%s} %llu\n", lbl[i], (unsigned long long)t[i].requests);
    if (rc == 0)
        rc |= family(b, "slotgate_node_errors_total", "counter",
                     "Error replies from the node, and requests failed by a lost connection to it.");
    for (int i = 0; rc == 0 && i < n; i++)
        rc |= sbuf_printf(b, "slotgate_node_errors_total{%s} %llu\n", lbl[i], (unsigned long long)t[i].errors);
    free(ns);
    free(t);
    free(lbl);
    return rc;
}

int metrics_render(const struct admin_view *v, struct sbuf *b) {
    struct stat_totals t;
    worker_totals(v->workers, v->nworkers, &t);
    struct status *st = v->status;
    char why[128];
    int ready = status_ready(st, why, sizeof(why));
    pthread_mutex_lock(&st->lock);
    struct refresh_status rs = st->refresh;
    struct cluster_status cl = st->cluster;
    unsigned covered = st->map ? st->map->covered : 0;
    unsigned long long version = st->map ? (unsigned long long)st->map->version : 0;
    pthread_mutex_unlock(&st->lock);
    int rc = 0;
    rc |= family(b, "slotgate_build_info", "gauge", "Always 1; the version is a label.");
    rc |= sbuf_printf(b, "slotgate_build_info{version=\"%s\"} 1\n", SLOTGATE_VERSION);
    rc |= family(b, "slotgate_up_seconds", "gauge", "Seconds since slotgate started.");
    rc |= sbuf_printf(b, "slotgate_up_seconds %.3f\n", status_wall_now() - st->started);
    rc |= family(b, "slotgate_ready", "gauge", "1 when /readyz answers 200.");
    rc |= sbuf_printf(b, "slotgate_ready %d\n", ready);
    rc |= family(b, "slotgate_connected_clients", "gauge", "Client connections open now.");
    rc |= sbuf_printf(b, "slotgate_connected_clients %d\n", (int)shared_counter_get(v->total_clients));
    rc |= family(b, "slotgate_max_clients", "gauge", "The maxclients setting.");
    rc |= sbuf_printf(b, "slotgate_max_clients %d\n", v->maxclients);
    rc |= family(b, "slotgate_connections_received_total", "counter", "Client connections accepted.");
    rc |= sbuf_printf(b, "slotgate_connections_received_total %llu\n", (unsigned long long)t.s.connections);
    rc |= family(b, "slotgate_rejected_connections_total", "counter", "Clients refused at maxclients.");
    rc |= sbuf_printf(b, "slotgate_rejected_connections_total %llu\n", (unsigned long long)t.s.rejected);
    rc |= family(b, "slotgate_auth_failures_total", "counter", "AUTH attempts refused (WRONGPASS).");
    rc |= sbuf_printf(b, "slotgate_auth_failures_total %llu\n", (unsigned long long)t.s.auth_failures);
    rc |= family(b, "slotgate_acl_denied_total", "counter",
                 "Commands refused by ACL rules (NOPERM), by what was refused.");
    rc |=
        sbuf_printf(b, "slotgate_acl_denied_total{reason=\"command\"} %llu\n", (unsigned long long)t.s.acl_denied_cmd);
    rc |= sbuf_printf(b, "slotgate_acl_denied_total{reason=\"key\"} %llu\n", (unsigned long long)t.s.acl_denied_key);
    rc |= sbuf_printf(b, "slotgate_acl_denied_total{reason=\"channel\"} %llu\n",
                      (unsigned long long)t.s.acl_denied_channel);
    rc |= family(b, "slotgate_tls_handshakes_total", "counter",
                 "TLS handshakes of clients on tls-port, by outcome (timeout: tls-handshake-timeout-ms).");
    rc |=
        sbuf_printf(b, "slotgate_tls_handshakes_total{outcome=\"ok\"} %llu\n", (unsigned long long)t.s.tls_handshakes);
    rc |= sbuf_printf(b, "slotgate_tls_handshakes_total{outcome=\"failed\"} %llu\n",
                      (unsigned long long)t.s.tls_handshake_failed);
    rc |= sbuf_printf(b, "slotgate_tls_handshakes_total{outcome=\"timeout\"} %llu\n",
                      (unsigned long long)t.s.tls_handshake_timeouts);
    rc |= family(b, "slotgate_io_spin_total", "counter",
                 "io-spin-us: times a worker watched its ring before sleeping, by whether work came meanwhile.");
    rc |= sbuf_printf(b, "slotgate_io_spin_total{outcome=\"hit\"} %llu\n", (unsigned long long)t.s.spin_hits);
    rc |= sbuf_printf(b, "slotgate_io_spin_total{outcome=\"miss\"} %llu\n", (unsigned long long)t.s.spin_misses);
    rc |= family(b, "slotgate_hot_key_requests", "gauge",
                 "The most requested keys of the last hotkeys-window-seconds (sampled estimate), by kind and rank.");
    for (int kind = 0; kind < HK_KINDS; kind++) {
        static __thread struct hk_entry e[HK_K * 4];
        uint64_t total;
        int top = v->workers[0].conf->hotkeys_metrics_top;
        int n = hotkeys_collect(v->workers, v->nworkers, kind, e, HK_K * 4, &total);
        for (int i = 0; i < n && i < top; i++) {
            char key[HK_KEY_MAX * 2 + 1]; /* a label value: backslash, quote and newline escaped */
            size_t o = 0, kept = e[i].len < HK_KEY_MAX ? e[i].len : HK_KEY_MAX;
            for (size_t k = 0; k < kept; k++) {
                char ch = e[i].key[k];
                if (ch == '\\' || ch == '"')
                    key[o++] = '\\', key[o++] = ch;
                else if (ch == '\n')
                    key[o++] = '\\', key[o++] = 'n';
                else
                    key[o++] = ch;
            }
            key[o] = '\0';
            rc |= sbuf_printf(b, "slotgate_hot_key_requests{kind=\"%s\",rank=\"%d\",key=\"%s\"} %llu\n",
                              kind == HK_READS ? "read" : "write", i + 1, key, (unsigned long long)e[i].count);
        }
    }
    rc |= family(b, "slotgate_idle_clients_closed_total", "counter", "Clients closed by the timeout setting.");
    rc |= sbuf_printf(b, "slotgate_idle_clients_closed_total %llu\n", (unsigned long long)t.s.idle_closed);
    rc |= family(b, "slotgate_output_buffer_disconnections_total", "counter",
                 "Clients closed over client-output-buffer-limit.");
    rc |= sbuf_printf(b, "slotgate_output_buffer_disconnections_total %llu\n", (unsigned long long)t.s.output_closed);
    rc |= family(b, "slotgate_tracking_clients", "gauge", "Clients with CLIENT TRACKING on.");
    rc |= sbuf_printf(b, "slotgate_tracking_clients %llu\n", (unsigned long long)t.s.trk_clients);
    rc |= family(b, "slotgate_tracking_keys", "gauge", "Keys remembered for client-side caching (all workers).");
    rc |= sbuf_printf(b, "slotgate_tracking_keys %llu\n", (unsigned long long)t.s.trk_keys);
    rc |= family(b, "slotgate_tracking_table_bytes", "gauge", "Memory the tracking tables hold.");
    rc |= sbuf_printf(b, "slotgate_tracking_table_bytes %llu\n", (unsigned long long)t.s.trk_bytes);
    rc |= family(b, "slotgate_mirror_requests_total", "counter",
                 "Commands mirrored to a route's mirror backend, by outcome (reply, error, dropped: not sent).");
    rc |= sbuf_printf(b, "slotgate_mirror_requests_total{outcome=\"reply\"} %llu\n",
                      (unsigned long long)t.s.mirror_replies);
    rc |= sbuf_printf(b, "slotgate_mirror_requests_total{outcome=\"error\"} %llu\n",
                      (unsigned long long)t.s.mirror_errors);
    rc |= sbuf_printf(b, "slotgate_mirror_requests_total{outcome=\"dropped\"} %llu\n",
                      (unsigned long long)t.s.mirror_dropped);
    rc |= family(b, "slotgate_mirror_latency_seconds_total", "counter", "Time the mirror took to answer, summed.");
    rc |= sbuf_printf(b, "slotgate_mirror_latency_seconds_total %.6f\n", (double)t.s.mirror_latency_us / 1e6);
    rc |= family(b, "slotgate_migration_total", "counter",
                 "A migrating route's data path: writes, keys copied and deleted, copy errors, reads, reads asked of "
                 "the old backend again.");
    const char *mig_names[] = {"writes", "copy_transactions", "keys_copied", "keys_deleted", "copy_errors",
                               "reads",  "read_fallbacks"};
    uint64_t mig_vals[] = {t.s.mig_writes,      t.s.mig_batches, t.s.mig_copies,   t.s.mig_deletes,
                           t.s.mig_copy_errors, t.s.mig_reads,   t.s.mig_fallbacks};
    for (int i = 0; i < 7; i++)
        rc |= sbuf_printf(b, "slotgate_migration_total{what=\"%s\"} %llu\n", mig_names[i],
                          (unsigned long long)mig_vals[i]);
    rc |= family(b, "slotgate_invalidations_total", "counter", "Invalidation messages sent to tracking clients.");
    rc |= sbuf_printf(b, "slotgate_invalidations_total %llu\n", (unsigned long long)t.s.invalidations);
    struct dns_stats ds;
    dns_get_stats(&ds);
    rc |= family(b, "slotgate_dns_lookups_total", "counter", "Host names resolved (seeds, announced hostnames).");
    rc |= sbuf_printf(b, "slotgate_dns_lookups_total %llu\n", ds.lookups);
    rc |= family(b, "slotgate_dns_failures_total", "counter", "Host name lookups that failed.");
    rc |= sbuf_printf(b, "slotgate_dns_failures_total %llu\n", ds.failures);
    rc |= family(b, "slotgate_commands_total", "counter", "Commands answered, by command family.");
    for (int f = 0; f < FAM_COUNT; f++)
        rc |= sbuf_printf(b, "slotgate_commands_total{family=\"%s\"} %llu\n", cmd_family_name(f),
                          (unsigned long long)t.s.calls[f]);
    rc |= family(b, "slotgate_command_errors_total", "counter", "Commands answered with an error, by family.");
    for (int f = 0; f < FAM_COUNT; f++)
        rc |= sbuf_printf(b, "slotgate_command_errors_total{family=\"%s\"} %llu\n", cmd_family_name(f),
                          (unsigned long long)t.s.failed[f]);
    rc |= family(b, "slotgate_requests_in_flight", "gauge", "Requests read and not yet answered.");
    rc |= sbuf_printf(b, "slotgate_requests_in_flight %llu\n", (unsigned long long)t.s.live_reqs);
    rc |= family(b, "slotgate_redirections_total", "counter", "MOVED and ASK replies slotgate followed.");
    rc |= sbuf_printf(
        b, "slotgate_redirections_total{type=\"moved\"} %llu\nslotgate_redirections_total{type=\"ask\"} %llu\n",
        (unsigned long long)t.s.moved, (unsigned long long)t.s.ask);
    rc |= family(b, "slotgate_cluster_retries_total", "counter", "Requests retried after TRYAGAIN or CLUSTERDOWN.");
    rc |= sbuf_printf(b,
                      "slotgate_cluster_retries_total{reason=\"tryagain\"} %llu\n"
                      "slotgate_cluster_retries_total{reason=\"clusterdown\"} %llu\n",
                      (unsigned long long)t.s.tryagain, (unsigned long long)t.s.clusterdown);
    rc |= family(b, "slotgate_backend_timeouts_total", "counter", "Backend connections dropped for a stalled reply.");
    rc |= sbuf_printf(b, "slotgate_backend_timeouts_total %llu\n", (unsigned long long)t.s.timeouts);
    rc |= family(b, "slotgate_request_duration_seconds", "histogram",
                 "From the loop turn that read a request to the one that answered it.");
    uint64_t cum = 0;
    for (int i = 0; i < HIST_BUCKETS - 1; i++) {
        cum += t.s.latency[i];
        int m = i % 10;
        if (i < 10 || (m != 0 && m != 4 && m != 7)) continue; /* 1, 2.5, 5 x 10^k us, from 10 us */
        rc |= sbuf_printf(b, "slotgate_request_duration_seconds_bucket{le=\"%g\"} %llu\n", hist_bound(i) / 1e6,
                          (unsigned long long)cum);
    }
    cum += t.s.latency[HIST_BUCKETS - 1];
    rc |= sbuf_printf(b,
                      "slotgate_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "slotgate_request_duration_seconds_sum %.6f\nslotgate_request_duration_seconds_count %llu\n",
                      (unsigned long long)cum, (double)t.s.latency_us / 1e6, (unsigned long long)cum);
    /* the same by command family (a bounded label set: LATENCY-style per-command figures without a
     * series per command name) */
    rc |= family(b, "slotgate_command_duration_seconds", "histogram",
                 "Request latency through slotgate by command family (from the read to the answer).");
    for (int f = 0; f < FAM_COUNT; f++) {
        const uint64_t *h = &t.s.latency_fam[f * HIST_BUCKETS];
        uint64_t fc = 0, total = 0;
        for (int i = 0; i < HIST_BUCKETS; i++) total += h[i];
        if (!total) continue;
        for (int i = 0; i < HIST_BUCKETS - 1; i++) {
            fc += h[i];
            int m = i % 10;
            if (i < 10 || (m != 0 && m != 4 && m != 7)) continue;
            rc |= sbuf_printf(b, "slotgate_command_duration_seconds_bucket{family=\"%s\",le=\"%g\"} %llu\n",
                              cmd_family_name(f), hist_bound(i) / 1e6, (unsigned long long)fc);
        }
        rc |= sbuf_printf(b,
                          "slotgate_command_duration_seconds_bucket{family=\"%s\",le=\"+Inf\"} %llu\n"
                          "slotgate_command_duration_seconds_sum{family=\"%s\"} %.6f\n"
                          "slotgate_command_duration_seconds_count{family=\"%s\"} %llu\n",
                          cmd_family_name(f), (unsigned long long)total, cmd_family_name(f),
                          (double)t.s.latency_us_fam[f] / 1e6, cmd_family_name(f), (unsigned long long)total);
    }
    rc |= family(b, "slotgate_slot_map_refreshes_total", "counter", "Slot-map refresh rounds, by result.");
    rc |= sbuf_printf(b,
                      "slotgate_slot_map_refreshes_total{result=\"ok\"} %llu\n"
                      "slotgate_slot_map_refreshes_total{result=\"failed\"} %llu\n",
                      (unsigned long long)rs.ok, (unsigned long long)rs.failed);
    rc |= family(b, "slotgate_slot_map_changes_total", "counter", "New slot maps taken (failovers, reshards).");
    rc |= sbuf_printf(b, "slotgate_slot_map_changes_total %llu\n", (unsigned long long)rs.changes);
    rc |= family(b, "slotgate_slot_map_version", "gauge", "Version of the slot map in use.");
    rc |= sbuf_printf(b, "slotgate_slot_map_version %llu\n", version);
    rc |= family(b, "slotgate_slots_covered", "gauge", "Slots (of 16384) the slot map assigns to a master.");
    rc |= sbuf_printf(b, "slotgate_slots_covered %u\n", covered);
    const struct conf *conf = v->workers[0].conf;
    rc |= family(b, "slotgate_backend_info", "gauge", "What is behind slotgate (backend-kind), always 1.");
    rc |= sbuf_printf(b, "slotgate_backend_info{kind=\"%s\"} 1\n", conf_kind_name(conf->backend_kind));
    if (conf->backend_kind == KIND_SENTINEL) {
        struct sentinel_status x;
        status_sentinels(v->status, &x);
        rc |= family(b, "slotgate_sentinel_subscribed", "gauge",
                     "1 while slotgate hears this sentinel's +switch-master announcements.");
        for (int i = 0; i < x.n; i++) {
            char addr[2 * sizeof(x.s[i].addr) + 1];
            esc(x.s[i].addr, addr, sizeof(addr));
            rc |= sbuf_printf(b, "slotgate_sentinel_subscribed{sentinel=\"%s\"} %d\n", addr, x.s[i].subscribed);
        }
        rc |= family(b, "slotgate_sentinel_failover_in_progress", "gauge",
                     "1 while a failover has begun and requests wait for the new master.");
        rc |= sbuf_printf(b, "slotgate_sentinel_failover_in_progress %d\n", x.holding_for[0] != 0);
    }
    rc |= family(b, "slotgate_cluster_state_ok", "gauge",
                 "1 when CLUSTER INFO says cluster_state:ok (sentinel, standalone: the master is up).");
    rc |= sbuf_printf(b, "slotgate_cluster_state_ok %d\n", cl.known && strcmp(cl.state, "ok") == 0);
    rc |= family(b, "slotgate_cluster_current_epoch", "gauge", "cluster_current_epoch from CLUSTER INFO.");
    rc |= sbuf_printf(b, "slotgate_cluster_current_epoch %lld\n", cl.current_epoch);
    rc |= family(b, "slotgate_cluster_slots", "gauge", "Slots by state, from CLUSTER INFO.");
    rc |= sbuf_printf(b,
                      "slotgate_cluster_slots{state=\"ok\"} %d\nslotgate_cluster_slots{state=\"pfail\"} %d\n"
                      "slotgate_cluster_slots{state=\"fail\"} %d\n",
                      cl.slots_ok, cl.slots_pfail, cl.slots_fail);
    if (rc == 0) rc |= node_metrics(v, b);
    rc |= family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    rc |= sbuf_printf(b, "process_cpu_seconds_total %.2f\n", proc_cpu_seconds());
    rc |= family(b, "process_resident_memory_bytes", "gauge", "Resident memory size.");
    rc |= sbuf_printf(b, "process_resident_memory_bytes %lld\n", proc_rss_bytes());
    rc |= family(b, "process_open_fds", "gauge", "Open file descriptors.");
    rc |= sbuf_printf(b, "process_open_fds %d\n", proc_open_fds());
    rc |= family(b, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
    rc |= sbuf_printf(b, "process_start_time_seconds %.3f\n", st->started);
    return rc < 0 ? -1 : 0;
}
