/* Requests that become several: a multi-key command whose keys span slots is split into one command
 * per slot (all sent in the same loop turn, so each node gets its parts in one write), a cluster-wide
 * command goes to every master, and the parts' replies are merged by router/merge into what a single
 * server would answer. SCAN walks the masters one after the other, its cursor saying which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../router/merge.h"
#include "log.h"
#include "proxy.h"

struct fanout {
    int policy;
    int n, pending; /* pending counts the parts not yet answered, +1 while parts are still being sent */
    struct reply_ref *replies;
    int *key_child;
    int nkeys;
    char *prefix;
};

void fanout_free(struct fanout *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free((char *)f->replies[i].p);
    free(f->replies);
    free(f->key_child);
    free(f->prefix);
    free(f);
}

static struct fanout *fanout_new(int policy, int n) {
    struct fanout *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->policy = policy;
    f->n = n;
    f->pending = n + 1;
    f->replies = calloc((size_t)n, sizeof(*f->replies));
    if (!f->replies) {
        free(f);
        return NULL;
    }
    return f;
}

static void finish(struct worker *w, struct req *parent) {
    struct fanout *f = parent->fan;
    if (--f->pending > 0) return;
    struct sbuf out = {0};
    int rc = merge_replies(f->policy, f->replies, f->n, f->key_child, f->nkeys, w->any_rr++, f->prefix, &out);
    parent->fan = NULL;
    fanout_free(f);
    if (rc < 0)
        req_reply_error(w, parent, "ERR slotgate: out of memory");
    else
        req_reply(w, parent, out.p, out.len);
    sbuf_free(&out);
}

void fanout_child_done(struct worker *w, struct req *child, const char *reply, size_t len) {
    struct req *parent = child->parent;
    struct fanout *f = parent->fan;
    char *copy = malloc(len ? len : 1);
    if (copy)
        memcpy(copy, reply, len);
    else
        len = 0;
    f->replies[child->child_idx] = (struct reply_ref){copy, len};
    if (!copy) { /* an empty reply is merged as an error-free nothing; make it an error instead */
        static const char oom[] = "-ERR slotgate: out of memory\r\n";
        f->replies[child->child_idx] = (struct reply_ref){strdup(oom), sizeof(oom) - 1};
    }
    req_free(w, child);
    finish(w, parent);
}

static struct req *new_child(struct worker *w, struct req *parent, int idx, int slot) {
    struct req *c = req_new(w);
    if (!c) return NULL;
    c->parent = parent;
    c->child_idx = idx;
    c->slot = slot;
    c->started = parent->started;
    c->deadline = parent->deadline;
    c->is_readonly = parent->is_readonly;
    return c;
}

static void fail_child(struct worker *w, struct req *parent, int idx) {
    static const char msg[] = "-ERR slotgate: out of memory\r\n";
    parent->fan->replies[idx] = (struct reply_ref){strdup(msg), sizeof(msg) - 1};
    finish(w, parent);
}

static int add_bulk(struct sbuf *b, const char *p, size_t len) {
    return sbuf_printf(b, "$%zu\r\n", len) < 0 || sbuf_add(b, p, len) < 0 || sbuf_add(b, "\r\n", 2) < 0 ? -1 : 0;
}

/* One command per slot: the command name, then each of that slot's keys with the arguments that
 * belong to it (MSET's value), in the caller's order so MGET's values can be put back in place. */
void fanout_split(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd,
                  const struct plan *p) {
    int step =
        (p->cmd->nspecs > 0 && p->cmd->specs[0].fk == KS_FK_RANGE && p->cmd->specs[0].b > 0) ? p->cmd->specs[0].b : 1;
    int nkeys = p->nkeys, n = 0;
    int *key_child = malloc(sizeof(int) * (size_t)nkeys), *next = malloc(sizeof(int) * (size_t)nkeys);
    int *head = malloc(sizeof(int) * (size_t)nkeys), *tail = malloc(sizeof(int) * (size_t)nkeys);
    int *count = calloc((size_t)nkeys, sizeof(int));
    uint16_t *slot_of = malloc(sizeof(uint16_t) * (size_t)nkeys);
    struct sbuf b = {0};
    if (!key_child || !next || !head || !tail || !count || !slot_of) goto oom;
    for (int i = 0; i < nkeys; i++) {
        int s = p->slots[i];
        if (w->slot_child[s] < 0) {
            w->slot_child[s] = n;
            slot_of[n] = (uint16_t)s;
            head[n] = i;
            n++;
        } else {
            next[tail[w->slot_child[s]]] = i;
        }
        int c = w->slot_child[s];
        tail[c] = i;
        next[i] = -1;
        key_child[i] = c;
        count[c]++;
    }
    for (int c = 0; c < n; c++) w->slot_child[slot_of[c]] = -1;
    struct fanout *f = fanout_new(p->merge, n);
    if (!f) goto oom;
    f->key_child = key_child;
    f->nkeys = nkeys;
    key_child = NULL;
    r->fan = f;
    r->is_readonly = (p->cmd->flags & CMD_READONLY) != 0;
    for (int c = 0; c < n; c++) {
        b.len = 0;
        int rc =
            sbuf_printf(&b, "*%d\r\n", 1 + count[c] * step) | add_bulk(&b, resp_request_arg(q, cmd, 0), q->argv[0].len);
        for (int i = head[c]; i >= 0 && rc == 0; i = next[i])
            for (int a = p->keys[i]; a < p->keys[i] + step && a < (int)q->argc && rc == 0; a++)
                rc = add_bulk(&b, resp_request_arg(q, cmd, (uint32_t)a), q->argv[a].len);
        struct req *child = rc == 0 ? new_child(w, r, c, slot_of[c]) : NULL;
        if (!child) {
            fail_child(w, r, c);
            continue;
        }
        route_request(w, child, NULL, b.p, b.len);
    }
    finish(w, r); /* drops the +1 held while sending */
    goto done;
oom:
    req_reply_error(w, r, "ERR slotgate: out of memory");
done:
    sbuf_free(&b);
    free(key_child);
    free(next);
    free(head);
    free(tail);
    free(count);
    free(slot_of);
}

void fanout_all(struct worker *w, struct req *r, const char *bytes, size_t len, int policy, const char *prefix) {
    if (w->nshards == 0) {
        req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
        return;
    }
    struct fanout *f = fanout_new(policy, w->nshards);
    if (!f || (prefix && !(f->prefix = strdup(prefix)))) {
        fanout_free(f);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return;
    }
    r->fan = f;
    int n = w->nshards;
    for (int i = 0; i < n; i++) {
        struct req *child = new_child(w, r, i, w->shard_slot[i]);
        if (!child) {
            fail_child(w, r, i);
            continue;
        }
        route_request(w, child, NULL, bytes, len);
    }
    finish(w, r);
}

/* SCAN <cursor> [options]: the cursor's low bits name the master, in slot order; the node's own cursor
 * is the rest. Every master is scanned in turn, so every key is seen (once, unless it moves between
 * masters during the scan, where a cluster client could also see it twice or miss it). */
void fanout_scan(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd) {
    unsigned shard;
    unsigned long long node_cursor;
    if (w->nshards == 0) {
        req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
        return;
    }
    if (scan_cursor_decode(resp_request_arg(q, cmd, 1), q->argv[1].len, &shard, &node_cursor) < 0 ||
        shard >= (unsigned)w->nshards) {
        req_reply_error(w, r, "ERR invalid cursor");
        return;
    }
    struct sbuf b = {0};
    char num[32];
    int nl = snprintf(num, sizeof(num), "%llu", node_cursor);
    int rc = sbuf_printf(&b, "*%u\r\n$4\r\nSCAN\r\n$%d\r\n%s\r\n", q->argc, nl, num);
    for (uint32_t i = 2; i < q->argc && rc == 0; i++) rc = add_bulk(&b, resp_request_arg(q, cmd, i), q->argv[i].len);
    if (rc < 0) {
        sbuf_free(&b);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return;
    }
    r->xform = XFORM_SCAN;
    r->scan_shard = (uint16_t)shard;
    r->slot = w->shard_slot[shard];
    route_request(w, r, NULL, b.p, b.len);
    sbuf_free(&b);
}
