/* Client-side caching through slotgate (CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT
 * TRACKINGINFO), kept per worker the way Redis keeps it per server: the keys each tracking client read
 * (router/track.h) or the prefixes it broadcasts on. What changes on the nodes is learned from one
 * connection per master per worker that said CLIENT TRACKING on BCAST: the node reports every key it
 * changes, whoever changed it (through slotgate or not). tracking.c. */
#ifndef SLOTGATE_TRACKING_H
#define SLOTGATE_TRACKING_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>

#include "../router/command.h"
#include "../router/track.h"

struct worker;
struct client;
struct backend;
struct req;
struct resp_request;

enum {
    TRK_ON = 1 << 0,
    TRK_BCAST = 1 << 1,
    TRK_OPTIN = 1 << 2,
    TRK_OPTOUT = 1 << 3,
    TRK_NOLOOP = 1 << 4,
    TRK_CACHING = 1 << 5, /* CLIENT CACHING yes|no: for the next command but CLIENT ones */
    TRK_BROKEN = 1 << 6,  /* its redirection's client is gone */
};

/* A tracking client's state (client.trk, allocated while tracking is on: NULL for every other client). */
struct client_tracking {
    unsigned flags; /* TRK_* */
    uint64_t redirect;
    char **prefixes; /* BCAST's PREFIX list (none: every key) */
    uint32_t *plens;
    int nprefixes;
};

/* Invalidations for a client of another worker (a REDIRECT target there). */
struct track_mail {
    struct track_mail *next;
    uint64_t to, from;
    int is_null;
    int broken; /* back to the tracking client: its redirection's client is gone */
    size_t len;
    char keys[]; /* "*N\r\n$..." */
};

struct worker_tracking {
    struct track_table table;
    struct client **clients; /* this worker's tracking clients, by id in an open-addressing table */
    size_t cap, n;
    int nbcast;
    struct req *waiting; /* CLIENT TRACKING on, answered once every master is watched (through lnext) */
    double waiting_since;
    size_t sweep_cursor;
    int sweep_due; /* a client that had keys stopped tracking: the table is swept of its id */
    pthread_mutex_t mail_lock;
    struct track_mail *mail;
    ev_async mail_wake;
    int has_mail_wake;
};

void tracking_init(struct worker *w);
void tracking_destroy(struct worker *w);
void tracking_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd);
/* Every command of a tracking client, planned, before it is sent: reads remember their keys, NOLOOP
 * writes forget them, CLIENT CACHING's choice is used up. */
void tracking_command(struct client *c, const struct plan *p, const char *cmd);
void tracking_off(struct client *c); /* CLIENT TRACKING off, RESET, disconnect */
long long tracking_redirect(const struct client *c);
/* The nodes' side (backend.c, worker.c). */
void tracking_listener_ready(struct backend *b);
void tracking_listener_push(struct backend *b, const char *p, size_t len);
void tracking_listener_lost(struct backend *b);
void tracking_slot_moved(struct worker *w, int slot);                  /* MOVED patched the route */
void tracking_map_changed(struct worker *w, void *const *old_masters); /* before: each slot's master */
void tracking_tick(struct worker *w);                                  /* once a second */
static inline int tracking_active(const struct worker_tracking *t) { return t->n > 0; }

#endif
