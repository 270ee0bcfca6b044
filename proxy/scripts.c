/* See scripts.h. Open addressing by the SHA-1's first bytes, under one mutex (scripts are loaded
 * rarely; the lock is never taken for other commands). */
#include "scripts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../router/sha1.h"

struct entry {
    char sha[41];
    char *body;
    size_t len;
};

struct scripts {
    pthread_mutex_t lock;
    struct entry *tab;
    size_t cap, count, bytes, max_scripts, max_bytes;
};

struct scripts *scripts_new(size_t max_scripts, size_t max_bytes) {
    struct scripts *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->cap = 16;
    while (s->cap < max_scripts * 2) s->cap *= 2;
    s->tab = calloc(s->cap, sizeof(*s->tab));
    if (!s->tab) {
        free(s);
        return NULL;
    }
    s->max_scripts = max_scripts;
    s->max_bytes = max_bytes;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void scripts_free(struct scripts *s) {
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++) free(s->tab[i].body);
    free(s->tab);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static size_t slot_of(const struct scripts *s, const char *sha) {
    return strtoul((char[9]){sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], sha[6], sha[7], 0}, NULL, 16) &
           (s->cap - 1);
}

static struct entry *find(struct scripts *s, const char *sha) {
    for (size_t i = slot_of(s, sha), n = 0; n < s->cap; i = (i + 1) & (s->cap - 1), n++) {
        if (!s->tab[i].body) return &s->tab[i];
        if (memcmp(s->tab[i].sha, sha, 40) == 0) return &s->tab[i];
    }
    return NULL;
}

void scripts_remember(struct scripts *s, const char *body, size_t len) {
    char sha[41];
    sha1_hex(body, len, sha);
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, sha);
    if (e && !e->body && s->count < s->max_scripts && s->bytes + len <= s->max_bytes &&
        (e->body = malloc(len ? len : 1))) {
        memcpy(e->body, body, len);
        memcpy(e->sha, sha, 41);
        e->len = len;
        s->count++;
        s->bytes += len;
    }
    pthread_mutex_unlock(&s->lock);
}

char *scripts_lookup(struct scripts *s, const char *sha, size_t *len) {
    char lower[41], *copy = NULL;
    for (int i = 0; i < 40; i++) lower[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] + 32 : sha[i]);
    lower[40] = '\0';
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, lower);
    if (e && e->body && (copy = malloc(e->len ? e->len : 1))) {
        memcpy(copy, e->body, e->len);
        *len = e->len;
    }
    pthread_mutex_unlock(&s->lock);
    return copy;
}
