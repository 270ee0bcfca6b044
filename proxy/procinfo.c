/* INFO's template (router/info.h): every section and field a Redis 7.0 server has, in its order, with
 * slotgate's own process figures where that is what a client means (server, clients, CPU, the proxy's
 * memory, connections and commands) and markers where the figure is the cluster's (redis_version, the
 * keyspace, persistence, key hits and evictions, replication, per-command statistics), filled from the
 * masters' own INFO by the merge. README's "INFO through slotgate" lists which is which. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../health/probe.h"
#include "../router/info.h"
#include "local.h"
#include "worker.h"

#define ADD(...)          rc |= sbuf_printf(b, __VA_ARGS__)
#define FROM(field, rule) rc |= sbuf_printf(b, field ":\x01" rule "\r\n")

static void human(char *buf, size_t len, double n) { info_human_bytes(buf, len, n); }

static long long rss_bytes(void) {
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static int section_server(struct worker *w, struct sbuf *b) {
    struct utsname u;
    struct timeval tv;
    char exe[256] = "";
    int rc = 0;
    if (uname(&u) < 0) memset(&u, 0, sizeof(u));
    gettimeofday(&tv, NULL);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    double up = worker_now(w) - w->started;
    long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    ADD("# Server\r\n");
    FROM("redis_version", "V");
    FROM("redis_git_sha1", "F");
    FROM("redis_git_dirty", "F");
    FROM("redis_build_id", "F");
    ADD("redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
        "multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\nprocess_id:%d\r\n"
        "process_supervised:no\r\nrun_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%lld\r\nuptime_in_seconds:%lld\r\n"
        "uptime_in_days:%lld\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:%lld\r\nexecutable:%s\r\nconfig_file:%s\r\n"
        "io_threads_active:0\r\n",
        u.sysname, u.release, u.machine, (int)sizeof(void *) * 8, __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
        (int)getpid(), w->shared.run_id ? w->shared.run_id : "", w->conf->port,
        (long long)tv.tv_sec * 1000000 + tv.tv_usec, (long long)up, (long long)(up / 86400),
        (ms / 1000) & ((1 << 24) - 1), exe, w->conf->config_file ? w->conf->config_file : "");
    ADD("slotgate_version:%s\r\nslotgate_worker_threads:%d\r\nadmin_port:%d\r\n", SLOTGATE_VERSION, w->shared.nworkers,
        w->conf->admin_port);
    return rc;
}

/* The largest query and output buffers among this worker's clients (Redis: over the last seconds). */
static void recent_buffers(struct worker *w, size_t *in, size_t *out) {
    *in = *out = 0;
    for (struct client *c = w->clients; c; c = c->next) {
        if (c->in.cap > *in) *in = c->in.cap;
        if (c->out.pending > *out) *out = c->out.pending;
    }
}

static int section_clients(struct worker *w, const struct stat_totals *t, struct sbuf *b) {
    size_t in, out;
    int rc = 0;
    recent_buffers(w, &in, &out);
    ADD("# Clients\r\nconnected_clients:%d\r\ncluster_connections:0\r\nmaxclients:%d\r\n"
        "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\nblocked_clients:%llu\r\n"
        "tracking_clients:%llu\r\nclients_in_timeout_table:%llu\r\n",
        (int)shared_counter_get(w->shared.total_clients), w->conf->maxclients, in, out,
        (unsigned long long)t->s.blocked, (unsigned long long)t->s.trk_clients,
        (unsigned long long)t->s.blocked_timeout);
    return rc;
}

static int section_memory(struct worker *w, struct sbuf *b) {
    struct mallinfo2 mi = mallinfo2();
    struct sysinfo si;
    char h[4][32];
    int rc = 0;
    long long used = (long long)(mi.uordblks + mi.hblkhd), active = (long long)(mi.arena + mi.hblkhd);
    long long rss = rss_bytes(), peak = used;
    if (w->shared.mem_peak) {
        long long old = __atomic_load_n(w->shared.mem_peak, __ATOMIC_RELAXED);
        while (used > old &&
               !__atomic_compare_exchange_n(w->shared.mem_peak, &old, used, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        peak = used > old ? used : old;
    }
    if (sysinfo(&si) < 0) memset(&si, 0, sizeof(si));
    long long total = (long long)si.totalram * si.mem_unit, startup = w->shared.mem_startup;
    human(h[0], sizeof(h[0]), (double)used);
    human(h[1], sizeof(h[1]), (double)rss);
    human(h[2], sizeof(h[2]), (double)peak);
    human(h[3], sizeof(h[3]), (double)total);
    long long dataset = used > startup ? used - startup : 0;
    ADD("# Memory\r\nused_memory:%lld\r\nused_memory_human:%s\r\nused_memory_rss:%lld\r\nused_memory_rss_human:%s\r\n"
        "used_memory_peak:%lld\r\nused_memory_peak_human:%s\r\nused_memory_peak_perc:%.2f%%\r\n"
        "used_memory_overhead:%lld\r\nused_memory_startup:%lld\r\nused_memory_dataset:%lld\r\n"
        "used_memory_dataset_perc:%.2f%%\r\nallocator_allocated:%lld\r\nallocator_active:%lld\r\n"
        "allocator_resident:%lld\r\ntotal_system_memory:%lld\r\ntotal_system_memory_human:%s\r\n",
        used, h[0], rss, h[1], peak, h[2], peak ? 100.0 * used / peak : 0, startup, startup, dataset,
        used ? 100.0 * dataset / used : 0, used, active, rss, total, h[3]);
    FROM("used_memory_lua", "M");
    FROM("used_memory_vm_eval", "M");
    FROM("used_memory_lua_human", "H");
    FROM("used_memory_scripts_eval", "M");
    FROM("number_of_cached_scripts", "M");
    FROM("number_of_functions", "M");
    FROM("number_of_libraries", "M");
    FROM("used_memory_vm_functions", "M");
    FROM("used_memory_vm_total", "M");
    FROM("used_memory_vm_total_human", "H");
    FROM("used_memory_functions", "M");
    FROM("used_memory_scripts", "M");
    FROM("used_memory_scripts_human", "H");
    FROM("maxmemory", "Z");
    FROM("maxmemory_human", "H");
    FROM("maxmemory_policy", "F");
    double frag = used ? (double)rss / (double)used : 0;
    ADD("allocator_frag_ratio:%.2f\r\nallocator_frag_bytes:%lld\r\nallocator_rss_ratio:%.2f\r\n"
        "allocator_rss_bytes:%lld\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:%."
        "2f\r\n"
        "mem_fragmentation_bytes:%lld\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\n"
        "mem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:%lld\r\nmem_cluster_links:0\r\n"
        "mem_aof_buffer:0\r\nmem_allocator:libc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\n"
        "lazyfreed_objects:0\r\n",
        used ? (double)active / used : 0, active - used, active ? (double)rss / active : 0, rss - active, frag,
        rss - used, (long long)w->pool.in_use * CHUNK_BYTES);
    return rc;
}

static int section_stats(struct worker *w, const struct stat_totals *t, struct sbuf *b) {
    int rc = 0;
    ADD("# "
        "Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\ninstantaneous_ops_per_sec:%"
        "llu\r\n"
        "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\ntotal_net_repl_input_bytes:0\r\n"
        "total_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:%.2f\r\ninstantaneous_output_kbps:%.2f\r\n"
        "instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:%llu\r\n",
        (unsigned long long)t->s.connections, (unsigned long long)t->s.commands, (unsigned long long)t->s.inst_ops,
        (unsigned long long)t->s.net_in, (unsigned long long)t->s.net_out, t->s.inst_in / 1024.0,
        t->s.inst_out / 1024.0, (unsigned long long)t->s.rejected);
    FROM("sync_full", "S");
    FROM("sync_partial_ok", "S");
    FROM("sync_partial_err", "S");
    FROM("expired_keys", "S");
    FROM("expired_stale_perc", "M");
    FROM("expired_time_cap_reached_count", "S");
    FROM("expire_cycle_cpu_milliseconds", "S");
    FROM("evicted_keys", "S");
    ADD("evicted_clients:0\r\n");
    FROM("total_eviction_exceeded_time", "S");
    FROM("current_eviction_exceeded_time", "M");
    FROM("keyspace_hits", "S");
    FROM("keyspace_misses", "S");
    ADD("pubsub_channels:%lld\r\npubsub_patterns:%lld\r\npubsubshard_channels:%lld\r\n",
        subs_kind_count(w->shared.subs, SUB_CHANNEL), subs_kind_count(w->shared.subs, SUB_PATTERN),
        subs_kind_count(w->shared.subs, SUB_SHARD));
    FROM("latest_fork_usec", "M");
    FROM("total_forks", "S");
    ADD("migrate_cached_sockets:0\r\n");
    FROM("slave_expires_tracked_keys", "S");
    FROM("active_defrag_hits", "S");
    FROM("active_defrag_misses", "S");
    FROM("active_defrag_key_hits", "S");
    FROM("active_defrag_key_misses", "S");
    FROM("total_active_defrag_time", "S");
    FROM("current_active_defrag_time", "M");
    ADD("tracking_total_keys:%llu\r\ntracking_total_items:%llu\r\ntracking_total_prefixes:%llu\r\n"
        "unexpected_error_replies:0\r\ntotal_error_replies:%llu\r\n",
        (unsigned long long)t->s.trk_keys, (unsigned long long)t->s.trk_items, (unsigned long long)t->s.trk_prefixes,
        (unsigned long long)t->s.errors);
    FROM("dump_payload_sanitizations", "S");
    ADD("total_reads_processed:%llu\r\ntotal_writes_processed:%llu\r\nio_threaded_reads_processed:0\r\n"
        "io_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        (unsigned long long)t->s.reads, (unsigned long long)t->s.writes);
    ADD("moved_redirections:%llu\r\nask_redirections:%llu\r\ntryagain_retries:%llu\r\nclusterdown_retries:%llu\r\n"
        "backend_timeouts:%llu\r\nrequests_in_flight:%llu\r\nacl_access_denied_auth:%llu\r\n"
        "acl_access_denied_cmd:%llu\r\nacl_access_denied_key:%llu\r\nacl_access_denied_channel:%llu\r\n"
        "idle_clients_closed:%llu\r\ntls_handshakes:%llu\r\ntls_handshake_failures:%llu\r\n"
        "tls_handshake_timeouts:%llu\r\nio_spin_hits:%llu\r\nio_spin_misses:%llu\r\n"
        "client_output_buffer_limit_disconnections:%llu\r\nlatency_p50_usec:%.0f\r\nlatency_p90_usec:%.0f\r\n"
        "latency_p99_usec:%.0f\r\nlatency_p999_usec:%.0f\r\n",
        (unsigned long long)t->s.moved, (unsigned long long)t->s.ask, (unsigned long long)t->s.tryagain,
        (unsigned long long)t->s.clusterdown, (unsigned long long)t->s.timeouts, (unsigned long long)t->s.live_reqs,
        (unsigned long long)t->s.auth_failures, (unsigned long long)t->s.acl_denied_cmd,
        (unsigned long long)t->s.acl_denied_key, (unsigned long long)t->s.acl_denied_channel,
        (unsigned long long)t->s.idle_closed, (unsigned long long)t->s.tls_handshakes,
        (unsigned long long)t->s.tls_handshake_failed, (unsigned long long)t->s.tls_handshake_timeouts,
        (unsigned long long)t->s.spin_hits, (unsigned long long)t->s.spin_misses,
        (unsigned long long)t->s.output_closed, hist_quantile(t->s.latency, 0.5), hist_quantile(t->s.latency, 0.9),
        hist_quantile(t->s.latency, 0.99), hist_quantile(t->s.latency, 0.999));
    return rc;
}

static int section_replication(struct worker *w, struct sbuf *b) {
    int rc = 0;
    ADD("# Replication\r\nrole:master\r\n");
    FROM("connected_slaves", "m"); /* the replicas every shard has at least: what WAIT can count on */
    FROM("master_failover_state", "W");
    ADD("master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n",
        w->shared.run_id ? w->shared.run_id : "");
    FROM("master_repl_offset", "S");
    ADD("second_repl_offset:-1\r\n");
    FROM("repl_backlog_active", "m");
    FROM("repl_backlog_size", "m");
    FROM("repl_backlog_first_byte_offset", "m");
    FROM("repl_backlog_histlen", "m");
    return rc;
}

static int section_cpu(struct sbuf *b) {
    struct rusage self, kids, thread;
    int rc = 0;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    getrusage(RUSAGE_THREAD, &thread);
#define SECS(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec / 1e6)
    ADD("# "
        "CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\nused_cpu_user_children:%."
        "6f\r\n"
        "used_cpu_sys_main_thread:%.6f\r\nused_cpu_user_main_thread:%.6f\r\n",
        SECS(self.ru_stime), SECS(self.ru_utime), SECS(kids.ru_stime), SECS(kids.ru_utime), SECS(thread.ru_stime),
        SECS(thread.ru_utime));
#undef SECS
    return rc;
}

static int section_cluster(struct worker *w, struct sbuf *b) {
    struct cluster_status cl = {0};
    struct refresh_status rs = {0};
    int up = 0, suspect = 0, down = 0, rc = 0;
    if (w->shared.status) {
        pthread_mutex_lock(&w->shared.status->lock);
        cl = w->shared.status->cluster;
        rs = w->shared.status->refresh;
        for (int i = 0; i < w->shared.status->nnodes; i++) {
            int st = w->shared.status->nodes[i].state;
            up += st == NODE_UP, suspect += st == NODE_SUSPECT, down += st == NODE_DOWN;
        }
        pthread_mutex_unlock(&w->shared.status->lock);
    }
    const char *state = w->view.map && slotmap_is_complete(w->view.map) ? "ok" : "fail";
    ADD("# Cluster\r\ncluster_enabled:1\r\ncluster_state:%s\r\ncluster_slots_covered:%u\r\ncluster_masters:%d\r\n"
        "cluster_known_nodes:%d\r\ncluster_current_epoch:%lld\r\ncluster_reported_state:%s\r\nnodes_up:%d\r\n"
        "nodes_suspect:%d\r\nnodes_down:%d\r\nslot_map_version:%llu\r\nslot_map_refreshes:%llu\r\n"
        "slot_map_refreshes_failed:%llu\r\nslot_map_changes:%llu\r\n",
        state, w->view.map ? w->view.map->covered : 0, w->view.routes.nshards, cl.known_nodes, cl.current_epoch,
        cl.known ? cl.state : "unknown", up, suspect, down,
        w->view.map ? (unsigned long long)w->view.map->version : 0ULL, (unsigned long long)rs.ok,
        (unsigned long long)rs.failed, (unsigned long long)rs.changes);
    ADD("backend_kind:%s\r\n", conf_kind_name(w->conf->backend_kind));
    if (w->conf->backend_kind == KIND_SENTINEL) ADD("sentinel_master:%s\r\n", w->conf->sentinel_master);
    return rc;
}

int info_template(struct worker *w, unsigned mask, struct sbuf *b) {
    struct stat_totals t;
    int rc = 0, first = 1;
    worker_totals(w->shared.all, w->shared.nworkers, &t);
    for (int i = 0; i < INFO_SECTIONS && rc == 0; i++) {
        unsigned bit = 1u << i;
        if (!(mask & bit)) continue;
        if (!first) ADD("\r\n"); /* Redis joins sections with a blank line */
        first = 0;
        switch (bit) {
        case INFO_SERVER: rc |= section_server(w, b); break;
        case INFO_CLIENTS: rc |= section_clients(w, &t, b); break;
        case INFO_MEMORY: rc |= section_memory(w, b); break;
        case INFO_PERSISTENCE:
            ADD("# Persistence\r\n\x01"
                "persistence\r\n");
            break;
        case INFO_STATS: rc |= section_stats(w, &t, b); break;
        case INFO_REPLICATION: rc |= section_replication(w, b); break;
        case INFO_CPU: rc |= section_cpu(b); break;
        case INFO_MODULES: ADD("# Modules\r\n"); break;
        case INFO_COMMANDSTATS:
            ADD("# Commandstats\r\n");
            for (int f = 0; f < FAM_COUNT; f++) /* slotgate's own, by family, before the nodes' per command */
                if (t.s.calls[f])
                    ADD("cmdfamily_%s:calls=%llu,failed_calls=%llu\r\n", cmd_family_name(f),
                        (unsigned long long)t.s.calls[f], (unsigned long long)t.s.failed[f]);
            ADD("\x01"
                "commandstats\r\n");
            break;
        case INFO_ERRORSTATS:
            ADD("# Errorstats\r\n\x01"
                "errorstats\r\n");
            break;
        case INFO_LATENCYSTATS:
            ADD("# Latencystats\r\n\x01"
                "latencystats\r\n");
            break;
        case INFO_CLUSTER: rc |= section_cluster(w, b); break;
        case INFO_KEYSPACE:
            ADD("# Keyspace\r\n\x01"
                "keyspace\r\n");
            break;
        }
    }
    return rc;
}
