/* See slowlog.h. */
#include "slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void entry_free(struct slowlog_entry *e) {
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argl);
    e->argv = NULL, e->argl = NULL, e->argc = 0;
}

void slowlog_init(struct slowlog *l) {
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
}

void slowlog_free(struct slowlog *l) {
    for (int i = 0; i < l->n; i++) entry_free(&l->e[i]);
    free(l->e);
    pthread_mutex_destroy(&l->lock);
}

void slowlog_add(struct slowlog *l, int max, struct slowlog_entry *e) {
    pthread_mutex_lock(&l->lock);
    e->id = l->next_id++; /* counted even when none are kept, as Redis counts */
    if (max > 0 && l->n >= max)
        while (l->n > max - 1) entry_free(&l->e[--l->n]);
    if (max > 0 && l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        if (cap > max) cap = max;
        struct slowlog_entry *ne = cap > l->cap ? realloc(l->e, sizeof(*ne) * (size_t)cap) : NULL;
        if (ne) l->e = ne, l->cap = cap;
    }
    if (max > 0 && l->n < l->cap) {
        memmove(&l->e[1], &l->e[0], sizeof(*l->e) * (size_t)l->n);
        l->e[0] = *e;
        l->n++;
        e->argv = NULL, e->argl = NULL, e->argc = 0; /* taken */
    }
    pthread_mutex_unlock(&l->lock);
    entry_free(e);
}

void slowlog_reset(struct slowlog *l) {
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->n; i++) entry_free(&l->e[i]);
    l->n = 0;
    pthread_mutex_unlock(&l->lock);
}

int slowlog_len(struct slowlog *l) {
    pthread_mutex_lock(&l->lock);
    int n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int slowlog_get(struct slowlog *l, int max, struct slowlog_entry **out) {
    pthread_mutex_lock(&l->lock);
    int n = max < 0 || max > l->n ? l->n : max;
    *out = n ? calloc((size_t)n, sizeof(**out)) : NULL;
    if (!*out) n = 0;
    for (int i = 0; i < n; i++) {
        struct slowlog_entry *d = &(*out)[i], *s = &l->e[i];
        *d = *s;
        d->argv = calloc((size_t)(s->argc ? s->argc : 1), sizeof(*d->argv));
        d->argl = calloc((size_t)(s->argc ? s->argc : 1), sizeof(*d->argl));
        d->argc = 0;
        for (int k = 0; d->argv && d->argl && k < s->argc; k++) {
            if (!(d->argv[k] = malloc(s->argl[k] + 1))) break;
            memcpy(d->argv[k], s->argv[k], s->argl[k] + 1);
            d->argl[k] = s->argl[k];
            d->argc++;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

void slowlog_entries_free(struct slowlog_entry *e, int n) {
    for (int i = 0; i < n; i++) entry_free(&e[i]);
    free(e);
}

static void add_arg(struct slowlog_entry *e, const char *p, size_t len, size_t more_bytes) {
    char tail[64] = "";
    if (more_bytes) snprintf(tail, sizeof(tail), "... (%zu more bytes)", more_bytes);
    size_t tl = strlen(tail);
    char *s = malloc(len + tl + 1);
    if (!s) return;
    memcpy(s, p, len);
    memcpy(s + len, tail, tl + 1);
    e->argv[e->argc] = s;
    e->argl[e->argc++] = len + tl;
}

/* Parses "*N\r\n$L\r\n...": Redis keeps 31 arguments and says how many more in the 32nd, and cuts each at
 * 128 bytes. */
void slowlog_set_args(struct slowlog_entry *e, const char *p, size_t len) {
    const char *end = p + len;
    if (len < 4 || p[0] != '*') return;
    long n = strtol(p + 1, NULL, 10);
    const char *at = memchr(p, '\n', len);
    if (n <= 0 || !at) return;
    at++;
    int keep = n > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : (int)n;
    e->argv = calloc((size_t)keep, sizeof(*e->argv));
    e->argl = calloc((size_t)keep, sizeof(*e->argl));
    if (!e->argv || !e->argl) return;
    for (long i = 0; i < n && at < end && e->argc < keep; i++) {
        if (keep < n && e->argc == keep - 1) {
            char more[64];
            int m = snprintf(more, sizeof(more), "... (%ld more arguments)", n - keep + 1);
            add_arg(e, more, (size_t)m, 0);
            break;
        }
        if (*at != '$') break;
        long l = strtol(at + 1, NULL, 10);
        const char *v = memchr(at, '\n', (size_t)(end - at));
        if (l < 0 || !v || (size_t)(end - v - 1) < (size_t)l) break;
        v++;
        size_t cut = (size_t)l > SLOWLOG_MAX_STRING ? SLOWLOG_MAX_STRING : (size_t)l;
        add_arg(e, v, cut, (size_t)l - cut);
        at = v + l + 2;
    }
}

void slowlog_set_name(struct slowlog_entry *e, const char *name, int argc) {
    e->argv = calloc(2, sizeof(*e->argv));
    e->argl = calloc(2, sizeof(*e->argl));
    if (!e->argv || !e->argl) return;
    add_arg(e, name, strlen(name), 0);
    if (argc > 1) {
        char more[64];
        int m = snprintf(more, sizeof(more), "... (%d more arguments)", argc - 1);
        add_arg(e, more, (size_t)m, 0);
    }
}
