/* Mirroring and migration on the data path (issue 19), for routes that ask for them (router/prefix.h):
 *
 * - Mirroring: a copy of a route's writes (or of all its commands, or a percentage) goes to a second
 *   backend as slotgate's own request; its answer is counted (replies, errors, latency) and dropped.
 *   It never waits in the park for an unreachable node, so a mirror that is down costs nothing but
 *   the count of what it missed.
 * - Migration (route backend = the old one, migrate-to = the new one): a write goes to the old backend,
 *   which stays the truth; once it has answered, each key it names is copied from the old backend to
 *   the new one by the old node itself (MIGRATE ... COPY REPLACE: the old node copies the value as it
 *   is after the write, with its TTL, and serves nothing else meanwhile, so two writers of a key
 *   cannot leave the new backend with the older value); a key gone from the old backend is deleted
 *   from the new one, then copied once more (a writer may have made it again in between). The client
 *   gets the old backend's answer only after that, so a read that follows sees its write on the new
 *   backend. Reads go to the new backend, and to the old one when the new one has nothing (a null, an
 *   empty answer, 0 or -2, "none"): the old one is the truth, so asking it costs a round trip, never
 *   a wrong answer. The keys never written meanwhile are copied by the background copy (migrator.h).
 * migrate.c. */
#ifndef SLOTGATE_MIGRATE_H
#define SLOTGATE_MIGRATE_H

#include <stddef.h>

#include "../router/command.h"
#include "../router/resp.h"
#include "req.h"

struct worker;

enum { INT_NONE = 0, INT_MIRROR, INT_COPY, INT_DEL, INT_RECOPY, INT_BATCH };

/* A plan with mirror_route >= 0: sends the mirror its copy. */
void mirror_send(struct worker *w, const struct plan *p, const struct resp_request *q, const char *cmd);
/* A migrating plan (p->migrating): a write keeps its keys to copy (r->mig), a read is marked to go to
 * the old backend on a miss. Returns -1 when out of memory. */
int migrate_prepare(struct worker *w, struct req *r, const struct plan *p, const struct resp_request *q,
                    const char *cmd);
/* A split read's part (fanout.c): marked like a single read when all its keys migrate. */
void migrate_prepare_part(struct worker *w, struct req *child, const struct plan *p, const struct resp_request *q,
                          const char *cmd, const int *key_part, int part);
/* r->hook is set: sees the reply first. 1 when it took it (r is answered later, or was slotgate's). */
int migrate_hook(struct worker *w, struct req *r, const char *reply, size_t len);
void migrate_free(struct req *r); /* r's migration state, when r is freed */
/* The loop turn's copies go (worker.c, before its writes). */
void migrate_flush(struct worker *w);

#endif
