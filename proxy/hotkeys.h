/* Hot keys through slotgate: each worker samples its requests' keys (hotkeys-sample: one request in N,
 * chosen at random) into Space-Saving summaries (router/hotkeys.h), reads and writes apart, over a window
 * of hotkeys-window-seconds (the summary of the window before is kept beside the current one); once a
 * second it publishes a copy, which the admin endpoint, /metrics and SLOTGATE HOTKEYS merge over the
 * workers. Nothing is locked on the request path. hotkeys.c. */
#ifndef SLOTGATE_PROXY_HOTKEYS_H
#define SLOTGATE_PROXY_HOTKEYS_H

#include <pthread.h>

#include "../router/command.h"
#include "../lib/sample.h"
#include "../router/hotkeys.h"

struct worker;

enum { HK_READS = 0, HK_WRITES, HK_KINDS };

struct worker_hotkeys {
    struct hk_sketch cur[HK_KINDS], prev[HK_KINDS];
    double window_start;
    struct sampler sample; /* hotkeys-sample */
    pthread_mutex_t lock;
    struct hk_entry pub[HK_KINDS][HK_K]; /* cur and prev together, for the readers */
    int npub[HK_KINDS];
    uint64_t pub_total[HK_KINDS];
};

void hotkeys_init(struct worker *w);
void hotkeys_destroy(struct worker *w);
void hotkeys_conf(struct worker *w); /* hotkeys-sample changed */
/* A planned request's keys (the first 8), when it is sampled. */
void hotkeys_note(struct worker *w, const struct plan *p, const struct resp_request *q, const char *bytes);
static inline int hotkeys_sampled(struct worker_hotkeys *h) { return sampler_hit(&h->sample); }
void hotkeys_tick(struct worker *w); /* once a second: the window turns, the copy is published */
/* Every worker's summaries of one kind merged, most requested first: up to max entries in out; the
 * requests sampled in total (in request units). */
int hotkeys_collect(struct worker *all, int n, int kind, struct hk_entry *out, int max, uint64_t *total);
struct client;
struct req;
void hotkeys_local(struct client *c, struct req *r, const struct resp_request *q, const char *cmd);

#endif
