/* See acl.h. Follows Redis 7.0's acl.c: ACLSetSelector/ACLSetUser for the rules (and their errors),
 * ACLSelectorCheckCmd/ACLSelectorCheckKey/ACLCheckChannelAgainstList for the decision. Command rules are
 * kept in order and folded at check time (the last rule that applies to a command decides), so a table
 * built later from a live COMMAND reply is decided the same way: Redis's bitmap over command IDs is that
 * fold, done ahead. */
#include "acl.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glob.h"

static const char *const E_UNKNOWN = "Unknown command or category name in ACL";
static const char *const E_SYNTAX = "Syntax error";
static const char *const E_KEYS_ALL = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
                                      "does not have any effect. Try 'resetkeys' to start with an empty list of "
                                      "patterns";
static const char *const E_CHANNELS_ALL = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                                          "valid and does not have any effect. Try 'resetchannels' to start with an "
                                          "empty list of channels";
static const char *const E_NO_PASS = "The password you are trying to remove from the user does not exist";
static const char *const E_BAD_HASH =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
static const char *const E_FIRSTARG_SUB = "Allowing first-arg of a subcommand is not supported";

static int fail(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return -1;
}

void acl_hash_password(const char *pass, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(pass, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

struct acl_user *acl_user_new(const char *name, size_t len) {
    struct acl_user *u = calloc(1, sizeof(*u));
    if (!u || !(u->name = malloc(len + 1))) {
        free(u);
        return NULL;
    }
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    return u;
}

static void clear_patterns(struct acl_pattern **list, int *n) {
    for (int i = 0; i < *n; i++) free((*list)[i].p);
    free(*list);
    *list = NULL;
    *n = 0;
}

static void clear_rules(struct acl_user *u) {
    for (int i = 0; i < u->nrules; i++) free(u->rules[i].name), free(u->rules[i].arg);
    free(u->rules);
    u->rules = NULL;
    u->nrules = 0;
}

static void clear_selectors(struct acl_user *u) {
    for (int i = 0; i < u->nsel; i++) acl_user_free(u->sel[i]);
    free(u->sel);
    u->sel = NULL;
    u->nsel = 0;
}

void acl_user_free(struct acl_user *u) {
    if (!u) return;
    clear_selectors(u);
    free(u->name);
    free(u->hashes);
    free(u->kidx);
    clear_patterns(&u->keys, &u->nkeys);
    clear_patterns(&u->channels, &u->nchannels);
    clear_rules(u);
    free(u);
}

static int has_space(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)p[i])) return 1;
    return 0;
}

static int add_pattern(struct acl_pattern **list, int *n, const char *p, size_t len, int perm) {
    for (int i = 0; i < *n; i++) {
        if ((*list)[i].len == len && memcmp((*list)[i].p, p, len) == 0) { /* Redis adds it once, flags joined */
            (*list)[i].perm |= perm;
            return 0;
        }
    }
    struct acl_pattern *l = realloc(*list, sizeof(*l) * (size_t)(*n + 1));
    if (!l) return -1;
    *list = l;
    if (!(l[*n].p = malloc(len + 1))) return -1;
    memcpy(l[*n].p, p, len);
    l[*n].p[len] = '\0';
    l[*n].len = len;
    l[*n].perm = perm;
    size_t lit = 0;
    while (lit < len && !strchr("*?[\\", p[lit])) lit++;
    l[*n].lit = lit;
    l[*n].kind = lit == len ? ACL_PAT_EXACT : (lit == len - 1 && p[lit] == '*') ? ACL_PAT_PREFIX : ACL_PAT_GLOB;
    (*n)++;
    return 0;
}

static int add_rule(struct acl_user *u, int allow, int kind, uint32_t cat, const char *name, size_t len) {
    if (kind == ACL_RULE_ALL) clear_rules(u); /* +@all / -@all decide every command: what came before is moot */
    struct acl_cmdrule *r = realloc(u->rules, sizeof(*r) * (size_t)(u->nrules + 1));
    if (!r) return -1;
    u->rules = r;
    r = &u->rules[u->nrules];
    *r = (struct acl_cmdrule){.allow = (uint8_t)allow, .kind = (uint8_t)kind, .cat = cat};
    if (name) {
        if (!(r->name = malloc(len + 1))) return -1;
        for (size_t i = 0; i < len; i++) r->name[i] = (char)tolower((unsigned char)name[i]);
        r->name[len] = '\0';
    }
    u->nrules++;
    return 0;
}

static int is_hash(const char *p, size_t len) {
    if (len != 64) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

static int find_hash(const struct acl_user *u, const char *h) {
    for (int i = 0; i < u->nhashes; i++)
        if (memcmp(u->hashes[i], h, 64) == 0) return i;
    return -1;
}

static int add_hash(struct acl_user *u, const char *h) {
    u->nopass = 0;
    if (find_hash(u, h) >= 0) return 0;
    char(*l)[65] = realloc(u->hashes, sizeof(*l) * (size_t)(u->nhashes + 1));
    if (!l) return -1;
    u->hashes = l;
    memcpy(l[u->nhashes], h, 64);
    l[u->nhashes++][64] = '\0';
    return 0;
}

static int remove_hash(struct acl_user *u, const char *h, char *err, size_t errlen) {
    u->nopass = 0;
    int i = find_hash(u, h);
    if (i < 0) return fail(err, errlen, E_NO_PASS);
    memmove(u->hashes[i], u->hashes[i + 1], sizeof(*u->hashes) * (size_t)(u->nhashes - i - 1));
    u->nhashes--;
    return 0;
}

static void reset_pass(struct acl_user *u) {
    free(u->hashes);
    u->hashes = NULL;
    u->nhashes = 0;
    u->nopass = 0;
}

static int op_is(const char *op, size_t len, const char *word) {
    return strlen(word) == len && strncasecmp(op, word, len) == 0;
}

/* +cmd, +cmd|sub (first args of a command without subcommands are kept but never allow anything), -cmd. */
static int command_rule(struct acl_user *u, const struct cmdtable *t, int allow, const char *name, size_t len,
                        char *err, size_t errlen) {
    const char *bar = memchr(name, '|', len);
    if (!bar || !allow) {
        if (!cmdtable_lookup(t, name, len)) return fail(err, errlen, E_UNKNOWN);
        return add_rule(u, allow, ACL_RULE_COMMAND, 0, name, len) < 0 ? fail(err, errlen, "out of memory") : 0;
    }
    const char *last = name + len - 1;
    while (*last != '|') last--;
    const struct command *c = cmdtable_lookup(t, name, (size_t)(last - name));
    if (!c) return fail(err, errlen, E_UNKNOWN);
    if (c->is_subcommand) return fail(err, errlen, E_FIRSTARG_SUB);
    if (last == name + len - 1) return fail(err, errlen, E_SYNTAX);
    if (c->has_subcommands && !cmdtable_lookup(t, name, len)) return fail(err, errlen, E_UNKNOWN);
    if (c->has_subcommands)
        return add_rule(u, 1, ACL_RULE_COMMAND, 0, name, len) < 0 ? fail(err, errlen, "out of memory") : 0;
    /* a first argument of a command without subcommands ("+select|0"): that command with that argument */
    if (add_rule(u, 1, ACL_RULE_FIRSTARG, 0, name, (size_t)(last - name)) < 0 ||
        !(u->rules[u->nrules - 1].arg = strndup(last + 1, (size_t)(name + len - last - 1))))
        return fail(err, errlen, "out of memory");
    u->has_firstargs = 1;
    return 0;
}

/* "(~x %R~y &ch +get)": a selector, with only the rules a selector takes (Redis's ACLSetSelector). */
static int add_selector(struct acl_user *u, const struct cmdtable *t, const char *op, size_t len, char *err,
                        size_t errlen) {
    if (len < 2 || op[len - 1] != ')') return fail(err, errlen, E_SYNTAX);
    struct acl_user *s = acl_user_new("", 0);
    struct acl_user **grown = s ? realloc(u->sel, sizeof(*u->sel) * (size_t)(u->nsel + 1)) : NULL;
    if (!grown) return acl_user_free(s), fail(err, errlen, "out of memory");
    u->sel = grown;
    const char *p = op + 1, *end = op + len - 1;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p)) p++;
        size_t n = 0;
        while (p + n < end && !isspace((unsigned char)p[n])) n++;
        if (!n) break;
        int selector_rule =
            !(strchr("><#!(", p[0]) || op_is(p, n, "on") || op_is(p, n, "off") || op_is(p, n, "nopass") ||
              op_is(p, n, "resetpass") || op_is(p, n, "reset") || op_is(p, n, "clearselectors"));
        if (!selector_rule) return acl_user_free(s), fail(err, errlen, E_SYNTAX);
        if (acl_user_set(s, t, p, n, err, errlen) < 0) return acl_user_free(s), -1;
        p += n;
    }
    if (acl_user_finish(s) < 0) return acl_user_free(s), fail(err, errlen, "out of memory");
    u->sel[u->nsel++] = s;
    return 0;
}

int acl_user_set(struct acl_user *u, const struct cmdtable *t, const char *op, size_t len, char *err, size_t errlen) {
    u->indexed = 0; /* acl_user_finish indexes the patterns again */
    if (op_is(op, len, "on")) return u->on = 1, 0;
    if (op_is(op, len, "off")) return u->on = 0, 0;
    if (op_is(op, len, "skip-sanitize-payload") || op_is(op, len, "sanitize-payload")) return 0;
    if (op_is(op, len, "nopass")) return reset_pass(u), u->nopass = 1, 0;
    if (op_is(op, len, "resetpass")) return reset_pass(u), 0;
    if (op_is(op, len, "reset")) {
        reset_pass(u);
        clear_selectors(u);
        u->allkeys = u->allchannels = 0;
        clear_patterns(&u->keys, &u->nkeys);
        clear_patterns(&u->channels, &u->nchannels);
        u->on = 0;
        clear_rules(u);
        return add_rule(u, 0, ACL_RULE_ALL, 0, NULL, 0);
    }
    if (len && (op[0] == '>' || op[0] == '<')) {
        char h[65];
        acl_hash_password(op + 1, len - 1, h);
        return op[0] == '>' ? add_hash(u, h) : remove_hash(u, h, err, errlen);
    }
    if (len && (op[0] == '#' || op[0] == '!')) {
        if (!is_hash(op + 1, len - 1)) return fail(err, errlen, E_BAD_HASH);
        return op[0] == '#' ? add_hash(u, op + 1) : remove_hash(u, op + 1, err, errlen);
    }
    /* the selector's own rules (ACLSetSelector) */
    if (op_is(op, len, "allkeys") || op_is(op, len, "~*")) {
        clear_patterns(&u->keys, &u->nkeys);
        return u->allkeys = 1, 0;
    }
    if (op_is(op, len, "resetkeys")) {
        clear_patterns(&u->keys, &u->nkeys);
        return u->allkeys = 0, 0;
    }
    if (op_is(op, len, "allchannels") || op_is(op, len, "&*")) {
        clear_patterns(&u->channels, &u->nchannels);
        return u->allchannels = 1, 0;
    }
    if (op_is(op, len, "resetchannels")) {
        clear_patterns(&u->channels, &u->nchannels);
        return u->allchannels = 0, 0;
    }
    if (op_is(op, len, "allcommands") || op_is(op, len, "+@all")) return add_rule(u, 1, ACL_RULE_ALL, 0, NULL, 0);
    if (op_is(op, len, "nocommands") || op_is(op, len, "-@all")) return add_rule(u, 0, ACL_RULE_ALL, 0, NULL, 0);
    if (len && (op[0] == '~' || op[0] == '%')) {
        if (u->allkeys) return fail(err, errlen, E_KEYS_ALL);
        int perm = 0;
        size_t off = 1;
        if (op[0] == '%') {
            for (;; off++) {
                if (off >= len) return fail(err, errlen, E_SYNTAX);
                char ch = (char)toupper((unsigned char)op[off]);
                if (ch == 'R' && !(perm & ACL_PERM_READ)) {
                    perm |= ACL_PERM_READ;
                } else if (ch == 'W' && !(perm & ACL_PERM_WRITE)) {
                    perm |= ACL_PERM_WRITE;
                } else if (op[off] == '~') {
                    off++;
                    break;
                } else {
                    return fail(err, errlen, E_SYNTAX);
                }
            }
        } else {
            perm = ACL_PERM_ALL;
        }
        if (has_space(op + off, len - off)) return fail(err, errlen, E_SYNTAX);
        if (add_pattern(&u->keys, &u->nkeys, op + off, len - off, perm) < 0) return fail(err, errlen, "out of memory");
        return u->allkeys = 0, 0;
    }
    if (len && op[0] == '&') {
        if (u->allchannels) return fail(err, errlen, E_CHANNELS_ALL);
        if (has_space(op + 1, len - 1)) return fail(err, errlen, E_SYNTAX);
        if (add_pattern(&u->channels, &u->nchannels, op + 1, len - 1, 0) < 0) return fail(err, errlen, "out of memory");
        return u->allchannels = 0, 0;
    }
    if (len > 1 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
        uint32_t cat = acl_cat_bit(op + 2, len - 2);
        if (!cat) return fail(err, errlen, E_UNKNOWN);
        return add_rule(u, op[0] == '+', ACL_RULE_CATEGORY, cat, NULL, 0);
    }
    if (len > 1 && (op[0] == '+' || op[0] == '-'))
        return command_rule(u, t, op[0] == '+', op + 1, len - 1, err, errlen);
    if (op_is(op, len, "clearselectors")) return clear_selectors(u), 0;
    if (len && op[0] == '(') return add_selector(u, t, op, len, err, errlen);
    return fail(err, errlen, E_SYNTAX);
}

struct acl_user *acl_user_parse(const struct cmdtable *t, const char *line, char *err, size_t errlen) {
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, " \t");
    if (!n) return fail(err, errlen, "a user needs a name"), NULL;
    struct acl_user *u = acl_user_new(p, n);
    if (!u) return fail(err, errlen, "out of memory"), NULL;
    for (p += n;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        n = strcspn(p, " \t");
        if (*p == '(' && p[n - 1] != ')') { /* a selector runs to the word that closes it */
            const char *close = strchr(p, ')');
            if (!close) {
                if (err && errlen) snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%s'.", p);
                acl_user_free(u);
                return NULL;
            }
            n = (size_t)(close - p) + 1;
        }
        char why[256];
        if (acl_user_set(u, t, p, n, why, sizeof(why)) < 0) {
            if (err && errlen) snprintf(err, errlen, "Error in ACL SETUSER modifier '%.*s': %s", (int)n, p, why);
            acl_user_free(u);
            return NULL;
        }
        p += n;
    }
    if (acl_user_finish(u) < 0) {
        fail(err, errlen, "out of memory");
        acl_user_free(u);
        return NULL;
    }
    return u;
}

int acl_user_password_ok(const struct acl_user *u, const char *pass, size_t len) {
    if (!u->on) return 0;
    if (u->nopass) return 1;
    char h[65];
    acl_hash_password(pass, len, h);
    int ok = 0;
    for (int i = 0; i < u->nhashes; i++) { /* every hash compared, in constant time, as Redis does */
        unsigned char diff = 0;
        for (int k = 0; k < 64; k++) diff |= (unsigned char)(u->hashes[i][k] ^ h[k]);
        ok |= diff == 0;
    }
    return ok;
}

static int rule_applies(const struct acl_cmdrule *r, const struct command *c) {
    switch (r->kind) {
    case ACL_RULE_ALL: return 1;
    case ACL_RULE_CATEGORY: return (c->acl_cats & r->cat) != 0;
    default: {
        size_t n = strlen(r->name);
        /* "config" is the container and every one of its subcommands; "config|get" that one */
        return strncmp(c->name, r->name, n) == 0 && (c->name[n] == '\0' || c->name[n] == '|');
    }
    }
}

/* The rules folded in order, as Redis folds them into its command bits: any rule on the command (or its
 * category, or all) sets it and forgets first arguments allowed before; a first-argument rule counts while
 * the command itself is refused. */
int acl_command_allowed(const struct acl_user *u, const struct command *cmd, const char *arg1, size_t arg1_len) {
    if (cmd->flags & CMD_NO_AUTH) return 1; /* AUTH and HELLO: anyone */
    int allowed = 0, by_arg = 0;
    for (int i = 0; i < u->nrules; i++) {
        const struct acl_cmdrule *r = &u->rules[i];
        if (r->kind == ACL_RULE_FIRSTARG) {
            if (!allowed && strcmp(r->name, cmd->name) == 0 && arg1 && strlen(r->arg) == arg1_len &&
                strncasecmp(r->arg, arg1, arg1_len) == 0)
                by_arg = 1;
        } else if (rule_applies(r, cmd)) {
            allowed = r->allow;
            by_arg = 0;
        }
    }
    return allowed || by_arg;
}

static inline int pattern_matches(const struct acl_pattern *p, const struct acl_key *k) {
    if (k->len < p->lit || memcmp(p->p, k->p, p->lit) != 0) return 0;
    if (p->kind == ACL_PAT_EXACT) return k->len == p->len;
    if (p->kind == ACL_PAT_PREFIX) return 1;
    return glob_match(p->p, p->len, k->p, k->len, 0);
}

int acl_key_allowed(const struct acl_user *u, const char *key, size_t len, int need) {
    if (u->allkeys) return 1;
    struct acl_key k = {key, len, 0};
    if (!u->indexed) {
        for (int i = 0; i < u->nkeys; i++)
            if ((u->keys[i].perm & need) == need && pattern_matches(&u->keys[i], &k)) return 1;
        return 0;
    }
    /* the patterns whose first literal byte is the key's (that byte is equal: compared from the next),
     * then those with none */
    if (len) {
        int b = (unsigned char)key[0];
        for (int j = u->kstart[b]; j < u->kstart[b + 1]; j++) {
            const struct acl_pattern *p = &u->keys[u->kidx[j]];
            if ((p->perm & need) != need || len < p->lit) continue;
            size_t i = 1;
            while (i < p->lit && p->p[i] == key[i]) i++;
            if (i < p->lit) continue;
            if (p->kind == ACL_PAT_PREFIX ||
                (p->kind == ACL_PAT_EXACT ? len == p->len : glob_match(p->p, p->len, key, len, 0)))
                return 1;
        }
    }
    for (int j = u->kstart[256]; j < u->kstart[257]; j++) {
        const struct acl_pattern *p = &u->keys[u->kidx[j]];
        if ((p->perm & need) == need && pattern_matches(p, &k)) return 1;
    }
    return 0;
}

static int key_allowed(const struct acl_user *u, const struct acl_key *k) {
    return acl_key_allowed(u, k->p, k->len, acl_key_need(k->kflags));
}

int acl_user_finish(struct acl_user *u) {
    u->unrestricted = acl_user_unrestricted(u);
    free(u->kidx);
    u->kidx = NULL;
    u->indexed = 0;
    if (u->nkeys > 65535 || !(u->kidx = malloc(sizeof(*u->kidx) * (size_t)(u->nkeys + 1)))) return u->nkeys ? -1 : 0;
    uint16_t count[257] = {0};
    for (int i = 0; i < u->nkeys; i++) count[u->keys[i].lit ? (unsigned char)u->keys[i].p[0] : 256]++;
    u->kstart[0] = 0;
    for (int b = 0; b < 257; b++) u->kstart[b + 1] = (uint16_t)(u->kstart[b] + count[b]);
    uint16_t at[257];
    memcpy(at, u->kstart, sizeof(at));
    for (int i = 0; i < u->nkeys; i++)
        u->kidx[at[u->keys[i].lit ? (unsigned char)u->keys[i].p[0] : 256]++] = (uint16_t)i;
    u->indexed = 1;
    return 0;
}

static int channel_allowed(const struct acl_user *u, const struct acl_channel *ch) {
    for (int i = 0; i < u->nchannels; i++) {
        const struct acl_pattern *p = &u->channels[i];
        /* a PSUBSCRIBE pattern must be one of the user's patterns, literally; a channel matches them */
        if (ch->is_pattern ? (p->len == ch->len && memcmp(p->p, ch->p, ch->len) == 0)
                           : glob_match(p->p, p->len, ch->p, ch->len, 0))
            return 1;
    }
    return 0;
}

static int check_one(const struct acl_user *u, const struct command *cmd, const char *arg1, size_t arg1_len,
                     const struct acl_key *keys, int nkeys, const struct acl_channel *chans, int nchans, int *pos) {
    *pos = 0;
    if (!acl_command_allowed(u, cmd, arg1, arg1_len)) return ACL_DENIED_CMD;
    return acl_check_args(u, keys, nkeys, chans, nchans, pos);
}

/* The user's own rules, then each selector; when none allows it, the denial Redis reports is the one
 * ranked highest (command < key < channel), and among equal ones the latest key or channel
 * (ACLCheckAllUserCommandPerm's relevant_error). */
int acl_check(const struct acl_user *u, const struct command *cmd, const char *arg1, size_t arg1_len,
              const struct acl_key *keys, int nkeys, const struct acl_channel *chans, int nchans, int *pos) {
    int rc = check_one(u, cmd, arg1, arg1_len, keys, nkeys, chans, nchans, pos);
    if (rc == ACL_OK || !u->nsel) return rc;
    int best_pos = *pos;
    for (int i = 0; i < u->nsel; i++) {
        int p = 0, r = check_one(u->sel[i], cmd, arg1, arg1_len, keys, nkeys, chans, nchans, &p);
        if (r == ACL_OK) return *pos = 0, ACL_OK;
        if (r > rc || (r == rc && p > best_pos)) rc = r, best_pos = p;
    }
    *pos = best_pos;
    return rc;
}

int acl_check_args(const struct acl_user *u, const struct acl_key *keys, int nkeys, const struct acl_channel *chans,
                   int nchans, int *pos) {
    *pos = 0;
    for (int i = 0; !u->allkeys && i < nkeys; i++)
        if (!key_allowed(u, &keys[i])) return *pos = i, ACL_DENIED_KEY;
    for (int i = 0; !u->allchannels && i < nchans; i++)
        if (!channel_allowed(u, &chans[i])) return *pos = i, ACL_DENIED_CHANNEL;
    return ACL_OK;
}

int acl_channels_of(const struct command *cmd, const struct resp_request *r, const char *bytes, struct acl_channel *out,
                    int max) {
    uint32_t first = 1, last = r->argc;
    int pattern = 0;
    if (!(cmd->flags & CMD_PUBSUB)) return 0; /* only pub/sub commands name channels */
    if (!strcmp(cmd->name, "publish") || !strcmp(cmd->name, "spublish"))
        last = r->argc > 1 ? 2 : 1;
    else if (!strcmp(cmd->name, "psubscribe"))
        pattern = 1;
    else if (strcmp(cmd->name, "subscribe") != 0 && strcmp(cmd->name, "ssubscribe") != 0)
        return 0;
    int n = 0;
    for (uint32_t i = first; i < last; i++, n++)
        if (n < max) out[n] = (struct acl_channel){resp_request_arg(r, bytes, i), r->argv[i].len, pattern};
    return n;
}

/* SET's key: RW|access|update with GET among its options, else OW|update (Redis's setGetKeys); BITFIELD's:
 * RO|access when it only reads (bitfieldGetKeys). */
int acl_key_flags(const struct command *cmd, const struct resp_request *r, const char *bytes) {
    if (!strcmp(cmd->name, "set")) {
        for (uint32_t i = 3; i < r->argc; i++)
            if (r->argv[i].len == 3 && strncasecmp(resp_request_arg(r, bytes, i), "get", 3) == 0)
                return KSF_RW | KSF_ACCESS | KSF_UPDATE;
        return KSF_OW | KSF_UPDATE;
    }
    int readonly = 1;
    for (uint32_t i = 2; i < r->argc; i++) {
        uint32_t rem = r->argc - i - 1;
        const char *a = resp_request_arg(r, bytes, i);
        size_t n = r->argv[i].len;
        if (n == 3 && !strncasecmp(a, "get", 3) && rem >= 2) {
            i += 2;
        } else if (((n == 3 && !strncasecmp(a, "set", 3)) || (n == 6 && !strncasecmp(a, "incrby", 6))) && rem >= 3) {
            readonly = 0;
            break;
        } else if (n == 8 && !strncasecmp(a, "overflow", 8) && rem >= 1) {
            i += 1;
        } else {
            readonly = 0;
            break;
        }
    }
    return readonly ? KSF_RO | KSF_ACCESS : KSF_RW | KSF_ACCESS | KSF_UPDATE;
}

int acl_keys_of(const struct command *cmd, const struct plan *p, const struct resp_request *r, const char *bytes,
                struct acl_key *out, int max) {
    int n = 0;
    for (int i = 0; i < p->nkeys; i++) {
        int f = p->kflags[i];
        if (f & KSF_NOT_KEY) continue;
        if (f & KSF_VARIABLE_FLAGS) f = acl_key_flags(cmd, r, bytes);
        if (n < max)
            out[n] = (struct acl_key){resp_request_arg(r, bytes, (uint32_t)p->keys[i]), r->argv[p->keys[i]].len, f};
        n++;
    }
    return n;
}

int acl_user_unrestricted(const struct acl_user *u) {
    if (!u->allkeys || !u->allchannels) return 0;
    int all = 0;
    for (int i = 0; i < u->nrules; i++) {
        if (u->rules[i].kind == ACL_RULE_ALL)
            all = u->rules[i].allow;
        else if (!u->rules[i].allow)
            all = 0; /* something taken away after +@all */
    }
    return all;
}

struct strbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n) {
    if (b->len + n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 2) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_word(struct strbuf *b, const char *s) {
    if (b->len) sb_add(b, " ", 1);
    sb_add(b, s, strlen(s));
}

static char *sb_done(struct strbuf *b) {
    if (!b->p) sb_add(b, "", 0);
    return b->p;
}

char *acl_describe_commands(const struct acl_user *u) {
    struct strbuf b = {0};
    if (!u->nrules || u->rules[0].kind != ACL_RULE_ALL) sb_word(&b, "-@all");
    for (int i = 0; i < u->nrules; i++) {
        const struct acl_cmdrule *r = &u->rules[i];
        char w[300];
        if (r->kind == ACL_RULE_ALL)
            snprintf(w, sizeof(w), "%s", r->allow ? "+@all" : "-@all");
        else if (r->kind == ACL_RULE_CATEGORY)
            snprintf(w, sizeof(w), "%c@%s", r->allow ? '+' : '-', acl_cat_name(__builtin_ctz(r->cat)));
        else if (r->kind == ACL_RULE_FIRSTARG)
            snprintf(w, sizeof(w), "+%s|%s", r->name, r->arg);
        else
            snprintf(w, sizeof(w), "%c%s", r->allow ? '+' : '-', r->name);
        sb_word(&b, w);
    }
    return sb_done(&b);
}

char *acl_describe_keys(const struct acl_user *u) {
    struct strbuf b = {0};
    if (u->allkeys) sb_word(&b, "~*");
    for (int i = 0; !u->allkeys && i < u->nkeys; i++) {
        const struct acl_pattern *k = &u->keys[i];
        const char *pre = k->perm == ACL_PERM_ALL ? "~" : k->perm == ACL_PERM_READ ? "%R~" : "%W~";
        if (b.len) sb_add(&b, " ", 1);
        sb_add(&b, pre, strlen(pre));
        sb_add(&b, k->p, k->len);
    }
    return sb_done(&b);
}

char *acl_describe_channels(const struct acl_user *u) {
    struct strbuf b = {0};
    if (u->allchannels) sb_word(&b, "&*");
    for (int i = 0; !u->allchannels && i < u->nchannels; i++) {
        if (b.len) sb_add(&b, " ", 1);
        sb_add(&b, "&", 1);
        sb_add(&b, u->channels[i].p, u->channels[i].len);
    }
    return sb_done(&b);
}

/* Keys, channels and commands, as ACL LIST shows a user's own rules or a selector's. */
static void describe_perms(struct strbuf *b, const struct acl_user *u) {
    char *k = acl_describe_keys(u), *c = acl_describe_commands(u);
    if (k && *k) sb_word(b, k);
    if (!u->allchannels) sb_word(b, "resetchannels");
    char *ch = acl_describe_channels(u);
    if (ch && *ch) sb_word(b, ch);
    if (c) sb_word(b, c);
    free(k);
    free(ch);
    free(c);
}

char *acl_user_describe(const struct acl_user *u) {
    struct strbuf b = {0};
    sb_word(&b, u->on ? "on" : "off");
    if (u->nopass) sb_word(&b, "nopass");
    sb_word(&b, "sanitize-payload"); /* Redis's default for every user (skip-sanitize-payload is not kept) */
    for (int i = 0; i < u->nhashes; i++) {
        char w[70];
        snprintf(w, sizeof(w), "#%s", u->hashes[i]);
        sb_word(&b, w);
    }
    describe_perms(&b, u);
    for (int i = 0; i < u->nsel; i++) { /* " (~x resetchannels -@all +get)", as Redis writes them */
        struct strbuf sb = {0};
        describe_perms(&sb, u->sel[i]);
        char *text = sb_done(&sb);
        size_t n = strlen(text ? text : "") + 3;
        char *w = malloc(n);
        if (w) snprintf(w, n, "(%s)", text ? text : ""), sb_word(&b, w);
        free(w);
        free(text);
    }
    return sb_done(&b);
}
