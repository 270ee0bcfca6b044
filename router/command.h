/* The command table and request planning: for each command (and subcommand, "config|get"), its arity,
 * flags, Redis 7 key specifications and cluster tips, and how slotgate serves it. The table is built
 * from a live COMMAND reply when a backend answers one (so commands newer than this build route
 * correctly) or from the copy generated from Redis 7.0 (command_table.inc). Planning turns a parsed
 * request into a decision without any I/O. */
#ifndef SLOTGATE_COMMAND_H
#define SLOTGATE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

struct redisReply;

enum {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_DENYOOM = 1 << 2,
    CMD_ADMIN = 1 << 3,
    CMD_PUBSUB = 1 << 4,
    CMD_NOSCRIPT = 1 << 5,
    CMD_BLOCKING = 1 << 6,
    CMD_LOADING = 1 << 7,
    CMD_STALE = 1 << 8,
    CMD_SKIP_MONITOR = 1 << 9,
    CMD_FAST = 1 << 10,
    CMD_MOVABLEKEYS = 1 << 11,
    CMD_NO_AUTH = 1 << 12,
    CMD_MAY_REPLICATE = 1 << 13,
    CMD_NO_MULTI = 1 << 14,
    CMD_ALLOW_BUSY = 1 << 15,
    /* COMMAND's cluster tips */
    TIP_ALL_NODES = 1 << 16,
    TIP_ALL_SHARDS = 1 << 17,
    TIP_MULTI_SHARD = 1 << 18,
    TIP_REQ_SPECIAL = 1 << 19,
    TIP_AGG_SUM = 1 << 20,
    TIP_ALL_SUCCEEDED = 1 << 21,
    TIP_ONE_SUCCEEDED = 1 << 22,
    TIP_AGG_AND = 1 << 23,
    TIP_AGG_MIN = 1 << 24,
    TIP_AGG_MAX = 1 << 25,
    TIP_RESP_SPECIAL = 1 << 26,
};

enum { KS_BS_UNKNOWN = 0, KS_BS_INDEX, KS_BS_KEYWORD };
/* A key specification's flags, those ACL rules read: how the command uses its keys (%R~ / %W~). */
enum {
    KSF_RO = 1 << 0,
    KSF_RW = 1 << 1,
    KSF_OW = 1 << 2,
    KSF_RM = 1 << 3,
    KSF_ACCESS = 1 << 4,
    KSF_UPDATE = 1 << 5,
    KSF_INSERT = 1 << 6,
    KSF_DELETE = 1 << 7,
    KSF_NOT_KEY = 1 << 8,        /* a shard channel declared as a key (SPUBLISH): routed by, not an ACL key */
    KSF_VARIABLE_FLAGS = 1 << 9, /* the flags depend on the arguments (SET ... GET, BITFIELD): acl_keys_of */
};
/* Redis's ACL categories, in its order (acl.c): a command's are a mask of these. */
enum {
    ACL_CAT_KEYSPACE = 1 << 0,
    ACL_CAT_READ = 1 << 1,
    ACL_CAT_WRITE = 1 << 2,
    ACL_CAT_SET = 1 << 3,
    ACL_CAT_SORTEDSET = 1 << 4,
    ACL_CAT_LIST = 1 << 5,
    ACL_CAT_HASH = 1 << 6,
    ACL_CAT_STRING = 1 << 7,
    ACL_CAT_BITMAP = 1 << 8,
    ACL_CAT_HYPERLOGLOG = 1 << 9,
    ACL_CAT_GEO = 1 << 10,
    ACL_CAT_STREAM = 1 << 11,
    ACL_CAT_PUBSUB = 1 << 12,
    ACL_CAT_ADMIN = 1 << 13,
    ACL_CAT_FAST = 1 << 14,
    ACL_CAT_SLOW = 1 << 15,
    ACL_CAT_BLOCKING = 1 << 16,
    ACL_CAT_DANGEROUS = 1 << 17,
    ACL_CAT_CONNECTION = 1 << 18,
    ACL_CAT_TRANSACTION = 1 << 19,
    ACL_CAT_SCRIPTING = 1 << 20,
    ACL_CAT_COUNT = 21
};
/* A category's name ("read") and the bit of a name ("read" or "@read"; 0 when Redis has no such one). */
const char *acl_cat_name(int index);
uint32_t acl_cat_bit(const char *name, size_t len);
enum { KS_FK_UNKNOWN = 0, KS_FK_RANGE, KS_FK_KEYNUM };

/* A Redis 7 key specification: where the keys begin (an index, or after a keyword searched from
 * bs_arg) and how to find them from there (a range lastkey/keystep/limit = a/b/c, or a count at
 * keynumidx/firstkey/keystep = a/b/c). */
struct keyspec {
    int bs;
    int bs_arg;
    const char *keyword;
    int fk;
    int a, b, c;
    int incomplete;
    int kflags; /* KSF_* */
};

#define MAX_KEYSPECS 4

/* How slotgate serves a command. */
enum cmd_route {
    ROUTE_REFUSED = 0, /* not possible or not allowed through the proxy: an error naming the reason */
    ROUTE_KEYS,        /* all keys in one slot: its master (no keys: any master) */
    ROUTE_SPLIT,       /* keys over several slots: one command per slot, replies merged */
    ROUTE_ALL,         /* every master, replies merged */
    ROUTE_ANY,         /* any one master */
    ROUTE_SLOT_ARG,    /* the master of the slot given as argument 2 (CLUSTER COUNTKEYSINSLOT) */
    ROUTE_SCAN,        /* one master at a time, the cursor saying which */
    ROUTE_LOCAL,       /* answered by slotgate itself */
    ROUTE_TXN,         /* MULTI/EXEC/DISCARD/WATCH/UNWATCH: a dedicated connection */
    ROUTE_BLOCKING,    /* a dedicated connection so it never delays others */
    ROUTE_PUBSUB,      /* subscribe family: a dedicated connection, replies pushed */
};

enum cmd_merge {
    MERGE_NONE = 0,
    MERGE_SUM,
    MERGE_ALL_OK,
    MERGE_ONE_OK,
    MERGE_AND,
    MERGE_MIN,
    MERGE_MAX,
    MERGE_CONCAT,
    MERGE_MGET,
    MERGE_RANDOM,
    MERGE_INFO,
};

enum cmd_local {
    LOCAL_NONE = 0,
    LOCAL_PING,
    LOCAL_ECHO,
    LOCAL_SELECT,
    LOCAL_QUIT,
    LOCAL_HELLO,
    LOCAL_AUTH,
    LOCAL_RESET,
    LOCAL_READONLY,
    LOCAL_READWRITE,
    LOCAL_ASKING,
    LOCAL_CLIENT_SETNAME,
    LOCAL_CLIENT_GETNAME,
    LOCAL_CLIENT_ID,
    LOCAL_CLIENT_INFO,
    LOCAL_CLIENT_LIST,
    LOCAL_CLIENT_REPLY,
    LOCAL_CLIENT_NO_EVICT,
    LOCAL_CLIENT_GETREDIR,
    LOCAL_CLIENT_TRACKINGINFO,
    LOCAL_CLIENT_TRACKING,
    LOCAL_CLIENT_CACHING,
    LOCAL_CLUSTER_SLOTS,
    LOCAL_CLUSTER_SHARDS,
    LOCAL_CLUSTER_NODES,
    LOCAL_CLUSTER_INFO,
    LOCAL_CLUSTER_KEYSLOT,
    LOCAL_CLUSTER_MYID,
    LOCAL_INFO,
    LOCAL_ACL_WHOAMI,
    LOCAL_ACL_USERS,
    LOCAL_ACL_LIST,
    LOCAL_ACL_GETUSER,
    LOCAL_ACL_CAT,
    LOCAL_ACL_DRYRUN,
    LOCAL_ACL_LOG,
    LOCAL_PUBSUB_CHANNELS,
    LOCAL_PUBSUB_NUMSUB,
    LOCAL_PUBSUB_NUMPAT,
    LOCAL_PUBSUB_SHARDCHANNELS,
    LOCAL_PUBSUB_SHARDNUMSUB,
    LOCAL_SLOWLOG_GET,
    LOCAL_SLOWLOG_LEN,
    LOCAL_SLOWLOG_RESET,
    LOCAL_SLOWLOG_HELP,
    LOCAL_SLOTGATE_HOTKEYS,
    LOCAL_SLOTGATE_HELP,
};

enum cmd_special {
    SPECIAL_NONE = 0,
    SPECIAL_SORT,        /* SORT ... STORE dest: a key the key specs do not give */
    SPECIAL_XREAD,       /* XREAD/XREADGROUP: blocking only with BLOCK */
    SPECIAL_EVAL,        /* EVAL, EVAL_RO: the script body is argument 1 */
    SPECIAL_SCRIPT_LOAD, /* SCRIPT LOAD: the body is argument 2 */
    SPECIAL_EVALSHA,     /* EVALSHA, EVALSHA_RO: NOSCRIPT can be repaired */
    SPECIAL_FCALL,       /* FCALL, FCALL_RO: like scripts, on a connection of its own */
    SPECIAL_PUBLISH,     /* PUBLISH: the receiver count is this slotgate's */
};

/* A command's family, from its Redis ACL categories: what /stats and /metrics count commands by. */
enum cmd_family {
    FAM_STRING = 0,
    FAM_LIST,
    FAM_HASH,
    FAM_SET,
    FAM_SORTEDSET,
    FAM_STREAM,
    FAM_BITMAP,
    FAM_HYPERLOGLOG,
    FAM_GEO,
    FAM_PUBSUB,
    FAM_SCRIPTING,
    FAM_TRANSACTION,
    FAM_CONNECTION,
    FAM_KEYSPACE,
    FAM_SERVER,
    FAM_CLUSTER,
    FAM_OTHER, /* a command Redis does not have, or a protocol error */
    FAM_COUNT
};
const char *cmd_family_name(int family);
/* The family of a command with these ACL categories ("string", "@string", ...); name decides "cluster". */
int cmd_family_of(const char *name, const char *const *categories, size_t n);

struct command {
    const char *name; /* lower case; "container|sub" for subcommands */
    size_t name_len;
    int arity; /* Redis's: N exact, -N at least N */
    uint32_t flags;
    int first, last, step;
    int has_subcommands;
    int is_subcommand; /* "container|sub": found through its container, never by its name */
    int family;        /* enum cmd_family */
    uint32_t acl_cats; /* ACL_CAT_* */
    int special;       /* enum cmd_special: a command the data path treats specially, found without strcmp */
    int nspecs;
    struct keyspec specs[MAX_KEYSPECS];
    int route;
    int merge;
    int local;
    const char *why; /* ROUTE_REFUSED: the reason shown to the client */
};

struct cmdtable;

/* allow: command names ("flushall", "config|set") that are refused by default but allowed here. */
struct cmdtable *cmdtable_new_builtin(char *const *allow, int nallow);
/* From a COMMAND reply (Redis 7 format); NULL with err on a reply that is not one. */
struct cmdtable *cmdtable_new_from_reply(const struct redisReply *r, char *const *allow, int nallow, char *err,
                                         int errlen);
struct cmdtable *cmdtable_ref(struct cmdtable *t);
void cmdtable_unref(struct cmdtable *t);
#define cmdtable_free cmdtable_unref
/* Case-insensitive, O(1). NULL for a command Redis does not have. */
const struct command *cmdtable_lookup(const struct cmdtable *t, const char *name, size_t len);
size_t cmdtable_count(const struct cmdtable *t);
const struct command *cmdtable_at(const struct cmdtable *t, size_t i);

struct plan {
    const struct command *cmd;
    int route;
    int merge;
    int slot; /* ROUTE_KEYS with keys, ROUTE_SLOT_ARG: the slot; else -1 */
    int is_error;
    char err[256]; /* the Redis-style error without '-' and CRLF, when is_error */
    /* The keys' argument indices and slots (ROUTE_KEYS, ROUTE_SPLIT), in argument order. */
    int nkeys;
    int keys_cap;
    int *keys;
    uint16_t *slots;
    uint16_t *kflags; /* each key's spec flags (KSF_*): how the command uses it, for ACL rules */
    /* Routes by key prefix (router/prefix.h), set by the caller (NULL: every key to the one backend):
     * each key's backend and the bytes strip-prefix takes off it (its slot is the stripped key's);
     * backend is the keys' when they share one. */
    const struct prefix_table *prefixes;
    unsigned one_node; /* bit b: backend b is one server (Sentinel, standalone): every key in slot 0, so
                        * multi-key commands and transactions never meet CROSSSLOT there, as on one server */
    int backend;
    int rerouted; /* a key goes to another backend than the default one, or loses a prefix */
    uint8_t *kbackend;
    uint16_t *kstrip;
    /* mirroring and migration (prefix.h): the route whose commands are mirrored (every key is its), or
     * -1; whether a key's route is migrating (kmig) and whether any is */
    int mirror_route;
    int migrating;
    uint8_t *kmig;
};

void plan_init(struct plan *p);
void plan_free(struct plan *p);
/* Plans one parsed request; cmd is its first byte (see resp_request_arg). Always fills p. */
void plan_request(const struct cmdtable *t, const struct resp_request *r, const char *cmd, struct plan *p);
/* The keys of a request by its command's key specs (as Redis's getKeysUsingKeySpecs), into p->keys.
 * Returns the count, or -1 when the specs cannot locate them (p->err says why). */
int command_find_keys(const struct command *c, const struct resp_request *r, const char *cmd, struct plan *p);

#endif
