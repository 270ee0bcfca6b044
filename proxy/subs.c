/* See subs.h. A chained hash table keyed by (kind, name) holding subscriber counts, and an array of
 * the pattern entries for PUBLISH to match against. */
#include "subs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../router/glob.h"

struct sub_entry {
    struct sub_entry *next;
    int kind;
    long long count; /* registry: subscribers; in a client's sub_set: unused */
    int pat_idx;     /* registry patterns: its place in s->pats */
    size_t len;
    char name[];
};

struct subs {
    pthread_mutex_t lock;
    struct sub_entry **tab;
    size_t mask, n;
    long long nkind[SUB_KINDS]; /* distinct channels, patterns, shard channels */
    struct sub_entry **pats;
    int npats, cap_pats;
};

static size_t hash(int kind, const char *p, size_t len) {
    size_t h = 1469598103934665603ULL ^ (size_t)kind;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static struct sub_entry *entry_new(int kind, const char *name, size_t len) {
    struct sub_entry *e = malloc(sizeof(*e) + len + 1);
    if (!e) return NULL;
    e->next = NULL;
    e->kind = kind;
    e->count = 0;
    e->pat_idx = -1;
    e->len = len;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    return e;
}

struct subs *subs_new(void) {
    struct subs *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->mask = 63;
    s->tab = calloc(s->mask + 1, sizeof(*s->tab));
    if (!s->tab) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void subs_free(struct subs *s) {
    if (!s) return;
    for (size_t i = 0; i <= s->mask; i++)
        for (struct sub_entry *e = s->tab[i], *next; e; e = next) next = e->next, free(e);
    free(s->tab);
    free(s->pats);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static struct sub_entry **find(struct subs *s, int kind, const char *name, size_t len) {
    struct sub_entry **pp = &s->tab[hash(kind, name, len) & s->mask];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->kind == kind && (*pp)->len == len && memcmp((*pp)->name, name, len) == 0) break;
    return pp;
}

static void grow(struct subs *s) {
    size_t cap = (s->mask + 1) * 2;
    struct sub_entry **tab = calloc(cap, sizeof(*tab));
    if (!tab) return; /* stays as it is: longer chains */
    for (size_t i = 0; i <= s->mask; i++) {
        for (struct sub_entry *e = s->tab[i], *next; e; e = next) {
            next = e->next;
            size_t h = hash(e->kind, e->name, e->len) & (cap - 1);
            e->next = tab[h];
            tab[h] = e;
        }
    }
    free(s->tab);
    s->tab = tab;
    s->mask = cap - 1;
}

void subs_add(struct subs *s, int kind, const char *name, size_t len) {
    pthread_mutex_lock(&s->lock);
    struct sub_entry **pp = find(s, kind, name, len);
    if (!*pp && (*pp = entry_new(kind, name, len)) != NULL) {
        s->n++;
        s->nkind[kind]++;
        if (kind == SUB_PATTERN) {
            if (s->npats == s->cap_pats) {
                int cap = s->cap_pats ? s->cap_pats * 2 : 16;
                struct sub_entry **p = realloc(s->pats, sizeof(*p) * (size_t)cap);
                if (p) s->pats = p, s->cap_pats = cap;
            }
            if (s->npats < s->cap_pats) (*pp)->pat_idx = s->npats, s->pats[s->npats++] = *pp;
        }
        if (s->n > s->mask + 1) grow(s), pp = find(s, kind, name, len);
    }
    if (*pp) (*pp)->count++;
    pthread_mutex_unlock(&s->lock);
}

void subs_remove(struct subs *s, int kind, const char *name, size_t len) {
    pthread_mutex_lock(&s->lock);
    struct sub_entry **pp = find(s, kind, name, len), *e = *pp;
    if (e && --e->count <= 0) {
        *pp = e->next;
        if (e->pat_idx >= 0) {
            s->pats[e->pat_idx] = s->pats[--s->npats];
            s->pats[e->pat_idx]->pat_idx = e->pat_idx;
        }
        s->n--;
        s->nkind[kind]--;
        free(e);
    }
    pthread_mutex_unlock(&s->lock);
}

long long subs_receivers(struct subs *s, const char *channel, size_t len) {
    pthread_mutex_lock(&s->lock);
    struct sub_entry *e = *find(s, SUB_CHANNEL, channel, len);
    long long n = e ? e->count : 0;
    for (int i = 0; i < s->npats; i++)
        if (glob_match(s->pats[i]->name, s->pats[i]->len, channel, len, 0)) n += s->pats[i]->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

long long subs_count(struct subs *s, int kind, const char *name, size_t len) {
    pthread_mutex_lock(&s->lock);
    struct sub_entry *e = *find(s, kind, name, len);
    long long n = e ? e->count : 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

long long subs_kind_count(struct subs *s, int kind) {
    pthread_mutex_lock(&s->lock);
    long long n = s->nkind[kind];
    pthread_mutex_unlock(&s->lock);
    return n;
}

int subs_reply_channels(struct subs *s, int kind, const char *pat, size_t plen, struct sbuf *out) {
    struct sbuf body = {0};
    unsigned long long n = 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i <= s->mask && rc == 0; i++)
        for (struct sub_entry *e = s->tab[i]; e && rc == 0; e = e->next)
            if (e->kind == kind && (!pat || glob_match(pat, plen, e->name, e->len, 0)))
                rc = sbuf_add_bulk(&body, e->name, e->len), n++;
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) rc = sbuf_add_header(out, '*', n);
    if (rc == 0 && body.len) rc = sbuf_add(out, body.p, body.len);
    sbuf_free(&body);
    return rc;
}

/* --- one client's set --- */

static int set_find(const struct sub_set *set, int kind, const char *name, size_t len) {
    for (int i = set->n - 1; i >= 0; i--)
        if (set->e[i]->kind == kind && set->e[i]->len == len && memcmp(set->e[i]->name, name, len) == 0) return i;
    return -1;
}

int sub_set_add(struct sub_set *set, int kind, const char *name, size_t len) {
    if (set->n == set->cap) {
        int cap = set->cap ? set->cap * 2 : 8;
        struct sub_entry **e = realloc(set->e, sizeof(*e) * (size_t)cap);
        if (!e) return -1;
        set->e = e;
        set->cap = cap;
    }
    struct sub_entry *e = entry_new(kind, name, len);
    if (!e) return -1;
    set->e[set->n++] = e;
    return 0;
}

int sub_set_remove(struct sub_set *set, int kind, const char *name, size_t len) {
    int i = set_find(set, kind, name, len);
    if (i < 0) return 0;
    free(set->e[i]);
    set->e[i] = set->e[--set->n];
    return 1;
}

int sub_set_encode(const struct sub_set *set, int kind, const char *cmd, struct sbuf *out) {
    int n = 0;
    for (int i = 0; i < set->n; i++) n += set->e[i]->kind == kind;
    if (!n) return 0;
    int rc = sbuf_add_header(out, '*', (unsigned)n + 1) | sbuf_add_bulk(out, cmd, strlen(cmd));
    for (int i = 0; i < set->n; i++)
        if (set->e[i]->kind == kind) rc |= sbuf_add_bulk(out, set->e[i]->name, set->e[i]->len);
    return rc < 0 ? -1 : n;
}

void sub_set_clear(struct sub_set *set, struct subs *s, unsigned mask) {
    for (int i = 0; i < set->n;) {
        struct sub_entry *e = set->e[i];
        if (!(mask & (1u << e->kind))) {
            i++;
            continue;
        }
        if (s) subs_remove(s, e->kind, e->name, e->len);
        free(e);
        set->e[i] = set->e[--set->n];
    }
    if (set->n == 0) {
        free(set->e);
        set->e = NULL;
        set->cap = 0;
    }
}
