/* Requests that become several: a multi-key command whose keys span slots is split into one command
 * per slot (all sent in the same loop turn, so each node gets its parts in one write), a cluster-wide
 * command goes to every master, and the parts' replies are merged by router/merge into what a single
 * server would answer. SCAN walks the masters one after the other, its cursor saying which. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../router/encode.h"
#include "../router/merge.h"
#include "../lib/log.h"
#include "fanout.h"
#include "migrate.h"
#include "worker.h"

/* The parts' replies are appended to one buffer (offsets, not pointers, since it may move as it
 * grows) and merged once the last is in. */
struct fanout {
    int policy;
    int n, pending; /* pending counts the parts not yet answered, +1 while parts are still being sent */
    struct sbuf arena;
    size_t *off; /* per part: where its reply starts in arena, and its length (2 entries each) */
    int *key_child;
    int nkeys;
    char *prefix;
    /* for SLOWLOG: the command, and the part answered last (the one the client waited for) */
    char name[32];
    int argc;
    double slow_node_s;
    char slow_node[SM_HOST_LEN + 8];
};

void fanout_free(struct fanout *f) {
    if (!f) return;
    sbuf_free(&f->arena);
    free(f->off);
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
    f->off = calloc((size_t)n * 2, sizeof(*f->off));
    if (!f->off) {
        free(f);
        return NULL;
    }
    return f;
}

/* The first argument of a multibulk and how many there are, for SLOWLOG (lower case, as Redis names
 * commands). */
static void command_name(const char *p, size_t len, char *out, size_t cap, int *argc) {
    out[0] = '\0';
    *argc = 0;
    if (len < 4 || p[0] != '*') return;
    *argc = atoi(p + 1);
    const char *d = memchr(p, '$', len);
    const char *v = d ? memchr(d, '\n', len - (size_t)(d - p)) : NULL;
    if (!v) return;
    size_t n = (size_t)atoi(d + 1);
    if (n >= cap || (size_t)(p + len - v - 1) < n) return;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)v[1 + i]);
    out[n] = '\0';
}

static void set_reply(struct fanout *f, int idx, const char *p, size_t len) {
    static const char oom[] = "-ERR slotgate: out of memory\r\n";
    f->off[2 * idx] = f->arena.len;
    if (sbuf_add(&f->arena, p, len) < 0) { /* merged as an error, never as an empty nothing */
        f->arena.len = f->off[2 * idx];
        if (sbuf_add(&f->arena, oom, sizeof(oom) - 1) < 0) return;
        len = sizeof(oom) - 1;
    }
    f->off[2 * idx + 1] = len;
}

static void finish(struct worker *w, struct req *parent) {
    struct fanout *f = parent->fan;
    if (--f->pending > 0) return;
    struct reply_ref small[64], *refs = f->n <= 64 ? small : malloc(sizeof(*refs) * (size_t)f->n);
    int rc = -1;
    struct sbuf *out = &w->tmp.merge_out;
    out->len = 0;
    if (refs) {
        for (int i = 0; i < f->n; i++) refs[i] = (struct reply_ref){f->arena.p + f->off[2 * i], f->off[2 * i + 1]};
        rc = merge_replies(f->policy, refs, f->n, f->key_child, f->nkeys, w->view.routes.rr++, f->prefix, out);
    }
    if (refs != small) free(refs);
    int policy = f->policy;
    w->split.parts = f->n;
    w->split.argc = f->argc;
    w->split.slow_node_s = f->slow_node_s;
    snprintf(w->split.name, sizeof(w->split.name), "%s", f->name[0] ? f->name : "?");
    snprintf(w->split.slow_node, sizeof(w->split.slow_node), "%s", f->slow_node[0] ? f->slow_node : "-");
    parent->fan = NULL;
    fanout_free(f);
    if (rc == 0 && policy == MERGE_INFO && parent->resp3) { /* INFO is verbatim text in RESP3 */
        struct sbuf v = {0};
        rc = bulk_as_verbatim(out->p, out->len, &v);
        if (rc == 0) req_reply(w, parent, v.p, v.len);
        sbuf_free(&v);
        if (rc == 0) goto done;
    }
    if (rc < 0)
        req_reply_error(w, parent, "ERR slotgate: out of memory");
    else
        req_reply(w, parent, out->p, out->len);
done:
    w->split.parts = 0;
    if (out->cap > 1024 * 1024) sbuf_free(out); /* keep a small one for the next merge */
}

void fanout_child_done(struct worker *w, struct req *child, const char *reply, size_t len) {
    struct req *parent = child->parent;
    struct fanout *f = parent->fan;
    if (w->answering) { /* parts end in order of arrival: the last one's node is where the wait was */
        f->slow_node_s = worker_now(w) - child->sent_at;
        snprintf(f->slow_node, sizeof(f->slow_node), "%s", w->answering->addr);
    }
    set_reply(f, child->child_idx, reply, len);
    req_free(w, child);
    finish(w, parent);
}

static struct req *new_child(struct worker *w, struct req *parent, int idx, int slot) {
    struct req *c = req_new(w);
    if (!c) return NULL;
    c->parent = parent;
    c->child_idx = idx;
    c->slot = slot;
    c->load_counted = (uint8_t)sampler_hit(&w->load_sample); /* a split's parts carry keys (fanout_all's not) */
    c->started = parent->started;
    c->deadline = parent->deadline;
    c->is_readonly = parent->is_readonly;
    c->resp3 = parent->resp3;
    return c;
}

static void fail_child(struct worker *w, struct req *parent, int idx) {
    static const char msg[] = "-ERR slotgate: out of memory\r\n";
    set_reply(parent->fan, idx, msg, sizeof(msg) - 1);
    finish(w, parent);
}

/* One command per slot (router/encode.c builds them), all sent in this loop turn so each node gets
 * its parts in one write; the replies are put back in the caller's key order by MERGE_MGET and the like. */
void fanout_split(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd,
                  const struct plan *p) {
    int nkeys = p->nkeys, n;
    int *key_child = malloc(sizeof(int) * (size_t)nkeys);
    struct sbuf *b = &w->tmp.split_cmd;
    struct fanout *f = NULL;
    if (!key_child || (n = split_by_slot(&w->tmp.split, p, key_child)) < 0 || !(f = fanout_new(p->merge, n))) {
        free(key_child);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return;
    }
    f->key_child = key_child;
    f->nkeys = nkeys;
    snprintf(f->name, sizeof(f->name), "%s", p->cmd ? p->cmd->name : "?");
    f->argc = (int)q->argc;
    r->fan = f;
    r->is_readonly = (p->cmd->flags & CMD_READONLY) != 0;
    for (int c = 0; c < n; c++) {
        int rc = split_command(&w->tmp.split, c, q, cmd, p, b);
        struct req *child = rc == 0 ? new_child(w, r, c, split_slot(&w->tmp.split, c, p)) : NULL;
        if (child && (child->backend = (uint8_t)split_backend(&w->tmp.split, c, p))) child->load_counted = 0;
        if (!child) {
            fail_child(w, r, c);
            continue;
        }
        if (__builtin_expect(p->migrating, 0)) migrate_prepare_part(w, child, p, q, cmd, key_child, c);
        route_request(w, child, NULL, b->p, b->len);
    }
    if (b->cap > 1024 * 1024) sbuf_free(b); /* a huge MSET's buffer is not kept */
    finish(w, r);                           /* drops the +1 held while sending */
}

void fanout_all(struct worker *w, struct req *r, const char *bytes, size_t len, int policy, const char *prefix) {
    if (w->view.routes.nshards == 0) {
        req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
        return;
    }
    struct fanout *f = fanout_new(policy, w->view.routes.nshards);
    if (!f || (prefix && !(f->prefix = strdup(prefix)))) {
        fanout_free(f);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return;
    }
    command_name(bytes, len, f->name, sizeof(f->name), &f->argc);
    r->fan = f;
    int n = w->view.routes.nshards;
    for (int i = 0; i < n; i++) {
        struct req *child = new_child(w, r, i, w->view.routes.shard_slot[i]);
        if (!child) {
            fail_child(w, r, i);
            continue;
        }
        child->load_counted = 0;                    /* sent to every master: no slot carries it */
        if (policy == MERGE_INFO) child->resp3 = 0; /* slotgate reads the masters' INFO: in RESP2 */
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
    if (w->view.routes.nshards == 0) {
        req_reply_error(w, r, "CLUSTERDOWN The cluster is down: slotgate has not loaded the slot map yet");
        return;
    }
    if (scan_cursor_decode(resp_request_arg(q, cmd, 1), q->argv[1].len, &shard, &node_cursor) < 0 ||
        shard >= (unsigned)w->view.routes.nshards) {
        req_reply_error(w, r, "ERR invalid cursor");
        return;
    }
    struct sbuf b = {0};
    char num[32];
    int nl = snprintf(num, sizeof(num), "%llu", node_cursor);
    int rc = sbuf_printf(&b, "*%u\r\n$4\r\nSCAN\r\n$%d\r\n%s\r\n", q->argc, nl, num);
    for (uint32_t i = 2; i < q->argc && rc == 0; i++)
        rc = sbuf_add_bulk(&b, resp_request_arg(q, cmd, i), q->argv[i].len);
    if (rc < 0) {
        sbuf_free(&b);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        return;
    }
    r->xform = XFORM_SCAN;
    r->scan_shard = (uint16_t)shard;
    r->slot = w->view.routes.shard_slot[shard];
    route_request(w, r, NULL, b.p, b.len);
    sbuf_free(&b);
}
