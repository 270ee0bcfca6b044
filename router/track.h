/* The tracking table of client-side caching, pure: which clients (by ID) read which keys, as Redis's
 * TrackingTable, with the oldest-first order that bounds it (tracking-table-max-keys). A key's entry is
 * taken out whole when the key changes: every client that read it is told once, and must read it again
 * to be told again, as Redis does. proxy/tracking.c delivers the invalidations. */
#ifndef SLOTGATE_TRACK_H
#define SLOTGATE_TRACK_H

#include <stddef.h>
#include <stdint.h>

struct track_entry {
    struct track_entry *hnext;         /* hash chain */
    struct track_entry *older, *newer; /* by when the key was first remembered */
    uint64_t id0;                      /* the first client; more in ids */
    uint64_t *ids;
    uint32_t nids; /* beyond id0 */
    uint32_t ids_cap;
    uint32_t klen;
    uint16_t slot;
    char key[];
};

struct track_table {
    struct track_entry **buckets;
    size_t nbuckets;
    size_t nkeys;  /* entries */
    size_t nitems; /* (key, client) pairs */
    size_t bytes;  /* what the table holds allocated: entries, client lists, buckets */
    struct track_entry *oldest, *newest;
};

void track_init(struct track_table *t);
void track_clear(struct track_table *t);
/* Client id read key (in slot): 0, or -1 when out of memory (nothing is remembered then). */
int track_remember(struct track_table *t, const char *key, size_t klen, int slot, uint64_t id);
/* The key's entry, taken out of the table (NULL: nobody tracks it); the caller reads it, then frees it. */
struct track_entry *track_take(struct track_table *t, const char *key, size_t klen);
struct track_entry *track_take_oldest(struct track_table *t);
void track_entry_free(struct track_table *t, struct track_entry *e);
/* Forgets that id read key (NOLOOP: its own write); the entry goes with its last client. */
void track_forget(struct track_table *t, const char *key, size_t klen, uint64_t id);
/* Drops every client for which keep(id, ctx) is 0, and entries left with none; visits at most max entries
 * from *cursor on (a bucket index, 0 to start; it is 0 again once the whole table was seen). */
void track_sweep(struct track_table *t, int (*keep)(uint64_t id, void *ctx), void *ctx, size_t *cursor, size_t max);
/* Takes out every entry of a slot for which in(slot, ctx) is 1, handing each to take(e, ctx2), which frees
 * it (with track_entry_free). */
void track_take_slots(struct track_table *t, int (*in)(int slot, void *ctx), void *ctx,
                      void (*take)(struct track_entry *e, void *ctx2), void *ctx2);

#endif
