/* Client connections: accept, read, parse (router/resp), plan (router/command), send, and write the
 * replies out (reply.c puts them in request order). Reading pauses while a client has too many requests
 * or reply bytes pending (backpressure) and resumes as its output drains. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>

#include "../router/acl.h"
#include "../router/merge.h"
#include "../router/slot.h"
#include "migrate.h"
#include "../lib/uring.h"
#include "scripts.h"
#include "../lib/log.h"
#include "../lib/tls.h"
#include "dedicated.h"
#include "bigkeys.h"
#include "slowlog.h"
#include "fanout.h"
#include "local.h"
#include "upload.h"
#include "worker.h"

#define MAX_QUEUED 8192 /* requests in flight for one client before its reads pause */

static void on_client_io(struct ev_loop *loop, ev_io *io, int revents);
static void client_process(struct client *c);

static void client_ring_data(void *owner, const char *p, ssize_t n);
static void client_ring_sent(void *owner, ssize_t n);
static void client_ring_gone(void *owner);

void client_reading(struct client *c, int on) { worker_reading(c->w, c->uc, &c->rio, on); }

void client_accept(struct worker *w, int fd, const char *addr, int tls, const char *deny) {
    /* io_uring: its socket's state on the ring lives in the same allocation, after it */
    _Static_assert(sizeof(struct client) % _Alignof(struct uconn) == 0, "uconn after the client");
    int ring = w->uring && !tls;
    struct client *c = calloc(1, sizeof(*c) + (ring ? sizeof(struct uconn) : 0));
    SSL *ssl = c && tls ? tls_new(TLS_SERVER, fd, NULL) : NULL;
    if (!c || (tls && !ssl)) {
        free(c);
        close(fd);
        shared_counter_add(w->shared.total_clients, -1);
        return;
    }
    c->ssl = ssl;
    c->tls_handshaking = tls;
    c->tls_deny = deny;
    c->w = w;
    c->fd = fd;
    c->id = __atomic_add_fetch(&w->next_client_id, 1, __ATOMIC_RELAXED) * 256 + (uint64_t)w->id;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->acl = users_find(w->view.users, "default", 7); /* as Redis: logged in already when it has no password */
    c->is_authed = c->acl && c->acl->on && c->acl->nopass;
    c->created = c->last_cmd = worker_now(w);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    static const uint8_t loopback[4] = {127, 0, 0, 1};
    memcpy(c->laddr_ip, loopback, 4);
    c->laddr_port = (uint16_t)(tls ? w->conf->tls_port : w->conf->port);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            memcpy(c->laddr_ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        } else if (ss.ss_family == AF_INET6) {
            memcpy(c->laddr_ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            c->laddr_v6 = 1;
        }
    }
    resp_request_init(&c->parser, w->conf->proto_max_bulk_len, w->conf->max_multibulk_len);
    chain_init(&c->out);
    chain_init(&c->early);
    chain_init(&c->txn_queued);
    chain_init(&c->push);
    txn_init(&c->txn_state);
    ev_io_init(&c->rio, on_client_io, fd, EV_READ);
    ev_io_init(&c->wio, on_client_io, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    if (ring) {
        static const struct uconn_cb cb = {client_ring_data, client_ring_sent, client_ring_gone};
        c->uc = (struct uconn *)(c + 1);
        uconn_init(c->uc, fd, c, &cb);
    }
    client_reading(c, 1);
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    log_debug("worker %d: client %s connected", w->id, addr);
}

void client_close(struct client *c) {
    struct worker *w = c->w;
    if (c->is_closed) return;
    c->is_closed = 1;
    ev_io_stop(w->loop, &c->rio);
    ev_io_stop(w->loop, &c->wio);
    if (c->ssl) tls_close(c->ssl), c->ssl = NULL;
    if (c->uc)
        uconn_close(w->uring, c->uc); /* closes the descriptor; the kernel may still hold the output */
    else
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nclients--;
    shared_counter_add(w->shared.total_clients, -1);
    /* Requests still at a backend or parked stay there until their reply comes; it is then dropped. */
    for (struct req *r = c->queue.head, *next; r; r = next) {
        next = r->qnext;
        if (r->state == REQ_DONE)
            req_free(w, r);
        else
            r->client = NULL;
    }
    c->queue = (struct req_fifo){0};
    c->push_after = NULL;
    if (c->streaming) { /* the node's reply is still coming: read it (and drop it) */
        backend_stream_resume(c->streaming);
        c->streaming = NULL;
    }
    tracking_off(c);
    dedicated_close_all(c);
    if (!c->uc) {                      /* io_uring: a send may still read them (client_free) */
        chain_free(&w->pool, &c->out); /* first: its links give their ranges back to early */
        chain_free(&w->pool, &c->early);
    }
    ibuf_free(&w->pool, &c->in);
    resp_request_free(&c->parser);
    free(c->name);
    c->name = NULL;
    log_debug("worker %d: client %s closed", w->id, c->addr);
    worker_mark_client(w, c); /* freed at the next flush, once no caller holds it */
}

void client_free(struct client *c) {
    if (!c->is_closed) {
        c->is_dirty = 1; /* freed right here, not from the dirty list */
        client_close(c);
    }
    if (c->uc) {
        struct worker *w = c->w;
        if (w->uring && (c->uc->ops || c->uc->queued)) { /* the kernel holds it: client_ring_gone frees */
            if (!c->free_when_gone) {                    /* kept among the worker's zombies (prev/next are free now) */
                c->free_when_gone = 1;
                c->prev = NULL;
                c->next = w->zombies;
                if (w->zombies) w->zombies->prev = c;
                w->zombies = c;
            }
            return;
        }
        if (c->free_when_gone) { /* out of the zombies */
            if (c->prev)
                c->prev->next = c->next;
            else
                w->zombies = c->next;
            if (c->next) c->next->prev = c->prev;
        }
        chain_free(&c->w->pool, &c->out);
        chain_free(&c->w->pool, &c->early);
    }
    c->w->clients_freed++;
    free(c);
}

/* io_uring: bytes arrived (n > 0), the client closed (0) or an error (< 0). */
static void client_ring_data(void *owner, const char *p, ssize_t n) {
    struct client *c = owner;
    struct worker *w = c->w;
    if (n <= 0) {
        /* The end of its input can come in the same batch of completions as its last commands: what is
         * ready for it goes out first, then it is closed, at this loop turn's flush, as with readiness
         * (where the end is read a turn later); replies still at a node are dropped either way, as
         * Redis drops what it has not written to a client that left. An error closes at once. */
        if (n == 0) {
            c->eof_seen = 1;
            client_reading(c, 0);
            worker_mark_client(w, c);
            return;
        }
        client_close(c);
        return;
    }
    size_t frame = c->parser.need ? c->parser.need : 0;
    if (ibuf_reserve(&w->pool, &c->in, (size_t)n, frame) < 0) {
        client_close(c);
        return;
    }
    memcpy(c->in.data + c->in.end, p, (size_t)n);
    c->in.end += (size_t)n;
    c->read_seq++;
    STAT_INC(w, reads);
    STAT_ADD(w, net_in, n);
    if (!c->is_paused && !c->upload_paused) client_process(c); /* a paused one keeps what came meanwhile */
}

/* io_uring: the send finished, n bytes went (or an error): the rest at the next flush. */
static void client_ring_sent(void *owner, ssize_t n) {
    struct client *c = owner;
    struct worker *w = c->w;
    if (n < 0) {
        client_close(c);
        return;
    }
    chain_advance(&w->pool, &c->out, (size_t)n);
    STAT_INC(w, writes);
    STAT_ADD(w, net_out, n);
    worker_mark_client(w, c); /* the checks after a write, and what came meanwhile */
}

static void client_ring_gone(void *owner) {
    struct client *c = owner;
    if (c->free_when_gone) client_free(c);
}

/* EVAL bodies are remembered by SHA-1; EVALSHA is marked so a NOSCRIPT can be repaired (backend.c). */
static void remember_scripts(struct worker *w, struct req *r, const struct plan *p, const struct resp_request *q,
                             const char *cmd) {
    int special = p->cmd->special;
    if (special == SPECIAL_EVAL || special == SPECIAL_SCRIPT_LOAD) {
        uint32_t at = special == SPECIAL_SCRIPT_LOAD ? 2 : 1;
        scripts_remember(w->shared.scripts, resp_request_arg(q, cmd, at), q->argv[at].len);
    } else if (special == SPECIAL_EVALSHA && q->argv[1].len == 40) {
        r->xform = XFORM_EVALSHA;
        memcpy(r->sha, resp_request_arg(q, cmd, 1), 40);
        r->sha[40] = '\0';
    }
}

/* Keyed and keyless commands sent on as they are, but handled apart: scripts, and PUBLISH. */
static void mark_special(struct client *c, struct req *r, const struct plan *plan, const char *cmd) {
    struct worker *w = c->w;
    switch (plan->cmd->special) {
    case SPECIAL_EVAL:
    case SPECIAL_EVALSHA:
    case SPECIAL_FCALL: /* its own connection, no deadline: see dedicated.c */
        r->dedicated = DED_SCRIPT;
        r->timeout = -1;
        remember_scripts(w, r, plan, &c->parser, cmd);
        break;
    case SPECIAL_PUBLISH: {
        /* It answers how many clients of this slotgate receive it. And one channel's messages all go
         * through one master, the one its name hashes to as a key would: the cluster bus carries them
         * from there to the other nodes in order, as a single server delivers them. */
        const char *ch = resp_request_arg(&c->parser, cmd, 1);
        r->xform = XFORM_PUBLISH;
        r->receivers = subs_receivers(w->shared.subs, ch, c->parser.argv[1].len);
        r->slot = (int)slot_for_key(ch, c->parser.argv[1].len);
        break;
    }
    default: break;
    }
}

void client_laddr(const struct client *c, char *buf, size_t len, int with_port) {
    char host[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->laddr_v6 ? AF_INET6 : AF_INET, c->laddr_ip, host, sizeof(host)))
        snprintf(host, sizeof(host), "?");
    if (with_port)
        snprintf(buf, len, "%s:%u", host, (unsigned)c->laddr_port);
    else
        snprintf(buf, len, "%s", host);
}

void client_acl_info(const struct client *c, char *buf, size_t len) {
    char laddr[INET6_ADDRSTRLEN + 8];
    client_laddr(c, laddr, sizeof(laddr), 1);
    snprintf(buf, len, "id=%llu addr=%s laddr=%s name=%s user=%s", (unsigned long long)c->id, c->addr, laddr,
             c->name ? c->name : "", c->acl->name);
}

/* ACL rules (router/acl.h): may the client's user run this planned command with its keys and channels?
 * When not: Redis's -NOPERM text, counted, in ACL LOG, and in MULTI the transaction aborts at EXEC. */
static int acl_refused(struct client *c, struct req *r, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    if (!p->cmd || p->is_error) return 0; /* unknown or malformed: Redis's own error comes first */
    const struct resp_request *q = &c->parser;
    /* the common case, first: a command the user may run (remembered), no channels, its keys one by one */
    struct acl_cached *k = &w->acl_cache[(((uintptr_t)p->cmd >> 4) ^ ((uintptr_t)c->acl >> 5)) & 511];
    if (k->user == c->acl && k->cmd == p->cmd && k->allowed && !(p->cmd->flags & CMD_PUBSUB)) {
        int i = 0;
        for (; i < p->nkeys; i++) {
            int f = p->kflags[i];
            if (f & KSF_NOT_KEY) continue;
            if (f & KSF_VARIABLE_FLAGS) f = acl_key_flags(p->cmd, q, cmd);
            uint32_t a = (uint32_t)p->keys[i];
            if (!acl_key_allowed(c->acl, resp_request_arg(q, cmd, a), q->argv[a].len, acl_key_need(f))) break;
        }
        if (i == p->nkeys) return 0;
    }
    struct acl_key small_k[16], *keys = small_k;
    struct acl_channel small_c[16], *chans = small_c;
    int nk = p->nkeys > 16 ? p->nkeys : 16, nc = (int)q->argc > 16 ? (int)q->argc : 16;
    if (nk > 16 && !(keys = malloc(sizeof(*keys) * (size_t)nk))) return 0;
    if (nc > 16 && !(chans = malloc(sizeof(*chans) * (size_t)nc))) chans = small_c, nc = 16;
    nk = acl_keys_of(p->cmd, p, q, cmd, keys, nk);
    nc = acl_channels_of(p->cmd, q, cmd, chans, nc);
    int pos = 0, rc;
    if (k->user == c->acl && k->cmd == p->cmd) {
        rc = k->allowed ? ACL_OK : ACL_DENIED_CMD;
    } else {
        const char *arg1 = q->argc > 1 ? resp_request_arg(q, cmd, 1) : NULL;
        rc = acl_command_allowed(c->acl, p->cmd, arg1, q->argc > 1 ? q->argv[1].len : 0) ? ACL_OK : ACL_DENIED_CMD;
        if (!c->acl->has_firstargs) *k = (struct acl_cached){c->acl, p->cmd, rc == ACL_OK};
    }
    if (rc == ACL_OK) rc = acl_check_args(c->acl, keys, nk, chans, nc, &pos);
    if (rc != ACL_OK && c->acl->nsel) { /* the user's own rules refuse it: a selector may allow it */
        const char *arg1 = q->argc > 1 ? resp_request_arg(q, cmd, 1) : NULL;
        rc = acl_check(c->acl, p->cmd, arg1, q->argc > 1 ? q->argv[1].len : 0, keys, nk, chans, nc, &pos);
    }
    if (rc != ACL_OK) {
        const char *obj = p->cmd->name;
        size_t olen = strlen(obj);
        if (rc == ACL_DENIED_KEY) obj = keys[pos].p, olen = keys[pos].len;
        if (rc == ACL_DENIED_CHANNEL) obj = chans[pos].p, olen = chans[pos].len;
        char info[512];
        client_acl_info(c, info, sizeof(info));
        acllog_add(w->shared.acllog, w->conf->acllog_max_len,
                   rc == ACL_DENIED_CMD   ? ACLLOG_CMD
                   : rc == ACL_DENIED_KEY ? ACLLOG_KEY
                                          : ACLLOG_CHANNEL,
                   c->txn_state.in_multi, obj, olen, c->acl->name, strlen(c->acl->name), info, ev_time());
        if (c->txn_state.in_multi) c->txn_state.dirty = 1; /* as Redis: EXEC then answers EXECABORT */
        if (rc == ACL_DENIED_CMD) {
            STAT_INC(w, acl_denied_cmd);
            req_reply_error(w, r, "NOPERM this user has no permissions to run the '%s' command", p->cmd->name);
        } else {
            if (rc == ACL_DENIED_KEY)
                STAT_INC(w, acl_denied_key);
            else
                STAT_INC(w, acl_denied_channel);
            req_reply_error(w, r, "NOPERM this user has no permissions to access one of the %s used as arguments",
                            rc == ACL_DENIED_KEY ? "keys" : "channels");
        }
    }
    if (keys != small_k) free(keys);
    if (chans != small_c) free(chans);
    return rc != ACL_OK;
}

/* What routes by prefix do not carry yet, refused with a clear error (1 when refused): transactions,
 * pub/sub, blocking commands and scripts on another backend's keys, and client-side caching of them
 * (the invalidations come from the default backend only). Plain commands, split ones included, go. */
static int route_refused(struct client *c, struct req *r, const struct plan *p) {
    struct worker *w = c->w;
    const char *why = NULL;
    if (c->trk)
        why = "client-side caching (CLIENT TRACKING) covers the default backend's keys only";
    else if (c->txn_state.in_multi || c->sub_mode || (p->route != ROUTE_KEYS && p->route != ROUTE_SPLIT) ||
             p->cmd->special)
        why = "only plain commands (not MULTI, pub/sub, blocking commands or scripts) go to another backend";
    if (!why) return 0;
    char name[64];
    int b = 0;
    for (int i = 0; i < p->nkeys && !b; i++) b = p->kbackend[i];
    snprintf(name, sizeof(name), "%s", p->cmd->name);
    for (char *s = name; *s; s++) *s = (char)toupper((unsigned char)*s);
    req_reply_error(w, r, "ERR slotgate: '%s' has keys routed to backend '%s': %s", name, w->shared.backend_names[b],
                    why);
    return 1;
}

/* Mirroring and migration (migrate.h) for a routed command: the mirror's copy goes, a migrating write
 * keeps its keys, a read is marked for the fallback. 1 when r is answered (out of memory). */
static int routed_extras(struct client *c, struct req *r, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    if (p->mirror_route >= 0 && !p->is_error && !c->txn_state.in_multi && !c->sub_mode && !p->cmd->special &&
        (p->route == ROUTE_KEYS || p->route == ROUTE_SPLIT)) /* plain commands: a transaction's are not mirrored */
        mirror_send(w, p, &c->parser, cmd);
    if (p->migrating && migrate_prepare(w, r, p, &c->parser, cmd) < 0) {
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return 1;
    }
    return 0;
}

/* Runs one parsed command: plan it, then answer it here, forward it, split it or fan it out. */
static void handle_command(struct client *c, const char *cmd) {
    struct worker *w = c->w;
    struct plan *plan = &w->tmp.plan;
    struct req *r = req_new(w);
    if (!r) {
        client_close(c);
        return;
    }
    double now = worker_now(w);
    r->started = now;
    r->deadline = now + failover_window(w);
    r->resp3 = (uint8_t)c->resp3;
    c->last_cmd = now;
    client_enqueue(c, r);
    STAT_INC(w, commands);
    if (c->reply_mode) { /* CLIENT REPLY OFF, or the command after SKIP */
        r->noreply = 1;
        if (c->reply_mode == REPLY_SKIP_NEXT) c->reply_mode = 0;
    }
    plan_request(w->view.cmds, &c->parser, cmd, plan);
    if (plan->cmd) r->family = (uint8_t)plan->cmd->family;
    int routed = __builtin_expect(plan->rerouted, 0) && !plan->is_error;
    if (__builtin_expect(routed, 0) && route_refused(c, r, plan)) return;
    if (__builtin_expect(!c->acl->unrestricted, 0) && c->is_authed && acl_refused(c, r, plan, cmd)) return;
    if (__builtin_expect(routed | (plan->mirror_route >= 0), 0) && c->is_authed && routed_extras(c, r, plan, cmd))
        return;
    if (__builtin_expect(c->trk != NULL, 0) && c->is_authed) tracking_command(c, plan, cmd);
    if (!c->is_authed && !(plan->cmd && (plan->cmd->local == LOCAL_AUTH || plan->cmd->local == LOCAL_HELLO ||
                                         plan->cmd->local == LOCAL_QUIT || plan->cmd->local == LOCAL_RESET)))
        return req_reply_error(w, r, "NOAUTH Authentication required.");
    if (dedicated_wants(c, plan)) return dedicated_command(c, r, plan, cmd);
    if (plan->is_error) return req_reply_error(w, r, "%s", plan->err);
    if (plan->nkeys > 0 && !routed && hotkeys_sampled(&w->hk)) hotkeys_note(w, plan, &c->parser, cmd);
    if (__builtin_expect((long long)c->parser.cmd_len >= w->big_request_min, 0) && /* one compare, mostly */
        ((long long)c->parser.cmd_len >= w->conf->bigkeys_value_bytes ||
         (long long)c->parser.argc > w->conf->bigkeys_elements))
        bigkeys_request(w, c, &c->parser, cmd);
    size_t len;
    const char *bytes;
    switch (plan->route) {
    case ROUTE_LOCAL: return local_run(c, r, plan, cmd);
    case ROUTE_SPLIT: return fanout_split(w, r, &c->parser, cmd, plan);
    case ROUTE_SCAN: return fanout_scan(w, r, &c->parser, cmd);
    default: break;
    }
    if (__builtin_expect(routed, 0)) { /* routes by prefix: its backend, its keys as that backend names them */
        r->backend = (uint8_t)plan->backend;
        bytes = encode_stripped(&c->parser, cmd, plan, &w->tmp.encoded, &len);
    } else {
        bytes = encode_command(w, &c->parser, cmd, &len);
    }
    if (!bytes) return req_reply_error(w, r, "ERR slotgate: out of memory");
    if (plan->route == ROUTE_ALL) {
        remember_scripts(w, r, plan, &c->parser, cmd);
        return fanout_all(w, r, bytes, len, plan->merge, NULL);
    }
    if (plan->route == ROUTE_ANY || plan->slot < 0) { /* any master: spread them round robin */
        if (w->view.routes.nshards == 0)
            return req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
        plan->slot = route_any_slot(&w->view.routes);
    }
    r->slot = plan->slot;
    r->load_counted = plan->nkeys > 0 && !r->backend && sampler_hit(&w->load_sample); /* the default's slots */
    r->is_readonly = (plan->cmd->flags & CMD_READONLY) != 0;
    if (plan->cmd->special) mark_special(c, r, plan, cmd);
    route_request(w, r, NULL, bytes, len);
}

static int over_limits(const struct client *c) {
    return c->nqueued >= MAX_QUEUED || (long long)(c->out.pending) > c->w->conf->client_max_pending_bytes;
}

static void pause_reading(struct client *c) {
    c->is_paused = 1;
    client_reading(c, 0);
}

static void protocol_error(struct client *c, const char *err) {
    struct req *r = req_new(c->w);
    log_verbose("worker %d: client %s: %s; closing it after the error is written", c->w->id, c->addr, err);
    c->is_closing = 1;
    client_reading(c, 0);
    if (!r) return client_close(c);
    client_enqueue(c, r);
    req_reply_error(c->w, r, "ERR %s", err);
}

static void client_process(struct client *c) {
    struct worker *w = c->w;
    while (!c->is_closing && !c->is_closed && ibuf_len(&c->in) > 0) {
        if (c->upload) { /* a large argument on its way to its node */
            upload_forward(c);
            if (c->upload || c->is_closed) break;
            continue;
        }
        if (c->upload_barrier || c->upload_wait || c->sub_barrier) break;
        if (over_limits(c)) {
            pause_reading(c);
            break;
        }
        char err[RESP_ERR_LEN];
        const char *cmd = c->in.data + c->in.start;
        int rc = resp_request_parse(&c->parser, cmd, ibuf_len(&c->in), err, sizeof(err));
        if (rc == RESP_AGAIN) {
            if (upload_try_start(c)) {
                if (c->is_closed) return;
                continue;
            }
            if ((long long)ibuf_len(&c->in) > w->conf->client_query_buffer_limit ||
                (long long)c->parser.need > w->conf->client_query_buffer_limit) {
                log_notice("worker %d: closing client %s that reached max query buffer length", w->id, c->addr);
                client_close(c);
                return;
            }
            break;
        }
        if (rc == RESP_ERROR) {
            protocol_error(c, err);
            break;
        }
        size_t used = c->parser.cmd_len;
        if (c->parser.argc > 0) handle_command(c, cmd);
        if (c->is_closed) return;
        ibuf_consume(&w->pool, &c->in, used);
        resp_request_reset(&c->parser);
    }
    if (c->is_closed) return;
    if (ibuf_len(&c->in) == 0) {
        ibuf_free(&w->pool, &c->in);
        if (c->parser.argv_cap > 1024) resp_request_shrink(&c->parser);
    }
}

/* TLS: what the library took from the socket is read out whole (it is no longer visible to the loop),
 * 16 KiB of room at a time. Bytes read (c->in grown), or recv's contract. */
static ssize_t client_read_tls(struct client *c) {
    struct worker *w = c->w;
    ssize_t total = 0;
    c->tls_buffers = 1;
    for (;;) {
        int want_write = 0;
        ssize_t n = tls_read(c->ssl, c->in.data + c->in.end, c->in.cap - c->in.end, &want_write);
        if (want_write && !c->tls_read_wants_write) {
            c->tls_read_wants_write = 1;
            ev_io_start(w->loop, &c->wio);
        }
        if (n <= 0) return total ? total : n;
        c->in.end += (size_t)n;
        total += n;
        if (!tls_has_pending(c->ssl)) return total;
        if (ibuf_reserve(&w->pool, &c->in, 16 * 1024, 0) < 0) return errno = ENOMEM, -1;
    }
}

static void client_read(struct client *c) {
    struct worker *w = c->w;
    size_t frame = c->parser.need ? c->parser.need : 0;
    if (ibuf_reserve(&w->pool, &c->in, 16 * 1024, frame) < 0) {
        client_close(c);
        return;
    }
    ssize_t n = c->ssl ? client_read_tls(c) : recv(c->fd, c->in.data + c->in.end, c->in.cap - c->in.end, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(c);
        return;
    }
    if (n < 0) {
        if (ibuf_len(&c->in) == 0) ibuf_free(&w->pool, &c->in);
        return;
    }
    if (!c->ssl) c->in.end += (size_t)n;
    c->read_seq++;
    STAT_INC(w, reads);
    STAT_ADD(w, net_in, n);
    client_process(c);
}

/* client-output-buffer-limit, as Redis applies it: over the hard limit, or over the soft one for its
 * seconds in a row, the client is disconnected (and logged). Replies waiting for order and pub/sub messages
 * waiting behind replies count too. 1 when it was closed. */
static int over_output_limit(struct client *c) {
    struct worker *w = c->w;
    int cls = c->sub_mode ? CONF_OBL_PUBSUB : CONF_OBL_NORMAL;
    const struct conf_obl *l = &w->conf->obl[cls];
    size_t used = c->out.pending + c->early.pending + c->push.pending;
    const char *which = NULL;
    if (l->hard && (long long)used > l->hard) {
        which = "hard";
    } else if (l->soft && (long long)used > l->soft) {
        double now = worker_now(w);
        if (!c->obl_soft_since)
            c->obl_soft_since = now;
        else if (now - c->obl_soft_since >= (double)l->soft_seconds)
            which = "soft";
    } else {
        c->obl_soft_since = 0;
    }
    if (!which) return 0;
    log_notice("worker %d: closing client %s%s%s: %zu bytes of output waiting, over its %s limit "
               "(client-output-buffer-limit %s %lld %lld %lld)",
               w->id, c->addr, c->name ? " name=" : "", c->name ? c->name : "", used, which,
               cls == CONF_OBL_PUBSUB ? "pubsub" : "normal", l->hard, l->soft, l->soft_seconds);
    STAT_INC(w, output_closed);
    client_close(c);
    return 1;
}

/* Redis writes the replies to what one read brought once all of them are ready (or a command blocks).
 * So does slotgate: while the oldest unanswered request came in the same read as the replies already
 * waiting, and is on its way to a node (no part of it parked; a script, but no other dedicated one), the
 * write waits for the rest; a pipeline whose requests went to several nodes then costs one write, not
 * one per node reply. Bounded by DEFER_OUTPUT_MAX bytes; park_request sets flush_now. */
#define DEFER_OUTPUT_MAX (64 * 1024)
static int output_can_wait(const struct client *c) {
    const struct req *h = c->queue.head;
    return h && h->batch == c->done_batch && !c->flush_now &&
           (h->dedicated == DED_NONE || h->dedicated == DED_SCRIPT) && c->out.pending < DEFER_OUTPUT_MAX &&
           !c->is_closing && !c->streaming && !c->upload && !c->push.pending && !ev_is_active(&c->wio);
}

void client_flush(struct client *c) {
    struct worker *w = c->w;
    int waits = c->out.pending && output_can_wait(c);
    c->flush_now = 0;
    if (c->out.pending && !waits && c->uc) {
        uconn_send(w->uring, c->uc, &c->out); /* counted when it completes (client_ring_sent) */
    } else if (c->out.pending && !waits) {
        ssize_t n = c->ssl ? (c->tls_buffers = 1, tls_chain_write(&w->pool, &c->out, c->ssl))
                           : chain_write(&w->pool, &c->out, c->fd);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            client_close(c);
            return;
        }
        if (n > 0) {
            STAT_INC(w, writes);
            STAT_ADD(w, net_out, n);
        }
    }
    if ((c->out.pending || c->early.pending || c->push.pending) && over_output_limit(c)) return;
    if (c->streaming && c->out.pending < 256 * 1024) {
        struct backend *b = c->streaming;
        c->streaming = NULL;
        backend_stream_resume(b);
    }
    if (c->uc) {
        if (c->eof_seen && !c->uc->send_inflight) { /* its end came: what was ready went */
            client_close(c);
            return;
        }
        if (c->out.pending && !waits) return; /* the ring sends it: this runs again when it has */
    } else if ((c->out.pending && !waits) || c->tls_read_wants_write) {
        if (!ev_is_active(&c->wio)) ev_io_start(w->loop, &c->wio);
        if (c->out.pending && !waits) return;
    } else if (ev_is_active(&c->wio)) {
        ev_io_stop(w->loop, &c->wio);
    }
    if (c->is_closing && !c->queue.head) {
        client_close(c);
        return;
    }
    if (c->is_paused && !c->is_closing && c->nqueued < MAX_QUEUED / 2) {
        c->is_paused = 0;
        client_reading(c, 1);
        client_process(c);
        if (c->is_closed) return;
    }
    if (c->resume_parse && !c->is_closing) { /* an upload's wait is over */
        c->resume_parse = 0;
        if (!c->is_paused && !c->upload_paused && !c->upload_wait) client_reading(c, 1);
        client_process(c);
    }
}

/* A TLS client's handshake, a step each time its socket is ready; its watchers follow what OpenSSL waits
 * for. Timed out by the worker (tls-handshake-timeout-ms). */
static void client_handshake(struct client *c) {
    struct worker *w = c->w;
    char why[300];
    int rc = tls_handshake(c->ssl, why, sizeof(why));
    if (rc == TLS_FAILED) {
        log_verbose("worker %d: TLS client %s: %s", w->id, c->addr, why);
        STAT_INC(w, tls_handshake_failed);
        client_close(c);
        return;
    }
    if (rc == TLS_WANT_WRITE) {
        if (!ev_is_active(&c->wio)) ev_io_start(w->loop, &c->wio);
        return;
    }
    if (ev_is_active(&c->wio)) ev_io_stop(w->loop, &c->wio);
    if (rc == TLS_WANT_READ) return;
    c->tls_handshaking = 0;
    STAT_INC(w, tls_handshakes);
    if (c->tls_deny) { /* Redis, too, says it over TLS once the handshake is done */
        if (SSL_write(c->ssl, c->tls_deny, (int)strlen(c->tls_deny)) <= 0) ERR_clear_error();
        client_close(c);
        return;
    }
    if (log_enabled(LOG_DEBUG)) {
        char d[128];
        tls_describe(c->ssl, d, sizeof(d));
        log_debug("worker %d: TLS client %s: %s", w->id, c->addr, d);
    }
    if (tls_has_pending(c->ssl)) client_read(c); /* its first command came with the handshake's end */
}

static void on_client_io(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    struct client *c = io->data;
    if (__builtin_expect(c->ssl != NULL, 0)) {
        if (c->tls_handshaking) {
            client_handshake(c);
            return;
        }
        if (c->tls_read_wants_write && (revents & EV_WRITE)) {
            c->tls_read_wants_write = 0;
            revents |= EV_READ;
        }
    }
    if (revents & EV_WRITE) {
        client_flush(c);
        if (c->is_closed) return;
    }
    if (revents & EV_READ) client_read(c);
}
