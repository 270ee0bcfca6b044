/* Requests that become several: split over slots, sent to every master, SCAN one master at a time.
 * fanout.c. */
#ifndef SLOTGATE_FANOUT_H
#define SLOTGATE_FANOUT_H

#include <stddef.h>

#include "../router/command.h"
#include "../router/resp.h"
#include "req.h"

void fanout_split(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd, const struct plan *p);
void fanout_all(struct worker *w, struct req *r, const char *bytes, size_t len, int policy, const char *prefix);
void fanout_scan(struct worker *w, struct req *r, const struct resp_request *q, const char *cmd);
void fanout_child_done(struct worker *w, struct req *child, const char *reply, size_t len);
void fanout_free(struct fanout *f);

#endif
