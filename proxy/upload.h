/* A large last argument streamed to its node as it arrives. upload.c. */
#ifndef SLOTGATE_UPLOAD_H
#define SLOTGATE_UPLOAD_H

#include <stddef.h>

#include "backend.h"
#include "client.h"

int upload_try_start(struct client *c); /* 1: the parser's current request is streamed (or waits to be) */
void upload_forward(struct client *c);
void upload_node_drained(struct backend *b); /* the dedicated connection's output went down */

#endif
