/* Backend connections: pooled, pipelined connections from one worker to one cluster node, shared by
 * all of the worker's clients. Commands are appended to the connection's output chain and written
 * once per loop turn; replies are framed by the RESP scanner and matched to the in-flight FIFO in
 * order, which Redis guarantees on one connection (what each reply means for its request: backreply.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/dns.h"
#include "../lib/log.h"
#include "../lib/tls.h"
#include "dedicated.h"
#include "upload.h"
#include "../lib/uring.h"
#include "worker.h"
#include "../router/reply.h"
#include "scripts.h"

#define BACKOFF_MIN 0.05
#define BACKOFF_MAX 1.0

static const char ASKING_CMD[] = "*1\r\n$6\r\nASKING\r\n";

static void on_backend_io(struct ev_loop *loop, ev_io *io, int revents);
static void on_backend_timer(struct ev_loop *loop, ev_timer *t, int revents);

struct req *backend_take_head(struct backend *b) {
    struct req *r = FIFO_POP(&b->inflight, lnext);
    if (r) b->ninflight--;
    return r;
}

static void node_failed(struct worker *w, struct node *n, const char *why) {
    snprintf(n->last_error, sizeof(n->last_error), "%s", why);
    n->backoff = n->backoff < BACKOFF_MIN ? BACKOFF_MIN : n->backoff * 2;
    if (n->backoff > BACKOFF_MAX) n->backoff = BACKOFF_MAX;
    n->down_until = worker_now(w) + n->backoff;
}

static void append_setup(struct backend *b, const char *cmd) {
    if (chain_append(&b->w->pool, &b->out, cmd, strlen(cmd)) == 0) {
        b->appended += strlen(cmd);
        b->setup_replies++;
    }
}

/* Routes by prefix: the node's backend's settings (the top-level ones for the default backend). */
static const struct conf_backend *backend_of(const struct backend *b) {
    int i = b->node->backend;
    return i > 0 && i <= b->w->conf->nbackends ? &b->w->conf->backends[i - 1] : NULL;
}

static void append_auth(struct backend *b) {
    const struct conf *c = b->w->conf;
    const struct conf_backend *x = backend_of(b);
    const char *user = x ? x->backend_user : c->backend_user, *pass = x ? x->backend_password : c->backend_password;
    char buf[1024];
    int n;
    if (!pass) return;
    if (user)
        n = snprintf(buf, sizeof(buf), "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(user), user,
                     strlen(pass), pass);
    else
        n = snprintf(buf, sizeof(buf), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", strlen(pass), pass);
    if (n > 0 && n < (int)sizeof(buf) && chain_append(&b->w->pool, &b->out, buf, (size_t)n) == 0) {
        b->appended += (uint64_t)n;
        b->setup_replies++;
    }
}

/* Opens the socket and starts connecting to one of the node's addresses (the next one each time, so
 * a name with several addresses has each tried in turn). 0, or -1 with the reason in why. */
static int open_conn(struct backend *b, const struct dns_addrs *a, char *why, size_t whylen) {
    struct node *n = b->node;
    unsigned i = n->addr_rr++ % (unsigned)a->n;
    const struct sockaddr_storage *ss = &a->addr[i];
    socklen_t sl = a->len[i];
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return snprintf(why, whylen, "%s", strerror(errno)), -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)ss, sl) < 0 && errno != EINPROGRESS) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    b->fd = fd;
    ev_io_set(&b->rio, fd, EV_READ);
    ev_io_set(&b->wio, fd, EV_WRITE);
    ev_io_start(b->w->loop, &b->wio);
    return 0;
}

static void resolving_unlink(struct backend *b) {
    for (struct backend **pp = &b->w->resolving; *pp; pp = &(*pp)->rnext) {
        if (*pp == b) {
            *pp = b->rnext;
            break;
        }
    }
    b->rnext = NULL;
    b->is_resolving = 0;
}

/* A lookup finished somewhere: connections waiting for a name try again (worker.c calls this from the
 * resolver's wake-up). */
void backend_names_resolved(struct worker *w) {
    struct backend *list = w->resolving, *next;
    w->resolving = NULL;
    for (struct backend *b = list; b; b = next) {
        next = b->rnext;
        b->rnext = NULL;
        b->is_resolving = 0;
        struct dns_addrs a;
        char why[128], err[96];
        int rc = dns_lookup(b->node->host, b->node->port, -1, &a, err, sizeof(err));
        if (rc == DNS_PENDING) { /* not this name's answer yet */
            b->rnext = w->resolving;
            w->resolving = b;
            b->is_resolving = 1;
            continue;
        }
        if (rc == DNS_FAILED)
            snprintf(why, sizeof(why), "cannot resolve host name: %s", err);
        else if (open_conn(b, &a, why, sizeof(why)) == 0)
            continue;
        backend_close(b, why, 1);
    }
}

struct backend *backend_connect(struct worker *w, struct node *n, struct backend **home, struct client *client,
                                int dedicated, int readonly, int resp3) {
    struct dns_addrs a;
    char err[96], why[128];
    int rc = dns_lookup(n->host, n->port, -1, &a, err, sizeof(err));
    if (rc == DNS_FAILED) {
        snprintf(why, sizeof(why), "cannot resolve host name: %s", err);
        node_failed(w, n, why);
        return NULL;
    }
    struct backend *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->w = w;
    b->node = n;
    b->fd = -1;
    ev_io_init(&b->rio, on_backend_io, -1, EV_READ);
    ev_io_init(&b->wio, on_backend_io, -1, EV_WRITE);
    b->rio.data = b->wio.data = b;
    /* A listener's invalidations are read before anything else of the same loop turn: the node wrote
     * them before the replies to the writes that caused them, so no read that came after such a reply
     * is taken for one the change could have made stale (tracking.c). */
    if (dedicated == DED_TRACK) ev_set_priority(&b->rio, EV_MAXPRI);
    if (rc == DNS_OK && open_conn(b, &a, why, sizeof(why)) < 0) {
        node_failed(w, n, why);
        free(b);
        return NULL;
    }
    if (rc == DNS_PENDING) { /* the name's answer is on its way: requests queue as while connecting */
        b->is_resolving = 1;
        b->rnext = w->resolving;
        w->resolving = b;
    }
    b->home = home;
    b->client = client;
    n->nrefs++;
    CTR_INC(n->ctr, connections);
    b->dedicated = dedicated;
    b->state = BE_CONNECTING;
    chain_init(&b->out);
    b->resp3 = resp3;
    resp_scanner_init_proto(&b->scan, w->conf->proto_max_bulk_len, resp3);
    ev_init(&b->timer, on_backend_timer);
    b->timer.data = b;
    ev_timer_set(&b->timer, w->conf->connect_timeout_ms / 1000.0, 0);
    ev_timer_start(w->loop, &b->timer);
    append_auth(b);
    if (resp3) append_setup(b, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"); /* after AUTH: HELLO needs it */
    /* replica reads: it serves its master's slots (outside a cluster a replica serves reads as it is) */
    if (readonly && (backend_of(b) ? backend_of(b)->kind : w->conf->backend_kind) == KIND_CLUSTER)
        append_setup(b, "*1\r\n$8\r\nREADONLY\r\n");
    if (dedicated == DED_TRACK) append_setup(b, "*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n");
    if (home) *home = b;
    log_debug("worker %d: connecting to %s%s", w->id, n->addr, rc == DNS_PENDING ? " (resolving its name)" : "");
    return b;
}

struct backend *backend_pool_open(struct worker *w, struct node *n, int kind, int i) {
    struct backend ***pool = &n->pools[kind];
    if (!*pool && !(*pool = calloc(NODE_MAX_CONNS, sizeof(**pool)))) return NULL;
    if ((*pool)[i]) return (*pool)[i];
    int readonly = kind == POOL_RESP2_RO || kind == POOL_RESP3_RO, resp3 = kind >= POOL_RESP3;
    return backend_connect(w, n, &(*pool)[i], NULL, DED_NONE, readonly, resp3);
}

static void arm_deadline(struct backend *b) {
    if (b->state != BE_READY || !b->inflight.head || ev_is_active(&b->timer)) return;
    double left = b->inflight.head->expires - worker_now(b->w);
    ev_timer_set(&b->timer, left > 0 ? left : 0, 0);
    ev_timer_start(b->w->loop, &b->timer);
}

int backend_send(struct backend *b, struct req *r, const char *p, size_t len) {
    struct worker *w = b->w;
    struct cref pinned;
    if (r->asking) {
        if (chain_append(&w->pool, &b->out, ASKING_CMD, sizeof(ASKING_CMD) - 1) < 0) return -1;
        b->appended += sizeof(ASKING_CMD) - 1;
    }
    if (p && r->xform == XFORM_UPLOAD) { /* never sent again (upload.c): not pinned, so its chunks go as written */
        if (chain_append(&w->pool, &b->out, p, len) < 0) return -1;
        pinned = (struct cref){0};
    } else if (p) {
        if (chain_append_pinned(&w->pool, &b->out, p, len, &pinned) < 0) return -1;
    } else {
        if (chain_copy(&w->pool, &b->out, &r->cmd, &pinned) < 0) return -1;
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
    }
    r->cmd = pinned;
    r->cmd_chain = pinned.chunk ? &b->out : NULL;
    b->appended += p ? len : pinned.len;
    if (__builtin_expect(r->load_counted && !pinned.len, 0)) /* an upload: its bytes are not pinned to count later */
        slotload_add(w->load, r->slot, SL_BYTES_IN, (p ? len : 0) * w->load_sample.every);
    r->out_end = b->appended;
    r->sent_at = worker_now(w);
    r->expires =
        r->timeout < 0 ? 1e300 : r->sent_at + (r->timeout > 0 ? r->timeout : w->conf->command_timeout_ms / 1000.0);
    r->state = REQ_SENT;
    r->group_skip = r->group_n; /* a group sent again expects all its replies again */
    FIFO_PUSH(&b->inflight, r, lnext);
    b->ninflight++;
    arm_deadline(b);
    worker_mark_backend(w, b);
    return 0;
}

/* Bytes with no request waiting for their reply (pub/sub commands: their replies are pushed). */
int backend_send_raw(struct backend *b, const char *p, size_t len) {
    if (chain_append(&b->w->pool, &b->out, p, len) < 0) return -1;
    b->appended += len;
    worker_mark_backend(b->w, b);
    return 0;
}

static void backend_process(struct backend *b);

void backend_reading(struct backend *b, int on) { worker_reading(b->w, b->uc, &b->rio, on); }

void backend_flush(struct backend *b) {
    if (b->state != BE_READY) return;
    if (b->reprocess) { /* io_uring: a stream resumed with bytes that came while it was paused */
        b->reprocess = 0;
        backend_process(b);
        if (b->state != BE_READY) return;
    }
    if (b->uc) {
        uconn_send(b->w->uring, b->uc, &b->out); /* counted when it completes (backend_ring_sent) */
        return;
    }
    if (b->out.pending) {
        ssize_t n = b->ssl ? tls_chain_write(&b->w->pool, &b->out, b->ssl) : chain_write(&b->w->pool, &b->out, b->fd);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            backend_close(b, strerror(errno), 1);
            return;
        }
        if (n > 0) b->written += (uint64_t)n;
        if (b->client) upload_node_drained(b);
    }
    int want = b->out.pending || b->tls_read_wants_write;
    if (want && !ev_is_active(&b->wio))
        ev_io_start(b->w->loop, &b->wio);
    else if (!want && ev_is_active(&b->wio))
        ev_io_stop(b->w->loop, &b->wio);
}

/* Fails or re-plans everything in flight, then forgets the connection; the node backs off before the
 * next attempt. A request already written may have been executed, so it gets an error; one not yet
 * written is parked and re-routed once the slot map says where its slot lives now. */
void backend_close(struct backend *b, const char *why, int fail_written) {
    struct worker *w = b->w;
    struct node *n = b->node;
    if (b->state == BE_CLOSED) return;
    struct client *client = b->client;
    int was_ready = b->state == BE_READY;
    if (b->close_when_idle && !b->inflight.head) {
        log_debug("worker %d: dedicated connection to %s released", w->id, n->addr);
    } else {
        log_notice("worker %d: connection to node %s %s: %s", w->id, n->addr, was_ready ? "lost" : "failed", why);
        if (!b->client) node_failed(w, n, why);
    }
    if (b->client) dedicated_detach(b);
    if (b->dedicated == DED_TRACK) tracking_listener_lost(b);
    if (b->is_resolving) resolving_unlink(b);
    if (!was_ready && !b->close_when_idle) dns_forget(n->host); /* the name may point elsewhere now */
    ev_io_stop(w->loop, &b->rio);
    ev_io_stop(w->loop, &b->wio);
    ev_timer_stop(w->loop, &b->timer);
    if (b->ssl) tls_close(b->ssl), b->ssl = NULL;
    if (b->uc)
        uconn_close(w->uring, b->uc); /* closes the descriptor */
    else if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->state = BE_CLOSED;
    CTR_ADD(n->ctr, connections, -1);
    if (b->home && *b->home == b) *b->home = NULL;
    b->home = NULL;
    if (client && client->upload) /* part of a command went out: the rest of it cannot be parsed */
        client_close(client);
    if (b->stream) { /* its client has part of a reply: nothing can follow that */
        struct req *sr = b->stream;
        b->stream = NULL;
        if (sr->client) sr->client->streaming = NULL, client_close(sr->client);
        req_free(w, sr);
    }
    struct req_fifo lost = b->inflight; /* taken whole: what follows may send on other connections */
    b->inflight = (struct req_fifo){0};
    b->ninflight = 0;
    for (struct req *r; (r = FIFO_POP(&lost, lnext));) {
        r->asking = 0;
        if (b->dedicated != DED_NONE)
            CTR_INC(n->ctr, errors),
                req_reply_error(w, r, "ERR slotgate: connection to node %s lost (%s)", n->addr, why);
        else if (fail_written && b->written >= r->out_end && !r->is_readonly)
            CTR_INC(n->ctr, errors),
                req_reply_error(w, r,
                                "ERR slotgate: connection to node %s lost (%s); the command may have been applied",
                                n->addr, why);
        else
            park_request(w, r, NULL, 0, worker_now(w));
    }
    if (!b->close_when_idle)
        worker_request_refresh(w, b->node->backend > 0 ? b->node->backend : 0, "backend connection error");
    worker_mark_backend(w, b); /* freed at the next flush, once no caller holds it */
}

void backend_free(struct backend *b) {
    struct worker *w = b->w;
    if (b->state != BE_CLOSED) {
        ev_io_stop(w->loop, &b->rio);
        ev_io_stop(w->loop, &b->wio);
        ev_timer_stop(w->loop, &b->timer);
        if (b->is_resolving) resolving_unlink(b);
        if (b->ssl) tls_close(b->ssl), b->ssl = NULL;
        if (b->uc)
            uconn_close(w->uring, b->uc);
        else if (b->fd >= 0)
            close(b->fd);
        b->state = BE_CLOSED;
        CTR_ADD(b->node->ctr, connections, -1);
        if (b->home && *b->home == b) *b->home = NULL;
        if (b->client) dedicated_detach(b);
    }
    for (struct req *r; (r = FIFO_POP(&b->inflight, lnext));) req_free(w, r);
    if (b->stream) {
        if (b->stream->client) b->stream->client->streaming = NULL;
        req_free(w, b->stream);
        b->stream = NULL;
    }
    if (b->uc) {
        if (w->uring && (b->uc->ops || b->uc->queued)) { /* the kernel holds it: backend_ring_gone frees */
            if (!b->free_when_gone) {
                b->free_when_gone = 1;
                b->zprev = NULL;
                b->znext = w->zombie_backends;
                if (w->zombie_backends) w->zombie_backends->zprev = b;
                w->zombie_backends = b;
            }
            return;
        }
        if (b->free_when_gone) {
            if (b->zprev)
                b->zprev->znext = b->znext;
            else
                w->zombie_backends = b->znext;
            if (b->znext) b->znext->zprev = b->zprev;
        }
        free(b->uc);
    }
    chain_free(&w->pool, &b->out);
    ibuf_free(&w->pool, &b->in);
    sbuf_free(&b->pushed);
    struct node *n = b->node;
    free(b);
    worker_node_release(w, n);
}

/* A bulk reply of STREAM_MIN bytes or more for a request at the head of its client's queue is passed on
 * as it arrives instead of being gathered first: slotgate holds at most a read buffer of it. Returns 1
 * when such a reply starts at the front of the input. */
static int stream_start(struct backend *b) {
    struct worker *w = b->w;
    struct req *r = b->inflight.head;
    const char *p = b->in.data + b->in.start;
    size_t avail = ibuf_len(&b->in), digits = 1;
    if (avail < 9 || p[0] != '$') return 0;
    while (digits < 8 && p[digits] >= '0' && p[digits] <= '9') digits++;
    if (digits < 7) return 0; /* fewer than 6 digits: under STREAM_MIN, the common case ends here */
    if (!r || b->setup_replies || b->dedicated == DED_PUBSUB || r->asking || r->parent || r->xform != XFORM_NONE ||
        (r->client && r->client->queue.head != r))
        return 0;
    const char *crlf = memchr(p, '\r', avail < 24 ? avail : 24);
    long long n;
    if (!crlf || (size_t)(crlf - p) + 2 > avail || resp_parse_ll(p + 1, (size_t)(crlf - p - 1), &n) < 0 ||
        n < STREAM_MIN || n > w->conf->proto_max_bulk_len)
        return 0;
    backend_take_head(b);
    CTR_INC(b->node->ctr, requests);
    b->stream = r;
    b->stream_left = (uint64_t)(crlf - p) + 2 + (uint64_t)n + 2;
    if (r->load_counted) slotload_reply(w->load, r->slot, w->load_sample.every, r->cmd.len, b->stream_left);
    resp_scanner_init_proto(&b->scan, w->conf->proto_max_bulk_len, b->resp3); /* it resumes at the next reply */
    req_stream_begin(w, r, n);
    return 1;
}

/* The client of a paused stream has written most of it out: read the node again. */
void backend_stream_resume(struct backend *b) {
    if (b->state != BE_READY) return;
    backend_reading(b, 1);
    if (b->uc && ibuf_len(&b->in)) b->reprocess = 1, worker_mark_backend(b->w, b); /* what came meanwhile */
}

/* Passes on what has arrived of the reply being streamed; ends it once complete. */
static void stream_forward(struct backend *b) {
    struct worker *w = b->w;
    size_t n = ibuf_len(&b->in);
    if (n > b->stream_left) n = (size_t)b->stream_left;
    struct req *r = b->stream;
    req_stream_data(w, r, b->in.data + b->in.start, n);
    ibuf_consume(&w->pool, &b->in, n);
    b->stream_left -= n;
    struct client *c = r->client;
    if (b->stream_left) {
        if (!c || c->out.pending <= STREAM_BUFFER) return;
        if (b->dedicated != DED_NONE) {
            /* The client's own connection: stop reading the node until the client has taken most of
             * it (client_flush resumes), so slotgate holds about STREAM_BUFFER of the reply at most. */
            backend_reading(b, 0);
            c->streaming = b;
        } else if ((long long)c->out.pending > w->conf->client_max_pending_bytes) {
            /* A shared connection is never paused for one client: one that cannot keep up goes. */
            log_notice("worker %d: closing client %s: %zu bytes of replies unread (client-max-pending-bytes)", w->id,
                       c->addr, c->out.pending);
            client_close(c);
        }
        return;
    }
    b->stream = NULL;
    if (c) c->streaming = NULL;
    req_stream_end(w, r);
    if (b->close_when_idle && !b->inflight.head) backend_close(b, "released", 0);
}

/* TLS: everything the library took off the socket is read out (the loop cannot see it). recv's contract,
 * b->in grown. */
static ssize_t backend_read_tls(struct backend *b) {
    struct worker *w = b->w;
    ssize_t total = 0;
    for (;;) {
        int want_write = 0;
        ssize_t n = tls_read(b->ssl, b->in.data + b->in.end, b->in.cap - b->in.end, &want_write);
        if (want_write && !b->tls_read_wants_write) {
            b->tls_read_wants_write = 1;
            ev_io_start(w->loop, &b->wio);
        }
        if (n <= 0) return total ? total : n;
        b->in.end += (size_t)n;
        total += n;
        if (!tls_has_pending(b->ssl)) return total;
        if (ibuf_reserve(&w->pool, &b->in, 16 * 1024, 0) < 0) return errno = ENOMEM, -1;
    }
}

static void backend_read(struct backend *b) {
    struct worker *w = b->w;
    if (ibuf_reserve(&w->pool, &b->in, 16 * 1024, 0) < 0) {
        backend_close(b, "out of memory", 1);
        return;
    }
    ssize_t n = b->ssl ? backend_read_tls(b) : recv(b->fd, b->in.data + b->in.end, b->in.cap - b->in.end, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        backend_close(b, n == 0 ? "connection closed by the node" : strerror(errno), 1);
        return;
    }
    if (n < 0) return;
    if (!b->ssl) b->in.end += (size_t)n;
    backend_process(b);
}

/* Every complete reply in b->in, or the part of a streamed one. */
static void backend_process(struct backend *b) {
    struct worker *w = b->w;
    w->answering = b->node; /* every reply read here is this node's (SLOWLOG names it) */
    for (;;) {
        if (b->stream || stream_start(b)) {
            stream_forward(b);
            if (b->stream || b->state == BE_CLOSED) break;
            continue;
        }
        size_t rlen;
        char err[RESP_ERR_LEN];
        int rc = resp_scan_reply(&b->scan, b->in.data + b->in.start, ibuf_len(&b->in), &rlen, err, sizeof(err));
        if (rc == RESP_AGAIN) break;
        if (rc == RESP_ERROR) {
            char why[160];
            snprintf(why, sizeof(why), "protocol error from the node: %s", err);
            /* The request at the head got the bad reply: it fails now, not retried into the next
             * connection; the others in flight are handled as for any lost connection. */
            struct req *r = b->setup_replies ? NULL : b->inflight.head;
            if (r) {
                backend_take_head(b);
                CTR_INC(b->node->ctr, errors);
                req_reply_error(w, r, "ERR slotgate: node %s sent a reply that is not RESP (%s)", b->node->addr, err);
            }
            backend_close(b, why, 1);
            break;
        }
        backend_handle_reply(b, b->in.data + b->in.start, rlen);
        if (b->state == BE_CLOSED) break;
        ibuf_consume(&w->pool, &b->in, rlen);
    }
    w->answering = NULL;
    if (b->state == BE_CLOSED) return;
    if (ibuf_len(&b->in) == 0) ibuf_free(&w->pool, &b->in);
}

static void became_ready(struct backend *b);

/* io_uring: bytes from the node (n > 0), its end (0) or an error (< 0). */
static void backend_ring_data(void *owner, const char *p, ssize_t n) {
    struct backend *b = owner;
    struct worker *w = b->w;
    if (n <= 0) {
        backend_close(b, n == 0 ? "connection closed by the node" : strerror((int)-n), 1);
        return;
    }
    if (ibuf_reserve(&w->pool, &b->in, (size_t)n, 0) < 0) {
        backend_close(b, "out of memory", 1);
        return;
    }
    memcpy(b->in.data + b->in.end, p, (size_t)n);
    b->in.end += (size_t)n;
    if (b->stream && b->stream->client && b->stream->client->streaming == b) return; /* paused: kept */
    backend_process(b);
}

static void backend_ring_sent(void *owner, ssize_t n) {
    struct backend *b = owner;
    if (n < 0) {
        backend_close(b, strerror((int)-n), 1);
        return;
    }
    chain_advance(&b->w->pool, &b->out, (size_t)n);
    b->written += (uint64_t)n;
    if (b->client) upload_node_drained(b);
    if (b->out.pending) worker_mark_backend(b->w, b);
}

static void backend_ring_gone(void *owner) {
    struct backend *b = owner;
    if (b->free_when_gone) backend_free(b);
}

/* tls-cluster: the handshake, a step each time the socket is ready, within the connect timeout. */
static void backend_handshake(struct backend *b) {
    char why[300];
    int rc = tls_handshake(b->ssl, why, sizeof(why));
    if (rc == TLS_FAILED) {
        backend_close(b, why, 1);
        return;
    }
    if (rc == TLS_WANT_WRITE) {
        if (!ev_is_active(&b->wio)) ev_io_start(b->w->loop, &b->wio);
        return;
    }
    if (ev_is_active(&b->wio)) ev_io_stop(b->w->loop, &b->wio);
    if (!ev_is_active(&b->rio)) ev_io_start(b->w->loop, &b->rio);
    if (rc == TLS_DONE) became_ready(b);
}

static void on_connected(struct backend *b) {
    int err = 0;
    socklen_t sl = sizeof(err);
    if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0) err = errno;
    if (err) {
        backend_close(b, strerror(err), 1);
        return;
    }
    if (b->w->conf->tls_cluster) {
        if (!(b->ssl = tls_new(TLS_CLIENT, b->fd, b->node->host))) {
            backend_close(b, "cannot start TLS (out of memory)", 1);
            return;
        }
        b->state = BE_HANDSHAKE;
        backend_handshake(b);
        return;
    }
    became_ready(b);
}

static void became_ready(struct backend *b) {
    b->state = BE_READY;
    b->node->backoff = 0;
    b->node->last_error[0] = '\0';
    ev_timer_stop(b->w->loop, &b->timer);
    if (b->w->uring && !b->ssl && (b->uc = malloc(sizeof(*b->uc)))) { /* the ring reads and writes it from now */
        static const struct uconn_cb cb = {backend_ring_data, backend_ring_sent, backend_ring_gone};
        uconn_init(b->uc, b->fd, b, &cb);
        ev_io_stop(b->w->loop, &b->wio);
    }
    backend_reading(b, 1);
    log_verbose("worker %d: connected to %s", b->w->id, b->node->addr);
    arm_deadline(b);
    backend_flush(b);
}

static void on_backend_io(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    struct backend *b = io->data;
    if (__builtin_expect(b->ssl != NULL, 0)) {
        if (b->state == BE_HANDSHAKE) {
            backend_handshake(b);
            return;
        }
        if (b->tls_read_wants_write && (revents & EV_WRITE)) {
            b->tls_read_wants_write = 0;
            revents |= EV_READ;
        }
    }
    if (revents & EV_WRITE) {
        if (b->state == BE_CONNECTING)
            on_connected(b);
        else
            backend_flush(b);
        if (b->state == BE_CLOSED) return;
    }
    if (revents & EV_READ) backend_read(b);
}

static void on_backend_timer(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    struct backend *b = t->data;
    struct worker *w = b->w;
    char why[96];
    if (b->state == BE_CONNECTING || b->state == BE_HANDSHAKE) {
        snprintf(why, sizeof(why), "%s timed out after %d ms",
                 b->is_resolving            ? "name resolution"
                 : b->state == BE_HANDSHAKE ? "TLS handshake"
                                            : "connect",
                 w->conf->connect_timeout_ms);
        backend_close(b, why, 1);
        return;
    }
    if (!b->inflight.head) return;
    double due = b->inflight.head->sent_at + w->conf->command_timeout_ms / 1000.0;
    if (worker_now(w) < due) {
        arm_deadline(b);
        return;
    }
    /* The oldest request is overdue: the node is stalled. Replies on this connection can no longer be
     * matched to anything we could still deliver in time, so the connection goes. */
    STAT_INC(w, timeouts);
    snprintf(why, sizeof(why), "no reply within %d ms", w->conf->command_timeout_ms);
    backend_close(b, why, 1);
}
