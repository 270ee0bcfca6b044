/* See hotkeys.h. */
#include "hotkeys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../router/merge.h"
#include "../router/slot.h"
#include "backend.h"
#include "client.h"

#include "worker.h"

void hotkeys_conf(struct worker *w) {
    sampler_set(&w->hk.sample, w->conf->hotkeys_sample,
                0x9E3779B97F4A7C15ULL ^ ((uint64_t)(w->id + 1) * 0xBF58476D1CE4E5B9ULL));
}

void hotkeys_init(struct worker *w) {
    memset(&w->hk, 0, sizeof(w->hk));
    pthread_mutex_init(&w->hk.lock, NULL);
    w->hk.window_start = worker_now(w);
    hotkeys_conf(w);
}

void hotkeys_destroy(struct worker *w) { pthread_mutex_destroy(&w->hk.lock); }

void hotkeys_note(struct worker *w, const struct plan *p, const struct resp_request *q, const char *bytes) {
    int kind = p->cmd && (p->cmd->flags & CMD_WRITE) ? HK_WRITES : HK_READS;
    uint64_t weight = (uint64_t)(w->conf->hotkeys_sample > 0 ? w->conf->hotkeys_sample : 1);
    for (int i = 0; i < p->nkeys && i < 8; i++) {
        if (p->kflags[i] & KSF_NOT_KEY) continue;
        uint32_t a = (uint32_t)p->keys[i];
        const char *k = resp_request_arg(q, bytes, a);
        size_t len = q->argv[a].len;
        hk_add(&w->hk.cur[kind], k, len, hk_hash(k, len), weight);
    }
}

void hotkeys_tick(struct worker *w) {
    struct worker_hotkeys *h = &w->hk;
    double now = worker_now(w), window = w->conf->hotkeys_window_seconds;
    if (now - h->window_start >= window) {
        for (int k = 0; k < HK_KINDS; k++) {
            h->prev[k] = h->cur[k];
            hk_reset(&h->cur[k]);
        }
        h->window_start = now;
    }
    static __thread struct hk_entry acc[HK_KINDS][2 * HK_K], tmp[HK_K];
    int n[HK_KINDS];
    for (int k = 0; k < HK_KINDS; k++) {
        n[k] = 0;
        hk_merge_entries(acc[k], &n[k], 2 * HK_K, tmp, hk_export(&h->cur[k], tmp));
        hk_merge_entries(acc[k], &n[k], 2 * HK_K, tmp, hk_export(&h->prev[k], tmp));
        hk_sort(acc[k], n[k]);
        if (n[k] > HK_K) n[k] = HK_K;
    }
    pthread_mutex_lock(&h->lock);
    for (int k = 0; k < HK_KINDS; k++) {
        memcpy(h->pub[k], acc[k], sizeof(acc[k][0]) * (size_t)n[k]);
        h->npub[k] = n[k];
        h->pub_total[k] = h->cur[k].total + h->prev[k].total;
    }
    pthread_mutex_unlock(&h->lock);
}

int hotkeys_collect(struct worker *all, int n, int kind, struct hk_entry *out, int max, uint64_t *total) {
    int got = 0;
    *total = 0;
    static __thread struct hk_entry copy[HK_K];
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&all[i].hk.lock);
        int nc = all[i].hk.npub[kind];
        memcpy(copy, all[i].hk.pub[kind], sizeof(copy[0]) * (size_t)nc);
        *total += all[i].hk.pub_total[kind];
        pthread_mutex_unlock(&all[i].hk.lock);
        hk_merge_entries(out, &got, max, copy, nc);
    }
    hk_sort(out, got);
    return got;
}

/* SLOTGATE HOTKEYS [READS|WRITES] [COUNT n]: "reads" and "writes", each a list of [key, requests, error,
 * master], most requested first (10 each unless COUNT says). */
void hotkeys_local(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    int want[HK_KINDS] = {1, 1};
    long count = 10;
    for (uint32_t i = 2; i < q->argc; i++) {
        const char *a = resp_request_arg(q, cmd, i);
        size_t l = q->argv[i].len;
        if (l == 5 && !strncasecmp(a, "reads", 5)) {
            want[HK_WRITES] = 0;
        } else if (l == 6 && !strncasecmp(a, "writes", 6)) {
            want[HK_READS] = 0;
        } else if (l == 5 && !strncasecmp(a, "count", 5) && i + 1 < q->argc) {
            char num[24], *end;
            snprintf(num, sizeof(num), "%.*s", (int)(q->argv[i + 1].len < 23 ? q->argv[i + 1].len : 23),
                     resp_request_arg(q, cmd, i + 1));
            count = strtol(num, &end, 10);
            if (*end || !*num || count <= 0)
                return req_reply_error(w, r, "ERR value is out of range, must be positive");
            i++;
        } else {
            return req_reply_error(w, r, "ERR syntax error");
        }
    }
    static __thread struct hk_entry e[HK_K * 4];
    struct sbuf b = {0};
    int rc = sbuf_add_header(&b, '*', (unsigned)(2 * (want[0] + want[1])));
    for (int kind = 0; kind < HK_KINDS; kind++) {
        if (!want[kind]) continue;
        uint64_t total;
        int n = hotkeys_collect(w->shared.all, w->shared.nworkers, kind, e, HK_K * 4, &total);
        if (n > count) n = (int)count;
        const char *name = kind == HK_READS ? "reads" : "writes";
        rc |= sbuf_add_bulk(&b, name, strlen(name)) | sbuf_add_header(&b, '*', (unsigned)n);
        for (int i = 0; i < n; i++) {
            size_t kept = e[i].len < HK_KEY_MAX ? e[i].len : HK_KEY_MAX;
            const struct node *m =
                w->view.map && e[i].len <= HK_KEY_MAX ? w->view.routes.slot_master[slot_for_key(e[i].key, kept)] : NULL;
            rc |= sbuf_printf(&b, "*4\r\n") | sbuf_add_bulk(&b, e[i].key, kept) |
                  sbuf_printf(&b, ":%llu\r\n:%llu\r\n", (unsigned long long)e[i].count, (unsigned long long)e[i].err);
            rc |= m ? sbuf_add_bulk(&b, m->addr, strlen(m->addr)) : sbuf_add_null(&b, r->resp3);
        }
    }
    if (rc < 0)
        req_reply_error(w, r, "ERR slotgate: out of memory");
    else
        req_reply(w, r, b.p, b.len);
    sbuf_free(&b);
}
