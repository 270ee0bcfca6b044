/* Commands slotgate answers itself (local.c), and INFO's template (procinfo.c). */
#ifndef SLOTGATE_LOCAL_H
#define SLOTGATE_LOCAL_H

#include <stddef.h>

#include "../router/command.h"
#include "../router/merge.h"
#include "../router/resp.h"
#include "client.h"

/* procinfo.c: INFO's template (router/info.h) for the sections in mask. */
int info_template(struct worker *w, unsigned mask, struct sbuf *b);

void local_run(struct client *c, struct req *r, const struct plan *p, const char *cmd);
void reply_bulk(struct worker *w, struct req *r, const char *p, size_t len);
const char *encode_command(struct worker *w, const struct resp_request *q, const char *cmd, size_t *len);

#endif
