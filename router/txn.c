/* See txn.h. */
#include "txn.h"

static const char CROSSSLOT[] = "CROSSSLOT Keys in request don't hash to the same slot";

void txn_init(struct txn_state *s) { *s = (struct txn_state){.slot = -1}; }

void txn_watched(struct txn_state *s, int slot) {
    s->slot = slot;
    s->watching = 1;
}

void txn_conn_lost(struct txn_state *s) {
    if (s->in_multi || s->watching) s->dirty = 1;
}

static struct txn_decision act(int action, const char *error, int reset) {
    return (struct txn_decision){action, error, reset};
}

static struct txn_decision outside(struct txn_state *s, const struct txn_input *in) {
    switch (in->command) {
    case TXN_MULTI:
        s->in_multi = 1;
        s->dirty = s->dirty && s->watching; /* a lost WATCH connection still aborts the next EXEC */
        if (in->has_conn) return act(TXN_SEND, 0, 0);
        s->slot = -1;
        return act(TXN_REPLY_OK, 0, 0);
    case TXN_EXEC: return act(TXN_ERROR, "ERR EXEC without MULTI", 0);
    case TXN_DISCARD: return act(TXN_ERROR, "ERR DISCARD without MULTI", 0);
    case TXN_UNWATCH: return in->has_conn ? act(TXN_SEND_RELEASE, 0, 1) : act(TXN_REPLY_OK, 0, 0);
    case TXN_WATCH:
        if (!in->has_conn) return act(TXN_OPEN, 0, 0);
        if (in->slot != s->slot) return act(TXN_ERROR, CROSSSLOT, 0);
        txn_watched(s, in->slot);
        return act(TXN_SEND, 0, 0);
    default: return act(TXN_ERROR, "ERR slotgate: not a transaction command", 0);
    }
}

struct txn_decision txn_next(struct txn_state *s, const struct txn_input *in) {
    if (!s->in_multi) return outside(s, in);
    if (in->is_error) {
        s->dirty = 1;
        return act(TXN_ERROR, in->error, 0);
    }
    switch (in->command) {
    case TXN_EXEC:
        if (s->dirty) return act(TXN_ABORT, "EXECABORT Transaction discarded because of previous errors.", 1);
        if (in->has_conn) return act(TXN_SEND_RELEASE, 0, 1);
        return act(s->nqueued > 0 ? TXN_EXEC_GROUP : TXN_REPLY_EMPTY, 0, 1);
    case TXN_DISCARD: return in->has_conn ? act(TXN_SEND_RELEASE, 0, 1) : act(TXN_REPLY_OK, 0, 1);
    case TXN_MULTI: return act(TXN_ERROR, "ERR MULTI calls can not be nested", 0);
    case TXN_WATCH: return act(TXN_ERROR, "ERR WATCH inside MULTI is not allowed", 0);
    default: break;
    }
    if (in->not_allowed) {
        s->dirty = 1;
        return act(TXN_ERROR, "ERR Command not allowed inside a transaction", 0);
    }
    if (in->is_split || (in->slot >= 0 && s->slot >= 0 && in->slot != s->slot)) {
        s->dirty = 1;
        return act(TXN_ERROR, CROSSSLOT, 0);
    }
    if (s->slot < 0) s->slot = in->slot;
    if (in->has_conn) return act(TXN_SEND, 0, 0);
    s->nqueued++;
    return act(TXN_QUEUE, 0, 0);
}
