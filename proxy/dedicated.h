/* Commands that need a backend connection of their own: transactions, blocking commands, pub/sub,
 * scripts. dedicated.c. */
#ifndef SLOTGATE_DEDICATED_H
#define SLOTGATE_DEDICATED_H

#include <stddef.h>

#include "../router/command.h"
#include "backend.h"
#include "client.h"

void dedicated_command(struct client *c, struct req *r, const struct plan *p, const char *cmd);
int dedicated_in_mode(const struct client *c); /* MULTI or subscribed: commands go to dedicated.c */
/* Whether this planned command goes to dedicated.c: a transaction's, a blocking one, pub/sub, or any while
 * a RESP2 client is subscribed (a RESP3 one may run any command then, as Redis allows; its messages are
 * pushes). Inline: every request asks. */
static inline int dedicated_wants(const struct client *c, const struct plan *p) {
    if (__builtin_expect(c->txn_state.in_multi || c->sub_mode, 0)) {
        if (c->txn_state.in_multi || !c->resp3) return 1;
        if (p->cmd && (p->cmd->local == LOCAL_QUIT || p->cmd->local == LOCAL_RESET)) return 1;
    }
    return !p->is_error && (p->route == ROUTE_PUBSUB || p->route == ROUTE_TXN || p->route == ROUTE_BLOCKING);
}
void dedicated_push(struct backend *b, const char *reply, size_t len);
void dedicated_detach(struct backend *b);
void dedicated_close_all(struct client *c);
/* The masters changed (a new slot map, or a mirror lost): every keyspace subscriber's mirrors follow. */
void dedicated_masters_changed(struct worker *w);
/* Lets go of a client's dedicated connections unused for idle_s seconds (no subscription, nothing in flight). */
void dedicated_release_idle(struct client *c, double now, double idle_s);
void dedicated_flush_push(struct client *c);
void dedicated_protocol_changed(struct client *c); /* HELLO switched its protocol */
int dedicated_send(struct req *r, struct node *n, const char *p, size_t len);

#endif
