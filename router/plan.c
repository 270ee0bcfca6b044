/* Request planning: find the command (and subcommand), check arity, locate the keys with the key
 * specs exactly as Redis's getKeysUsingKeySpecs() does, and decide the route. Errors use Redis's own
 * texts so client libraries map them as they would for a single server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "prefix.h"
#include "slot.h"

void plan_init(struct plan *p) { memset(p, 0, sizeof(*p)); }

void plan_free(struct plan *p) {
    free(p->keys);
    free(p->slots);
    free(p->kflags);
    free(p->kbackend);
    free(p->kstrip);
    free(p->kmig);
    memset(p, 0, sizeof(*p));
}

static int push_key(struct plan *p, int idx, int kflags) {
    if (p->nkeys == p->keys_cap) {
        int cap = p->keys_cap ? p->keys_cap * 2 : 16;
        int *k = realloc(p->keys, sizeof(int) * (size_t)cap);
        if (!k) return -1;
        p->keys = k;
        uint16_t *s = realloc(p->slots, sizeof(uint16_t) * (size_t)cap);
        if (!s) return -1;
        p->slots = s;
        uint16_t *f = realloc(p->kflags, sizeof(uint16_t) * (size_t)cap);
        if (!f) return -1;
        p->kflags = f;
        uint8_t *kb = realloc(p->kbackend, (size_t)cap);
        if (!kb) return -1;
        p->kbackend = kb;
        uint16_t *ks = realloc(p->kstrip, sizeof(uint16_t) * (size_t)cap);
        if (!ks) return -1;
        p->kstrip = ks;
        uint8_t *km = realloc(p->kmig, (size_t)cap);
        if (!km) return -1;
        p->kmig = km;
        p->keys_cap = cap;
    }
    p->kflags[p->nkeys] = (uint16_t)kflags;
    p->keys[p->nkeys++] = idx;
    return 0;
}

static int arg_is(const struct resp_request *r, const char *cmd, int i, const char *word) {
    size_t n = strlen(word);
    return r->argv[i].len == n && strncasecmp(resp_request_arg(r, cmd, (uint32_t)i), word, n) == 0;
}

/* SORT's STORE destination (its key spec is "unknown": the keyword may be anywhere). */
static int sort_store_key(const struct resp_request *r, const char *cmd, struct plan *p) {
    for (int i = 2; i + 1 < (int)r->argc; i++)
        if (arg_is(r, cmd, i, "store")) return push_key(p, i + 1, KSF_OW | KSF_UPDATE); /* as SORT's own spec */
    return 0;
}

int command_find_keys(const struct command *c, const struct resp_request *r, const char *cmd, struct plan *p) {
    int argc = (int)r->argc;
    p->nkeys = 0;
    for (int s = 0; s < c->nspecs; s++) {
        const struct keyspec *ks = &c->specs[s];
        int first = 0, last, step, i;
        if (ks->bs == KS_BS_INDEX) {
            first = ks->bs_arg;
        } else if (ks->bs == KS_BS_KEYWORD) {
            int start = ks->bs_arg > 0 ? ks->bs_arg : argc + ks->bs_arg;
            int end = ks->bs_arg > 0 ? argc - 1 : 1;
            for (i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1) break;
                if (arg_is(r, cmd, i, ks->keyword)) {
                    first = i + 1;
                    break;
                }
            }
            if (!first) continue; /* keyword not given: this spec has no keys */
        } else {
            continue; /* unknown begin search: handled per command below */
        }
        if (first >= argc) continue;
        if (ks->fk == KS_FK_RANGE) {
            if (ks->a >= 0)
                last = first + ks->a;
            else if (!ks->c)
                last = argc + ks->a;
            else
                last = first + ((argc - first) / ks->c + ks->a);
            step = ks->b;
        } else if (ks->fk == KS_FK_KEYNUM) {
            long long numkeys;
            if (ks->a >= argc - first) goto invalid;
            int at = first + ks->a;
            if (resp_parse_ll(resp_request_arg(r, cmd, (uint32_t)at), r->argv[at].len, &numkeys) < 0 || numkeys < 0 ||
                numkeys > argc)
                goto invalid;
            first += ks->b;
            last = first + (int)numkeys - 1;
            step = ks->c;
        } else {
            continue;
        }
        if (step <= 0) step = 1;
        for (i = first; i <= last; i += step) {
            if (i >= argc || i < first) continue; /* bad arity: the node will say so */
            if (push_key(p, i, ks->kflags) < 0) goto oom;
        }
    }
    if (c->special == SPECIAL_SORT && sort_store_key(r, cmd, p) < 0) goto oom;
    return p->nkeys;
invalid:
    /* Redis answers these itself (e.g. "Number of keys can't be greater than number of args"):
     * with no keys the command goes to any node, which gives the exact error. */
    p->nkeys = 0;
    return 0;
oom:
    snprintf(p->err, sizeof(p->err), "ERR slotgate: out of memory");
    return -1;
}

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
        size_t w =
            quote_arg(out->err + n, sizeof(out->err) - n, resp_request_arg(r, cmd, i), r->argv[i].len, 128 - args);
        n += w;
        args += w;
    }
    out->err[n < sizeof(out->err) ? n : sizeof(out->err) - 1] = '\0';
}

/* The request gets p->err (already written, when msg is NULL) instead of being sent anywhere. */
static void fail(struct plan *p, const char *msg) {
    p->route = ROUTE_REFUSED;
    p->is_error = 1;
    if (msg) snprintf(p->err, sizeof(p->err), "%s", msg);
}

/* "config|set" -> "CONFIG SET", for messages. */
static void display_name(const char *name, char *out, size_t len) {
    size_t i;
    for (i = 0; name[i] && i + 1 < len; i++)
        out[i] = name[i] == '|' ? ' ' : (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    out[i] = '\0';
}

static const struct command *find_command(const struct cmdtable *t, const struct resp_request *r, const char *cmd,
                                          struct plan *p) {
    const struct command *c = cmdtable_lookup(t, resp_request_arg(r, cmd, 0), r->argv[0].len);
    /* The table keys subcommands as "config|get"; a client's "CONFIG|GET" is not a command to Redis. */
    if (c && c->is_subcommand) c = NULL;
    if (!c) {
        unknown_command(r, cmd, p);
        fail(p, NULL);
        return NULL;
    }
    if (!c->has_subcommands || r->argc < 2) return c;
    char full[128];
    size_t n = strlen(c->name), sl = r->argv[1].len;
    if (n + 1 + sl < sizeof(full)) {
        memcpy(full, c->name, n);
        full[n] = '|';
        memcpy(full + n + 1, resp_request_arg(r, cmd, 1), sl);
        const struct command *sub = cmdtable_lookup(t, full, n + 1 + sl);
        if (sub) return sub;
    }
    char upper[64];
    display_name(c->name, upper, sizeof(upper));
    snprintf(p->err, sizeof(p->err), "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(sl > 128 ? 128 : sl),
             resp_request_arg(r, cmd, 1), upper);
    fail(p, NULL);
    return NULL;
}

/* plan_keys with routes by prefix or one-server backends: each key's backend, the bytes strip-prefix
 * takes off it, its slot (0 on a one-server backend); kept apart so one cluster's path stays as it was. */
__attribute__((noinline)) static void plan_routed_keys(const struct resp_request *r, const char *cmd, struct plan *p) {
    int same = 1, backends_differ = 0, rerouted = 0, writes = (p->cmd->flags & CMD_WRITE) != 0, mirror_route = -1;
    p->migrating = 0;
    for (int i = 0; i < p->nkeys; i++) {
        int k = p->keys[i];
        const char *key = resp_request_arg(r, cmd, (uint32_t)k);
        size_t len = r->argv[k].len, strip = 0;
        int b = 0, mig = 0;
        if (p->prefixes) { /* the route: its backend, and the key as that backend sees it */
            int rt = prefix_route_of(p->prefixes, key, len);
            if (rt >= 0) {
                const struct prefix_route *route = &p->prefixes->routes[rt];
                b = route->backend;
                strip = route->strip ? route->len : 0;
                if (__builtin_expect(route->migrate_to != 0, 0)) /* writes: the old backend; reads: the new */
                    mig = 1, b = writes ? b : route->migrate_to - 1;
                if (__builtin_expect(route->mirror != 0, 0) && (writes || route->mirror_all))
                    mirror_route = i == 0 || mirror_route == rt ? rt : -2;
                else if (mirror_route >= 0)
                    mirror_route = -2; /* keys of a mirrored route and of another: not mirrored */
            }
        }
        rerouted |= b | (int)strip | mig;
        p->migrating |= mig;
        p->kmig[i] = (uint8_t)mig;
        p->kbackend[i] = (uint8_t)b;
        p->kstrip[i] = (uint16_t)strip;
        p->slots[i] = (p->one_node >> b) & 1 ? 0 : (uint16_t)slot_for_key(key + strip, len - strip);
        if (i > 0 && p->kbackend[i] != p->kbackend[0]) same = 0, backends_differ = 1;
        if (i > 0 && p->slots[i] != p->slots[0]) same = 0;
    }
    p->backend = p->nkeys > 0 ? p->kbackend[0] : 0;
    p->mirror_route = mirror_route >= 0 ? mirror_route : -1;
    p->rerouted = rerouted != 0;
    if (p->nkeys > 0) p->slot = p->slots[0];
    if (same) {
        if (p->route == ROUTE_SPLIT) p->route = ROUTE_KEYS, p->merge = MERGE_NONE; /* one slot: as it is */
        return;
    }
    if (p->route != ROUTE_SPLIT)
        fail(p, backends_differ ? "CROSSSLOT Keys in request don't belong to the same route (slotgate routes)"
                                : "CROSSSLOT Keys in request don't hash to the same slot");
}

/* The keys and their slot; CROSSSLOT unless the route can split them. */
static void plan_keys(const struct resp_request *r, const char *cmd, struct plan *p) {
    if (command_find_keys(p->cmd, r, cmd, p) < 0) return fail(p, NULL);
    p->slot = -1;
    if (__builtin_expect(p->prefixes || p->one_node, 0)) return plan_routed_keys(r, cmd, p);
    int same = 1;
    for (int i = 0; i < p->nkeys; i++) {
        int k = p->keys[i];
        p->slots[i] = (uint16_t)slot_for_key(resp_request_arg(r, cmd, (uint32_t)k), r->argv[k].len);
        if (i > 0 && p->slots[i] != p->slots[0]) same = 0;
    }
    if (p->nkeys > 0) p->slot = p->slots[0];
    if (same) {
        if (p->route == ROUTE_SPLIT) p->route = ROUTE_KEYS, p->merge = MERGE_NONE; /* one slot: as it is */
        return;
    }
    if (p->route != ROUTE_SPLIT) fail(p, "CROSSSLOT Keys in request don't hash to the same slot");
}

static int has_block_option(const struct resp_request *r, const char *cmd) {
    for (int i = 1; i < (int)r->argc; i++) {
        if (arg_is(r, cmd, i, "streams")) return 0;
        if (arg_is(r, cmd, i, "block")) return 1;
    }
    return 0;
}

void plan_request(const struct cmdtable *t, const struct resp_request *r, const char *cmd, struct plan *p) {
    p->is_error = 0;
    p->slot = -1;
    p->nkeys = 0;
    p->backend = 0;
    p->rerouted = 0;
    p->migrating = 0;
    p->mirror_route = -1;
    p->merge = MERGE_NONE;
    const struct command *c = p->cmd = find_command(t, r, cmd, p);
    if (!c) return;
    if ((c->arity > 0 && (int)r->argc != c->arity) || (c->arity < 0 && (int)r->argc < -c->arity)) {
        snprintf(p->err, sizeof(p->err), "ERR wrong number of arguments for '%s' command", c->name);
        return fail(p, NULL);
    }
    p->route = c->route;
    p->merge = c->merge;
    switch (c->route) {
    case ROUTE_REFUSED: {
        char name[64];
        display_name(c->name, name, sizeof(name));
        snprintf(p->err, sizeof(p->err), "ERR slotgate refuses '%s': %s", name, c->why ? c->why : "not supported");
        return fail(p, NULL);
    }
    case ROUTE_BLOCKING:
        /* XREAD/XREADGROUP block only with BLOCK; without it they are ordinary reads. */
        if (c->special == SPECIAL_XREAD && !has_block_option(r, cmd)) p->route = ROUTE_KEYS;
        /* fall through */
    case ROUTE_KEYS:
    case ROUTE_SPLIT:
    case ROUTE_TXN:
    case ROUTE_PUBSUB:
        if (c->nspecs > 0) plan_keys(r, cmd, p);
        return;
    case ROUTE_SLOT_ARG: {
        long long s;
        if (resp_parse_ll(resp_request_arg(r, cmd, 2), r->argv[2].len, &s) < 0 || s < 0 || s >= SLOT_COUNT)
            return fail(p, "ERR Invalid or out of range slot");
        p->slot = (int)s;
        return;
    }
    default: return;
    }
}
