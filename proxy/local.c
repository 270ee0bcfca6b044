/* Commands slotgate answers itself: connection commands (PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET,
 * CLIENT ..., READONLY/READWRITE) act on the client's connection to slotgate; CLUSTER SLOTS/SHARDS/NODES/INFO
 * describe slotgate as one node owning every slot, so cluster-aware clients keep all their traffic on
 * it; INFO gives slotgate's own sections plus the keyspace summed over the masters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../router/merge.h"
#include "../router/slot.h"
#include "log.h"
#include "../health/probe.h"
#include "proxy.h"

#define REPLY_LIT(w, r, lit) req_reply(w, r, lit, sizeof(lit) - 1)
#define ARG(i)               resp_request_arg(q, cmd, i)
#define ARGLEN(i)            (q->argv[i].len)

static int arg_is(const struct resp_request *q, const char *cmd, uint32_t i, const char *word) {
    size_t n = strlen(word);
    return ARGLEN(i) == n && strncasecmp(ARG(i), word, n) == 0;
}

void reply_bulk(struct worker *w, struct req *r, const char *p, size_t len) {
    struct sbuf b = {0};
    if (sbuf_printf(&b, "$%zu\r\n", len) < 0 || sbuf_add(&b, p, len) < 0 || sbuf_add(&b, "\r\n", 2) < 0)
        req_reply_error(w, r, "ERR slotgate: out of memory");
    else
        req_reply(w, r, b.p, b.len);
    sbuf_free(&b);
}

static void reply_sbuf(struct worker *w, struct req *r, struct sbuf *b, int rc) {
    if (rc < 0)
        req_reply_error(w, r, "ERR slotgate: out of memory");
    else
        req_reply(w, r, b->p, b->len);
    sbuf_free(b);
}

/* Multibulk bytes of a parsed command (inline commands are re-encoded; multibulk ones are as sent). */
const char *encode_command(struct worker *w, const struct resp_request *q, const char *cmd, size_t *len) {
    if (!q->is_inline) {
        *len = q->cmd_len;
        return cmd;
    }
    size_t need = 32;
    for (uint32_t i = 0; i < q->argc; i++) need += q->argv[i].len + 32;
    if (w->scratch_cap < need) {
        char *s = realloc(w->scratch, need);
        if (!s) return NULL;
        w->scratch = s;
        w->scratch_cap = need;
    }
    char *s = w->scratch;
    size_t n = (size_t)sprintf(s, "*%u\r\n", q->argc);
    for (uint32_t i = 0; i < q->argc; i++) {
        n += (size_t)sprintf(s + n, "$%u\r\n", q->argv[i].len);
        memcpy(s + n, q->scratch + q->argv[i].off, q->argv[i].len);
        n += q->argv[i].len;
        s[n++] = '\r';
        s[n++] = '\n';
    }
    *len = n;
    return s;
}

/* slotgate's node ID in CLUSTER answers: stable for a given port, 40 hex digits like a Redis node's. */
static void my_id(struct worker *w, char out[41]) {
    snprintf(out, 41, "51076a7e0000000000000000000000000000%04x", w->conf->port & 0xffff);
}

static void my_host(struct client *c, char *host, size_t len) {
    snprintf(host, len, "%s", c->laddr);
    char *colon = strrchr(host, ':');
    if (colon) *colon = '\0';
}

/* Password check in constant time for equal lengths (the length itself is not secret enough to hide). */
static int secret_equal(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++) diff |= (unsigned char)(a[i] ^ b[i < blen ? i : 0]);
    return diff == 0;
}

/* AUTH [user] password: the default user's password is requirepass, other users come from "users"
 * (name:password). Returns 1 when the client is now in. */
static int check_auth(struct client *c, const char *user, size_t ulen, const char *pass, size_t plen, struct req *r) {
    const struct conf *conf = c->w->conf;
    int is_default = !user || (ulen == 7 && memcmp(user, "default", 7) == 0);
    if (is_default && !conf->requirepass && conf->nusers == 0) {
        req_reply_error(c->w, r,
                        "ERR AUTH <password> called without any password configured for the default user. "
                        "Are you sure your configuration is correct?");
        return 0;
    }
    int ok = 0;
    if (is_default && conf->requirepass) {
        ok = secret_equal(pass, plen, conf->requirepass);
    } else if (!is_default) {
        for (int i = 0; i < conf->nusers && !ok; i++) {
            const char *colon = strchr(conf->users[i], ':');
            if ((size_t)(colon - conf->users[i]) == ulen && memcmp(conf->users[i], user, ulen) == 0)
                ok = secret_equal(pass, plen, colon + 1);
        }
    }
    if (!ok) {
        log_notice("worker %d: client %s: authentication failed for user '%.*s'", c->w->id, c->addr,
                   (int)(is_default  ? 7
                         : ulen > 64 ? 64
                                     : ulen),
                   is_default ? "default" : user);
        STAT_INC(c->w, auth_failures);
        req_reply_error(c->w, r, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    c->is_authed = 1;
    snprintf(c->user, sizeof(c->user), "%.*s", is_default ? 7 : (int)ulen, is_default ? "default" : user);
    return 1;
}

static void client_info_line(struct client *c, double now, struct sbuf *b) {
    sbuf_printf(b,
                "id=%llu addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 "
                "qbuf=%zu qbuf-free=0 obl=0 oll=0 omem=%zu events=r cmd=NULL user=%s redir=-1 resp=2\n",
                (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "", (int)(now - c->created),
                (int)(now - c->last_cmd), c->is_readonly ? "r" : "N", ibuf_len(&c->in), c->out.pending, c->user);
}

static void hello(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    uint32_t i = 1;
    if (q->argc >= 2) {
        long long ver;
        if (resp_parse_ll(ARG(1), ARGLEN(1), &ver) < 0)
            return req_reply_error(w, r, "ERR Protocol version is not an integer or out of range");
        if (ver != 2) return req_reply_error(w, r, "NOPROTO unsupported protocol version");
        i = 2;
    }
    for (; i < q->argc; i++) {
        if (arg_is(q, cmd, i, "auth") && i + 2 < q->argc) {
            if (!check_auth(c, ARG(i + 1), ARGLEN(i + 1), ARG(i + 2), ARGLEN(i + 2), r)) return;
            i += 2;
        } else if (arg_is(q, cmd, i, "setname") && i + 1 < q->argc) {
            free(c->name);
            c->name = strndup(ARG(i + 1), ARGLEN(i + 1));
            i++;
        } else {
            return req_reply_error(w, r, "ERR Syntax error in HELLO option '%.*s'", (int)ARGLEN(i), ARG(i));
        }
    }
    if (w->conf->requirepass && !c->is_authed)
        return req_reply_error(w, r,
                               "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                               "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
                               "select the RESP protocol version at the same time");
    struct sbuf b = {0};
    int rc = sbuf_printf(&b,
                         "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n"
                         "$2\r\nid\r\n:%llu\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                         "$7\r\nmodules\r\n*0\r\n",
                         (unsigned long long)c->id);
    reply_sbuf(w, r, &b, rc);
}

static void client_setname(struct client *c, struct req *r, const char *name, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '!' || name[i] > '~')
            return req_reply_error(c->w, r, "ERR Client names cannot contain spaces, newlines or special characters.");
    }
    free(c->name);
    c->name = len ? strndup(name, len) : NULL;
    REPLY_LIT(c->w, r, "+OK\r\n");
}

static void cluster_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    char id[41], host[64];
    my_id(w, id);
    my_host(c, host, sizeof(host));
    struct sbuf b = {0};
    int rc = 0, ok = w->map && slotmap_is_complete(w->map);
    switch (what) {
    case LOCAL_CLUSTER_SLOTS:
        rc = sbuf_printf(&b, "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$%zu\r\n%s\r\n:%d\r\n$40\r\n%s\r\n", strlen(host), host,
                         w->conf->port, id);
        break;
    case LOCAL_CLUSTER_SHARDS:
        rc = sbuf_printf(
            &b,
            "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n%s\r\n"
            "$4\r\nport\r\n:%d\r\n$2\r\nip\r\n$%zu\r\n%s\r\n$8\r\nendpoint\r\n$%zu\r\n%s\r\n$4\r\nrole\r\n"
            "$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n",
            id, w->conf->port, strlen(host), host, strlen(host), host);
        break;
    case LOCAL_CLUSTER_NODES: {
        char line[256];
        int n = snprintf(line, sizeof(line), "%s %s:%d@%d myself,master - 0 0 1 connected 0-16383\n", id, host,
                         w->conf->port, w->conf->port + 10000);
        return reply_bulk(w, r, line, (size_t)n);
    }
    case LOCAL_CLUSTER_INFO: {
        char text[512];
        int n = snprintf(text, sizeof(text),
                         "cluster_enabled:1\r\ncluster_state:%s\r\ncluster_slots_assigned:16384\r\n"
                         "cluster_slots_ok:%d\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:%d\r\n"
                         "cluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\n"
                         "cluster_my_epoch:1\r\n",
                         ok ? "ok" : "fail", w->map ? (int)w->map->covered : 0,
                         w->map ? SLOT_COUNT - (int)w->map->covered : SLOT_COUNT);
        return reply_bulk(w, r, text, (size_t)n);
    }
    case LOCAL_CLUSTER_KEYSLOT: rc = sbuf_printf(&b, ":%u\r\n", slot_for_key(ARG(2), ARGLEN(2))); break;
    case LOCAL_CLUSTER_MYID: return reply_bulk(w, r, id, 40);
    }
    reply_sbuf(w, r, &b, rc);
}

enum {
    INFO_SERVER = 1,
    INFO_CLIENTS = 2,
    INFO_STATS = 4,
    INFO_CLUSTER = 8,
    INFO_KEYSPACE = 16,
    INFO_COMMANDSTATS = 32,
    INFO_DEFAULT = 31,
    INFO_ALL = 63
};

static int info_sections(const struct resp_request *q, const char *cmd) {
    static const struct {
        const char *name;
        int bits;
    } names[] = {{"server", INFO_SERVER},   {"clients", INFO_CLIENTS},   {"stats", INFO_STATS},
                 {"cluster", INFO_CLUSTER}, {"keyspace", INFO_KEYSPACE}, {"commandstats", INFO_COMMANDSTATS},
                 {"all", INFO_ALL},         {"everything", INFO_ALL},    {"default", INFO_DEFAULT}};
    int bits = q->argc == 1 ? INFO_DEFAULT : 0;
    for (uint32_t i = 1; i < q->argc; i++)
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (arg_is(q, cmd, i, names[k].name)) bits |= names[k].bits;
    return bits;
}

/* The cluster as the status board sees it (health/ writes it; NULL board: what the map says). */
static int info_cluster(struct worker *w, struct sbuf *b) {
    struct cluster_status cl = {0};
    struct refresh_status rs = {0};
    int up = 0, suspect = 0, down = 0;
    if (w->status) {
        pthread_mutex_lock(&w->status->lock);
        cl = w->status->cluster;
        rs = w->status->refresh;
        for (int i = 0; i < w->status->nnodes; i++) {
            int st = w->status->nodes[i].state;
            up += st == NODE_UP, suspect += st == NODE_SUSPECT, down += st == NODE_DOWN;
        }
        pthread_mutex_unlock(&w->status->lock);
    }
    const char *state = w->map && slotmap_is_complete(w->map) ? "ok" : "fail";
    return sbuf_printf(b,
                       "# Cluster\r\ncluster_enabled:1\r\ncluster_state:%s\r\ncluster_slots_covered:%u\r\n"
                       "cluster_masters:%d\r\ncluster_known_nodes:%d\r\ncluster_current_epoch:%lld\r\n"
                       "cluster_reported_state:%s\r\nnodes_up:%d\r\nnodes_suspect:%d\r\nnodes_down:%d\r\n"
                       "slot_map_version:%llu\r\nslot_map_refreshes:%llu\r\nslot_map_refreshes_failed:%llu\r\n"
                       "slot_map_changes:%llu\r\n\r\n",
                       state, w->map ? w->map->covered : 0, w->nshards, cl.known_nodes, cl.current_epoch,
                       cl.known ? cl.state : "unknown", up, suspect, down,
                       w->map ? (unsigned long long)w->map->version : 0ULL, (unsigned long long)rs.ok,
                       (unsigned long long)rs.failed, (unsigned long long)rs.changes);
}

/* INFO [section ...]: slotgate's own sections in Redis's format, and "keyspace" summed over the masters. */
static void info(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    int want = info_sections(q, cmd);
    struct stat_totals t;
    worker_totals(w->all, w->nworkers, &t);
    struct sbuf b = {0};
    int rc = 0;
    if (want & INFO_SERVER)
        rc |= sbuf_printf(&b,
                          "# Server\r\nredis_version:7.0.0\r\nslotgate_version:%s\r\nredis_mode:cluster-proxy\r\n"
                          "process_id:%d\r\ntcp_port:%d\r\nuptime_in_seconds:%d\r\nslotgate_worker_threads:%d\r\n"
                          "admin_port:%d\r\nconfig_file:%s\r\n\r\n",
                          SLOTGATE_VERSION, (int)getpid(), w->conf->port, (int)(worker_now(w) - w->started),
                          w->nworkers, w->conf->admin_port, w->conf->config_file ? w->conf->config_file : "");
    if (want & INFO_CLIENTS)
        rc |= sbuf_printf(&b, "# Clients\r\nconnected_clients:%d\r\nmaxclients:%d\r\n\r\n",
                          __atomic_load_n(w->total_clients, __ATOMIC_RELAXED), w->conf->maxclients);
    if (want & INFO_STATS)
        rc |= sbuf_printf(
            &b,
            "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
            "total_error_replies:%llu\r\nrejected_connections:%llu\r\nmoved_redirections:%llu\r\n"
            "ask_redirections:%llu\r\ntryagain_retries:%llu\r\nclusterdown_retries:%llu\r\n"
            "backend_timeouts:%llu\r\nrequests_in_flight:%llu\r\nacl_access_denied_auth:%llu\r\n"
            "idle_clients_closed:%llu\r\nclient_output_buffer_limit_disconnections:%llu\r\nlatency_p50_usec:%.0f\r\n"
            "latency_p90_usec:%.0f\r\nlatency_p99_usec:%.0f\r\nlatency_p999_usec:%.0f\r\n\r\n",
            (unsigned long long)t.s.connections, (unsigned long long)t.s.commands, (unsigned long long)t.s.errors,
            (unsigned long long)t.s.rejected, (unsigned long long)t.s.moved, (unsigned long long)t.s.ask,
            (unsigned long long)t.s.tryagain, (unsigned long long)t.s.clusterdown, (unsigned long long)t.s.timeouts,
            (unsigned long long)t.s.live_reqs, (unsigned long long)t.s.auth_failures,
            (unsigned long long)t.s.idle_closed, (unsigned long long)t.s.output_closed, hist_quantile(t.s.latency, 0.5),
            hist_quantile(t.s.latency, 0.9), hist_quantile(t.s.latency, 0.99), hist_quantile(t.s.latency, 0.999));
    if (want & INFO_CLUSTER) rc |= info_cluster(w, &b);
    if (want & INFO_COMMANDSTATS) {
        rc |= sbuf_printf(&b, "# Commandstats\r\n");
        for (int f = 0; f < FAM_COUNT; f++)
            if (t.s.calls[f])
                rc |= sbuf_printf(&b, "cmdfamily_%s:calls=%llu,failed_calls=%llu\r\n", cmd_family_name(f),
                                  (unsigned long long)t.s.calls[f], (unsigned long long)t.s.failed[f]);
        rc |= sbuf_printf(&b, "\r\n");
    }
    if (rc < 0) return reply_sbuf(w, r, &b, -1);
    if ((want & INFO_KEYSPACE) && w->nshards > 0) {
        static const char info_keyspace[] = "*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n";
        fanout_all(w, r, info_keyspace, sizeof(info_keyspace) - 1, MERGE_INFO, b.p ? b.p : "");
        sbuf_free(&b);
        return;
    }
    reply_bulk(w, r, b.p ? b.p : "", b.len);
    sbuf_free(&b);
}

void local_run(struct client *c, struct req *r, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    const struct resp_request *q = &c->parser;
    long long db;
    struct sbuf b = {0};
    switch (p->cmd->local) {
    case LOCAL_PING:
        if (q->argc == 1) return REPLY_LIT(w, r, "+PONG\r\n");
        if (q->argc == 2) return reply_bulk(w, r, ARG(1), ARGLEN(1));
        return req_reply_error(w, r, "ERR wrong number of arguments for 'ping' command");
    case LOCAL_ECHO: return reply_bulk(w, r, ARG(1), ARGLEN(1));
    case LOCAL_SELECT:
        if (resp_parse_ll(ARG(1), ARGLEN(1), &db) < 0)
            return req_reply_error(w, r, "ERR value is not an integer or out of range");
        if (db != 0) return req_reply_error(w, r, "ERR SELECT is not allowed in cluster mode");
        return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_QUIT: c->is_closing = 1; return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_HELLO: return hello(c, r, q, cmd);
    case LOCAL_AUTH:
        if (q->argc > 3) return req_reply_error(w, r, "ERR syntax error");
        if (check_auth(c, q->argc == 3 ? ARG(1) : NULL, q->argc == 3 ? ARGLEN(1) : 0, ARG(q->argc - 1),
                       ARGLEN(q->argc - 1), r))
            REPLY_LIT(w, r, "+OK\r\n");
        return;
    case LOCAL_RESET:
        free(c->name);
        c->name = NULL;
        c->is_readonly = 0;
        c->is_authed = w->conf->requirepass == NULL;
        return REPLY_LIT(w, r, "+RESET\r\n");
    case LOCAL_READONLY: c->is_readonly = 1; return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_READWRITE: c->is_readonly = 0; return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_ASKING: /* slotgate follows redirections itself: nothing to do */ return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_CLIENT_SETNAME: return client_setname(c, r, ARG(2), ARGLEN(2));
    case LOCAL_CLIENT_GETNAME:
        if (!c->name) return REPLY_LIT(w, r, "$-1\r\n");
        return reply_bulk(w, r, c->name, strlen(c->name));
    case LOCAL_CLIENT_ID: sbuf_printf(&b, ":%llu\r\n", (unsigned long long)c->id); return reply_sbuf(w, r, &b, 0);
    case LOCAL_CLIENT_INFO:
        client_info_line(c, worker_now(w), &b);
        reply_bulk(w, r, b.p, b.len);
        return sbuf_free(&b);
    case LOCAL_CLIENT_LIST: /* this worker's clients: each worker thread owns its own */
        for (struct client *o = w->clients; o; o = o->next) client_info_line(o, worker_now(w), &b);
        reply_bulk(w, r, b.p ? b.p : "", b.len);
        return sbuf_free(&b);
    case LOCAL_CLUSTER_SLOTS:
    case LOCAL_CLUSTER_SHARDS:
    case LOCAL_CLUSTER_NODES:
    case LOCAL_CLUSTER_INFO:
    case LOCAL_CLUSTER_KEYSLOT:
    case LOCAL_CLUSTER_MYID: return cluster_local(c, r, p->cmd->local, q, cmd);
    case LOCAL_INFO: return info(c, r, q, cmd);
    case LOCAL_ACL_WHOAMI: return reply_bulk(w, r, c->user, strlen(c->user));
    }
    req_reply_error(w, r, "ERR slotgate: internal error (no local handler)");
}
