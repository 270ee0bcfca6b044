/* See tracking.h. How a cached value is kept from going stale through slotgate:
 *  - a read by a tracking client remembers its keys here before it is sent, and an invalidation for a
 *    key goes out behind the replies the client is still waiting for (client.push): a value read before
 *    the key changed always reaches the client before the invalidation that drops it;
 *  - each master's listener reports every key changed on it (BCAST with no prefix); a key remembered
 *    here is invalidated for its readers and forgotten, as Redis does; BCAST clients get the keys that
 *    match their prefixes;
 *  - what a listener cannot have seen is invalidated: the keys of a master's slots when its listener
 *    connects (reads may have come before it) and when it is lost, the keys of a slot whose master
 *    changed (a reshard, a failover, a MOVED), and everything on FLUSHALL/FLUSHDB (a null invalidation).
 *    BCAST clients, whose keys slotgate does not know, get a null invalidation then (drop everything). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../router/merge.h"
#include "../router/slot.h"
#include "tracking.h"
#include "worker.h"

#define REPLY_LIT(w, r, lit) req_reply(w, r, lit, sizeof(lit) - 1)
#define ARG(i)               resp_request_arg(q, cmd, i)
#define ARGLEN(i)            (q->argv[i].len)
#define SWEEP_PER_TICK       65536

/* INFO's tracking_* figures: gauges the worker keeps (STAT_*), read by whoever answers INFO; set when
 * clients turn tracking on or off and once a second (tracking_tick), not per request. */
#define GAUGE(w, f, v) STAT_ADD(w, f, (int64_t)(v) - (int64_t)STAT_READ(w, f))
static void publish(struct worker *w) {
    struct worker_tracking *t = &w->trk;
    long long prefixes = 0;
    for (size_t i = 0; t->nbcast && i < t->cap; i++)
        if (t->clients[i]) prefixes += t->clients[i]->trk->nprefixes;
    GAUGE(w, trk_clients, t->n);
    GAUGE(w, trk_keys, t->table.nkeys);
    GAUGE(w, trk_items, t->table.nitems);
    GAUGE(w, trk_prefixes, prefixes);
    GAUGE(w, trk_bytes, t->table.bytes + t->cap * sizeof(*t->clients));
}

/* --- this worker's tracking clients, by ID --- */

static size_t id_slot(uint64_t id, size_t cap) { return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1); }

static struct client *client_by_id(struct worker *w, uint64_t id) {
    struct worker_tracking *t = &w->trk;
    if (!t->cap) return NULL;
    for (size_t i = id_slot(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (!t->clients[i]) return NULL;
        if (t->clients[i]->id == id) return t->clients[i];
    }
}

static int clients_add(struct worker *w, struct client *c) {
    struct worker_tracking *t = &w->trk;
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct client **nc = calloc(cap, sizeof(*nc));
        if (!nc) return -1;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->clients[i]) continue;
            size_t j = id_slot(t->clients[i]->id, cap);
            while (nc[j]) j = (j + 1) & (cap - 1);
            nc[j] = t->clients[i];
        }
        free(t->clients);
        t->clients = nc;
        t->cap = cap;
    }
    size_t i = id_slot(c->id, t->cap);
    while (t->clients[i]) i = (i + 1) & (t->cap - 1);
    t->clients[i] = c;
    t->n++;
    return 0;
}

static void clients_remove(struct worker *w, struct client *c) {
    struct worker_tracking *t = &w->trk;
    size_t i = id_slot(c->id, t->cap);
    while (t->clients[i] != c) i = (i + 1) & (t->cap - 1);
    t->clients[i] = NULL;
    t->n--;
    /* backward shift: the entries after it in its run move up where they may */
    for (size_t j = (i + 1) & (t->cap - 1); t->clients[j]; j = (j + 1) & (t->cap - 1)) {
        size_t home = id_slot(t->clients[j]->id, t->cap);
        if (((j - home) & (t->cap - 1)) >= ((j - i) & (t->cap - 1))) {
            t->clients[i] = t->clients[j];
            t->clients[j] = NULL;
            i = j;
        }
    }
}

/* --- delivering invalidations --- */

/* This worker's connected client with that ID (a redirection's target), or NULL. */
static struct client *live_client(struct worker *w, uint64_t id) {
    for (struct client *o = w->clients; o; o = o->next)
        if (o->id == id && !o->is_closed) return o;
    return NULL;
}

/* keys: "*N\r\n" and N bulk strings, or NULL for a null invalidation (drop everything). */
static void send_to(struct worker *w, struct client *to, int redirected, const char *keys, size_t klen) {
    struct sbuf b = {0};
    int rc;
    if (to->resp3)
        rc = sbuf_printf(&b, ">2\r\n$10\r\ninvalidate\r\n");
    else if (redirected && to->sub_mode)
        rc = sbuf_printf(&b, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    else
        return; /* a RESP2 client with no redirection has nowhere to be told, as with Redis */
    rc |= keys ? sbuf_add(&b, keys, klen) : sbuf_add_null(&b, to->resp3);
    if (rc == 0 && client_push(to, b.p, b.len) == 0) STAT_INC(w, invalidations);
    sbuf_free(&b);
}

static void post_mail(struct worker *w, uint64_t to, uint64_t from, const char *keys, size_t klen, int broken) {
    int idx = (int)(to & 255);
    if (idx >= w->shared.nworkers) return;
    struct worker *dst = &w->shared.all[idx];
    struct track_mail *m = malloc(sizeof(*m) + klen);
    if (!m) return;
    m->to = to;
    m->from = from;
    m->is_null = keys == NULL;
    m->broken = broken;
    m->len = klen;
    if (keys) memcpy(m->keys, keys, klen);
    pthread_mutex_lock(&dst->trk.mail_lock);
    m->next = dst->trk.mail;
    dst->trk.mail = m;
    pthread_mutex_unlock(&dst->trk.mail_lock);
    ev_async_send(dst->loop, &dst->trk.mail_wake);
}

static void redirect_broken(struct client *c);

/* The client that reads the invalidations of tracking client c: itself, or its redirection. */
static void deliver(struct worker *w, struct client *c, const char *keys, size_t klen) {
    if (!c->trk->redirect) return send_to(w, c, 0, keys, klen);
    if ((int)(c->trk->redirect & 255) != w->id) return post_mail(w, c->trk->redirect, c->id, keys, klen, 0);
    struct client *to = live_client(w, c->trk->redirect);
    if (to) return send_to(w, to, 1, keys, klen);
    redirect_broken(c);
}

/* As Redis: the client learns its redirection's client is gone (a push, in RESP3), flagged "R". */
static void redirect_broken(struct client *c) {
    c->trk->flags |= TRK_BROKEN;
    if (!c->resp3) return;
    struct sbuf b = {0};
    if (sbuf_printf(&b, ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n", (unsigned long long)c->trk->redirect) == 0)
        client_push(c, b.p, b.len);
    sbuf_free(&b);
}

static void on_mail(struct ev_loop *loop, ev_async *a, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = a->data;
    pthread_mutex_lock(&w->trk.mail_lock);
    struct track_mail *m = w->trk.mail, *fifo = NULL;
    w->trk.mail = NULL;
    pthread_mutex_unlock(&w->trk.mail_lock);
    while (m) { /* posted newest first: handled in the order they were sent */
        struct track_mail *next = m->next;
        m->next = fifo;
        fifo = m;
        m = next;
    }
    while ((m = fifo)) {
        fifo = m->next;
        struct client *to = live_client(w, m->to);
        if (m->broken) {
            /* back from the worker of a redirection that is gone: to the tracking client, if it still is */
            if (to && to->trk) redirect_broken(to);
        } else if (to) {
            send_to(w, to, 1, m->is_null ? NULL : m->keys, m->len);
        } else {
            post_mail(w, m->from, m->to, NULL, 0, 1);
        }
        free(m);
    }
}

static void deliver_key(struct worker *w, struct client *c, const char *key, size_t klen) {
    struct sbuf b = {0};
    if (sbuf_add(&b, "*1\r\n", 4) == 0 && sbuf_add_bulk(&b, key, klen) == 0) deliver(w, c, b.p, b.len);
    sbuf_free(&b);
}

/* A key's entry was taken out: each client that read it is told (NOLOOP's own writes were forgotten
 * when they were sent). */
static void invalidate_entry(struct worker *w, struct track_entry *e) {
    struct client *c = client_by_id(w, e->id0);
    if (c) deliver_key(w, c, e->key, e->klen);
    for (uint32_t i = 0; i < e->nids; i++)
        if ((c = client_by_id(w, e->ids[i]))) deliver_key(w, c, e->key, e->klen);
    track_entry_free(&w->trk.table, e);
}

static void take_cb(struct track_entry *e, void *ctx) { invalidate_entry(ctx, e); }

static void null_to_bcast(struct worker *w) {
    struct worker_tracking *t = &w->trk;
    for (size_t i = 0; t->nbcast && i < t->cap; i++)
        if (t->clients[i] && (t->clients[i]->trk->flags & TRK_BCAST)) deliver(w, t->clients[i], NULL, 0);
}

struct slots_of {
    struct worker *w;
    void *node;               /* the slots whose master is this node, or */
    const unsigned char *set; /* the slots set here */
};

static int slot_in(int slot, void *ctx) {
    struct slots_of *s = ctx;
    return s->set ? s->set[slot] : s->w->view.routes.slot_master[slot] == s->node;
}

static void invalidate_node(struct worker *w, struct node *n, int tell_bcast) {
    struct slots_of s = {w, n, NULL};
    track_take_slots(&w->trk.table, slot_in, &s, take_cb, w);
    if (tell_bcast) null_to_bcast(w);
}

/* --- the nodes' side --- */

static int is_master(struct worker *w, struct node *n);

/* CLIENT TRACKING on is answered once every master's listener watches (or after a second, when one
 * cannot be reached: its slots' keys are invalidated when it comes), so what the client reads after
 * the +OK is seen changing. */
#define WATCH_WAIT_S 1.0
static void answer_waiting(struct worker *w) {
    struct worker_tracking *t = &w->trk;
    if (!t->waiting) return;
    int all = 1;
    for (struct node *n = w->view.nodes; n && all; n = n->next)
        if (!n->is_retired && !n->listener_ready && is_master(w, n)) all = 0;
    if (!all && worker_now(w) - t->waiting_since < WATCH_WAIT_S) return;
    struct req *r = t->waiting;
    t->waiting = NULL;
    for (struct req *next; r; r = next) {
        next = r->lnext;
        r->lnext = NULL;
        req_reply(w, r, "+OK\r\n", 5);
    }
}

void tracking_listener_ready(struct backend *b) {
    struct worker *w = b->w;
    struct node *n = b->node;
    n->listener_ready = 1;
    log_verbose("worker %d: watching %s for client-side caching", w->id, n->addr);
    invalidate_node(w, n, n->track_unwatched); /* whatever was read before it watched */
    n->track_unwatched = 0;
    answer_waiting(w);
    publish(w);
}

void tracking_listener_lost(struct backend *b) {
    struct worker *w = b->w;
    struct node *n = b->node;
    n->listener_ready = 0;
    if (!tracking_active(&w->trk)) return;
    invalidate_node(w, n, 1); /* changes from now until it watches again are not seen */
    n->track_unwatched = w->trk.nbcast > 0;
    publish(w);
}

static int prefix_match(const struct client *c, const char *key, size_t klen) {
    if (!c->trk->nprefixes) return 1;
    for (int i = 0; i < c->trk->nprefixes; i++)
        if (klen >= c->trk->plens[i] && memcmp(key, c->trk->prefixes[i], c->trk->plens[i]) == 0) return 1;
    return 0;
}

struct keyref {
    const char *p;
    size_t len;
};

struct keys_seen {
    struct keyref small[16], *list;
    long long n, cap;
    int failed;
};

static void collect_key(const char *key, size_t klen, void *ctx) {
    struct keys_seen *k = ctx;
    if (k->n == k->cap) {
        long long cap = k->cap * 2;
        struct keyref *l =
            k->list == k->small ? malloc(sizeof(*l) * (size_t)cap) : realloc(k->list, sizeof(*l) * (size_t)cap);
        if (!l) {
            k->failed = 1;
            return;
        }
        if (k->list == k->small) memcpy(l, k->small, sizeof(k->small));
        k->list = l;
        k->cap = cap;
    }
    k->list[k->n++] = (struct keyref){key, klen};
}

/* ">2 invalidate [keys]" or ">2 invalidate _" (FLUSHALL, FLUSHDB) from a master (router/resp.c parses it). */
void tracking_listener_push(struct backend *b, const char *p, size_t len) {
    struct worker *w = b->w;
    struct worker_tracking *t = &w->trk;
    struct keys_seen ks = {.n = 0, .cap = 16, .failed = 0};
    ks.list = ks.small;
    long long n = resp_parse_invalidation(p, len, collect_key, &ks);
    if (n == RESP_INVALIDATE_ALL || ks.failed) {
        /* everything on that node is gone (or could not be listed): every tracking client drops everything */
        for (size_t i = 0; i < t->cap; i++)
            if (t->clients[i]) deliver(w, t->clients[i], NULL, 0);
        track_clear(&t->table);
        publish(w);
    }
    if (n <= 0 || ks.failed) {
        if (ks.list != ks.small) free(ks.list);
        return;
    }
    struct keyref *keys = ks.list;
    long long got = ks.n;
    for (long long i = 0; i < got; i++) {
        struct track_entry *e = track_take(&t->table, keys[i].p, keys[i].len);
        if (e) invalidate_entry(w, e);
    }
    for (size_t i = 0; t->nbcast && i < t->cap; i++) {
        struct client *c = t->clients[i];
        if (!c || !(c->trk->flags & TRK_BCAST)) continue;
        struct sbuf out = {0};
        long long m = 0;
        for (long long k = 0; k < got; k++)
            if (prefix_match(c, keys[k].p, keys[k].len)) m++;
        if (!m) continue;
        int rc = sbuf_add_header(&out, '*', (unsigned long long)m);
        for (long long k = 0; k < got && rc == 0; k++)
            if (prefix_match(c, keys[k].p, keys[k].len)) rc = sbuf_add_bulk(&out, keys[k].p, keys[k].len);
        if (rc == 0) deliver(w, c, out.p, out.len);
        sbuf_free(&out);
    }
    if (keys != ks.small) free(keys);
}

void tracking_slot_moved(struct worker *w, int slot) {
    if (!tracking_active(&w->trk)) return;
    unsigned char *set = calloc(SLOT_COUNT, 1);
    if (!set) return;
    set[slot] = 1;
    struct slots_of s = {w, NULL, set};
    track_take_slots(&w->trk.table, slot_in, &s, take_cb, w);
    null_to_bcast(w);
    free(set);
    publish(w);
}

static void close_listener(struct node *n) {
    struct backend *b = n->listener;
    if (!b) return;
    n->listener = NULL;
    n->listener_ready = 0;
    b->close_when_idle = 1;
    backend_close(b, "released", 0);
}

static int is_master(struct worker *w, struct node *n) {
    for (int i = 0; i < w->view.routes.nshards; i++)
        if (w->view.routes.slot_master[w->view.routes.shard_slot[i]] == n) return 1;
    return 0;
}

/* One listener per master while any client of this worker tracks; none otherwise. */
static void ensure_listeners(struct worker *w) {
    double now = worker_now(w);
    for (struct node *n = w->view.nodes; n; n = n->next) {
        int want = tracking_active(&w->trk) && !n->is_retired && is_master(w, n);
        if (!want) {
            close_listener(n);
            n->track_unwatched = 0;
        } else if (!n->listener && n->down_until <= now) {
            backend_connect(w, n, &n->listener, NULL, DED_TRACK, 0, 1);
        }
    }
}

void tracking_map_changed(struct worker *w, void *const *old_masters) {
    if (!tracking_active(&w->trk)) return;
    unsigned char *set = calloc(SLOT_COUNT, 1);
    int any = 0;
    for (int s = 0; set && s < SLOT_COUNT; s++)
        if (old_masters[s] != w->view.routes.slot_master[s]) set[s] = 1, any = 1;
    if (any) {
        struct slots_of so = {w, NULL, set};
        track_take_slots(&w->trk.table, slot_in, &so, take_cb, w);
        null_to_bcast(w);
    }
    free(set);
    ensure_listeners(w);
}

static int id_alive(uint64_t id, void *ctx) { return client_by_id(ctx, id) != NULL; }

void tracking_tick(struct worker *w) {
    struct worker_tracking *t = &w->trk;
    if (!tracking_active(t) && t->table.nkeys) track_clear(&t->table);
    if (t->sweep_due && t->table.nkeys) {
        track_sweep(&t->table, id_alive, w, &t->sweep_cursor, SWEEP_PER_TICK);
        if (t->sweep_cursor == 0) t->sweep_due = 0;
    }
    ensure_listeners(w);
    answer_waiting(w);
    publish(w);
}

/* --- the clients' side --- */

long long tracking_redirect(const struct client *c) { return c->trk ? (long long)c->trk->redirect : -1; }

static void free_prefixes(struct client *c) {
    for (int i = 0; i < c->trk->nprefixes; i++) free(c->trk->prefixes[i]);
    free(c->trk->prefixes);
    free(c->trk->plens);
    c->trk->prefixes = NULL;
    c->trk->plens = NULL;
    c->trk->nprefixes = 0;
}

void tracking_off(struct client *c) {
    struct worker *w = c->w;
    if (!c->trk) return;
    if (c->trk->flags & TRK_BCAST) w->trk.nbcast--;
    clients_remove(w, c);
    free_prefixes(c);
    free(c->trk);
    c->trk = NULL;
    w->trk.sweep_due = 1; /* its keys go with the next sweeps (or all at once if none tracks any more) */
    if (!tracking_active(&w->trk)) {
        track_clear(&w->trk.table);
        w->trk.sweep_due = 0;
    }
    publish(w);
}

static int overlaps(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    return memcmp(a, b, n) == 0;
}

static int redirect_exists(struct worker *w, uint64_t id) {
    int idx = (int)(id & 255);
    if (idx == w->id) return live_client(w, id) != NULL;
    /* another worker's client: the IDs it has given out (its client list is its own thread's) */
    if (idx >= w->shared.nworkers) return 0;
    uint64_t issued = __atomic_load_n(&w->shared.all[idx].next_client_id, __ATOMIC_RELAXED);
    return id >= 256 && (id >> 8) <= issued;
}

/* CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP], checked as
 * Redis's clientCommand checks it (the same texts). */
static void tracking_cmd(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    long long redir = 0;
    unsigned opts = 0;
    uint32_t pidx[64];
    int np = 0;
    for (uint32_t j = 3; j < q->argc; j++) {
        int more = (int)(q->argc - 1 - j);
        const char *a = ARG(j);
        size_t al = ARGLEN(j);
        if (al == 8 && !strncasecmp(a, "redirect", 8) && more) {
            j++;
            if (redir != 0) return req_reply_error(w, r, "ERR A client can only redirect to a single other client");
            if (resp_parse_ll(ARG(j), ARGLEN(j), &redir) < 0)
                return req_reply_error(w, r, "ERR value is not an integer or out of range");
            if (redir <= 0 || !redirect_exists(w, (uint64_t)redir))
                return req_reply_error(w, r, "ERR The client ID you want redirect to does not exist");
        } else if (al == 5 && !strncasecmp(a, "bcast", 5)) {
            opts |= TRK_BCAST;
        } else if (al == 5 && !strncasecmp(a, "optin", 5)) {
            opts |= TRK_OPTIN;
        } else if (al == 6 && !strncasecmp(a, "optout", 6)) {
            opts |= TRK_OPTOUT;
        } else if (al == 6 && !strncasecmp(a, "noloop", 6)) {
            opts |= TRK_NOLOOP;
        } else if (al == 6 && !strncasecmp(a, "prefix", 6) && more) {
            j++;
            if (np == 64) return req_reply_error(w, r, "ERR slotgate: at most 64 prefixes per CLIENT TRACKING");
            pidx[np++] = j;
        } else {
            return req_reply_error(w, r, "ERR syntax error");
        }
    }
    if (ARGLEN(2) == 3 && !strncasecmp(ARG(2), "off", 3)) {
        tracking_off(c);
        return REPLY_LIT(w, r, "+OK\r\n");
    }
    if (!(ARGLEN(2) == 2 && !strncasecmp(ARG(2), "on", 2))) return req_reply_error(w, r, "ERR syntax error");
    unsigned cur = c->trk ? c->trk->flags : 0;
    if (!(opts & TRK_BCAST) && np) return req_reply_error(w, r, "ERR PREFIX option requires BCAST mode to be enabled");
    if ((cur & TRK_ON) && !!(cur & TRK_BCAST) != !!(opts & TRK_BCAST))
        return req_reply_error(w, r,
                               "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
                               "and then re-enabling it with a different mode.");
    if ((opts & TRK_BCAST) && (opts & (TRK_OPTIN | TRK_OPTOUT)))
        return req_reply_error(w, r, "ERR OPTIN and OPTOUT are not compatible with BCAST");
    if ((opts & TRK_OPTIN) && (opts & TRK_OPTOUT))
        return req_reply_error(w, r, "ERR You can't specify both OPTIN mode and OPTOUT mode");
    if (((opts & TRK_OPTIN) && (cur & TRK_OPTOUT)) || ((opts & TRK_OPTOUT) && (cur & TRK_OPTIN)))
        return req_reply_error(w, r,
                               "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
                               "and then re-enabling it with a different mode.");
    for (int i = 0; i < np; i++) {
        for (int k = 0; c->trk && k < c->trk->nprefixes; k++)
            if (overlaps(c->trk->prefixes[k], c->trk->plens[k], ARG(pidx[i]), ARGLEN(pidx[i])))
                return req_reply_error(w, r,
                                       "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes for a "
                                       "single client must not overlap.",
                                       (int)ARGLEN(pidx[i]), ARG(pidx[i]), (int)c->trk->plens[k], c->trk->prefixes[k]);
        for (int k = i + 1; k < np; k++)
            if (overlaps(ARG(pidx[i]), ARGLEN(pidx[i]), ARG(pidx[k]), ARGLEN(pidx[k])))
                return req_reply_error(w, r,
                                       "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. Prefixes "
                                       "for a single client must not overlap.",
                                       (int)ARGLEN(pidx[i]), ARG(pidx[i]), (int)ARGLEN(pidx[k]), ARG(pidx[k]));
    }
    if (!c->trk) {
        if (!(c->trk = calloc(1, sizeof(*c->trk)))) return req_reply_error(w, r, "ERR slotgate: out of memory");
        if (clients_add(w, c) < 0) {
            free(c->trk);
            c->trk = NULL;
            return req_reply_error(w, r, "ERR slotgate: out of memory");
        }
        if (opts & TRK_BCAST) w->trk.nbcast++;
    }
    /* Redis's enableTracking: the redirection and options are replaced, prefixes are added */
    c->trk->flags = TRK_ON | (opts & (TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP));
    c->trk->redirect = (uint64_t)redir;
    if (np) {
        char **p = realloc(c->trk->prefixes, sizeof(*p) * (size_t)(c->trk->nprefixes + np));
        if (p) c->trk->prefixes = p;
        uint32_t *l = realloc(c->trk->plens, sizeof(*l) * (size_t)(c->trk->nprefixes + np));
        if (l) c->trk->plens = l;
        for (int i = 0; p && l && i < np; i++) {
            char *copy = malloc(ARGLEN(pidx[i]) + 1);
            if (!copy) break;
            memcpy(copy, ARG(pidx[i]), ARGLEN(pidx[i]));
            copy[ARGLEN(pidx[i])] = '\0';
            c->trk->prefixes[c->trk->nprefixes] = copy;
            c->trk->plens[c->trk->nprefixes++] = ARGLEN(pidx[i]);
        }
    }
    ensure_listeners(w);
    publish(w);
    if (!w->trk.waiting) w->trk.waiting_since = worker_now(w);
    r->lnext = w->trk.waiting;
    w->trk.waiting = r;
    answer_waiting(w);
}

static void caching_cmd(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    unsigned f = c->trk ? c->trk->flags : 0;
    if (!(f & TRK_ON))
        return req_reply_error(
            w, r,
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT "
            "mode enabled");
    if (ARGLEN(2) == 3 && !strncasecmp(ARG(2), "yes", 3)) {
        if (!(f & TRK_OPTIN))
            return req_reply_error(w, r,
                                   "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    } else if (ARGLEN(2) == 2 && !strncasecmp(ARG(2), "no", 2)) {
        if (!(f & TRK_OPTOUT))
            return req_reply_error(w, r,
                                   "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    } else {
        return req_reply_error(w, r, "ERR syntax error");
    }
    c->trk->flags = f | TRK_CACHING;
    REPLY_LIT(w, r, "+OK\r\n");
}

static void trackinginfo(struct client *c, struct req *r) {
    unsigned f = c->trk ? c->trk->flags : 0;
    int np = c->trk ? c->trk->nprefixes : 0;
    const char *flags[8];
    int n = 0;
    flags[n++] = f & TRK_ON ? "on" : "off";
    if (f & TRK_BCAST) flags[n++] = "bcast";
    if (f & TRK_OPTIN) flags[n++] = "optin";
    if ((f & TRK_OPTIN) && (f & TRK_CACHING)) flags[n++] = "caching-yes";
    if (f & TRK_OPTOUT) flags[n++] = "optout";
    if ((f & TRK_OPTOUT) && (f & TRK_CACHING)) flags[n++] = "caching-no";
    if (f & TRK_NOLOOP) flags[n++] = "noloop";
    if (f & TRK_BROKEN) flags[n++] = "broken_redirect";
    struct sbuf b = {0};
    int rc = sbuf_add_map(&b, 3, r->resp3) | sbuf_add_bulk(&b, "flags", 5) | sbuf_add_set(&b, (unsigned)n, r->resp3);
    for (int i = 0; i < n; i++) rc |= sbuf_add_bulk(&b, flags[i], strlen(flags[i]));
    rc |= sbuf_add_bulk(&b, "redirect", 8) | sbuf_printf(&b, ":%lld\r\n", tracking_redirect(c)) |
          sbuf_add_bulk(&b, "prefixes", 8) | sbuf_add_header(&b, '*', (unsigned)np);
    for (int i = 0; i < np; i++) rc |= sbuf_add_bulk(&b, c->trk->prefixes[i], c->trk->plens[i]);
    if (rc < 0)
        req_reply_error(c->w, r, "ERR slotgate: out of memory");
    else
        req_reply(c->w, r, b.p, b.len);
    sbuf_free(&b);
}

void tracking_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    char num[32];
    switch (what) {
    case LOCAL_CLIENT_TRACKING: return tracking_cmd(c, r, q, cmd);
    case LOCAL_CLIENT_CACHING: return caching_cmd(c, r, q, cmd);
    case LOCAL_CLIENT_GETREDIR: {
        int n = snprintf(num, sizeof(num), ":%lld\r\n", tracking_redirect(c));
        return req_reply(w, r, num, (size_t)n);
    }
    default: return trackinginfo(c, r);
    }
}

void tracking_command(struct client *c, const struct plan *p, const char *cmd) {
    struct worker *w = c->w;
    unsigned f = c->trk->flags;
    /* CLIENT CACHING's choice is for the next command that is not a CLIENT one (or the transaction), as
     * Redis clears it after any other */
    if (p->is_error || !p->cmd || strncmp(p->cmd->name, "client|", 7) == 0) return;
    if (!c->txn_state.in_multi) c->trk->flags &= ~(unsigned)TRK_CACHING;
    if (!p->nkeys || p->cmd->special == SPECIAL_EVAL || p->cmd->special == SPECIAL_EVALSHA ||
        p->cmd->special == SPECIAL_FCALL)
        return;
    const struct resp_request *q = &c->parser;
    if (p->cmd->flags & CMD_READONLY) {
        if (f & TRK_BCAST) { /* what it reads from a master not yet watched may change unseen */
            for (int i = 0; i < p->nkeys; i++) {
                struct node *n = w->view.routes.slot_master[p->slots[i]];
                if (n && !n->listener_ready) n->track_unwatched = 1;
            }
            return;
        }
        if (((f & TRK_OPTIN) && !(f & TRK_CACHING)) || ((f & TRK_OPTOUT) && (f & TRK_CACHING))) return;
        struct track_table *t = &w->trk.table;
        for (int i = 0; i < p->nkeys; i++)
            track_remember(t, ARG((uint32_t)p->keys[i]), ARGLEN((uint32_t)p->keys[i]), p->slots[i], c->id);
        int max = w->conf->tracking_table_max_keys;
        while (max > 0 && t->nkeys > (size_t)max) { /* the oldest keys go, their readers told */
            struct track_entry *e = track_take_oldest(t);
            if (!e) break;
            invalidate_entry(w, e);
        }
    } else if ((f & TRK_NOLOOP) && !(f & TRK_BCAST) && (p->cmd->flags & CMD_WRITE)) {
        /* Redis does not tell a NOLOOP client of its own write, and forgets the key for it */
        for (int i = 0; i < p->nkeys; i++)
            track_forget(&w->trk.table, ARG((uint32_t)p->keys[i]), ARGLEN((uint32_t)p->keys[i]), c->id);
    }
}

void tracking_init(struct worker *w) {
    track_init(&w->trk.table);
    pthread_mutex_init(&w->trk.mail_lock, NULL);
    ev_async_init(&w->trk.mail_wake, on_mail);
    w->trk.mail_wake.data = w;
    ev_async_start(w->loop, &w->trk.mail_wake);
    w->trk.has_mail_wake = 1;
}

void tracking_destroy(struct worker *w) {
    for (struct req *r = w->trk.waiting, *next; r; r = next) { /* never answered: the loop has stopped */
        next = r->lnext;
        free(r);
    }
    w->trk.waiting = NULL;
    track_clear(&w->trk.table);
    free(w->trk.clients);
    w->trk.clients = NULL;
    w->trk.cap = w->trk.n = 0;
    for (struct track_mail *m = w->trk.mail, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    w->trk.mail = NULL;
    if (w->trk.has_mail_wake) pthread_mutex_destroy(&w->trk.mail_lock);
    w->trk.has_mail_wake = 0;
}
