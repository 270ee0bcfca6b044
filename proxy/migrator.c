/* See migrator.h. */
#include "migrator.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "../router/slot.h"
#include "admin.h"

#define BATCH        200 /* keys per SCAN step */
#define MIGRATE_TMO  "2000"
#define MAX_RESTARTS 20 /* a master that changed (failover) or a connection lost: the walk starts over */
#define MAX_DIFFS    20 /* differences listed in the check's result */

struct conn {
    char host[SM_HOST_LEN];
    int port;
    redisContext *c;
};

struct migrator {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    const struct conf *conf;
    struct status *status;
    const struct prefix_table *t;
    int route, old, nb;
    /* progress, under lock */
    const char *state; /* "copying", "copied", "failed", "stopped" */
    char error[256];
    double started, finished;
    long long scanned, copied, existed, vanished, errors, restarts;
    /* the check, under lock */
    int want_check, checking, sample, tolerance, repair;
    json_t *check; /* the last result */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int stopping(struct migrator *m) {
    pthread_mutex_lock(&m->lock);
    int s = m->stop;
    pthread_mutex_unlock(&m->lock);
    return s;
}

static void add(struct migrator *m, long long *field, long long n) {
    pthread_mutex_lock(&m->lock);
    *field += n;
    pthread_mutex_unlock(&m->lock);
}

static struct slotmap *map_of(struct migrator *m, int b) {
    return b ? status_backend_map(m->status, b) : status_map(m->status);
}

static void creds(const struct migrator *m, int b, const char **user, const char **pass) {
    *user = b ? m->conf->backends[b - 1].backend_user : m->conf->backend_user;
    *pass = b ? m->conf->backends[b - 1].backend_password : m->conf->backend_password;
}

static redisReply *cmd_argv(redisContext *c, int argc, const char **argv, const size_t *lens) {
    return redisCommandArgv(c, argc, argv, lens);
}

static redisContext *dial(struct migrator *m, int b, const char *host, int port, char *err, size_t errlen) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "%s:%d: %s", host, port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    const char *user, *pass;
    creds(m, b, &user, &pass);
    if (pass) {
        const char *argv[3] = {"AUTH", user ? user : pass, pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(pass)};
        redisReply *r = cmd_argv(c, user ? 3 : 2, argv, lens);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        snprintf(err, errlen, "%s:%d: AUTH: %s", host, port, r && r->str ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        if (bad) return redisFree(c), NULL;
    }
    return c;
}

/* A connection to host:port of backend b, kept in pool (n of cap), opened on first use. */
static redisContext *pooled(struct migrator *m, struct conn *pool, int *n, int cap, int b, const char *host, int port,
                            char *err, size_t errlen) {
    for (int i = 0; i < *n; i++)
        if (pool[i].port == port && !strcmp(pool[i].host, host)) return pool[i].c;
    if (*n == cap) return snprintf(err, errlen, "too many nodes"), NULL;
    redisContext *c = dial(m, b, host, port, err, errlen);
    if (!c) return NULL;
    snprintf(pool[*n].host, sizeof(pool[*n].host), "%s", host);
    pool[*n].port = port;
    pool[(*n)++].c = c;
    return c;
}

static void pool_close(struct conn *pool, int *n) {
    for (int i = 0; i < *n; i++) redisFree(pool[i].c);
    *n = 0;
}

/* Is this key (as the backend names it) the migrating route's? */
static int is_routes(const struct migrator *m, const char *key, size_t len) {
    const struct prefix_route *r = &m->t->routes[m->route];
    if (!r->strip) return prefix_route_of(m->t, key, len) == m->route;
    char small[512], *full = len + r->len <= sizeof(small) ? small : malloc(len + r->len);
    if (!full) return 0;
    memcpy(full, r->prefix, r->len);
    memcpy(full + r->len, key, len);
    int ok = prefix_route_of(m->t, full, len + r->len) == m->route;
    if (full != small) free(full);
    return ok;
}

/* The SCAN pattern for the route's keys: its prefix (glob characters escaped) and *, or every key. */
static void scan_pattern(const struct migrator *m, char *out, size_t cap) {
    const struct prefix_route *r = &m->t->routes[m->route];
    size_t n = 0;
    if (!r->strip)
        for (size_t i = 0; i < r->len && n + 3 < cap; i++) {
            if (strchr("*?[]\\", r->prefix[i])) out[n++] = '\\';
            out[n++] = r->prefix[i];
        }
    out[n++] = '*';
    out[n] = '\0';
}

/* Walks every master of backend b: fn gets each batch of the route's keys. 0 when the walk ended, -1
 * with err. */
typedef int (*batch_fn)(struct migrator *m, redisContext *src, const char *host, int port, redisReply **keys, int n,
                        void *ctx, char *err, size_t errlen);
static int walk(struct migrator *m, int b, batch_fn fn, void *ctx, char *err, size_t errlen) {
    struct slotmap *map = map_of(m, b);
    if (!map || map->nshards == 0) {
        if (map) slotmap_unref(map);
        return snprintf(err, errlen, "no map of the %s backend yet", b == m->old ? "old" : "new"), -1;
    }
    char pattern[600];
    scan_pattern(m, pattern, sizeof(pattern));
    int rc = 0;
    for (int s = 0; s < map->nshards && rc == 0; s++) {
        const struct sm_node *node = &map->nodes[map->shards[s].master];
        redisContext *c = dial(m, b, node->host, node->port, err, errlen);
        if (!c) {
            rc = -1;
            break;
        }
        char cursor[32] = "0";
        do {
            const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "200"};
            size_t lens[6] = {4, strlen(cursor), 5, strlen(pattern), 5, 3};
            redisReply *r = cmd_argv(c, 6, argv, lens);
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                snprintf(err, errlen, "SCAN on %.100s:%d: %.100s", node->host, node->port,
                         r && r->str    ? r->str
                         : c->errstr[0] ? c->errstr
                                        : "unexpected reply");
                if (r) freeReplyObject(r);
                rc = -1;
                break;
            }
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            redisReply *keys[BATCH * 2];
            int n = 0;
            for (size_t i = 0; i < r->element[1]->elements && n < BATCH * 2; i++) {
                redisReply *k = r->element[1]->element[i];
                if (is_routes(m, k->str, k->len)) keys[n++] = k;
            }
            if (n) rc = fn(m, c, node->host, node->port, keys, n, ctx, err, errlen);
            freeReplyObject(r);
        } while (rc == 0 && strcmp(cursor, "0") != 0 && !stopping(m));
        redisFree(c);
    }
    slotmap_unref(map);
    return rc;
}

/* The node of backend b that owns key (from its current map). */
static const struct sm_node *owner(struct slotmap *map, const char *key, size_t len) {
    unsigned slot = map->nshards == 1 && map->covered == SLOT_COUNT ? 0 : slot_for_key(key, len);
    const struct sm_shard *sh = slotmap_shard(map, slot);
    return sh ? &map->nodes[sh->master] : NULL;
}

/* ---- the copy ---- */

/* MIGRATE host port key 0 timeout COPY [REPLACE] [AUTH pass | AUTH2 user pass] in argv/lens (11 slots;
 * port_s holds the port's digits): its argc. */
static int migrate_argv(const struct sm_node *to, const char *key, size_t klen, int replace, const char *user,
                        const char *pass, char port_s[16], const char *argv[11], size_t lens[11]) {
    snprintf(port_s, 16, "%d", to->port);
    int argc = 0;
#define ARG(s, n) (argv[argc] = (s), lens[argc] = (n), argc++)
    ARG("MIGRATE", 7), ARG(to->host, strlen(to->host)), ARG(port_s, strlen(port_s)), ARG(key, klen), ARG("0", 1);
    ARG(MIGRATE_TMO, strlen(MIGRATE_TMO)), ARG("COPY", 4);
    if (replace) ARG("REPLACE", 7);
    if (pass && user)
        ARG("AUTH2", 5), ARG(user, strlen(user)), ARG(pass, strlen(pass));
    else if (pass)
        ARG("AUTH", 4), ARG(pass, strlen(pass));
#undef ARG
    return argc;
}

static int copy_batch(struct migrator *m, redisContext *src, const char *host, int port, redisReply **keys, int n,
                      void *ctx, char *err, size_t errlen) {
    (void)ctx, (void)host, (void)port;
    struct slotmap *map = map_of(m, m->nb);
    if (!map) return snprintf(err, errlen, "no map of the new backend"), -1;
    const char *user, *pass;
    creds(m, m->nb, &user, &pass);
    int sent = 0;
    for (int i = 0; i < n; i++) {
        const struct sm_node *to = owner(map, keys[i]->str, keys[i]->len);
        if (!to) continue;
        char port_s[16];
        const char *argv[11];
        size_t lens[11];
        int argc = migrate_argv(to, keys[i]->str, keys[i]->len, 0, user, pass, port_s, argv, lens);
        redisAppendCommandArgv(src, argc, argv, lens);
        sent++;
    }
    slotmap_unref(map);
    long long copied = 0, existed = 0, vanished = 0, errors = 0;
    for (int i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(src, (void **)&r) != REDIS_OK || !r) {
            snprintf(err, errlen, "MIGRATE: %s", src->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strstr(r->str, "BUSYKEY"))
                existed++; /* the data path copied a newer value: it stays */
            else
                errors++, snprintf(m->error, sizeof(m->error), "%s", r->str);
        } else if (r->str && !strcmp(r->str, "NOKEY")) {
            vanished++;
        } else {
            copied++;
        }
        freeReplyObject(r);
    }
    pthread_mutex_lock(&m->lock);
    m->scanned += n, m->copied += copied, m->existed += existed, m->vanished += vanished, m->errors += errors;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* ---- the check ---- */

#define NTYPES 7
static const char *const type_names[NTYPES] = {"string", "list", "set", "zset", "hash", "stream", "other"};
static int type_index(const char *t) {
    for (int i = 0; i < NTYPES - 1; i++)
        if (!strcmp(t, type_names[i])) return i;
    return NTYPES - 1;
}

struct check {
    long long old_types[NTYPES], new_types[NTYPES], old_keys, new_keys, compared, missing, extra, type_differs,
        value_differs, ttl_differs, unreadable, repaired;
    json_t *diffs;
    struct conn pool[64];
    int npool;
    int sample_acc;
};

static int cmp_str(const void *a, const void *b) {
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Pairs (HGETALL) sorted by field: as an array of 2-element groups. */
static int cmp_pair(const void *a, const void *b) { return cmp_str(a, b); }

/* A value read as data, in a form two equal values share: sets' and hashes' elements sorted. */
static void canon(redisReply *r, const char *type) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
    if (!strcmp(type, "set")) qsort(r->element, r->elements, sizeof(*r->element), cmp_str);
    if (!strcmp(type, "hash")) { /* sort the field/value pairs by field */
        size_t n = r->elements / 2;
        redisReply **pairs = malloc(sizeof(*pairs) * r->elements);
        if (!pairs) return;
        for (size_t i = 0; i < n; i++) pairs[i] = r->element[2 * i];
        qsort(pairs, n, sizeof(*pairs), cmp_pair);
        for (size_t i = 0; i < n; i++) { /* find each field's value */
            for (size_t k = 0; k < n; k++)
                if (r->element[2 * k] == pairs[i]) {
                    pairs[n + i] = r->element[2 * k + 1];
                    break;
                }
        }
        for (size_t i = 0; i < n; i++) r->element[2 * i] = pairs[i], r->element[2 * i + 1] = pairs[n + i];
        free(pairs);
    }
}

static int same_reply(const redisReply *a, const redisReply *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements) return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!same_reply(a->element[i], b->element[i])) return 0;
        return 1;
    case REDIS_REPLY_INTEGER: return a->integer == b->integer;
    case REDIS_REPLY_NIL: return 1;
    default: return a->len == b->len && !memcmp(a->str, b->str, a->len);
    }
}

static const char *value_cmd(const char *type, const char **argv, size_t *lens, int *argc) {
    *argc = 2;
    if (!strcmp(type, "string")) return argv[0] = "GET", lens[0] = 3, "GET";
    if (!strcmp(type, "hash")) return argv[0] = "HGETALL", lens[0] = 7, "HGETALL";
    if (!strcmp(type, "set")) return argv[0] = "SMEMBERS", lens[0] = 8, "SMEMBERS";
    *argc = 4;
    argv[2] = "0", lens[2] = 1, argv[3] = "-1", lens[3] = 2;
    if (!strcmp(type, "list")) return argv[0] = "LRANGE", lens[0] = 6, "LRANGE";
    if (!strcmp(type, "zset"))
        return argv[0] = "ZRANGE", lens[0] = 6, argv[4] = "WITHSCORES", lens[4] = 10, *argc = 5, "ZRANGE";
    if (!strcmp(type, "stream"))
        return argv[0] = "XRANGE", lens[0] = 6, argv[2] = "-", argv[3] = "+", lens[3] = 1, "XRANGE";
    *argc = 2;
    return argv[0] = "DUMP", lens[0] = 4, "DUMP";
}

/* One key on one side: its type, PTTL and (when compare) value. type "none" when missing. */
struct side {
    char type[16];
    long long pttl;
    redisReply *value;
};

static int read_side(redisContext *c, const char *key, size_t klen, int compare, struct side *s) {
    snprintf(s->type, sizeof(s->type), "?");
    s->value = NULL;
    const char *argv[5] = {"TYPE", key};
    size_t lens[5] = {4, klen};
    redisReply *r = cmd_argv(c, 2, argv, lens);
    if (!r || r->type == REDIS_REPLY_ERROR) return r ? freeReplyObject(r), -1 : -1;
    snprintf(s->type, sizeof(s->type), "%s", r->str ? r->str : "?");
    freeReplyObject(r);
    argv[0] = "PTTL", lens[0] = 4;
    r = cmd_argv(c, 2, argv, lens);
    s->pttl = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    if (r) freeReplyObject(r);
    s->value = NULL;
    if (compare && strcmp(s->type, "none")) {
        int argc;
        value_cmd(s->type, argv, lens, &argc);
        argv[1] = key, lens[1] = klen;
        s->value = cmd_argv(c, argc, argv, lens);
        if (s->value) canon(s->value, s->type);
    }
    return 0;
}

static void note_diff(struct check *k, const char *key, size_t klen, const char *why) {
    if (json_array_size(k->diffs) < MAX_DIFFS)
        json_array_append_new(k->diffs, json_pack("{s:s%, s:s}", "key", key, klen, "difference", why));
}

/* What differs between the two sides of a key: 0 when they agree, else a code (1 missing on the new
 * backend, 2 type, 4 value, 5 TTL) and why. */
static int judge(const struct migrator *m, const struct side *o, const struct side *n, int compare, char *why,
                 size_t whylen) {
    why[0] = '\0';
    if (strcmp(o->type, n->type)) {
        int missing = !strcmp(n->type, "none");
        if (missing)
            snprintf(why, whylen, "missing on the new backend");
        else
            snprintf(why, whylen, "type %s on the old, %s on the new", o->type, n->type);
        return missing ? 1 : 2;
    }
    if (compare && strcmp(o->type, "none") && (!o->value || !n->value || !same_reply(o->value, n->value))) {
        snprintf(why, whylen, "value differs");
        return 4;
    }
    long long a = o->pttl, b = n->pttl;
    if ((a < 0) != (b < 0) || (a >= 0 && llabs(a - b) > m->tolerance)) {
        snprintf(why, whylen, "ttl %lld ms on the old, %lld ms on the new", a, b);
        return 5;
    }
    return 0;
}

/* Reads key on both sides again and compares them (3: could not be read). */
static int differ(struct migrator *m, redisContext *oc, redisContext *nc, const char *key, size_t klen, int compare,
                  char *why, size_t whylen, struct side *o, struct side *n) {
    if (read_side(oc, key, klen, compare, o) < 0 || read_side(nc, key, klen, compare, n) < 0) {
        snprintf(why, whylen, "could not be read");
        return 3;
    }
    return judge(m, o, n, compare, why, whylen);
}

/* Both sides of n keys read pipelined, a connection each side per key (oc[i], nc[i]): TYPE and PTTL of
 * all, then the values of those compare[i] asks for. -1 when a connection failed. */
static int read_batch(redisContext **oc, redisContext **nc, redisReply **keys, int n, const char *compare,
                      struct side *o, struct side *nw) {
    for (int i = 0; i < n; i++) {
        const char *argv[2] = {"TYPE", keys[i]->str};
        size_t lens[2] = {4, keys[i]->len};
        o[i].value = nw[i].value = NULL;
        snprintf(o[i].type, sizeof(o[i].type), "?");
        snprintf(nw[i].type, sizeof(nw[i].type), "?");
        for (int side = 0; side < 2; side++) {
            redisContext *c = side ? nc[i] : oc[i];
            argv[0] = "TYPE", lens[0] = 4;
            redisAppendCommandArgv(c, 2, argv, lens);
            argv[0] = "PTTL";
            redisAppendCommandArgv(c, 2, argv, lens);
        }
    }
    for (int i = 0; i < n; i++)
        for (int side = 0; side < 2; side++) {
            struct side *x = side ? &nw[i] : &o[i];
            redisReply *t = NULL, *p = NULL;
            redisContext *c = side ? nc[i] : oc[i];
            if (redisGetReply(c, (void **)&t) != REDIS_OK || redisGetReply(c, (void **)&p) != REDIS_OK) {
                if (t) freeReplyObject(t);
                return -1;
            }
            snprintf(x->type, sizeof(x->type), "%s", t->type == REDIS_REPLY_STATUS ? t->str : "?");
            x->pttl = p->type == REDIS_REPLY_INTEGER ? p->integer : -3;
            freeReplyObject(t), freeReplyObject(p);
        }
    for (int pass = 0; pass < 2; pass++) /* 0: the values asked for, 1: read back in the same order */
        for (int i = 0; i < n; i++)
            for (int side = 0; side < 2; side++) {
                struct side *x = side ? &nw[i] : &o[i];
                if (!compare[i] || !strcmp(x->type, "none") || !strcmp(x->type, "?")) continue;
                redisContext *c = side ? nc[i] : oc[i];
                if (pass == 0) {
                    const char *argv[5];
                    size_t lens[5];
                    int argc;
                    value_cmd(x->type, argv, lens, &argc);
                    argv[1] = keys[i]->str, lens[1] = keys[i]->len;
                    redisAppendCommandArgv(c, argc, argv, lens);
                } else {
                    if (redisGetReply(c, (void **)&x->value) != REDIS_OK) return -1;
                    canon(x->value, x->type);
                }
            }
    return 0;
}

static void side_free(struct side *s) {
    if (s->value) freeReplyObject(s->value);
    s->value = NULL;
}

/* Mends key on the new backend from the old one: copied over it, or deleted when the old has none. */
static void repair_key(struct migrator *m, redisContext *oc, redisContext *nc, const struct sm_node *to,
                       const char *key, size_t klen, int exists_on_old) {
    redisReply *r;
    if (exists_on_old) {
        if (!to) return; /* no owner on the new backend's map: nothing to copy to */
        const char *user, *pass;
        creds(m, m->nb, &user, &pass);
        char port_s[16];
        const char *argv[11];
        size_t lens[11];
        int argc = migrate_argv(to, key, klen, 1, user, pass, port_s, argv, lens);
        r = cmd_argv(oc, argc, argv, lens);
    } else {
        const char *argv[2] = {"DEL", key};
        size_t lens[2] = {3, klen};
        r = cmd_argv(nc, 2, argv, lens);
    }
    if (r) freeReplyObject(r);
}

static int check_old_batch(struct migrator *m, redisContext *src, const char *host, int port, redisReply **keys, int n,
                           void *ctx, char *err, size_t errlen) {
    (void)host, (void)port;
    struct check *k = ctx;
    struct slotmap *map = map_of(m, m->nb);
    if (!map) return snprintf(err, errlen, "no map of the new backend"), -1;
    redisContext *oc[BATCH * 2], *nc[BATCH * 2];
    const struct sm_node *to[BATCH * 2];
    char compare[BATCH * 2] = {0};
    int d[BATCH * 2], rc = 0, any = 0;
    struct side o[BATCH * 2], nw[BATCH * 2];
    for (int i = 0; i < n && rc == 0; i++) {
        to[i] = owner(map, keys[i]->str, keys[i]->len);
        o[i].value = nw[i].value = NULL;
        oc[i] = src;
        nc[i] = to[i] ? pooled(m, k->pool, &k->npool, 64, m->nb, to[i]->host, to[i]->port, err, errlen) : NULL;
        if (!nc[i]) {
            if (!to[i]) snprintf(err, errlen, "the new backend has no master for a key's slot");
            rc = -1;
        }
        k->sample_acc += m->sample;
        compare[i] = k->sample_acc >= 100;
        if (compare[i]) k->sample_acc -= 100;
    }
    if (rc == 0 && read_batch(oc, nc, keys, n, compare, o, nw) < 0)
        rc = -1, snprintf(err, errlen, "a connection failed while reading both sides");
    char why[BATCH * 2][160];
    for (int i = 0; i < n && rc == 0; i++) any |= (d[i] = judge(m, &o[i], &nw[i], compare[i], why[i], sizeof(why[i])));
    if (rc == 0 && any) { /* once more, a moment later: a write may have come between the two reads */
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (int i = 0; i < n; i++)
            if (d[i]) {
                side_free(&o[i]), side_free(&nw[i]);
                d[i] = differ(m, src, nc[i], keys[i]->str, keys[i]->len, compare[i], why[i], sizeof(why[i]), &o[i],
                              &nw[i]);
            }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const char *key = keys[i]->str;
        size_t klen = keys[i]->len;
        if (d[i] == 3) {
            k->unreadable++;
            note_diff(k, key, klen, why[i]);
        } else if (strcmp(o[i].type, "none")) { /* gone meanwhile: not counted on either side */
            k->old_keys++;
            k->old_types[type_index(o[i].type)]++;
            if (strcmp(nw[i].type, "none")) k->new_keys++, k->new_types[type_index(nw[i].type)]++;
            k->compared += compare[i];
        }
        if (d[i] && d[i] != 3 && strcmp(o[i].type, "none")) {
            if (d[i] == 1) k->missing++;
            if (d[i] == 2) k->type_differs++;
            if (d[i] == 4) k->value_differs++;
            if (d[i] == 5) k->ttl_differs++;
            note_diff(k, key, klen, why[i]);
            if (m->repair) repair_key(m, src, nc[i], to[i], key, klen, 1), k->repaired++;
        }
    }
    for (int i = 0; i < n; i++) side_free(&o[i]), side_free(&nw[i]);
    slotmap_unref(map);
    return rc;
}

/* Keys of the route on the new backend: counted per type; one the old backend lacks is extra. */
static int check_new_batch(struct migrator *m, redisContext *src, const char *host, int port, redisReply **keys, int n,
                           void *ctx, char *err, size_t errlen) {
    (void)host, (void)port;
    struct check *k = ctx;
    struct slotmap *map = map_of(m, m->old);
    if (!map) return snprintf(err, errlen, "no map of the old backend"), -1;
    redisContext *oc[BATCH * 2], *nc[BATCH * 2];
    char compare[BATCH * 2] = {0};
    struct side o[BATCH * 2], nw[BATCH * 2];
    int rc = 0, any = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const struct sm_node *from = owner(map, keys[i]->str, keys[i]->len);
        nc[i] = src;
        compare[i] = 0;
        oc[i] = from ? pooled(m, k->pool, &k->npool, 64, m->old, from->host, from->port, err, errlen) : NULL;
        if (!oc[i]) rc = -1;
    }
    if (rc == 0 && read_batch(oc, nc, keys, n, compare, o, nw) < 0)
        rc = -1, snprintf(err, errlen, "a connection failed while reading both sides");
    for (int i = 0; i < n && rc == 0; i++) any |= strcmp(nw[i].type, "none") && !strcmp(o[i].type, "none");
    if (any) { /* a delete may be on its way: look again */
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < n && rc == 0 && any; i++) {
        if (!strcmp(nw[i].type, "none") || strcmp(o[i].type, "none")) continue;
        const char *key = keys[i]->str;
        size_t klen = keys[i]->len;
        struct side o2 = {.value = NULL}, n2 = {.value = NULL};
        if (read_side(src, key, klen, 0, &n2) < 0 || read_side(oc[i], key, klen, 0, &o2) < 0) continue;
        if (strcmp(n2.type, "none") && !strcmp(o2.type, "none")) {
            k->extra++;
            k->new_keys++, k->new_types[type_index(n2.type)]++;
            note_diff(k, key, klen, "on the new backend only");
            if (m->repair) repair_key(m, oc[i], src, NULL, key, klen, 0), k->repaired++;
        }
    }
    slotmap_unref(map);
    return rc;
}

static json_t *types_json(const long long *t) {
    json_t *o = json_object();
    for (int i = 0; i < NTYPES; i++)
        if (t[i]) json_object_set_new(o, type_names[i], json_integer(t[i]));
    return o;
}

static void run_check(struct migrator *m) {
    struct check k = {.diffs = json_array()};
    char err[300] = "";
    double started = now_s();
    pthread_mutex_lock(&m->lock);
    json_decref(m->check);
    m->check = json_pack("{s:s, s:o}", "state", "running", "started", admin_iso_time(started));
    pthread_mutex_unlock(&m->lock);
    int rc = walk(m, m->old, check_old_batch, &k, err, sizeof(err));
    pool_close(k.pool, &k.npool);
    if (rc == 0) rc = walk(m, m->nb, check_new_batch, &k, err, sizeof(err));
    pool_close(k.pool, &k.npool);
    long long differences = k.missing + k.extra + k.type_differs + k.value_differs + k.ttl_differs + k.unreadable;
    json_t *j = json_pack(
        "{s:s, s:o, s:o, s:{s:I, s:o}, s:{s:I, s:o}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:i, s:b, s:o}",
        "state", rc == 0 ? "done" : "failed", "started", admin_iso_time(started), "finished", admin_iso_time(now_s()),
        "old", "keys", (json_int_t)k.old_keys, "types", types_json(k.old_types), "new", "keys", (json_int_t)k.new_keys,
        "types", types_json(k.new_types), "values_compared", (json_int_t)k.compared, "missing_on_new",
        (json_int_t)k.missing, "extra_on_new", (json_int_t)k.extra, "type_differs", (json_int_t)k.type_differs,
        "value_differs", (json_int_t)k.value_differs, "ttl_differs", (json_int_t)k.ttl_differs, "differences",
        (json_int_t)differences, "consistent", rc == 0 && differences == 0, "sample_percent", m->sample,
        "ttl_tolerance_ms", m->tolerance, "repair", m->repair, "listed", k.diffs);
    if (rc < 0) json_object_set_new(j, "error", json_string(err));
    if (m->repair) json_object_set_new(j, "repaired", json_integer(k.repaired));
    if (k.unreadable) json_object_set_new(j, "unreadable", json_integer(k.unreadable));
    log_notice("migration check: %lld keys on the old backend, %lld on the new, %lld differences%s%s", k.old_keys,
               k.new_keys, differences, rc < 0 ? ": " : "", rc < 0 ? err : "");
    pthread_mutex_lock(&m->lock);
    json_decref(m->check);
    m->check = j;
    m->checking = 0;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the thread ---- */

static void *run(void *arg) {
    struct migrator *m = arg;
    char err[300] = "";
    int rc = -1;
    if (m->conf->tls_cluster) {
        snprintf(err, sizeof(err), "tls-cluster is on: the background copy and the check speak plaintext only");
    } else {
        for (int i = 0; i < 100 && !stopping(m); i++) { /* the maps come a moment after the start */
            struct slotmap *a = map_of(m, m->old), *b = map_of(m, m->nb);
            int ready = a && b;
            if (a) slotmap_unref(a);
            if (b) slotmap_unref(b);
            if (ready) break;
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        for (int attempt = 0; attempt <= MAX_RESTARTS && !stopping(m); attempt++) {
            if (attempt) {
                add(m, &m->restarts, 1);
                log_warning("migration: background copy starts over (%s)", err);
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
            }
            if ((rc = walk(m, m->old, copy_batch, NULL, err, sizeof(err))) == 0) break;
        }
    }
    pthread_mutex_lock(&m->lock);
    m->finished = now_s();
    m->state = m->stop ? "stopped" : rc == 0 ? "copied" : "failed";
    if (rc < 0 && !m->stop) snprintf(m->error, sizeof(m->error), "%.200s", err);
    log_notice("migration: background copy %s: %lld keys scanned, %lld copied, %lld newer there already, %lld gone, "
               "%lld errors",
               m->state, m->scanned, m->copied, m->existed, m->vanished, m->errors);
    while (!m->stop) {
        if (m->want_check && rc == 0) {
            m->want_check = 0;
            pthread_mutex_unlock(&m->lock);
            run_check(m);
            pthread_mutex_lock(&m->lock);
            continue;
        }
        if (m->want_check) { /* no copy, no check */
            m->want_check = m->checking = 0;
            json_decref(m->check);
            m->check = json_pack("{s:s, s:s}", "state", "failed", "error", "the background copy failed");
        }
        pthread_cond_wait(&m->cond, &m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct migrator *migrator_start(const struct conf *conf, struct status *status, const struct prefix_table *t,
                                int route) {
    struct migrator *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->conf = conf;
    m->status = status;
    m->t = t;
    m->route = route;
    m->old = t->routes[route].backend;
    m->nb = t->routes[route].migrate_to - 1;
    m->state = "copying";
    m->started = now_s();
    m->sample = 100;
    m->tolerance = 2000;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->cond);
        free(m);
        return NULL;
    }
    log_notice("migration: route '%s' copies its keys from backend '%s' to '%s' in the background",
               t->routes[route].prefix, m->old ? conf->backends[m->old - 1].name : "default",
               m->nb ? conf->backends[m->nb - 1].name : "default");
    return m;
}

void migrator_stop(struct migrator *m) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    json_decref(m->check);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}

int migrator_check(struct migrator *m, int sample_percent, int ttl_tolerance_ms, int repair) {
    pthread_mutex_lock(&m->lock);
    int busy = m->checking;
    if (!busy) {
        m->checking = m->want_check = 1;
        m->sample = sample_percent;
        m->tolerance = ttl_tolerance_ms;
        m->repair = repair;
        json_decref(m->check);
        m->check = json_pack("{s:s}", "state", strcmp(m->state, "copying") ? "queued" : "after the copy");
        pthread_cond_signal(&m->cond);
    }
    pthread_mutex_unlock(&m->lock);
    return busy ? -1 : 0;
}

json_t *migrator_json(struct migrator *m) {
    pthread_mutex_lock(&m->lock);
    json_t *j = json_pack("{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "copy", m->state, "started",
                          admin_iso_time(m->started), "finished", admin_iso_time(m->finished), "scanned",
                          (json_int_t)m->scanned, "copied", (json_int_t)m->copied, "newer_on_new",
                          (json_int_t)m->existed, "gone", (json_int_t)m->vanished, "errors", (json_int_t)m->errors,
                          "restarts", (json_int_t)m->restarts);
    if (m->error[0]) json_object_set_new(j, "last_error", json_string(m->error));
    json_object_set_new(j, "check", m->check ? json_deep_copy(m->check) : json_null());
    pthread_mutex_unlock(&m->lock);
    return j;
}
