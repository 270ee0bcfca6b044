/* See encode.h. */
#include "encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"
#include "slot.h"

const char *encode_request(const struct resp_request *q, const char *cmd, struct sbuf *out, size_t *len) {
    if (!q->is_inline) {
        *len = q->cmd_len;
        return cmd;
    }
    out->len = 0;
    int rc = sbuf_add_header(out, '*', q->argc);
    for (uint32_t i = 0; i < q->argc && rc == 0; i++)
        rc = sbuf_add_bulk(out, q->scratch + q->argv[i].off, q->argv[i].len);
    if (rc < 0) return NULL;
    *len = out->len;
    return out->p;
}

const char *encode_stripped(const struct resp_request *q, const char *cmd, const struct plan *p, struct sbuf *out,
                            size_t *len) {
    out->len = 0;
    int rc = sbuf_add_header(out, '*', q->argc), k = 0;
    for (uint32_t a = 0; a < q->argc && rc == 0; a++) {
        size_t strip = 0;
        while (k < p->nkeys && p->keys[k] < (int)a) k++;
        if (k < p->nkeys && p->keys[k] == (int)a) strip = p->kstrip[k];
        rc = sbuf_add_bulk(out, resp_request_arg(q, cmd, a) + strip, q->argv[a].len - strip);
    }
    if (rc < 0) return NULL;
    *len = out->len;
    return out->p;
}

int split_init(struct split *s) {
    memset(s, 0, sizeof(*s));
    s->slot_part = malloc(sizeof(int32_t) * SLOT_COUNT);
    if (!s->slot_part) return -1;
    memset(s->slot_part, 0xff, sizeof(int32_t) * SLOT_COUNT);
    s->nslots = SLOT_COUNT;
    return 0;
}

/* With routes, parts are by backend and slot: the table grows to every backend's slots, once. */
static int grow_slots(struct split *s, int n) {
    if (s->nslots >= n) return 0;
    int32_t *a = realloc(s->slot_part, sizeof(int32_t) * (size_t)n);
    if (!a) return -1;
    memset(a + s->nslots, 0xff, sizeof(int32_t) * (size_t)(n - s->nslots));
    s->slot_part = a;
    s->nslots = n;
    return 0;
}

void split_free(struct split *s) {
    free(s->slot_part);
    free(s->next);
    memset(s, 0, sizeof(*s));
}

static int grow(struct split *s, int n) {
    if (s->cap >= n) return 0;
    int cap = n < 64 ? 64 : n;
    int *a = realloc(s->next, sizeof(int) * 4 * (size_t)cap);
    if (!a) return -1;
    s->next = a;
    s->head = a + cap;
    s->tail = a + 2 * cap;
    s->count = a + 3 * cap;
    s->cap = cap;
    return 0;
}

int split_by_slot(struct split *s, const struct plan *p, int *key_part) {
    int n = 0;
    if (grow(s, p->nkeys) < 0 || (p->prefixes && grow_slots(s, SLOT_COUNT * PREFIX_MAX_BACKENDS) < 0)) return -1;
    for (int i = 0; i < p->nkeys; i++) {
        int slot = p->prefixes ? p->kbackend[i] * SLOT_COUNT + p->slots[i] : p->slots[i];
        if (s->slot_part[slot] < 0) {
            s->slot_part[slot] = n;
            s->head[n] = i;
            s->count[n] = 0;
            n++;
        } else {
            s->next[s->tail[s->slot_part[slot]]] = i;
        }
        int c = s->slot_part[slot];
        s->tail[c] = i;
        s->next[i] = -1;
        key_part[i] = c;
        s->count[c]++;
    }
    for (int c = 0; c < n; c++) /* clean for the next split */
        s->slot_part[p->prefixes ? p->kbackend[s->head[c]] * SLOT_COUNT + p->slots[s->head[c]] : p->slots[s->head[c]]] =
            -1;
    s->nparts = n;
    return n;
}

int split_command(const struct split *s, int part, const struct resp_request *q, const char *cmd, const struct plan *p,
                  struct sbuf *out) {
    /* the arguments that go with each key: MSET's value (the key spec's step), else the key alone */
    int step =
        (p->cmd->nspecs > 0 && p->cmd->specs[0].fk == KS_FK_RANGE && p->cmd->specs[0].b > 0) ? p->cmd->specs[0].b : 1;
    out->len = 0;
    int rc = sbuf_add_header(out, '*', (unsigned long long)(1 + s->count[part] * step)) |
             sbuf_add_bulk(out, resp_request_arg(q, cmd, 0), q->argv[0].len);
    for (int i = s->head[part]; i >= 0 && rc == 0; i = s->next[i])
        for (int a = p->keys[i]; a < p->keys[i] + step && a < (int)q->argc && rc == 0; a++) {
            size_t strip = a == p->keys[i] && p->prefixes ? p->kstrip[i] : 0; /* strip-prefix: the key only */
            rc = sbuf_add_bulk(out, resp_request_arg(q, cmd, (uint32_t)a) + strip, q->argv[a].len - strip);
        }
    return rc;
}
