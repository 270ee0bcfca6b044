/* Commands slotgate answers itself: connection commands (PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET,
 * CLIENT ..., READONLY/READWRITE) act on the client's connection to slotgate; CLUSTER SLOTS/SHARDS/NODES/INFO
 * describe slotgate as one node owning every slot, so cluster-aware clients keep all their traffic on
 * it; INFO gives slotgate's own sections plus the keyspace summed over the masters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../router/encode.h"
#include "../router/info.h"
#include "../router/merge.h"
#include "../router/slot.h"
#include "../lib/log.h"
#include "../health/probe.h"
#include "dedicated.h"
#include "aclcmd.h"
#include "fanout.h"
#include "local.h"
#include "worker.h"

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

/* Text Redis sends as a verbatim string to RESP3 clients (INFO, CLIENT INFO/LIST, CLUSTER INFO/NODES). */
static void reply_text(struct worker *w, struct req *r, const char *p, size_t len) {
    struct sbuf b = {0};
    if (sbuf_add_verbatim(&b, p, len, r->resp3) < 0)
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

/* Multibulk bytes of a parsed command (router/encode.c): inline commands are re-encoded into the
 * worker's scratch buffer, multibulk ones are as sent. */
const char *encode_command(struct worker *w, const struct resp_request *q, const char *cmd, size_t *len) {
    return encode_request(q, cmd, &w->tmp.encoded, len);
}

/* slotgate's node ID in CLUSTER answers: stable for a given port, 40 hex digits like a Redis node's. */
static void my_id(struct worker *w, char out[41]) {
    snprintf(out, 41, "51076a7e0000000000000000000000000000%04x",
             (w->conf->port ? w->conf->port : w->conf->tls_port) & 0xffff);
}

/* The port the client came to: a TLS client is told slotgate's tls-port, as Redis tells its TLS clients. */
static int my_port(const struct client *c) { return c->laddr_port; }

static void my_host(struct client *c, char *host, size_t len) { client_laddr(c, host, len, 0); }

/* AUTH [user] password (and HELLO's AUTH): the users (users.h) are the default user, whose password is
 * requirepass (or none), those of the users setting and the aclfile; passwords are compared by their SHA-256,
 * in constant time. Returns 1 when the client is now in. */
static int check_auth(struct client *c, const char *user, size_t ulen, const char *pass, size_t plen, struct req *r) {
    struct worker *w = c->w;
    struct acl_user *def = users_find(w->view.users, "default", 7);
    if (!user && def && def->nopass) { /* Redis: the one-argument form needs a password to check */
        req_reply_error(c->w, r,
                        "ERR AUTH <password> called without any password configured for the default user. "
                        "Are you sure your configuration is correct?");
        return 0;
    }
    struct acl_user *u = user ? users_find(w->view.users, user, ulen) : def;
    if (!u || !acl_user_password_ok(u, pass, plen)) {
        const char *name = user ? user : "default";
        size_t nlen = user ? ulen : 7;
        log_notice("worker %d: client %s: authentication failed for user '%.*s'", w->id, c->addr,
                   (int)(nlen > 64 ? 64 : nlen), name);
        STAT_INC(w, auth_failures);
        char info[512];
        client_acl_info(c, info, sizeof(info));
        acllog_add(w->shared.acllog, w->conf->acllog_max_len, ACLLOG_AUTH, c->txn_state.in_multi, "AUTH", 4, name, nlen,
                   info, ev_time());
        req_reply_error(c->w, r, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    c->is_authed = 1;
    c->acl = u;
    return 1;
}

static void client_info_line(struct client *c, double now, struct sbuf *b) {
    char flags[16], *f = flags; /* Redis's letters, in its order */
    if (c->sub_mode) *f++ = 'P';
    if (c->txn_state.in_multi) *f++ = 'x';
    unsigned tf = c->trk ? c->trk->flags : 0;
    if (tf & TRK_ON) *f++ = 't';
    if (tf & TRK_BROKEN) *f++ = 'R';
    if (tf & TRK_BCAST) *f++ = 'B';
    if (c->is_readonly) *f++ = 'r';
    if (f == flags) *f++ = 'N';
    *f = '\0';
    char laddr[64];
    client_laddr(c, laddr, sizeof(laddr), 1);
    sbuf_printf(b,
                "id=%llu addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 "
                "qbuf=%zu qbuf-free=0 obl=0 oll=0 omem=%zu events=r cmd=NULL user=%s redir=%lld resp=%d\n",
                (unsigned long long)c->id, c->addr, laddr, c->fd, c->name ? c->name : "", (int)(now - c->created),
                (int)(now - c->last_cmd), flags, ibuf_len(&c->in), c->out.pending, c->acl->name, tracking_redirect(c),
                c->resp3 ? 3 : 2);
}

static void hello(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    uint32_t i = 1;
    long long ver = c->resp3 ? 3 : 2;
    if (q->argc >= 2) {
        if (resp_parse_ll(ARG(1), ARGLEN(1), &ver) < 0)
            return req_reply_error(w, r, "ERR Protocol version is not an integer or out of range");
        if (ver < 2 || ver > 3) return req_reply_error(w, r, "NOPROTO unsupported protocol version");
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
    if (!c->is_authed)
        return req_reply_error(w, r,
                               "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                               "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
                               "select the RESP protocol version at the same time");
    /* From this reply on, the client speaks the version it asked for (its replies, its pushes, the
     * backend connections its requests go on). */
    if (c->resp3 != (ver == 3)) dedicated_protocol_changed(c);
    c->resp3 = ver == 3;
    r->resp3 = (uint8_t)c->resp3;
    struct sbuf b = {0};
    char version[16] = "7.0.0"; /* the masters' lowest: clients pick the commands they send by it */
    if (w->shared.status) status_min_master_version(w->shared.status, version, sizeof(version), "7.0.0");
    int rc = sbuf_add_map(&b, 7, c->resp3) |
             sbuf_printf(&b,
                         "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n$5\r\nproto\r\n:%lld\r\n"
                         "$2\r\nid\r\n:%llu\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                         "$7\r\nmodules\r\n*0\r\n",
                         strlen(version), version, ver, (unsigned long long)c->id);
    reply_sbuf(w, r, &b, rc);
}

/* CLIENT REPLY ON|OFF|SKIP: OFF silences this and every later reply until ON; SKIP this one and the next. */
static void client_reply(struct client *c, struct req *r, const char *mode, size_t len) {
    if (len == 2 && strncasecmp(mode, "on", 2) == 0) {
        c->reply_mode = 0;
        r->noreply = 0;
        return REPLY_LIT(c->w, r, "+OK\r\n");
    }
    if (len == 3 && strncasecmp(mode, "off", 3) == 0)
        c->reply_mode = REPLY_OFF;
    else if (len == 4 && strncasecmp(mode, "skip", 4) == 0)
        c->reply_mode = REPLY_SKIP_NEXT;
    else
        return req_reply_error(c->w, r, "ERR syntax error");
    r->noreply = 1;
    REPLY_LIT(c->w, r, "+OK\r\n");
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
    int port = my_port(c);
    struct sbuf b = {0};
    int rc = 0, ok = w->view.map && slotmap_is_complete(w->view.map);
    switch (what) {
    case LOCAL_CLUSTER_SLOTS: /* each node: endpoint, port, ID and a map of further endpoints (none) */
        rc = sbuf_printf(&b, "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$%zu\r\n%s\r\n:%d\r\n$40\r\n%s\r\n", strlen(host), host,
                         port, id) |
             sbuf_add_map(&b, 0, r->resp3);
        break;
    case LOCAL_CLUSTER_SHARDS:
        rc = sbuf_add(&b, "*1\r\n", 4) | sbuf_add_map(&b, 2, r->resp3) |
             sbuf_printf(&b, "$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n") |
             sbuf_add_map(&b, 7, r->resp3) |
             sbuf_printf(&b,
                         "$2\r\nid\r\n$40\r\n%s\r\n$4\r\nport\r\n:%d\r\n$2\r\nip\r\n$%zu\r\n%s\r\n$8\r\nendpoint\r\n"
                         "$%zu\r\n%s\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n"
                         "$6\r\nhealth\r\n$6\r\nonline\r\n",
                         id, port, strlen(host), host, strlen(host), host);
        break;
    case LOCAL_CLUSTER_NODES: {
        char line[256];
        int n = snprintf(line, sizeof(line), "%s %s:%d@%d myself,master - 0 0 1 connected 0-16383\n", id, host, port,
                         port + 10000);
        return reply_text(w, r, line, (size_t)n);
    }
    case LOCAL_CLUSTER_INFO: {
        char text[512];
        int n = snprintf(text, sizeof(text),
                         "cluster_enabled:1\r\ncluster_state:%s\r\ncluster_slots_assigned:16384\r\n"
                         "cluster_slots_ok:%d\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:%d\r\n"
                         "cluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\n"
                         "cluster_my_epoch:1\r\n",
                         ok ? "ok" : "fail", w->view.map ? (int)w->view.map->covered : 0,
                         w->view.map ? SLOT_COUNT - (int)w->view.map->covered : SLOT_COUNT);
        return reply_text(w, r, text, (size_t)n);
    }
    case LOCAL_CLUSTER_KEYSLOT: rc = sbuf_printf(&b, ":%u\r\n", slot_for_key(ARG(2), ARGLEN(2))); break;
    case LOCAL_CLUSTER_MYID: return reply_bulk(w, r, id, 40);
    }
    reply_sbuf(w, r, &b, rc);
}

/* INFO [section ...]: the template of Redis's sections (procinfo.c); where it names figures of the
 * cluster's, the masters are asked for their own INFO and the merge (router/info.h) fills them in. */
static void info(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    const char *args[16];
    size_t lens[16];
    int n = 0;
    for (uint32_t i = 1; i < q->argc && n < 16; i++, n++) args[n] = ARG(i), lens[n] = ARGLEN(i);
    unsigned mask = info_sections_of(args, lens, n);
    struct sbuf tmpl = {0}, ask = {0}, out = {0};
    int rc = info_template(w, mask, &tmpl);
    if (rc == 0 && info_node_sections(mask) && w->view.routes.nshards > 0 && info_node_command(mask, &ask) == 0) {
        fanout_all(w, r, ask.p, ask.len, MERGE_INFO, tmpl.p ? tmpl.p : "");
    } else if (rc == 0) { /* nothing of the cluster's asked for, or no map yet: the markers fill as empty */
        rc = info_merge(tmpl.p ? tmpl.p : "", tmpl.len, NULL, 0, &out);
        struct sbuf v = {0};
        if (rc == 0 && r->resp3) rc = bulk_as_verbatim(out.p, out.len, &v);
        if (rc == 0) req_reply(w, r, r->resp3 ? v.p : out.p, r->resp3 ? v.len : out.len);
        sbuf_free(&v);
    }
    if (rc < 0) req_reply_error(w, r, "ERR slotgate: out of memory");
    sbuf_free(&tmpl);
    sbuf_free(&ask);
    sbuf_free(&out);
}

/* PUBSUB CHANNELS/NUMSUB/NUMPAT and their shard forms, from this slotgate's subscribers (subs.h). */
static void pubsub_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    int shard = what == LOCAL_PUBSUB_SHARDCHANNELS || what == LOCAL_PUBSUB_SHARDNUMSUB;
    struct sbuf b = {0};
    int rc = 0;
    switch (what) {
    case LOCAL_PUBSUB_CHANNELS:
    case LOCAL_PUBSUB_SHARDCHANNELS:
        if (q->argc > 3)
            return req_reply_error(w, r, "ERR wrong number of arguments for 'pubsub|%s' command",
                                   shard ? "shardchannels" : "channels");
        rc = subs_reply_channels(w->shared.subs, shard ? SUB_SHARD : SUB_CHANNEL, q->argc == 3 ? ARG(2) : NULL,
                                 q->argc == 3 ? ARGLEN(2) : 0, &b);
        break;
    case LOCAL_PUBSUB_NUMSUB:
    case LOCAL_PUBSUB_SHARDNUMSUB:
        rc = sbuf_add_header(&b, '*', (unsigned long long)(q->argc - 2) * 2);
        for (uint32_t i = 2; i < q->argc && rc == 0; i++)
            rc = sbuf_add_bulk(&b, ARG(i), ARGLEN(i)) |
                 sbuf_printf(&b, ":%lld\r\n",
                             subs_count(w->shared.subs, shard ? SUB_SHARD : SUB_CHANNEL, ARG(i), ARGLEN(i)));
        break;
    default:
        if (q->argc != 2) return req_reply_error(w, r, "ERR wrong number of arguments for 'pubsub|numpat' command");
        rc = sbuf_printf(&b, ":%lld\r\n", subs_kind_count(w->shared.subs, SUB_PATTERN));
    }
    reply_sbuf(w, r, &b, rc);
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
    case LOCAL_RESET: /* as Redis: RESP2 again, no name, no tracking, read-write, not authenticated */
        free(c->name);
        c->name = NULL;
        c->is_readonly = 0;
        if (c->resp3) dedicated_protocol_changed(c);
        c->resp3 = 0;
        tracking_off(c);
        c->acl = users_find(w->view.users, "default", 7); /* as Redis: back to the default user */
        c->is_authed = c->acl->on && c->acl->nopass;
        return REPLY_LIT(w, r, "+RESET\r\n");
    case LOCAL_READONLY: c->is_readonly = 1; return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_READWRITE: c->is_readonly = 0; return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_ASKING: /* slotgate follows redirections itself: nothing to do */ return REPLY_LIT(w, r, "+OK\r\n");
    case LOCAL_CLIENT_SETNAME: return client_setname(c, r, ARG(2), ARGLEN(2));
    case LOCAL_CLIENT_GETNAME:
        if (!c->name) return r->resp3 ? REPLY_LIT(w, r, "_\r\n") : REPLY_LIT(w, r, "$-1\r\n");
        return reply_bulk(w, r, c->name, strlen(c->name));
    case LOCAL_CLIENT_ID: sbuf_printf(&b, ":%llu\r\n", (unsigned long long)c->id); return reply_sbuf(w, r, &b, 0);
    case LOCAL_CLIENT_INFO:
        client_info_line(c, worker_now(w), &b);
        reply_text(w, r, b.p, b.len);
        return sbuf_free(&b);
    case LOCAL_CLIENT_REPLY: return client_reply(c, r, ARG(2), ARGLEN(2));
    case LOCAL_CLIENT_NO_EVICT: /* slotgate evicts no client for memory: on and off are both true */
        if (arg_is(q, cmd, 2, "on") || arg_is(q, cmd, 2, "off")) return REPLY_LIT(w, r, "+OK\r\n");
        return req_reply_error(w, r, "ERR syntax error");
    case LOCAL_CLIENT_GETREDIR:
    case LOCAL_CLIENT_TRACKINGINFO:
    case LOCAL_CLIENT_TRACKING:
    case LOCAL_CLIENT_CACHING: return tracking_local(c, r, p->cmd->local, q, cmd);
    case LOCAL_CLIENT_LIST: /* this worker's clients: each worker thread owns its own */
        for (struct client *o = w->clients; o; o = o->next) client_info_line(o, worker_now(w), &b);
        reply_text(w, r, b.p ? b.p : "", b.len);
        return sbuf_free(&b);
    case LOCAL_CLUSTER_SLOTS:
    case LOCAL_CLUSTER_SHARDS:
    case LOCAL_CLUSTER_NODES:
    case LOCAL_CLUSTER_INFO:
    case LOCAL_CLUSTER_KEYSLOT:
    case LOCAL_CLUSTER_MYID: return cluster_local(c, r, p->cmd->local, q, cmd);
    case LOCAL_INFO: return info(c, r, q, cmd);
    case LOCAL_ACL_WHOAMI: return reply_bulk(w, r, c->acl->name, strlen(c->acl->name));
    case LOCAL_ACL_USERS:
    case LOCAL_ACL_LIST:
    case LOCAL_ACL_GETUSER:
    case LOCAL_ACL_CAT:
    case LOCAL_ACL_DRYRUN:
    case LOCAL_ACL_LOG: return acl_local(c, r, p->cmd->local, q, cmd);
    case LOCAL_SLOWLOG_GET:
    case LOCAL_SLOWLOG_LEN:
    case LOCAL_SLOWLOG_RESET:
    case LOCAL_SLOWLOG_HELP: return slowlog_local(c, r, p->cmd->local, q, cmd);
    case LOCAL_SLOTGATE_HOTKEYS: return hotkeys_local(c, r, q, cmd);
    case LOCAL_SLOTGATE_HELP: {
        static const char help[] =
            "*5\r\n+SLOTGATE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
            "+HOTKEYS [READS|WRITES] [COUNT <count>]\r\n"
            "+    The most requested keys of the last hotkeys-window-seconds, reads and writes apart: key,\r\n"
            "+    estimated requests, how much that may overestimate, the master serving the key.\r\n"
            "+HELP\r\n";
        return REPLY_LIT(w, r, help);
    }
    case LOCAL_PUBSUB_CHANNELS:
    case LOCAL_PUBSUB_NUMSUB:
    case LOCAL_PUBSUB_NUMPAT:
    case LOCAL_PUBSUB_SHARDCHANNELS:
    case LOCAL_PUBSUB_SHARDNUMSUB: return pubsub_local(c, r, p->cmd->local, q, cmd);
    }
    req_reply_error(w, r, "ERR slotgate: internal error (no local handler)");
}
