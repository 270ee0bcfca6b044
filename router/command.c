/* Command table (open addressing on a case-folded FNV-1a hash, so lookup neither copies nor
 * lowercases the name) and request planning. */
#include "command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"

struct cmdtable {
    struct command *cmds;
    size_t ncmds;
    uint32_t mask;
    int32_t *index; /* hash slot -> cmds index, -1 empty */
};

static const struct {
    const char *name;
    int arity;
    uint32_t flags;
    int first, last, step, subs;
} builtin[] = {
#include "command_table.inc"
};

static inline unsigned char fold(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static uint32_t hash_name(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ fold((unsigned char)s[i])) * 16777619u;
    return h;
}

/* Commands slotgate answers itself; everything else keyless is refused until it has a defined
 * cluster-wide meaning (fan-out and merge come with the command-set work). */
static void assign_route(struct command *c) {
    static const struct {
        const char *name;
        int local;
    } locals[] = {{"ping", LOCAL_PING}, {"echo", LOCAL_ECHO}, {"select", LOCAL_SELECT}, {"quit", LOCAL_QUIT}};
    for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
        if (strcmp(c->name, locals[i].name) == 0) {
            c->route = ROUTE_LOCAL;
            c->local = locals[i].local;
            return;
        }
    }
    c->route = ROUTE_UNSUPPORTED;
    if (c->flags & (CMD_MOVABLEKEYS | CMD_BLOCKING | CMD_PUBSUB | CMD_ADMIN)) return;
    if (c->has_subcommands || c->first <= 0) return;
    if (strcmp(c->name, "watch") == 0) return; /* connection state: needs a pinned backend connection */
    c->route = ROUTE_KEYS;
}

struct cmdtable *cmdtable_new_builtin(void) {
    size_t n = sizeof(builtin) / sizeof(builtin[0]);
    struct cmdtable *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->cmds = calloc(n, sizeof(*t->cmds));
    uint32_t cap = 1;
    while (cap < n * 4) cap <<= 1;
    t->index = malloc(sizeof(int32_t) * cap);
    if (!t->cmds || !t->index) {
        cmdtable_free(t);
        return NULL;
    }
    t->mask = cap - 1;
    memset(t->index, 0xff, sizeof(int32_t) * cap);
    for (size_t i = 0; i < n; i++) {
        struct command *c = &t->cmds[i];
        c->name = builtin[i].name;
        c->arity = builtin[i].arity;
        c->flags = builtin[i].flags;
        c->first = builtin[i].first;
        c->last = builtin[i].last;
        c->step = builtin[i].step;
        c->has_subcommands = builtin[i].subs;
        assign_route(c);
        uint32_t h = hash_name(c->name, strlen(c->name)) & t->mask;
        while (t->index[h] >= 0) h = (h + 1) & t->mask;
        t->index[h] = (int32_t)i;
    }
    t->ncmds = n;
    return t;
}

void cmdtable_free(struct cmdtable *t) {
    if (!t) return;
    free(t->cmds);
    free(t->index);
    free(t);
}

const struct command *cmdtable_lookup(const struct cmdtable *t, const char *name, size_t len) {
    uint32_t h = hash_name(name, len) & t->mask;
    for (;;) {
        int32_t i = t->index[h];
        if (i < 0) return NULL;
        const struct command *c = &t->cmds[i];
        if (strlen(c->name) == len) {
            size_t k = 0;
            while (k < len && fold((unsigned char)name[k]) == (unsigned char)c->name[k]) k++;
            if (k == len) return c;
        }
        h = (h + 1) & t->mask;
    }
}

size_t cmdtable_count(const struct cmdtable *t) { return t->ncmds; }
const struct command *cmdtable_at(const struct cmdtable *t, size_t i) { return &t->cmds[i]; }

/* Appends "'arg' " the way Redis's unknown-command error quotes arguments, CR/LF made spaces. */
static size_t quote_arg(char *dst, size_t room, const char *a, size_t alen, size_t max) {
    size_t n = 0;
    if (room < 4) return 0;
    dst[n++] = '\'';
    for (size_t i = 0; i < alen && i < max && n + 3 < room; i++) dst[n++] = (a[i] == '\r' || a[i] == '\n') ? ' ' : a[i];
    dst[n++] = '\'';
    dst[n++] = ' ';
    return n;
}

static void unknown_command(const struct resp_request *r, const char *cmd, struct plan *out) {
    size_t n = (size_t)snprintf(out->err, sizeof(out->err), "ERR unknown command ");
    n += quote_arg(out->err + n, sizeof(out->err) - n, resp_request_arg(r, cmd, 0), r->argv[0].len, 128) - 1;
    n += (size_t)snprintf(out->err + n, sizeof(out->err) - n, ", with args beginning with: ");
    size_t args = 0;
    for (uint32_t i = 1; i < r->argc && args < 128 && n < sizeof(out->err) - 1; i++) {
        size_t w = quote_arg(out->err + n, sizeof(out->err) - n, resp_request_arg(r, cmd, i), r->argv[i].len, 128 - args);
        n += w;
        args += w;
    }
    out->err[n < sizeof(out->err) ? n : sizeof(out->err) - 1] = '\0';
}

static void plan_error(struct plan *out, const char *fmt, const char *name) {
    out->route = ROUTE_UNSUPPORTED;
    out->is_error = 1;
    snprintf(out->err, sizeof(out->err), fmt, name);
}

static void plan_keys(const struct resp_request *r, const char *cmd, struct plan *out) {
    const struct command *c = out->cmd;
    int last = c->last < 0 ? (int)r->argc + c->last : c->last;
    int slot = -1;
    for (int i = c->first; i <= last && i < (int)r->argc; i += c->step) {
        int s = (int)slot_for_key(resp_request_arg(r, cmd, (uint32_t)i), r->argv[i].len);
        if (slot >= 0 && s != slot) {
            plan_error(out, "CROSSSLOT Keys in request don't hash to the same slot", "");
            return;
        }
        slot = s;
    }
    out->route = ROUTE_KEYS;
    out->slot = slot;
}

void plan_request(const struct cmdtable *t, const struct resp_request *r, const char *cmd, struct plan *out) {
    out->is_error = 0;
    out->slot = -1;
    out->cmd = cmdtable_lookup(t, resp_request_arg(r, cmd, 0), r->argv[0].len);
    const struct command *c = out->cmd;
    if (!c) {
        out->route = ROUTE_UNSUPPORTED;
        out->is_error = 1;
        unknown_command(r, cmd, out);
        return;
    }
    if ((c->arity > 0 && (int)r->argc != c->arity) || (c->arity < 0 && (int)r->argc < -c->arity)) {
        plan_error(out, "ERR wrong number of arguments for '%s' command", c->name);
        return;
    }
    switch (c->route) {
    case ROUTE_KEYS:
        plan_keys(r, cmd, out);
        return;
    case ROUTE_LOCAL:
        out->route = ROUTE_LOCAL;
        return;
    default:
        plan_error(out, "ERR slotgate does not support the '%s' command yet", c->name);
        return;
    }
}
