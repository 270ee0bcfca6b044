/* See users.h. */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"

static unsigned next_gen;

static int add_user(struct users *us, struct acl_user *u) {
    for (int i = 0; i < us->n; i++) {
        if (!strcmp(us->list[i]->name, u->name)) { /* defined again: the later one wins (the default user) */
            acl_user_free(us->list[i]);
            us->list[i] = u;
            return 0;
        }
    }
    struct acl_user **l = realloc(us->list, sizeof(*l) * (size_t)(us->n + 1));
    if (!l) return -1;
    us->list = l;
    l[us->n++] = u;
    return 0;
}

static struct acl_user *everything(const struct cmdtable *t, const char *name, size_t nlen, const char *pass,
                                   size_t plen) {
    struct acl_user *u = acl_user_new(name, nlen);
    if (!u) return NULL;
    static const char *const rules[] = {"on", "~*", "&*", "+@all"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) acl_user_set(u, t, rules[i], strlen(rules[i]), NULL, 0);
    if (!pass) {
        acl_user_set(u, t, "nopass", 6, NULL, 0);
    } else {
        char *op = malloc(plen + 2);
        if (op) {
            op[0] = '>';
            memcpy(op + 1, pass, plen);
            acl_user_set(u, t, op, plen + 1, NULL, 0);
            free(op);
        }
    }
    return u;
}

static int load_aclfile(struct users *us, const struct cmdtable *t, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, errlen, "aclfile %s: cannot open it", path), -1;
    char line[8192], why[600];
    int n = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        n++;
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue; /* blank lines and comments */
        if (strncmp(p, "user ", 5) != 0) {
            snprintf(err, errlen, "aclfile %s:%d: should start with user keyword", path, n);
            rc = -1;
            break;
        }
        struct acl_user *u = acl_user_parse(t, p + 5, why, sizeof(why));
        if (!u) {
            snprintf(err, errlen, "aclfile %s:%d: %s", path, n, why);
            rc = -1;
        } else if (add_user(us, u) < 0) {
            acl_user_free(u);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

struct users *users_build(const struct conf *c, char *err, size_t errlen) {
    struct cmdtable *t = cmdtable_new_builtin(NULL, 0); /* the names +cmd and -cmd may use */
    struct users *us = calloc(1, sizeof(*us));
    int rc = t && us ? 0 : -1;
    if (rc == 0) {
        struct acl_user *def = everything(t, "default", 7, c->requirepass, c->requirepass ? strlen(c->requirepass) : 0);
        rc = def && add_user(us, def) == 0 ? 0 : -1;
    }
    char why[600];
    for (int i = 0; rc == 0 && i < c->nusers; i++) {
        const char *e = c->users[i], *colon = strchr(e, ':');
        struct acl_user *u;
        if (!strchr(e, ' ') && colon) /* name:password: a user who may do everything */
            u = everything(t, e, (size_t)(colon - e), colon + 1, strlen(colon + 1));
        else if (!(u = acl_user_parse(t, e, why, sizeof(why))))
            snprintf(err, errlen, "users: %s", why);
        rc = u && add_user(us, u) == 0 ? 0 : -1;
    }
    if (rc == 0 && c->aclfile) rc = load_aclfile(us, t, c->aclfile, err, errlen);
    cmdtable_unref(t);
    if (rc < 0) {
        if (!err[0]) snprintf(err, errlen, "users: out of memory");
        if (us) us->refs = 1, users_unref(us);
        return NULL;
    }
    for (int i = 0; i < us->n; i++) acl_user_finish(us->list[i]);
    us->refs = 1;
    us->gen = ++next_gen;
    return us;
}

struct users *users_ref(struct users *u) {
    if (u) __atomic_add_fetch(&u->refs, 1, __ATOMIC_RELAXED);
    return u;
}

void users_unref(struct users *u) {
    if (!u || __atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    for (int i = 0; i < u->n; i++) acl_user_free(u->list[i]);
    free(u->list);
    free(u);
}

struct acl_user *users_find(const struct users *u, const char *name, size_t len) {
    for (int i = 0; u && i < u->n; i++)
        if (strlen(u->list[i]->name) == len && memcmp(u->list[i]->name, name, len) == 0) return u->list[i];
    return NULL;
}

void acllog_init(struct acllog *l) {
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
}

void acllog_free(struct acllog *l) {
    free(l->e);
    pthread_mutex_destroy(&l->lock);
}

void acllog_add(struct acllog *l, int max, int reason, int in_multi, const char *object, size_t olen,
                const char *username, size_t ulen, const char *client_info, double now) {
    struct acllog_entry e = {.count = 1, .reason = reason, .in_multi = in_multi, .created = now, .updated = now};
    snprintf(e.object, sizeof(e.object), "%.*s", (int)(olen < sizeof(e.object) ? olen : sizeof(e.object) - 1), object);
    snprintf(e.username, sizeof(e.username), "%.*s", (int)(ulen < sizeof(e.username) ? ulen : sizeof(e.username) - 1),
             username);
    snprintf(e.client_info, sizeof(e.client_info), "%s", client_info);
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->n && i < 10; i++) { /* Redis looks at the last 10 for one to group with */
        struct acllog_entry *x = &l->e[i];
        if (x->reason == reason && x->in_multi == in_multi && !strcmp(x->object, e.object) &&
            !strcmp(x->username, e.username) && now - x->updated < 60) {
            x->count++;
            x->updated = now;
            snprintf(x->client_info, sizeof(x->client_info), "%s", client_info);
            struct acllog_entry keep = *x; /* to the front: the newest */
            memmove(&l->e[1], &l->e[0], sizeof(*x) * (size_t)i);
            l->e[0] = keep;
            pthread_mutex_unlock(&l->lock);
            return;
        }
    }
    if (max > 0) {
        if (l->n == l->cap && l->cap < max) {
            int cap = l->cap ? l->cap * 2 : 16;
            if (cap > max) cap = max;
            struct acllog_entry *ne = realloc(l->e, sizeof(*ne) * (size_t)cap);
            if (ne) l->e = ne, l->cap = cap;
        }
        int keep = l->n < l->cap ? l->n : l->cap - 1;
        if (keep >= 0 && l->cap > 0) {
            memmove(&l->e[1], &l->e[0], sizeof(e) * (size_t)keep);
            l->e[0] = e;
            l->n = keep + 1;
        }
    }
    if (l->n > max) l->n = max;
    pthread_mutex_unlock(&l->lock);
}

void acllog_reset(struct acllog *l) {
    pthread_mutex_lock(&l->lock);
    l->n = 0;
    pthread_mutex_unlock(&l->lock);
}

int acllog_get(struct acllog *l, int max, struct acllog_entry **out) {
    pthread_mutex_lock(&l->lock);
    int n = l->n < max ? l->n : max;
    *out = n ? malloc(sizeof(**out) * (size_t)n) : NULL;
    if (*out)
        memcpy(*out, l->e, sizeof(**out) * (size_t)n);
    else
        n = 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}
