/* Command table (open addressing on a case-folded FNV-1a hash, so lookup neither copies nor lowercases
 * the name), route assignment from flags and cluster tips, key finding by key specs, and planning. */
#include "command.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slot.h"

struct cmdtable {
    int refs; /* atomic */
    struct command *cmds;
    size_t ncmds;
    uint32_t mask;
    int32_t *index;
    char **strings; /* names and keywords owned by a table built from a reply */
    size_t nstrings;
};

static const struct {
    const char *name;
    int arity;
    uint32_t flags;
    int first, last, step, subs, nspecs;
    struct keyspec specs[MAX_KEYSPECS];
    int family;
    uint32_t acl_cats;
} builtin[] = {
#include "command_table.inc"
};

static inline unsigned char fold(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static uint32_t hash_name(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ fold((unsigned char)s[i])) * 16777619u;
    return h;
}

/* Commands whose handling is not what their flags and tips alone would say. */
static const struct {
    const char *name;
    int route, merge, local;
    const char *why;
} overrides[] = {
    {"ping", ROUTE_LOCAL, 0, LOCAL_PING, NULL},
    {"echo", ROUTE_LOCAL, 0, LOCAL_ECHO, NULL},
    {"select", ROUTE_LOCAL, 0, LOCAL_SELECT, NULL},
    {"quit", ROUTE_LOCAL, 0, LOCAL_QUIT, NULL},
    {"hello", ROUTE_LOCAL, 0, LOCAL_HELLO, NULL},
    {"auth", ROUTE_LOCAL, 0, LOCAL_AUTH, NULL},
    {"reset", ROUTE_LOCAL, 0, LOCAL_RESET, NULL},
    {"readonly", ROUTE_LOCAL, 0, LOCAL_READONLY, NULL},
    {"readwrite", ROUTE_LOCAL, 0, LOCAL_READWRITE, NULL},
    {"asking", ROUTE_LOCAL, 0, LOCAL_ASKING, NULL},
    {"info", ROUTE_LOCAL, 0, LOCAL_INFO, NULL},
    {"client|setname", ROUTE_LOCAL, 0, LOCAL_CLIENT_SETNAME, NULL},
    {"client|getname", ROUTE_LOCAL, 0, LOCAL_CLIENT_GETNAME, NULL},
    {"client|id", ROUTE_LOCAL, 0, LOCAL_CLIENT_ID, NULL},
    {"client|info", ROUTE_LOCAL, 0, LOCAL_CLIENT_INFO, NULL},
    {"client|list", ROUTE_LOCAL, 0, LOCAL_CLIENT_LIST, NULL},
    {"client|reply", ROUTE_LOCAL, 0, LOCAL_CLIENT_REPLY, NULL},
    {"client|no-evict", ROUTE_LOCAL, 0, LOCAL_CLIENT_NO_EVICT, NULL},
    {"client|getredir", ROUTE_LOCAL, 0, LOCAL_CLIENT_GETREDIR, NULL},
    {"client|trackinginfo", ROUTE_LOCAL, 0, LOCAL_CLIENT_TRACKINGINFO, NULL},
    {"client|tracking", ROUTE_LOCAL, 0, LOCAL_CLIENT_TRACKING, NULL},
    {"client|caching", ROUTE_LOCAL, 0, LOCAL_CLIENT_CACHING, NULL},
    {"client|help", ROUTE_ANY, 0, 0, NULL}, /* the same text from any node */
    {"cluster|slots", ROUTE_LOCAL, 0, LOCAL_CLUSTER_SLOTS, NULL},
    {"cluster|shards", ROUTE_LOCAL, 0, LOCAL_CLUSTER_SHARDS, NULL},
    {"cluster|nodes", ROUTE_LOCAL, 0, LOCAL_CLUSTER_NODES, NULL},
    {"cluster|info", ROUTE_LOCAL, 0, LOCAL_CLUSTER_INFO, NULL},
    {"cluster|keyslot", ROUTE_LOCAL, 0, LOCAL_CLUSTER_KEYSLOT, NULL},
    {"cluster|myid", ROUTE_LOCAL, 0, LOCAL_CLUSTER_MYID, NULL},
    {"acl|whoami", ROUTE_LOCAL, 0, LOCAL_ACL_WHOAMI, NULL},
    /* slotgate's own users (proxy/users.h): changed through SIGHUP, not SETUSER */
    {"acl|users", ROUTE_LOCAL, 0, LOCAL_ACL_USERS, NULL},
    {"acl|list", ROUTE_LOCAL, 0, LOCAL_ACL_LIST, NULL},
    {"acl|getuser", ROUTE_LOCAL, 0, LOCAL_ACL_GETUSER, NULL},
    {"acl|cat", ROUTE_LOCAL, 0, LOCAL_ACL_CAT, NULL},
    {"acl|dryrun", ROUTE_LOCAL, 0, LOCAL_ACL_DRYRUN, NULL},
    {"acl|log", ROUTE_LOCAL, 0, LOCAL_ACL_LOG, NULL},
    /* slotgate's own slow log: requests slow through slotgate, with where the time went (proxy/slowlog.h) */
    {"slowlog|get", ROUTE_LOCAL, 0, LOCAL_SLOWLOG_GET, NULL},
    {"slowlog|len", ROUTE_LOCAL, 0, LOCAL_SLOWLOG_LEN, NULL},
    {"slowlog|reset", ROUTE_LOCAL, 0, LOCAL_SLOWLOG_RESET, NULL},
    {"slowlog|help", ROUTE_LOCAL, 0, LOCAL_SLOWLOG_HELP, NULL},
    /* slotgate's own command (added to every table: Redis has none of this name) */
    {"slotgate|hotkeys", ROUTE_LOCAL, 0, LOCAL_SLOTGATE_HOTKEYS, NULL},
    {"slotgate|help", ROUTE_LOCAL, 0, LOCAL_SLOTGATE_HELP, NULL},
    /* Subscribers through slotgate are spread over the masters: slotgate's registry (proxy/subs.h)
     * knows them all, as a single server knows its own. */
    {"pubsub|channels", ROUTE_LOCAL, 0, LOCAL_PUBSUB_CHANNELS, NULL},
    {"pubsub|numsub", ROUTE_LOCAL, 0, LOCAL_PUBSUB_NUMSUB, NULL},
    {"pubsub|numpat", ROUTE_LOCAL, 0, LOCAL_PUBSUB_NUMPAT, NULL},
    {"pubsub|shardchannels", ROUTE_LOCAL, 0, LOCAL_PUBSUB_SHARDCHANNELS, NULL},
    {"pubsub|shardnumsub", ROUTE_LOCAL, 0, LOCAL_PUBSUB_SHARDNUMSUB, NULL},
    {"cluster|countkeysinslot", ROUTE_SLOT_ARG, 0, 0, NULL},
    {"cluster|getkeysinslot", ROUTE_SLOT_ARG, 0, 0, NULL},
    {"scan", ROUTE_SCAN, 0, 0, NULL},
    {"keys", ROUTE_ALL, MERGE_CONCAT, 0, NULL},
    {"randomkey", ROUTE_ALL, MERGE_RANDOM, 0, NULL},
    {"msetnx", ROUTE_KEYS, 0, 0, NULL}, /* all or nothing: cannot be split */
    {"multi", ROUTE_TXN, 0, 0, NULL},
    {"exec", ROUTE_TXN, 0, 0, NULL},
    {"discard", ROUTE_TXN, 0, 0, NULL},
    {"watch", ROUTE_TXN, 0, 0, NULL},
    {"unwatch", ROUTE_TXN, 0, 0, NULL},
    {"wait", ROUTE_BLOCKING, 0, 0, NULL},
    {"config|get", ROUTE_ANY, 0, 0, NULL},
    {"acl|cat", ROUTE_ANY, 0, 0, NULL},
    {"memory|doctor", ROUTE_ANY, 0, 0, NULL},
    {"memory|stats", ROUTE_ANY, 0, 0, NULL},
    {"memory|malloc-stats", ROUTE_ANY, 0, 0, NULL},
    {"function|stats", ROUTE_ANY, 0, 0, NULL},
    {"monitor", ROUTE_REFUSED, 0, 0, "MONITOR would watch one node, not the cluster"},
    {"sync", ROUTE_REFUSED, 0, 0, "replication goes to the nodes directly"},
    {"psync", ROUTE_REFUSED, 0, 0, "replication goes to the nodes directly"},
    {"migrate", ROUTE_REFUSED, 0, 0, "MIGRATE moves keys between nodes; run it on the nodes directly"},
    {"script|debug", ROUTE_REFUSED, 0, 0, "the Lua debugger needs a direct connection to a node"},
    {"swapdb", ROUTE_REFUSED, 0, 0, "a cluster has one database"},
    {"move", ROUTE_REFUSED, 0, 0, "a cluster has one database"},
};

static const char *subscribe_family[] = {"subscribe",    "psubscribe", "unsubscribe",
                                         "punsubscribe", "ssubscribe", "sunsubscribe"};

static int is_allowed(const char *name, char *const *allow, int nallow) {
    for (int i = 0; i < nallow; i++)
        if (strcasecmp(allow[i], name) == 0) return 1;
    return 0;
}

static int merge_from_tips(uint32_t f, int none) {
    if (f & TIP_AGG_SUM) return MERGE_SUM;
    if (f & TIP_ALL_SUCCEEDED) return MERGE_ALL_OK;
    if (f & TIP_ONE_SUCCEEDED) return MERGE_ONE_OK;
    if (f & TIP_AGG_AND) return MERGE_AND;
    if (f & TIP_AGG_MIN) return MERGE_MIN;
    if (f & TIP_AGG_MAX) return MERGE_MAX;
    return none;
}

static int special_of(const char *name) {
    static const struct {
        const char *name;
        int special;
    } specials[] = {{"sort", SPECIAL_SORT},       {"xread", SPECIAL_XREAD},        {"xreadgroup", SPECIAL_XREAD},
                    {"eval", SPECIAL_EVAL},       {"eval_ro", SPECIAL_EVAL},       {"script|load", SPECIAL_SCRIPT_LOAD},
                    {"evalsha", SPECIAL_EVALSHA}, {"evalsha_ro", SPECIAL_EVALSHA}, {"fcall", SPECIAL_FCALL},
                    {"fcall_ro", SPECIAL_FCALL},  {"publish", SPECIAL_PUBLISH}};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
        if (strcmp(name, specials[i].name) == 0) return specials[i].special;
    return SPECIAL_NONE;
}

static void assign_route(struct command *c, char *const *allow, int nallow) {
    c->special = special_of(c->name);
    c->route = ROUTE_REFUSED;
    c->merge = MERGE_NONE;
    c->local = LOCAL_NONE;
    c->why = NULL;
    int allowed = is_allowed(c->name, allow, nallow);
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        if (strcmp(c->name, overrides[i].name) == 0 && !(allowed && overrides[i].route == ROUTE_REFUSED)) {
            c->route = overrides[i].route;
            c->merge = overrides[i].merge;
            c->local = overrides[i].local;
            c->why = overrides[i].why;
            return;
        }
    }
    if ((c->flags & CMD_ADMIN) && !allowed) {
        c->why = "administrative commands go to the nodes directly (or name it in allow-commands)";
        return;
    }
    if (!allowed && (strncmp(c->name, "client|", 7) == 0 || strncmp(c->name, "cluster|", 8) == 0)) {
        c->why = "it acts on one connection or node, not on the cluster through the proxy";
        return;
    }
    if (c->flags & CMD_PUBSUB) {
        for (size_t i = 0; i < sizeof(subscribe_family) / sizeof(subscribe_family[0]); i++)
            if (strcmp(c->name, subscribe_family[i]) == 0) return (void)(c->route = ROUTE_PUBSUB);
    }
    if (c->flags & CMD_BLOCKING) {
        c->route = ROUTE_BLOCKING;
    } else if (c->flags & TIP_MULTI_SHARD) {
        c->route = ROUTE_SPLIT;
        c->merge = merge_from_tips(c->flags, MERGE_MGET);
    } else if (c->flags & (TIP_ALL_SHARDS | TIP_ALL_NODES)) {
        c->route = (c->flags & TIP_RESP_SPECIAL) ? ROUTE_ANY : ROUTE_ALL;
        c->merge = merge_from_tips(c->flags, MERGE_CONCAT);
    } else if (c->nspecs > 0 || c->first > 0) {
        c->route = ROUTE_KEYS;
    } else {
        c->route = ROUTE_ANY;
    }
}

/* SLOTGATE and its subcommands: slotgate's own, so in the table whichever it came from. */
static int add_own_commands(struct cmdtable *t) {
    static const struct {
        const char *name;
        int arity, subs;
    } own[] = {{"slotgate", -2, 1}, {"slotgate|hotkeys", -2, 0}, {"slotgate|help", 2, 0}};
    size_t n = sizeof(own) / sizeof(own[0]);
    struct command *grown = realloc(t->cmds, sizeof(*grown) * (t->ncmds + n));
    if (!grown) return -1;
    t->cmds = grown;
    for (size_t i = 0; i < n; i++) {
        struct command *c = &t->cmds[t->ncmds++];
        memset(c, 0, sizeof(*c));
        c->name = own[i].name;
        c->arity = own[i].arity;
        c->has_subcommands = own[i].subs;
        c->family = FAM_SERVER;
        c->acl_cats = ACL_CAT_SLOW;
    }
    return 0;
}

static int index_table(struct cmdtable *t, char *const *allow, int nallow) {
    if (add_own_commands(t) < 0) return -1;
    uint32_t cap = 1;
    while (cap < t->ncmds * 4) cap <<= 1;
    t->index = malloc(sizeof(int32_t) * cap);
    if (!t->index) return -1;
    t->mask = cap - 1;
    memset(t->index, 0xff, sizeof(int32_t) * cap);
    for (size_t i = 0; i < t->ncmds; i++) {
        assign_route(&t->cmds[i], allow, nallow);
        t->cmds[i].name_len = strlen(t->cmds[i].name);
        t->cmds[i].is_subcommand = strchr(t->cmds[i].name, '|') != NULL;
        uint32_t h = hash_name(t->cmds[i].name, t->cmds[i].name_len) & t->mask;
        while (t->index[h] >= 0) h = (h + 1) & t->mask;
        t->index[h] = (int32_t)i;
    }
    t->refs = 1;
    return 0;
}

struct cmdtable *cmdtable_new_builtin(char *const *allow, int nallow) {
    size_t n = sizeof(builtin) / sizeof(builtin[0]);
    struct cmdtable *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->cmds = calloc(n, sizeof(*t->cmds));
    t->ncmds = n;
    if (!t->cmds) goto fail;
    for (size_t i = 0; i < n; i++) {
        struct command *c = &t->cmds[i];
        c->name = builtin[i].name;
        c->arity = builtin[i].arity;
        c->flags = builtin[i].flags;
        c->first = builtin[i].first;
        c->last = builtin[i].last;
        c->step = builtin[i].step;
        c->has_subcommands = builtin[i].subs;
        c->nspecs = builtin[i].nspecs;
        memcpy(c->specs, builtin[i].specs, sizeof(c->specs));
        c->family = builtin[i].family;
        c->acl_cats = builtin[i].acl_cats;
    }
    if (index_table(t, allow, nallow) < 0) goto fail;
    return t;
fail:
    cmdtable_unref(t);
    return NULL;
}

/* --- building from a live COMMAND reply --- */

static const char *own(struct cmdtable *t, const char *s, size_t *cap) {
    if (t->nstrings == *cap) {
        *cap = *cap ? *cap * 2 : 512;
        char **n = realloc(t->strings, sizeof(char *) * *cap);
        if (!n) return NULL;
        t->strings = n;
    }
    char *d = strdup(s);
    if (!d) return NULL;
    for (char *p = d; *p; p++) *p = (char)fold((unsigned char)*p);
    t->strings[t->nstrings++] = d;
    return d;
}

static const redisReply *field(const redisReply *map, const char *name) {
    if (!map || map->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    return NULL;
}

static long long ifield(const redisReply *map, const char *name) {
    const redisReply *v = field(map, name);
    return v && v->type == REDIS_REPLY_INTEGER ? v->integer : 0;
}

static void parse_spec(struct cmdtable *t, const redisReply *sp, struct keyspec *ks, size_t *cap) {
    const redisReply *bs = field(sp, "begin_search"), *fk = field(sp, "find_keys"), *flags = field(sp, "flags");
    const redisReply *bt = field(bs, "type"), *bsp = field(bs, "spec"), *ft = field(fk, "type"),
                     *fsp = field(fk, "spec");
    memset(ks, 0, sizeof(*ks));
    static const struct {
        const char *name;
        int bit;
    } ksf[] = {{"RO", KSF_RO},           {"RW", KSF_RW},
               {"OW", KSF_OW},           {"RM", KSF_RM},
               {"access", KSF_ACCESS},   {"update", KSF_UPDATE},
               {"insert", KSF_INSERT},   {"delete", KSF_DELETE},
               {"not_key", KSF_NOT_KEY}, {"variable_flags", KSF_VARIABLE_FLAGS}};
    for (size_t i = 0; flags && i < flags->elements; i++) {
        const redisReply *f = flags->element[i];
        if (f->type != REDIS_REPLY_STATUS && f->type != REDIS_REPLY_STRING) continue;
        if (strcmp(f->str, "incomplete") == 0) ks->incomplete = 1;
        for (size_t k = 0; k < sizeof(ksf) / sizeof(ksf[0]); k++)
            if (strcmp(f->str, ksf[k].name) == 0) ks->kflags |= ksf[k].bit;
    }
    if (bt && bt->type == REDIS_REPLY_STRING && strcmp(bt->str, "index") == 0) {
        ks->bs = KS_BS_INDEX;
        ks->bs_arg = (int)ifield(bsp, "index");
    } else if (bt && bt->type == REDIS_REPLY_STRING && strcmp(bt->str, "keyword") == 0) {
        const redisReply *kw = field(bsp, "keyword");
        ks->bs = KS_BS_KEYWORD;
        ks->bs_arg = (int)ifield(bsp, "startfrom");
        ks->keyword = kw && kw->type == REDIS_REPLY_STRING ? own(t, kw->str, cap) : NULL;
        if (!ks->keyword) ks->bs = KS_BS_UNKNOWN;
    }
    if (ft && ft->type == REDIS_REPLY_STRING && strcmp(ft->str, "range") == 0) {
        ks->fk = KS_FK_RANGE;
        ks->a = (int)ifield(fsp, "lastkey"), ks->b = (int)ifield(fsp, "keystep"), ks->c = (int)ifield(fsp, "limit");
    } else if (ft && ft->type == REDIS_REPLY_STRING && strcmp(ft->str, "keynum") == 0) {
        ks->fk = KS_FK_KEYNUM;
        ks->a = (int)ifield(fsp, "keynumidx"), ks->b = (int)ifield(fsp, "firstkey"),
        ks->c = (int)ifield(fsp, "keystep");
    }
}

static const struct {
    const char *text;
    uint32_t bit;
} flag_names[] = {
    {"write", CMD_WRITE},
    {"readonly", CMD_READONLY},
    {"denyoom", CMD_DENYOOM},
    {"admin", CMD_ADMIN},
    {"pubsub", CMD_PUBSUB},
    {"noscript", CMD_NOSCRIPT},
    {"blocking", CMD_BLOCKING},
    {"loading", CMD_LOADING},
    {"stale", CMD_STALE},
    {"skip_monitor", CMD_SKIP_MONITOR},
    {"fast", CMD_FAST},
    {"movablekeys", CMD_MOVABLEKEYS},
    {"no_auth", CMD_NO_AUTH},
    {"may_replicate", CMD_MAY_REPLICATE},
    {"no_multi", CMD_NO_MULTI},
    {"allow_busy", CMD_ALLOW_BUSY},
    {"request_policy:all_nodes", TIP_ALL_NODES},
    {"request_policy:all_shards", TIP_ALL_SHARDS},
    {"request_policy:multi_shard", TIP_MULTI_SHARD},
    {"request_policy:special", TIP_REQ_SPECIAL},
    {"response_policy:agg_sum", TIP_AGG_SUM},
    {"response_policy:all_succeeded", TIP_ALL_SUCCEEDED},
    {"response_policy:one_succeeded", TIP_ONE_SUCCEEDED},
    {"response_policy:agg_logical_and", TIP_AGG_AND},
    {"response_policy:agg_min", TIP_AGG_MIN},
    {"response_policy:agg_max", TIP_AGG_MAX},
    {"response_policy:special", TIP_RESP_SPECIAL},
};

static const char *const family_names[FAM_COUNT] = {
    "string", "list",      "hash",        "set",        "sortedset", "stream", "bitmap",  "hyperloglog", "geo",
    "pubsub", "scripting", "transaction", "connection", "keyspace",  "server", "cluster", "other"};

const char *cmd_family_name(int family) { return family >= 0 && family < FAM_COUNT ? family_names[family] : "other"; }

/* The order scripts/gen-command-table uses: the first category naming a family wins. */
static const char *const acl_cat_names[ACL_CAT_COUNT] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};

const char *acl_cat_name(int index) { return index >= 0 && index < ACL_CAT_COUNT ? acl_cat_names[index] : NULL; }

uint32_t acl_cat_bit(const char *name, size_t len) {
    if (len && name[0] == '@') name++, len--;
    for (int i = 0; i < ACL_CAT_COUNT; i++)
        if (strlen(acl_cat_names[i]) == len && strncasecmp(acl_cat_names[i], name, len) == 0) return 1u << i;
    return 0;
}

int cmd_family_of(const char *name, const char *const *categories, size_t n) {
    static const int order[] = {FAM_BITMAP,    FAM_HYPERLOGLOG, FAM_GEO,        FAM_STREAM,    FAM_STRING,
                                FAM_LIST,      FAM_HASH,        FAM_SET,        FAM_SORTEDSET, FAM_PUBSUB,
                                FAM_SCRIPTING, FAM_TRANSACTION, FAM_CONNECTION, FAM_KEYSPACE};
    if (strncmp(name, "cluster", 7) == 0) return FAM_CLUSTER;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = 0; i < n; i++) {
            const char *c = categories[i][0] == '@' ? categories[i] + 1 : categories[i];
            if (strcmp(c, family_names[order[k]]) == 0) return order[k];
        }
    return FAM_SERVER;
}

static int family_of_reply(const char *name, const redisReply *list) {
    const char *cats[32] = {0};
    size_t n = 0;
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements && n < 32; i++)
        if (list->element[i]->type == REDIS_REPLY_STATUS || list->element[i]->type == REDIS_REPLY_STRING)
            cats[n++] = list->element[i]->str;
    return cmd_family_of(name, cats, n);
}

static uint32_t bits_of(const redisReply *list) {
    uint32_t bits = 0;
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_STATUS && e->type != REDIS_REPLY_STRING) continue;
        for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
            if (strcmp(e->str, flag_names[k].text) == 0) bits |= flag_names[k].bit;
    }
    return bits;
}

static int add_from_reply(struct cmdtable *t, const redisReply *c, size_t *cap_cmds, size_t *cap_str) {
    if (c->type != REDIS_REPLY_ARRAY || c->elements < 10 || c->element[0]->type != REDIS_REPLY_STRING ||
        c->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    if (t->ncmds == *cap_cmds) {
        *cap_cmds = *cap_cmds ? *cap_cmds * 2 : 512;
        struct command *n = realloc(t->cmds, sizeof(*n) * *cap_cmds);
        if (!n) return -1;
        t->cmds = n;
    }
    struct command *cmd = &t->cmds[t->ncmds];
    memset(cmd, 0, sizeof(*cmd));
    if (!(cmd->name = own(t, c->element[0]->str, cap_str))) return -1;
    cmd->arity = (int)c->element[1]->integer;
    cmd->flags = bits_of(c->element[2]) | bits_of(c->element[7]);
    cmd->first = (int)c->element[3]->integer;
    cmd->last = (int)c->element[4]->integer;
    cmd->step = (int)c->element[5]->integer;
    cmd->family = family_of_reply(cmd->name, c->element[6]);
    for (size_t i = 0; c->element[6]->type == REDIS_REPLY_ARRAY && i < c->element[6]->elements; i++) {
        const redisReply *cat = c->element[6]->element[i];
        if (cat->type == REDIS_REPLY_STATUS || cat->type == REDIS_REPLY_STRING)
            cmd->acl_cats |= acl_cat_bit(cat->str, cat->len);
    }
    const redisReply *specs = c->element[8], *subs = c->element[9];
    for (size_t i = 0; specs->type == REDIS_REPLY_ARRAY && i < specs->elements && i < MAX_KEYSPECS; i++)
        parse_spec(t, specs->element[i], &cmd->specs[cmd->nspecs++], cap_str);
    cmd->has_subcommands = subs->type == REDIS_REPLY_ARRAY && subs->elements > 0;
    t->ncmds++;
    for (size_t i = 0; cmd->has_subcommands && i < subs->elements; i++)
        if (add_from_reply(t, subs->element[i], cap_cmds, cap_str) < 0) return -1;
    return 0;
}

struct cmdtable *cmdtable_new_from_reply(const redisReply *r, char *const *allow, int nallow, char *err, int errlen) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        snprintf(err, errlen, "COMMAND: reply is not a list of commands");
        return NULL;
    }
    struct cmdtable *t = calloc(1, sizeof(*t));
    size_t cap_cmds = 0, cap_str = 0;
    if (!t) return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        if (add_from_reply(t, r->element[i], &cap_cmds, &cap_str) < 0) {
            snprintf(err, errlen, "COMMAND: entry %zu is not in the Redis 7 format", i);
            cmdtable_unref(t);
            return NULL;
        }
    }
    if (index_table(t, allow, nallow) < 0) {
        cmdtable_unref(t);
        return NULL;
    }
    return t;
}

struct cmdtable *cmdtable_ref(struct cmdtable *t) {
    __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void cmdtable_unref(struct cmdtable *t) {
    if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    for (size_t i = 0; i < t->nstrings; i++) free(t->strings[i]);
    free(t->strings);
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
        if (c->name_len == len) {
            size_t k = 0;
            while (k < len && fold((unsigned char)name[k]) == (unsigned char)c->name[k]) k++;
            if (k == len) return c;
        }
        h = (h + 1) & t->mask;
    }
}

size_t cmdtable_count(const struct cmdtable *t) { return t->ncmds; }
const struct command *cmdtable_at(const struct cmdtable *t, size_t i) { return &t->cmds[i]; }
