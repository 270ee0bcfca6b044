/* The command table and request planning: for each command, its arity, flags and key positions (from
 * Redis 7.0's own COMMAND reply, see command_table.inc), and how slotgate serves it. Planning turns a
 * parsed request into a decision (forward to the owner of one slot, answer locally, or refuse with a
 * Redis-style error) without any I/O. */
#ifndef SLOTGATE_COMMAND_H
#define SLOTGATE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

enum {
    CMD_WRITE = 1 << 0, CMD_READONLY = 1 << 1, CMD_DENYOOM = 1 << 2, CMD_ADMIN = 1 << 3,
    CMD_PUBSUB = 1 << 4, CMD_NOSCRIPT = 1 << 5, CMD_BLOCKING = 1 << 6, CMD_LOADING = 1 << 7,
    CMD_STALE = 1 << 8, CMD_SKIP_MONITOR = 1 << 9, CMD_FAST = 1 << 10, CMD_MOVABLEKEYS = 1 << 11,
    CMD_NO_AUTH = 1 << 12, CMD_MAY_REPLICATE = 1 << 13, CMD_NO_MULTI = 1 << 14, CMD_ALLOW_BUSY = 1 << 15,
};

/* How slotgate serves a command. */
enum cmd_route {
    ROUTE_UNSUPPORTED = 0, /* refused with a reason (not yet supported, or not possible through a proxy) */
    ROUTE_KEYS,            /* all keys in one slot: forward to that slot's master */
    ROUTE_LOCAL,           /* answered by slotgate itself */
};

enum cmd_local { LOCAL_NONE = 0, LOCAL_PING, LOCAL_ECHO, LOCAL_SELECT, LOCAL_QUIT };

struct command {
    const char *name; /* lower case */
    int arity;        /* Redis's: N exact, -N at least N */
    uint32_t flags;
    int first, last, step;
    int has_subcommands;
    int route;
    int local;
};

struct cmdtable;

struct cmdtable *cmdtable_new_builtin(void);
void cmdtable_free(struct cmdtable *t);
/* Case-insensitive, O(1). NULL for a command Redis does not have. */
const struct command *cmdtable_lookup(const struct cmdtable *t, const char *name, size_t len);
size_t cmdtable_count(const struct cmdtable *t);
const struct command *cmdtable_at(const struct cmdtable *t, size_t i);

struct plan {
    const struct command *cmd;
    int route;  /* enum cmd_route; ROUTE_UNSUPPORTED also for every error below */
    int slot;   /* ROUTE_KEYS */
    int is_error;
    char err[256]; /* the Redis-style error line without '-' and CRLF, when is_error */
};

/* Plans one parsed request; cmd is its first byte (see resp_request_arg). Always fills out. */
void plan_request(const struct cmdtable *t, const struct resp_request *r, const char *cmd, struct plan *out);

#endif
