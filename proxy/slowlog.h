/* SLOWLOG: requests that took longer than slowlog-log-slower-than microseconds from the loop turn that
 * read them to the one that answered them, kept newest first up to slowlog-max-len, shared by the
 * workers (a mutex, taken only for a slow request or a SLOWLOG command). Each entry is Redis's (id, time,
 * duration, arguments cut as Redis cuts them, client address and name) and, as a seventh field, where
 * the time went: the node that answered and its share, the rest spent in slotgate (waiting for a
 * connection, held through a failover, retried or redirected), and for a split command its slowest part.
 * slowlog.c. */
#ifndef SLOTGATE_SLOWLOG_H
#define SLOTGATE_SLOWLOG_H

#include <pthread.h>
#include <stddef.h>

#define SLOWLOG_MAX_ARGC   32  /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define SLOWLOG_MAX_STRING 128 /* Redis's SLOWLOG_ENTRY_MAX_STRING */

struct slowlog_entry {
    long long id, time, duration; /* time: unix seconds; duration: microseconds */
    int argc;
    char **argv; /* already cut ("... (N more bytes)", "... (N more arguments)") */
    size_t *argl;
    char addr[64], name[64];
    char detail[320];
};

struct slowlog {
    pthread_mutex_t lock;
    struct slowlog_entry *e; /* newest first */
    int n, cap;
    long long next_id;
};

void slowlog_init(struct slowlog *l);
void slowlog_free(struct slowlog *l);
/* Takes e (its argv) whole; max: slowlog-max-len (0: nothing is kept). */
void slowlog_add(struct slowlog *l, int max, struct slowlog_entry *e);
void slowlog_reset(struct slowlog *l);
int slowlog_len(struct slowlog *l);
/* A copy of up to max entries, newest first (free with slowlog_entries_free). */
int slowlog_get(struct slowlog *l, int max, struct slowlog_entry **out);
void slowlog_entries_free(struct slowlog_entry *e, int n);
/* Fills e's arguments from a command's RESP bytes (a multibulk), cut as Redis cuts them. */
void slowlog_set_args(struct slowlog_entry *e, const char *p, size_t len);
/* The same from a name and a count: a split command, whose own bytes slotgate does not keep. */
void slowlog_set_name(struct slowlog_entry *e, const char *name, int argc);

#endif
