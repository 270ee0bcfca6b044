/* See migrate.h. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../router/merge.h"
#include "../router/reply.h"
#include "../router/slot.h"
#include "worker.h"

#define MIGRATE_TIMEOUT_MS  1000  /* how long the old node may wait for the new one per copy */
#define MIRROR_MAX_INFLIGHT 10000 /* per worker: a mirror that stopped answering holds no more than this */

/* A write during a migration: the keys it names (as the backends name them), its reply while they are
 * copied. */
struct migop {
    int old, nb; /* the old and the new backend, as the route said when the write came */
    int pending; /* copies not yet done */
    int held;    /* 1: the reply is in reply, waiting; 2: being delivered */
    int nkeys;
    struct sbuf reply;
    struct sbuf keys; /* the keys, one after the other */
    struct {
        uint32_t off, len;
    } * k;
};

/* At most one warning a second per worker: a new backend that is down would otherwise log each write. */
#define warn_rate_limited(w, ...)                                                                                      \
    do {                                                                                                               \
        double now_ = worker_now(w);                                                                                   \
        if (now_ - (w)->mig_warned >= 1) (w)->mig_warned = now_, log_warning(__VA_ARGS__);                             \
    } while (0)

static const struct prefix_route *migrating_route(const struct worker *w) {
    const struct prefix_table *t = w->shared.prefixes;
    return t && t->migrating >= 0 ? &t->routes[t->migrating] : NULL;
}

static int one_node(const struct worker *w, int backend) { return (w->one_node >> backend) & 1; }

static int slot_on(const struct worker *w, int backend, const char *key, size_t len) {
    return one_node(w, backend) ? 0 : (int)slot_for_key(key, len);
}

/* A request of slotgate's own: no client, its reply seen by migrate_hook. */
static struct req *internal_req(struct worker *w, int kind, int backend, int slot, double deadline) {
    struct req *r = req_new(w);
    if (!r) return NULL;
    double now = worker_now(w);
    r->hook = 1;
    r->internal = (uint8_t)kind;
    r->backend = (uint8_t)backend;
    r->slot = slot;
    r->started = now;
    r->deadline = deadline;
    return r;
}

/* ---- mirroring ---- */

void mirror_send(struct worker *w, const struct plan *p, const struct resp_request *q, const char *cmd) {
    const struct prefix_route *route = &w->shared.prefixes->routes[p->mirror_route];
    if (route->mirror_percent > 0 && route->mirror_percent < 100) { /* exactly that share, spread evenly */
        w->mirror_acc += route->mirror_percent;
        if (w->mirror_acc < 100) return;
        w->mirror_acc -= 100;
    }
    int b = route->mirror - 1, slot = -1;
    for (int i = 0; i < p->nkeys; i++) { /* the mirror's slot: every key in one, or it cannot take it whole */
        int k = p->keys[i];
        size_t strip = p->kstrip[i];
        int s = slot_on(w, b, resp_request_arg(q, cmd, (uint32_t)k) + strip, q->argv[k].len - strip);
        if (slot >= 0 && s != slot) {
            STAT_INC(w, mirror_dropped); /* cross-slot on a cluster mirror: one command there cannot take it */
            return;
        }
        slot = s;
    }
    size_t len;
    const char *bytes = encode_stripped(q, cmd, p, &w->tmp.mirror, &len);
    struct req *r = bytes && slot >= 0 && w->mirror_inflight < MIRROR_MAX_INFLIGHT
                        ? internal_req(w, INT_MIRROR, b, slot, worker_now(w))
                        : NULL;
    if (!r) {
        STAT_INC(w, mirror_dropped);
        return;
    }
    r->resp3 = 0;
    w->mirror_inflight++;
    STAT_INC(w, mirror_sent);
    route_request(w, r, NULL, bytes, len); /* deadline now: an unreachable mirror answers an error at once */
}

static void mirror_reply(struct worker *w, struct req *r, const char *reply) {
    w->mirror_inflight--;
    if (reply[0] == '-')
        STAT_INC(w, mirror_errors);
    else
        STAT_INC(w, mirror_replies);
    STAT_ADD(w, mirror_latency_us, (worker_now(w) - r->started) * 1e6);
}

/* ---- migration: writes ---- */

void migrate_free(struct req *r) {
    struct migop *m = r->mig;
    if (!m) return;
    sbuf_free(&m->reply);
    sbuf_free(&m->keys);
    free(m->k);
    free(m);
    r->mig = NULL;
}

int migrate_prepare(struct worker *w, struct req *r, const struct plan *p, const struct resp_request *q,
                    const char *cmd) {
    const struct prefix_route *route = migrating_route(w);
    if (!route) return 0;
    if (!(p->cmd->flags & CMD_WRITE)) {        /* a read: to the new backend, to the old one on a miss */
        if (p->route == ROUTE_SPLIT) return 0; /* its parts are marked (migrate_prepare_part) */
        int old = route->backend, slot = -1;
        for (int i = 0; i < p->nkeys; i++) {
            int k = p->keys[i];
            size_t strip = p->kstrip[i];
            int s = slot_on(w, old, resp_request_arg(q, cmd, (uint32_t)k) + strip, q->argv[k].len - strip);
            if (!p->kmig[i] || (slot >= 0 && s != slot)) return 0; /* not all its keys, or not one slot there */
            slot = s;
        }
        r->hook = 1;
        r->xform = XFORM_MIGREAD;
        r->alt_slot = (uint16_t)slot;
        r->alt_backend = (uint8_t)old;
        STAT_INC(w, mig_reads);
        return 0;
    }
    struct migop *m = calloc(1, sizeof(*m));
    if (!m || !(m->k = calloc((size_t)p->nkeys, sizeof(*m->k)))) {
        free(m);
        return -1;
    }
    for (int i = 0; i < p->nkeys; i++) {
        if (!p->kmig[i]) continue;
        int k = p->keys[i];
        size_t strip = p->kstrip[i];
        m->k[m->nkeys].off = (uint32_t)m->keys.len;
        m->k[m->nkeys].len = (uint32_t)(q->argv[k].len - strip);
        if (sbuf_add(&m->keys, resp_request_arg(q, cmd, (uint32_t)k) + strip, q->argv[k].len - strip) < 0) {
            r->mig = m;
            migrate_free(r);
            return -1;
        }
        m->nkeys++;
    }
    m->old = route->backend;
    m->nb = route->migrate_to - 1;
    r->mig = m;
    r->hook = 1;
    STAT_INC(w, mig_writes);
    return 0;
}

/* The backend's credentials, as MIGRATE passes them on (AUTH2 user pass, or AUTH pass). */
static void backend_auth(const struct worker *w, int b, const char **user, const char **pass) {
    const struct conf *c = w->conf;
    *user = b ? c->backends[b - 1].backend_user : c->backend_user;
    *pass = b ? c->backends[b - 1].backend_password : c->backend_password;
}

static void copy_done(struct worker *w, struct req *owner);

/* Sends step `kind` for key i of owner's write: INT_COPY/INT_RECOPY (MIGRATE on the old backend's
 * node, to the new backend's owner of the key) or INT_DEL (DEL on the new backend). */
static void copy_step(struct worker *w, struct req *owner, int i, int kind) {
    struct migop *m = owner->mig;
    const char *key = m->keys.p + m->k[i].off;
    size_t klen = m->k[i].len;
    int old = m->old, nb = m->nb; /* as when the write came: a cut-over meanwhile still sees it copied */
    struct sbuf *b = &w->tmp.mirror;
    b->len = 0;
    int rc, target = kind == INT_DEL ? nb : old;
    if (kind == INT_DEL) {
        rc = sbuf_add_header(b, '*', 2) | sbuf_add_bulk(b, "DEL", 3) | sbuf_add_bulk(b, key, klen);
    } else {
        struct worker_view *v = worker_view_of(w, nb);
        struct node *to = v->map ? v->routes.slot_master[slot_on(w, nb, key, klen)] : NULL;
        if (!to) {
            STAT_INC(w, mig_copy_errors);
            warn_rate_limited(w, "migration: key not copied: the new backend has no master for its slot yet");
            copy_done(w, owner);
            return;
        }
        const char *user, *pass;
        backend_auth(w, nb, &user, &pass);
        char port[16], tmo[16];
        snprintf(port, sizeof(port), "%d", to->port);
        snprintf(tmo, sizeof(tmo), "%d", MIGRATE_TIMEOUT_MS);
        int argc = 8 + (pass ? (user ? 3 : 2) : 0);
        rc = sbuf_add_header(b, '*', (unsigned)argc) | sbuf_add_bulk(b, "MIGRATE", 7) |
             sbuf_add_bulk(b, to->host, strlen(to->host)) | sbuf_add_bulk(b, port, strlen(port)) |
             sbuf_add_bulk(b, key, klen) | sbuf_add_bulk(b, "0", 1) | sbuf_add_bulk(b, tmo, strlen(tmo)) |
             sbuf_add_bulk(b, "COPY", 4) | sbuf_add_bulk(b, "REPLACE", 7);
        if (pass && user)
            rc |= sbuf_add_bulk(b, "AUTH2", 5) | sbuf_add_bulk(b, user, strlen(user)) |
                  sbuf_add_bulk(b, pass, strlen(pass));
        else if (pass)
            rc |= sbuf_add_bulk(b, "AUTH", 4) | sbuf_add_bulk(b, pass, strlen(pass));
    }
    struct req *r = rc == 0 ? internal_req(w, kind, target, slot_on(w, target, key, klen), owner->deadline) : NULL;
    if (!r) {
        STAT_INC(w, mig_copy_errors);
        copy_done(w, owner);
        return;
    }
    r->owner = owner;
    r->child_idx = i;
    route_request(w, r, NULL, b->p, b->len);
}

/* One key of owner's write is copied (or given up): the reply goes once all are. */
static void copy_done(struct worker *w, struct req *owner) {
    struct migop *m = owner->mig;
    if (--m->pending > 0) return;
    m->held = 2;
    req_reply(w, owner, m->reply.p, m->reply.len);
}

static void copy_reply(struct worker *w, struct req *r, const char *reply, size_t len) {
    struct req *owner = r->owner;
    int i = r->child_idx;
    if (reply[0] == '-') {
        STAT_INC(w, mig_copy_errors);
        warn_rate_limited(w, "migration: a written key was not copied to the new backend: %.*s",
                          (int)(len > 200 ? 200 : len - 2), reply + 1);
    } else if (r->internal == INT_COPY && len >= 7 && !memcmp(reply, "+NOKEY", 6)) {
        STAT_INC(w, mig_deletes); /* gone from the old backend: gone from the new one, then copied again */
        copy_step(w, owner, i, INT_DEL);
        return;
    } else if (r->internal == INT_DEL) {
        copy_step(w, owner, i, INT_RECOPY);
        return;
    } else {
        STAT_INC(w, mig_copies);
    }
    copy_done(w, owner);
}

/* ---- migration: the copies of a loop turn's writes, batched ----
 * The keys written in one loop turn that live on one old node (one slot of it, for an old cluster, where
 * a transaction's keys share a slot) and go to one new node are copied by one transaction on the old
 * node: MULTI, EXISTS of each, MIGRATE ... COPY REPLACE KEYS k1 k2 ..., EXEC. The old node runs it at
 * once, so which keys exist and what is copied are one instant's; it is blocked for one round trip to
 * the new node for all of them, not one per key. A key that did not exist goes the single-key way (DEL
 * on the new backend, then MIGRATE once more). */
#define BATCH_MAX 256

struct migbatch {
    struct migbatch *next;
    const struct node *from, *to;
    int from_slot; /* the old backend's slot (an old cluster), or -1 */
    int old, nb;
    int n;
    struct {
        struct req *owner;
        int key;
    } e[BATCH_MAX];
};

static void batch_key(struct worker *w, struct req *owner, int i) {
    struct migop *m = owner->mig;
    const char *key = m->keys.p + m->k[i].off;
    size_t klen = m->k[i].len;
    struct worker_view *ov = worker_view_of(w, m->old), *nv = worker_view_of(w, m->nb);
    int oslot = slot_on(w, m->old, key, klen);
    const struct node *from = ov->map ? ov->routes.slot_master[oslot] : NULL;
    const struct node *to = nv->map ? nv->routes.slot_master[slot_on(w, m->nb, key, klen)] : NULL;
    if (!from || !to) { /* no map yet, or a slot without a master: the single-key way parks and retries */
        copy_step(w, owner, i, INT_COPY);
        return;
    }
    int fslot = one_node(w, m->old) ? -1 : oslot;
    struct migbatch *b = w->mig_batches;
    while (b && !(b->from == from && b->to == to && b->from_slot == fslot && b->n < BATCH_MAX)) b = b->next;
    if (!b) {
        if (!(b = malloc(sizeof(*b)))) {
            copy_step(w, owner, i, INT_COPY);
            return;
        }
        *b = (struct migbatch){
            .next = w->mig_batches, .from = from, .to = to, .from_slot = fslot, .old = m->old, .nb = m->nb};
        w->mig_batches = b;
    }
    b->e[b->n].owner = owner;
    b->e[b->n++].key = i;
}

static void batch_send(struct worker *w, struct migbatch *b) {
    struct sbuf *s = &w->tmp.mirror;
    s->len = 0;
    const char *user, *pass;
    backend_auth(w, b->nb, &user, &pass);
    char port[16], tmo[16];
    snprintf(port, sizeof(port), "%d", b->to->port);
    snprintf(tmo, sizeof(tmo), "%d", MIGRATE_TIMEOUT_MS);
    int rc = sbuf_add_header(s, '*', 1) | sbuf_add_bulk(s, "MULTI", 5);
    for (int i = 0; i < b->n; i++) {
        struct migop *m = b->e[i].owner->mig;
        rc |= sbuf_add_header(s, '*', 2) | sbuf_add_bulk(s, "EXISTS", 6) |
              sbuf_add_bulk(s, m->keys.p + m->k[b->e[i].key].off, m->k[b->e[i].key].len);
    }
    int argc = 9 + b->n + (pass ? (user ? 3 : 2) : 0);
    rc |= sbuf_add_header(s, '*', (unsigned)argc) | sbuf_add_bulk(s, "MIGRATE", 7) |
          sbuf_add_bulk(s, b->to->host, strlen(b->to->host)) | sbuf_add_bulk(s, port, strlen(port)) |
          sbuf_add_bulk(s, "", 0) | sbuf_add_bulk(s, "0", 1) | sbuf_add_bulk(s, tmo, strlen(tmo)) |
          sbuf_add_bulk(s, "COPY", 4) | sbuf_add_bulk(s, "REPLACE", 7);
    if (pass && user)
        rc |=
            sbuf_add_bulk(s, "AUTH2", 5) | sbuf_add_bulk(s, user, strlen(user)) | sbuf_add_bulk(s, pass, strlen(pass));
    else if (pass)
        rc |= sbuf_add_bulk(s, "AUTH", 4) | sbuf_add_bulk(s, pass, strlen(pass));
    rc |= sbuf_add_bulk(s, "KEYS", 4);
    for (int i = 0; i < b->n; i++) {
        struct migop *m = b->e[i].owner->mig;
        rc |= sbuf_add_bulk(s, m->keys.p + m->k[b->e[i].key].off, m->k[b->e[i].key].len);
    }
    rc |= sbuf_add_header(s, '*', 1) | sbuf_add_bulk(s, "EXEC", 4);
    double deadline = b->e[0].owner->deadline;
    struct req *r = rc == 0 ? internal_req(w, INT_BATCH, b->old, b->from_slot >= 0 ? b->from_slot : 0, deadline) : NULL;
    if (!r) { /* each key the single-key way */
        for (int i = 0; i < b->n; i++) copy_step(w, b->e[i].owner, b->e[i].key, INT_COPY);
        free(b);
        return;
    }
    r->batch_of = b;
    r->group_n = (uint32_t)b->n + 2; /* +OK of MULTI, +QUEUED of each EXISTS and of MIGRATE */
    STAT_INC(w, mig_batches);
    route_request(w, r, NULL, s->p, s->len);
}

void migrate_flush(struct worker *w) {
    struct migbatch *b = w->mig_batches;
    w->mig_batches = NULL;
    while (b) {
        struct migbatch *next = b->next;
        batch_send(w, b);
        b = next;
    }
}

/* The EXEC's answer: each key's EXISTS, then MIGRATE's; anything else (an error, EXECABORT) fails all. */
static void batch_reply(struct worker *w, struct req *r, const char *p, size_t len) {
    struct migbatch *b = r->batch_of;
    r->batch_of = NULL;
    const char *end = p + len, *q = p;
    int ok = len > 4 && p[0] == '*' && atoi(p + 1) == b->n + 1;
    char exists[BATCH_MAX] = {0};
    const char *nl = ok ? memchr(p, '\n', len) : NULL;
    ok = nl != NULL;
    if (ok) q = nl + 1;
    for (int i = 0; ok && i < b->n; i++) { /* ":0\r\n" or ":1\r\n" */
        ok = end - q >= 4 && q[0] == ':' && (q[1] == '0' || q[1] == '1') && q[2] == '\r';
        if (ok) exists[i] = q[1] == '1', q += 4;
    }
    if (ok && q < end && q[0] == '-') { /* MIGRATE failed: the new node's error */
        STAT_ADD(w, mig_copy_errors, b->n);
        warn_rate_limited(w, "migration: written keys were not copied to the new backend: %.*s",
                          (int)(end - q > 200 ? 200 : end - q - 2), q + 1);
        ok = -1;
    } else if (!ok) {
        STAT_ADD(w, mig_copy_errors, b->n);
        warn_rate_limited(w, "migration: written keys were not copied to the new backend: %.*s",
                          (int)(len > 200 ? 200 : len - 2), p + 1);
    }
    for (int i = 0; i < b->n; i++) {
        struct req *owner = b->e[i].owner;
        if (ok == 1 && !exists[i]) { /* gone from the old backend: gone from the new one, then copied again */
            STAT_INC(w, mig_deletes);
            copy_step(w, owner, b->e[i].key, INT_DEL);
            continue;
        }
        if (ok == 1) STAT_INC(w, mig_copies);
        copy_done(w, owner);
    }
    free(b);
}

/* The old backend answered a migrating write: held while its keys are copied. */
static int write_reply(struct worker *w, struct req *r, const char *reply, size_t len) {
    struct migop *m = r->mig;
    if (m->held == 2) return 0; /* the copies are done: delivered now */
    m->held = 1;
    if (sbuf_add(&m->reply, reply, len) < 0) {
        static const char oom[] = "-ERR slotgate: out of memory\r\n";
        m->reply.len = 0;
        sbuf_add(&m->reply, oom, sizeof(oom) - 1);
    }
    m->pending = m->nkeys + 1;                             /* +1 while they are being sent */
    for (int i = 0; i < m->nkeys; i++) batch_key(w, r, i); /* sent at the end of the loop turn */
    copy_done(w, r);
    return 1;
}

/* ---- migration: reads ---- */

static int read_reply(struct worker *w, struct req *r, const char *reply, size_t len) {
    r->xform = XFORM_NONE;
    r->hook = 0;
    if (!reply_is_miss(reply, len) || !r->cmd_chain) return 0;
    STAT_INC(w, mig_fallbacks); /* the old backend is asked: the same bytes, its slot */
    r->backend = r->alt_backend;
    r->slot = r->alt_slot;
    r->state = REQ_NEW;
    route_request(w, r, NULL, NULL, 0);
    return 1;
}

void migrate_prepare_part(struct worker *w, struct req *child, const struct plan *p, const struct resp_request *q,
                          const char *cmd, const int *key_part, int part) {
    const struct prefix_route *route = migrating_route(w);
    if (!route || (p->cmd->flags & CMD_WRITE) || child->backend != route->migrate_to - 1) return;
    int old = route->backend, slot = -1;
    for (int i = 0; i < p->nkeys; i++) {
        if (key_part[i] != part) continue;
        int k = p->keys[i];
        size_t strip = p->kstrip[i];
        int s = slot_on(w, old, resp_request_arg(q, cmd, (uint32_t)k) + strip, q->argv[k].len - strip);
        if (!p->kmig[i] || (slot >= 0 && s != slot)) return;
        slot = s;
    }
    if (slot < 0) return;
    child->hook = 1;
    child->xform = XFORM_MIGREAD;
    child->alt_slot = (uint16_t)slot;
    child->alt_backend = (uint8_t)old;
}

int migrate_hook(struct worker *w, struct req *r, const char *reply, size_t len) {
    switch (r->internal) {
    case INT_NONE:
        if (r->xform == XFORM_MIGREAD) return read_reply(w, r, reply, len);
        if (r->mig && !r->parent) return write_reply(w, r, reply, len);
        return 0;
    case INT_MIRROR: mirror_reply(w, r, reply); break;
    case INT_BATCH: batch_reply(w, r, reply, len); break;
    default: copy_reply(w, r, reply, len); break;
    }
    if (r->cmd_chain) {
        chain_unpin(&w->pool, r->cmd_chain, &r->cmd);
        r->cmd_chain = NULL;
    }
    req_free(w, r);
    return 1;
}
