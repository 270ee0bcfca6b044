/* What a backend's reply means for the request waiting for it: one pure function that every path uses
 * (single requests and the parts of split ones, transaction groups, streamed uploads, a client's own
 * transaction connection), so the rules for MOVED, ASK, TRYAGAIN, CLUSTERDOWN and NOSCRIPT and their
 * limits live in one place. backend.c carries out what it decides. No sockets, no clock: the caller
 * says what time it is. */
#ifndef SLOTGATE_REPLY_H
#define SLOTGATE_REPLY_H

#include <stddef.h>

#include "resp.h"

enum reply_path {
    RP_PLAIN = 0,    /* redirections are followed and passing cluster errors retried */
    RP_TXN,          /* on a client's own WATCH/MULTI connection: every reply is the client's to see */
    RP_UPLOAD,       /* a value streamed to the node as it arrived: its bytes are gone, it cannot go again */
    RP_GROUP_QUEUED, /* the +OK of MULTI or a +QUEUED inside a MULTI ... EXEC group: EXEC's reply is kept */
};

struct reply_req {
    int path;
    const char *node_host; /* the node that answered: an empty redirection endpoint means its host */
    int slot;
    int redirects, max_redirects; /* MOVED/ASK followed so far, and the most allowed */
    int retries, max_retries;     /* retries after TRYAGAIN/CLUSTERDOWN so far, and the most allowed */
    double now, deadline;         /* a retry is allowed while its backoff ends before the deadline */
    int can_reload_script;        /* an EVALSHA whose body slotgate knows, not reloaded yet */
    int group_retry;              /* (EXEC's reply) a queued command was refused for where its slot is */
};

enum reply_action {
    REPLY_DELIVER,       /* to the client as it is */
    REPLY_DELIVER_ERROR, /* to the client as it is: an error the node gave it (counted per node) */
    REPLY_MOVED,         /* the slot's owner changed for good: patch the slot, refresh, send to rd */
    REPLY_ASK,           /* send to rd once, ASKING before it; the map stays */
    REPLY_RETRY,         /* park until retry_at, then send again (retries + 1) */
    REPLY_RELOAD_SCRIPT, /* SCRIPT LOAD on this connection, then the EVALSHA again */
    REPLY_FAIL,          /* answer the client with text (a Redis-style error, no '-') instead */
    REPLY_SKIP,          /* a reply inside a group before its EXEC: nothing for the client */
};

struct reply_decision {
    enum reply_action action;
    struct redirect rd;              /* REPLY_MOVED, REPLY_ASK; with patch_moved, the slot to patch */
    double retry_at;                 /* REPLY_RETRY */
    const char *refresh_why;         /* ask for a slot-map refresh, for this reason; NULL: no need */
    int patch_moved;                 /* (REPLY_SKIP) a queued command got MOVED: patch the slot as for REPLY_MOVED */
    int group_retry;                 /* (REPLY_SKIP) EXEC will abort: send the whole group again */
    int is_tryagain, is_clusterdown; /* for the statistics */
    char text[256];
};

/* The first rule, for the fast path: a reply that is not an error goes to the client as it is, unless
 * its transaction group must go again (group_retry). When this is 0, reply_decide would say
 * REPLY_DELIVER with nothing else to do. */
static inline int reply_needs_decision(const char *p, size_t len, int group_retry) {
    return (len > 0 && p[0] == '-') || group_retry;
}

/* A migration's read (proxy/migrate.c): does reply p (complete) say the key is not there, so the old
 * backend should be asked? A null, an empty aggregate, :0, :-2, +none, an array with a null in it, or an
 * error. A needless yes costs a round trip, never a wrong answer: the old backend is the truth. */
int reply_is_miss(const char *p, size_t len);

/* The pause before retry number attempt (0, 1, ...): 20 ms doubling to 500 ms. */
double reply_backoff(int attempt);
void reply_decide(const char *p, size_t len, const struct reply_req *q, struct reply_decision *d);

#endif
