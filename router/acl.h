/* Redis ACL rules, pure: a user built from Redis's rule syntax (on/off, >pass, <pass, #hash, !hash, nopass,
 * resetpass, ~pattern, %R~ / %W~ / %RW~, allkeys, resetkeys, &pattern, allchannels, resetchannels,
 * +cmd, -cmd, +cmd|sub, +@category, -@category, allcommands, nocommands, reset), and the decision Redis's
 * ACLCheckAllUserCommandPerm makes for a command with its keys (and how the command uses each) and
 * channels. The errors are Redis's texts. Selectors ("(...)") are not supported yet: their rule is
 * refused with Redis's syntax error. Groundwork for issue 17; nothing in the proxy uses it yet. */
#ifndef SLOTGATE_ACL_H
#define SLOTGATE_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"

/* Redis's values (server.h): a denial names what was refused. */
enum { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_AUTH = 3, ACL_DENIED_CHANNEL = 4 };
enum { ACL_PERM_READ = 1, ACL_PERM_WRITE = 2, ACL_PERM_ALL = 3 };

struct acl_cmdrule {
    uint8_t allow;
    uint8_t kind; /* ACL_RULE_ALL, ACL_RULE_CATEGORY, ACL_RULE_COMMAND */
    uint32_t cat;
    char *name; /* lower case: "get", "config", "config|set"; FIRSTARG: the command, then arg */
    char *arg;  /* FIRSTARG ("+select|0"): the first argument it allows the otherwise refused command with */
};
enum { ACL_RULE_ALL = 0, ACL_RULE_CATEGORY, ACL_RULE_COMMAND, ACL_RULE_FIRSTARG };

struct acl_pattern {
    char *p;
    size_t len;
    int perm;   /* ACL_PERM_* (keys); channels: unused */
    size_t lit; /* the literal characters it starts with (before * ? [ \) */
    int kind;   /* ACL_PAT_EXACT (all literal), ACL_PAT_PREFIX ("lit*"), ACL_PAT_GLOB */
};
enum { ACL_PAT_EXACT = 0, ACL_PAT_PREFIX, ACL_PAT_GLOB };

struct acl_user {
    char *name;
    int on, nopass;
    char (*hashes)[65]; /* SHA-256 of each password, lower-case hex */
    int nhashes;
    int allkeys, allchannels;
    struct acl_pattern *keys, *channels;
    int nkeys, nchannels;
    struct acl_cmdrule *rules; /* in the order given: the last that applies to a command decides */
    int nrules;
    int unrestricted;  /* acl_user_unrestricted(), once the user is built: nothing to check per command */
    int has_firstargs; /* a +cmd|arg rule: whether a command is allowed depends on its first argument */
    /* key patterns by their first literal byte (256: none), filled by acl_user_finish: a key is tried only
     * against the patterns that could match its first byte, and those starting with a wildcard */
    uint16_t *kidx;
    uint16_t kstart[258];
    int indexed;
    /* Selectors ("(~x +get)"): more permission sets, each an acl_user of its own (no name, no passwords);
     * a command runs when the user's own rules or any one selector allow all of it. */
    struct acl_user **sel;
    int nsel;
};

/* A user as Redis creates one: off, no password, no keys, no channels, no commands. */
struct acl_user *acl_user_new(const char *name, size_t len);
void acl_user_free(struct acl_user *u);
/* Applies one rule; 0, or -1 with Redis's message in err (ACLSetUserStringError's). The command table is
 * where +cmd and -cmd names are looked up ("Unknown command or category name in ACL"). */
int acl_user_set(struct acl_user *u, const struct cmdtable *t, const char *op, size_t len, char *err, size_t errlen);
/* Parses "name rule rule ..." (a line of an aclfile without "user ", or a users setting): a new user, or NULL
 * with err ("Error in user declaration '<rule>': <message>"). */
struct acl_user *acl_user_parse(const struct cmdtable *t, const char *line, char *err, size_t errlen);
/* 1 when the user may run every command on every key and channel (+@all with nothing taken away after,
 * allkeys, allchannels). */
int acl_user_unrestricted(const struct acl_user *u);
/* Once the user's rules are all set: sets unrestricted and indexes its key patterns (the decisions are
 * the same without it, only slower). 0, or -1 out of memory. */
int acl_user_finish(struct acl_user *u);
/* The rules as ACL LIST shows them after the user's name: on/off, nopass, #hashes, keys, channels,
 * commands. malloc'd. */
char *acl_user_describe(const struct acl_user *u);
/* ACL GETUSER's "commands", "keys" and "channels" strings. malloc'd. */
char *acl_describe_commands(const struct acl_user *u);
char *acl_describe_keys(const struct acl_user *u);
char *acl_describe_channels(const struct acl_user *u);
/* 1 when the password is one of the user's (or the user is nopass); 0 otherwise, also for a user that is off. */
int acl_user_password_ok(const struct acl_user *u, const char *pass, size_t len);
/* SHA-256 of a password as lower-case hex, as ACL LIST shows it (#...). */
void acl_hash_password(const char *pass, size_t len, char out[65]);

/* A key a command uses, and how (the KSF_* flags of the key spec it came from). */
struct acl_key {
    const char *p;
    size_t len;
    int kflags;
};
/* A channel a command names: published to, subscribed to, or a pattern subscribed to. */
struct acl_channel {
    const char *p;
    size_t len;
    int is_pattern;
};

/* May the user run cmd (its full name, a subcommand's included; arg1 its first argument, or NULL) with these
 * keys and channels? ACL_OK, or the denial Redis gives, *pos the index of the key or channel refused. */
int acl_check(const struct acl_user *u, const struct command *cmd, const char *arg1, size_t arg1_len,
              const struct acl_key *keys, int nkeys, const struct acl_channel *chans, int nchans, int *pos);
int acl_command_allowed(const struct acl_user *u, const struct command *cmd, const char *arg1, size_t arg1_len);
/* May the user touch this key with this access (ACL_PERM_*)? Tight: the data path asks it for every key of a
 * limited user's request. */
int acl_key_allowed(const struct acl_user *u, const char *key, size_t len, int need);
/* The access a key's spec flags (KSF_*, after acl_key_flags for variable ones) need. */
static inline int acl_key_need(int kflags) {
    return ((kflags & KSF_ACCESS) ? ACL_PERM_READ : 0) |
           ((kflags & (KSF_INSERT | KSF_DELETE | KSF_UPDATE)) ? ACL_PERM_WRITE : 0);
}
/* SET's and BITFIELD's key flags from their arguments (KSF_VARIABLE_FLAGS). */
int acl_key_flags(const struct command *cmd, const struct resp_request *r, const char *bytes);
/* The keys' and channels' part of acl_check, once the command is allowed. */
int acl_check_args(const struct acl_user *u, const struct acl_key *keys, int nkeys, const struct acl_channel *chans,
                   int nchans, int *pos);
/* The keys ACL rules check, from a planned request (p->keys, p->kflags): not those a spec calls not_key
 * (SPUBLISH's channel), with SET's and BITFIELD's flags found from their arguments as Redis finds them.
 * Fills up to max; returns how many there are. */
int acl_keys_of(const struct command *cmd, const struct plan *p, const struct resp_request *r, const char *bytes,
                struct acl_key *out, int max);
/* The channels a command names that ACL rules check (Redis 7.0's getChannelsFromCommand, publishing and
 * subscribing ones): PUBLISH/SPUBLISH's channel, (S)SUBSCRIBE's channels, PSUBSCRIBE's patterns. Fills
 * up to max; returns how many there are. */
int acl_channels_of(const struct command *cmd, const struct resp_request *r, const char *bytes, struct acl_channel *out,
                    int max);

#endif
