/* Hot keys: the most requested keys of a stream, in bounded memory, with Space-Saving (Metwally et al.):
 * HK_K counters; a key not counted takes the place of the smallest counter, inheriting its count as its
 * possible overestimate (err). Every key whose true count exceeds total/HK_K is in the summary, and each
 * count is at most err above the truth. Chosen over HeavyKeeper and a count-min sketch with a heap: it is
 * exact for a stream with fewer distinct keys than counters, its error is stated per key, two summaries
 * merge by adding counts (the workers' into one), and at HK_K = 64 it is small: a key is found through a
 * 256-place index of its hash, the smallest counter by a scan of 64 contiguous counts. Pure logic: the
 * workers sample requests into it (proxy/hotkeys.c), the readers merge exported entries. */
#ifndef SLOTGATE_HOTKEYS_H
#define SLOTGATE_HOTKEYS_H

#include <stddef.h>
#include <stdint.h>

#define HK_K       64
#define HK_KEY_MAX 96 /* bytes of a key kept; longer keys are told apart by their hash */

struct hk_entry {
    uint64_t h;
    uint64_t count, err;
    uint32_t len; /* the key's full length (more than HK_KEY_MAX: cut) */
    char key[HK_KEY_MAX];
};

struct hk_sketch {
    int n;             /* counters in use */
    int min_pos;       /* where the search for the smallest counter goes on from */
    uint64_t min_hint; /* no counter is below it (the last minimum found) */
    uint64_t total;
    uint64_t count[HK_K], err[HK_K], h[HK_K];
    uint32_t len[HK_K];
    uint8_t idx[256]; /* hash -> counter + 1, 0 empty: linear probing, deletion by backward shift */
    char key[HK_K][HK_KEY_MAX];
};

uint64_t hk_hash(const char *key, size_t len);
void hk_reset(struct hk_sketch *s);
void hk_add(struct hk_sketch *s, const char *key, size_t len, uint64_t h, uint64_t weight);
/* The counters as entries (unsorted): how many. */
int hk_export(const struct hk_sketch *s, struct hk_entry *out);
/* Adds in's counts into acc (up to max entries), the same key counted once. */
void hk_merge_entries(struct hk_entry *acc, int *n, int max, const struct hk_entry *in, int nin);
/* Sorts entries by count, most first. */
void hk_sort(struct hk_entry *e, int n);

#endif
