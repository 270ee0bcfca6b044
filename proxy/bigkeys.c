/* See bigkeys.h. */
#include "bigkeys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "worker.h"

void bigkeys_init(struct bigkeys *l) {
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
}

void bigkeys_free(struct bigkeys *l) {
    free(l->e);
    pthread_mutex_destroy(&l->lock);
}

void bigkeys_add(struct bigkeys *l, int max, struct bigkey_entry *e) {
    pthread_mutex_lock(&l->lock);
    e->id = l->next_id++;
    if (max > 0) {
        if (l->n >= max) l->n = max - 1;
        if (l->n == l->cap && l->cap < max) {
            int cap = l->cap ? l->cap * 2 : 16;
            if (cap > max) cap = max;
            struct bigkey_entry *ne = realloc(l->e, sizeof(*ne) * (size_t)cap);
            if (ne) l->e = ne, l->cap = cap;
        }
        if (l->n < l->cap) {
            memmove(&l->e[1], &l->e[0], sizeof(*e) * (size_t)l->n);
            l->e[0] = *e;
            l->n++;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

int bigkeys_get(struct bigkeys *l, int max, struct bigkey_entry **out) {
    pthread_mutex_lock(&l->lock);
    int n = max < 0 || max > l->n ? l->n : max;
    *out = n ? malloc(sizeof(**out) * (size_t)n) : NULL;
    if (*out)
        memcpy(*out, l->e, sizeof(**out) * (size_t)n);
    else
        n = 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static void fill(struct bigkey_entry *e, struct client *c, const char *cmd, size_t clen, const char *key, size_t klen) {
    size_t n = clen < sizeof(e->command) - 1 ? clen : sizeof(e->command) - 1;
    for (size_t i = 0; i < n; i++) e->command[i] = (char)tolower((unsigned char)cmd[i]);
    e->command[n] = '\0';
    e->key_len = klen;
    memcpy(e->key, key, klen < sizeof(e->key) ? klen : sizeof(e->key));
    snprintf(e->client, sizeof(e->client), "%s", c ? c->addr : "");
    e->time = ev_time();
}

void bigkeys_request(struct worker *w, struct client *c, const struct resp_request *q, const char *bytes) {
    long long max = 0;
    if ((long long)q->cmd_len >= w->conf->bigkeys_value_bytes) /* only then can one argument be that large */
        for (uint32_t i = 1; i < q->argc; i++)
            if ((long long)q->argv[i].len > max) max = (long long)q->argv[i].len;
    int many = (long long)q->argc - 1 >= w->conf->bigkeys_elements;
    if (max < w->conf->bigkeys_value_bytes && !many) return;
    struct bigkey_entry e = {0};
    fill(&e, c, resp_request_arg(q, bytes, 0), q->argv[0].len, q->argc > 1 ? resp_request_arg(q, bytes, 1) : "",
         q->argc > 1 ? q->argv[1].len : 0);
    e.bytes = max >= w->conf->bigkeys_value_bytes ? max : (long long)q->cmd_len;
    e.elements = q->argc - 1;
    bigkeys_add(w->shared.bigkeys, w->conf->bigkeys_log_max_len, &e);
}

void bigkeys_upload(struct worker *w, struct client *c, const char *cmd, size_t clen, const char *key, size_t klen,
                    long long bytes) {
    if (bytes < w->conf->bigkeys_value_bytes) return;
    struct bigkey_entry e = {0};
    fill(&e, c, cmd, clen, key, klen);
    e.bytes = bytes;
    e.elements = 1;
    bigkeys_add(w->shared.bigkeys, w->conf->bigkeys_log_max_len, &e);
}

/* The first two arguments of a request's pinned command bytes (a multibulk): its name and first key. */
static void first_args(const struct req *r, char *name, size_t ncap, char *key, size_t kcap, size_t *klen) {
    char head[512];
    size_t got = cref_copy(&r->cmd, head, sizeof(head));
    name[0] = key[0] = '\0';
    *klen = 0;
    const char *p = head, *end = head + got;
    if (got < 4 || *p != '*') return;
    p = memchr(p, '\n', got);
    for (int i = 0; p && i < 2 && p + 1 < end && p[1] == '$'; i++) {
        long l = strtol(p + 2, NULL, 10);
        const char *v = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (!v || l < 0) return;
        v++;
        size_t have = (size_t)(end - v) < (size_t)l ? (size_t)(end - v) : (size_t)l;
        if (i == 0) {
            size_t n = have < ncap - 1 ? have : ncap - 1;
            for (size_t k = 0; k < n; k++) name[k] = (char)tolower((unsigned char)v[k]);
            name[n] = '\0';
        } else {
            *klen = (size_t)l;
            memcpy(key, v, have < kcap ? have : kcap);
        }
        p = v + l + 1 < end ? v + l + 1 : NULL;
    }
}

void bigkeys_reply(struct worker *w, struct req *r, const char *reply, size_t len, long long streamed) {
    long long elements = 0, bytes = streamed >= 0 ? streamed : (long long)len;
    if (streamed < 0 && len > 1 && strchr("*%~>", reply[0])) elements = strtoll(reply + 1, NULL, 10);
    if (reply && reply[0] == '%') elements *= 2;
    if (bytes < w->conf->bigkeys_value_bytes && elements < w->conf->bigkeys_elements) return;
    struct bigkey_entry e = {0};
    if (w->split.parts) {
        snprintf(e.command, sizeof(e.command), "%s", w->split.name);
    } else if (r->cmd_chain && r->cmd.len) {
        first_args(r, e.command, sizeof(e.command), e.key, sizeof(e.key), &e.key_len);
    }
    e.time = ev_time();
    snprintf(e.client, sizeof(e.client), "%s", r->client ? r->client->addr : "");
    e.is_reply = 1;
    e.bytes = bytes;
    e.elements = streamed >= 0 ? 1 : elements;
    bigkeys_add(w->shared.bigkeys, w->conf->bigkeys_log_max_len, &e);
}
