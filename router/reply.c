/* See reply.h. */
#include "reply.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

double reply_backoff(int attempt) {
    double d = 0.02 * (1 << (attempt < 5 ? attempt : 5));
    return d > 0.5 ? 0.5 : d;
}

/* Redis 7 redirects to its preferred endpoint: an address, a hostname, "" for an unknown endpoint (the
 * same host as the node that answered) or "?" (hostnames preferred, the node has none): 0 for "?". */
static int resolve_endpoint(const struct reply_req *q, struct redirect *rd) {
    if (rd->host[0] == '\0') snprintf(rd->host, sizeof(rd->host), "%s", q->node_host ? q->node_host : "");
    return strcmp(rd->host, "?") != 0;
}

static int may_retry(const struct reply_req *q, struct reply_decision *d) {
    if (q->retries >= q->max_retries || q->now + reply_backoff(q->retries) >= q->deadline) return 0;
    d->action = REPLY_RETRY;
    d->retry_at = q->now + reply_backoff(q->retries);
    return 1;
}

/* A reply inside a MULTI ... EXEC group: a refusal for where the slot is (MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN) makes EXEC abort, so nothing ran and the whole group goes again. */
static void queued(const char *p, size_t len, const struct reply_req *q, struct reply_decision *d) {
    d->action = REPLY_SKIP;
    if (p[0] != '-') return;
    int kind = resp_parse_redirect(p, len, &d->rd);
    if (kind != REDIR_NONE && !resolve_endpoint(q, &d->rd))
        d->refresh_why = "redirect to an unknown endpoint";
    else if (kind == REDIR_MOVED)
        d->patch_moved = 1, d->refresh_why = "MOVED";
    d->group_retry = kind != REDIR_NONE || resp_error_is(p, len, "TRYAGAIN") || resp_error_is(p, len, "CLUSTERDOWN");
}

void reply_decide(const char *p, size_t len, const struct reply_req *q, struct reply_decision *d) {
    memset(d, 0, offsetof(struct reply_decision, text)); /* text is written only with REPLY_FAIL */
    d->text[0] = '\0';
    d->action = REPLY_DELIVER;
    if (q->path == RP_GROUP_QUEUED) return queued(p, len, q, d);
    if (q->group_retry && may_retry(q, d)) return; /* else EXEC's EXECABORT goes to the client */
    int is_error = len > 0 && p[0] == '-';
    if (!is_error || q->path == RP_TXN) return; /* a transaction's errors are the client's to see */
    int kind = resp_parse_redirect(p, len, &d->rd);
    if (q->path == RP_UPLOAD) { /* its bytes were not kept: no redirection or retry */
        if (kind != REDIR_NONE || resp_error_is(p, len, "TRYAGAIN")) {
            d->action = REPLY_FAIL;
            snprintf(d->text, sizeof(d->text),
                     "TRYAGAIN slotgate: slot %d moved while the value was being sent; send it again", q->slot);
        }
        return;
    }
    if (kind != REDIR_NONE && !resolve_endpoint(q, &d->rd)) {
        /* "?": the node that owns the slot now has no hostname to give (hostnames preferred). The
         * refreshed map has its address; the request waits for it like a TRYAGAIN. */
        d->refresh_why = "redirect to an unknown endpoint";
        if (may_retry(q, d)) return;
        d->action = REPLY_FAIL; /* clients never see MOVED/ASK, not even this one */
        snprintf(d->text, sizeof(d->text), "CLUSTERDOWN slotgate: slot %u moved to a node that announces no address",
                 d->rd.slot);
        return;
    }
    if (kind != REDIR_NONE) {
        if (q->redirects + 1 > q->max_redirects) {
            d->action = REPLY_FAIL;
            snprintf(d->text, sizeof(d->text), "ERR slotgate: too many redirections for slot %u (last: %.*s)",
                     d->rd.slot, (int)(len > 3 ? len - 3 : 0), p + 1);
            return;
        }
        d->action = kind == REDIR_MOVED ? REPLY_MOVED : REPLY_ASK;
        if (kind == REDIR_MOVED) d->refresh_why = "MOVED"; /* one moved slot usually means many */
        return;
    }
    if (q->can_reload_script && resp_error_is(p, len, "NOSCRIPT")) {
        d->action = REPLY_RELOAD_SCRIPT;
        return;
    }
    d->is_tryagain = resp_error_is(p, len, "TRYAGAIN");
    d->is_clusterdown = resp_error_is(p, len, "CLUSTERDOWN");
    if ((d->is_tryagain || d->is_clusterdown) && may_retry(q, d)) {
        if (d->is_clusterdown) d->refresh_why = "CLUSTERDOWN";
        return;
    }
    /* A master that became a replica (Sentinel failed it over, or an operator's REPLICAOF) refuses writes
     * until slotgate's map names the new master: ask for the map, send it again there. */
    if (resp_error_is(p, len, "READONLY") && may_retry(q, d)) {
        d->refresh_why = "READONLY: a master became a replica";
        return;
    }
    d->is_tryagain = d->is_clusterdown = 0; /* not retried: the client sees it */
    d->action = REPLY_DELIVER_ERROR;
}

/* See reply.h. What a command answers for a key that is not there: a null, an empty aggregate, 0, -2 (TTL), "none"
 * (TYPE), or an array with a null in it (MGET). Anything else came from a key the new backend has. */
int reply_is_miss(const char *p, size_t len) {
    if (len < 3) return 0;
    switch (p[0]) {
    case '-': /* an error from the new backend (down, or not there yet): the old one answers */
    case '_': return 1;
    case '$': return p[1] == '-';
    case ':': return (len == 4 && p[1] == '0') || (len == 5 && p[1] == '-' && p[2] == '2');
    case '+': return len == 7 && !memcmp(p, "+none", 5);
    case '*':
    case '~':
    case '%':
        if (p[1] == '-' || (p[1] == '0' && p[2] == '\r')) return 1;
        return memmem(p, len, "\r\n$-1\r\n", 7) || memmem(p, len, "\r\n_\r\n", 5);
    default: return 0;
    }
}
