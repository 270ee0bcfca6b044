/* The bytes commands go to the nodes as, as pure functions: an inline command (telnet-style) re-encoded
 * as a multibulk one, and a multi-key command split into one command per slot, each with its slot's keys
 * (and the arguments that belong to each key, as MSET's values) in the caller's order, so the replies
 * can be put back in place (merge.c). */
#ifndef SLOTGATE_ENCODE_H
#define SLOTGATE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "merge.h"
#include "resp.h"

/* The command's bytes as multibulk: a multibulk command's own (cmd), an inline one's written into out.
 * NULL when memory runs out. */
const char *encode_request(const struct resp_request *q, const char *cmd, struct sbuf *out, size_t *len);

/* Reused from one split to the next: slot_part (SLOT_COUNT entries, all -1 between splits) and the
 * per-key and per-part arrays, grown as needed. */
struct split {
    int32_t *slot_part; /* by slot, or with routes by backend * SLOT_COUNT + slot */
    int nslots;
    int *next, *head, *tail, *count; /* per key: the next key of its part; per part: first, last, count */
    int cap;
    int nparts;
};

/* The request with each key's strip-prefix bytes (p->kstrip) taken off, multibulk, into out. */
const char *encode_stripped(const struct resp_request *q, const char *cmd, const struct plan *p, struct sbuf *out,
                            size_t *len);
int split_init(struct split *s);
void split_free(struct split *s);
/* Groups the plan's keys by slot, parts in the order of their first key; key_part[i] gets key i's part.
 * Returns the number of parts, or -1 when memory runs out. */
int split_by_slot(struct split *s, const struct plan *p, int *key_part);
/* Part part's command into out (cleared first). 0, or -1 when memory runs out. */
int split_command(const struct split *s, int part, const struct resp_request *q, const char *cmd, const struct plan *p,
                  struct sbuf *out);
/* Part part's slot. */
static inline int split_slot(const struct split *s, int part, const struct plan *p) { return p->slots[s->head[part]]; }
static inline int split_backend(const struct split *s, int part, const struct plan *p) {
    return p->prefixes ? p->kbackend[s->head[part]] : 0;
}

#endif
