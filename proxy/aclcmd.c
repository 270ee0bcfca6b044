/* See aclcmd.h. */
#include "aclcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../router/acl.h"
#include "../router/merge.h"
#include "slowlog.h"
#include "worker.h"

#define ARG(i)    resp_request_arg(q, cmd, i)
#define ARGLEN(i) (q->argv[i].len)

static void reply_sbuf(struct worker *w, struct req *r, struct sbuf *b, int rc) {
    if (rc < 0)
        req_reply_error(w, r, "ERR slotgate: out of memory");
    else
        req_reply(w, r, b->p, b->len);
    sbuf_free(b);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(struct acl_user *const *)a)->name, (*(struct acl_user *const *)b)->name);
}

/* The users in name order, as Redis lists them (from its radix tree). */
static struct acl_user **sorted(const struct users *us) {
    struct acl_user **l = malloc(sizeof(*l) * (size_t)(us->n ? us->n : 1));
    if (!l) return NULL;
    memcpy(l, us->list, sizeof(*l) * (size_t)us->n);
    qsort(l, (size_t)us->n, sizeof(*l), by_name);
    return l;
}

static int add_str(struct sbuf *b, const char *s) { return sbuf_add_bulk(b, s, strlen(s)); }

static int add_owned(struct sbuf *b, char *s) {
    int rc = s ? add_str(b, s) : -1;
    free(s);
    return rc;
}

static void getuser(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct acl_user *u = users_find(c->w->view.users, ARG(2), ARGLEN(2));
    struct sbuf b = {0};
    if (!u) return reply_sbuf(c->w, r, &b, sbuf_add_null(&b, r->resp3));
    int rc = sbuf_add_map(&b, 6, r->resp3) | add_str(&b, "flags") | sbuf_add_set(&b, u->nopass ? 3 : 2, r->resp3) |
             add_str(&b, u->on ? "on" : "off");
    if (u->nopass) rc |= add_str(&b, "nopass");
    rc |= add_str(&b, "sanitize-payload") | add_str(&b, "passwords") | sbuf_add_header(&b, '*', (unsigned)u->nhashes);
    for (int i = 0; i < u->nhashes; i++) rc |= sbuf_add_bulk(&b, u->hashes[i], 64);
    rc |= add_str(&b, "commands") | add_owned(&b, acl_describe_commands(u)) | add_str(&b, "keys") |
          add_owned(&b, acl_describe_keys(u)) | add_str(&b, "channels") | add_owned(&b, acl_describe_channels(u)) |
          add_str(&b, "selectors") | sbuf_add_header(&b, '*', (unsigned)u->nsel);
    for (int i = 0; i < u->nsel; i++) /* each as Redis shows one: its commands, keys and channels */
        rc |= sbuf_add_map(&b, 3, r->resp3) | add_str(&b, "commands") |
              add_owned(&b, acl_describe_commands(u->sel[i])) | add_str(&b, "keys") |
              add_owned(&b, acl_describe_keys(u->sel[i])) | add_str(&b, "channels") |
              add_owned(&b, acl_describe_channels(u->sel[i]));
    reply_sbuf(c->w, r, &b, rc);
}

static void cat(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct sbuf b = {0};
    int rc = 0;
    if (q->argc == 2) {
        rc = sbuf_add_header(&b, '*', ACL_CAT_COUNT);
        for (int i = 0; i < ACL_CAT_COUNT; i++) rc |= add_str(&b, acl_cat_name(i));
        return reply_sbuf(c->w, r, &b, rc);
    }
    uint32_t bit = acl_cat_bit(ARG(2), ARGLEN(2));
    if (!bit || (ARGLEN(2) && ARG(2)[0] == '@'))
        return req_reply_error(c->w, r, "ERR Unknown category '%.*s'", (int)ARGLEN(2), ARG(2));
    const struct cmdtable *t = c->w->view.cmds;
    size_t n = 0;
    for (size_t i = 0; i < cmdtable_count(t); i++) n += (cmdtable_at(t, i)->acl_cats & bit) != 0;
    rc = sbuf_add_header(&b, '*', n);
    for (size_t i = 0; i < cmdtable_count(t); i++)
        if (cmdtable_at(t, i)->acl_cats & bit) rc |= add_str(&b, cmdtable_at(t, i)->name);
    reply_sbuf(c->w, r, &b, rc);
}

/* ACL DRYRUN user command [arg ...]: the command is planned as the data path plans it, then decided. */
static void dryrun(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    struct acl_user *u = users_find(w->view.users, ARG(2), ARGLEN(2));
    if (!u) return req_reply_error(w, r, "ERR User '%.*s' not found", (int)ARGLEN(2), ARG(2));
    struct sbuf enc = {0};
    int rc = sbuf_add_header(&enc, '*', q->argc - 3);
    for (uint32_t i = 3; i < q->argc; i++) rc |= sbuf_add_bulk(&enc, ARG(i), ARGLEN(i));
    struct resp_request sub;
    struct plan p;
    char err[RESP_ERR_LEN];
    resp_request_init(&sub, 1LL << 40, 1LL << 40);
    plan_init(&p);
    if (rc < 0 || resp_request_parse(&sub, enc.p, enc.len, err, sizeof(err)) != RESP_DONE) {
        req_reply_error(w, r, "ERR slotgate: out of memory");
        goto done;
    }
    p.one_node = w->one_node;
    plan_request(w->view.cmds, &sub, enc.p, &p);
    if (!p.cmd) {
        req_reply_error(w, r, "ERR Command '%.*s' not found", (int)ARGLEN(3), ARG(3));
        goto done;
    }
    int arity = p.cmd->arity, argc = (int)sub.argc;
    if ((arity > 0 && arity != argc) || argc < -arity) {
        req_reply_error(w, r, "ERR wrong number of arguments for '%s' command", p.cmd->name);
        goto done;
    }
    struct acl_key *keys = malloc(sizeof(*keys) * (size_t)(p.nkeys + 1));
    struct acl_channel *chans = malloc(sizeof(*chans) * (size_t)(sub.argc + 1));
    if (!keys || !chans) {
        free(keys);
        free(chans);
        req_reply_error(w, r, "ERR slotgate: out of memory");
        goto done;
    }
    int nk = acl_keys_of(p.cmd, &p, &sub, enc.p, keys, p.nkeys + 1);
    int nc = acl_channels_of(p.cmd, &sub, enc.p, chans, (int)sub.argc + 1);
    int pos;
    const char *arg1 = sub.argc > 1 ? resp_request_arg(&sub, enc.p, 1) : NULL;
    int res = acl_check(u, p.cmd, arg1, sub.argc > 1 ? sub.argv[1].len : 0, keys, nk, chans, nc, &pos);
    char text[600];
    if (res == ACL_OK) {
        req_reply(w, r, "+OK\r\n", 5);
    } else {
        if (res == ACL_DENIED_CMD)
            snprintf(text, sizeof(text), "This user has no permissions to run the '%s' command", p.cmd->name);
        else if (res == ACL_DENIED_KEY)
            snprintf(text, sizeof(text), "This user has no permissions to access the '%.*s' key", (int)keys[pos].len,
                     keys[pos].p);
        else
            snprintf(text, sizeof(text), "This user has no permissions to access the '%.*s' channel",
                     (int)chans[pos].len, chans[pos].p);
        struct sbuf b = {0};
        reply_sbuf(w, r, &b, add_str(&b, text));
    }
    free(keys);
    free(chans);
done:
    plan_free(&p);
    resp_request_free(&sub);
    sbuf_free(&enc);
}

static void acllog(struct client *c, struct req *r, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    long long count = 10;
    if (q->argc == 3) {
        if (ARGLEN(2) == 5 && !strncasecmp(ARG(2), "reset", 5)) {
            acllog_reset(w->shared.acllog);
            return req_reply(w, r, "+OK\r\n", 5);
        }
        if (resp_parse_ll(ARG(2), ARGLEN(2), &count) < 0)
            return req_reply_error(w, r, "ERR value is not an integer or out of range");
        if (count < 0) count = 0;
    }
    struct acllog_entry *e = NULL;
    int n = acllog_get(w->shared.acllog, count > 1000000 ? 1000000 : (int)count, &e);
    static const char *const reasons[] = {"command", "key", "channel", "auth"};
    struct sbuf b = {0};
    int rc = sbuf_add_header(&b, '*', (unsigned)n);
    double now = ev_time();
    for (int i = 0; i < n; i++) {
        char age[64];
        int al = snprintf(age, sizeof(age), "%.17g", now - e[i].created);
        rc |= sbuf_add_map(&b, 7, r->resp3) | add_str(&b, "count") | sbuf_printf(&b, ":%lld\r\n", e[i].count) |
              add_str(&b, "reason") | add_str(&b, reasons[e[i].reason]) | add_str(&b, "context") |
              add_str(&b, e[i].in_multi ? "multi" : "toplevel") | add_str(&b, "object") | add_str(&b, e[i].object) |
              add_str(&b, "username") | add_str(&b, e[i].username) | add_str(&b, "age-seconds") |
              (r->resp3 ? sbuf_printf(&b, ",%s\r\n", age) : sbuf_add_bulk(&b, age, (size_t)al)) |
              add_str(&b, "client-info") | add_str(&b, e[i].client_info);
    }
    free(e);
    reply_sbuf(w, r, &b, rc);
}

/* SLOWLOG GET [count], LEN, RESET, HELP: Redis's replies, each entry with a seventh field saying where the
 * time went (slowlog.h). */
void slowlog_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    struct sbuf b = {0};
    int rc = 0;
    switch (what) {
    case LOCAL_SLOWLOG_LEN:
        rc = sbuf_printf(&b, ":%d\r\n", slowlog_len(w->shared.slowlog));
        return reply_sbuf(w, r, &b, rc);
    case LOCAL_SLOWLOG_RESET: slowlog_reset(w->shared.slowlog); return req_reply(w, r, "+OK\r\n", 5);
    case LOCAL_SLOWLOG_HELP: {
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help."};
        int n = (int)(sizeof(help) / sizeof(help[0]));
        rc = sbuf_add_header(&b, '*', (unsigned)n);
        for (int i = 0; i < n; i++) rc |= sbuf_printf(&b, "+%s\r\n", help[i]);
        return reply_sbuf(w, r, &b, rc);
    }
    default: break;
    }
    long long count = 10;
    if (q->argc > 3)
        return req_reply_error(w, r,
                               "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.");
    if (q->argc == 3) {
        char num[32], *end;
        snprintf(num, sizeof(num), "%.*s", (int)(ARGLEN(2) < 31 ? ARGLEN(2) : 31), ARG(2));
        count = strtoll(num, &end, 10);
        if (!ARGLEN(2) || ARGLEN(2) > 20 || *end || count < -1) /* Redis gives one text for both */
            return req_reply_error(w, r, "ERR count should be greater than or equal to -1");
    }
    struct slowlog_entry *e = NULL;
    int n = slowlog_get(w->shared.slowlog, count == -1 ? -1 : (int)(count > 1000000 ? 1000000 : count), &e);
    rc = sbuf_add_header(&b, '*', (unsigned)n);
    for (int i = 0; i < n; i++) {
        rc |= sbuf_printf(&b, "*7\r\n:%lld\r\n:%lld\r\n:%lld\r\n*%d\r\n", e[i].id, e[i].time, e[i].duration, e[i].argc);
        for (int k = 0; k < e[i].argc; k++) rc |= sbuf_add_bulk(&b, e[i].argv[k], e[i].argl[k]);
        rc |= add_str(&b, e[i].addr) | add_str(&b, e[i].name) | add_str(&b, e[i].detail);
    }
    slowlog_entries_free(e, n);
    reply_sbuf(w, r, &b, rc);
}

void acl_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd) {
    struct worker *w = c->w;
    const struct users *us = w->view.users;
    struct sbuf b = {0};
    int rc = 0;
    switch (what) {
    case LOCAL_ACL_USERS: {
        struct acl_user **l = sorted(us);
        rc = l ? sbuf_add_header(&b, '*', (unsigned)us->n) : -1;
        for (int i = 0; l && i < us->n; i++) rc |= add_str(&b, l[i]->name);
        free(l);
        return reply_sbuf(w, r, &b, rc);
    }
    case LOCAL_ACL_LIST: {
        struct acl_user **l = sorted(us);
        rc = l ? sbuf_add_header(&b, '*', (unsigned)us->n) : -1;
        for (int i = 0; l && i < us->n; i++) {
            char *d = acl_user_describe(l[i]);
            rc |= d ? sbuf_printf(&b, "$%zu\r\nuser %s %s\r\n", strlen(l[i]->name) + strlen(d) + 6, l[i]->name, d) : -1;
            free(d);
        }
        free(l);
        return reply_sbuf(w, r, &b, rc);
    }
    case LOCAL_ACL_GETUSER: return getuser(c, r, q, cmd);
    case LOCAL_ACL_CAT: return cat(c, r, q, cmd);
    case LOCAL_ACL_DRYRUN: return dryrun(c, r, q, cmd);
    default: return acllog(c, r, q, cmd);
    }
}
