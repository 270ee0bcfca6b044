/* A client's transaction through slotgate (MULTI, EXEC, DISCARD, WATCH, UNWATCH and the commands queued
 * between), as a pure state machine. Without WATCH the commands are queued in slotgate, answered
 * +QUEUED, and sent at EXEC with MULTI and EXEC as one group to their slot's master; with WATCH the
 * client gets a connection of its own to the watched keys' node, pinned at WATCH, and everything goes
 * there. Keys in two slots, a command not allowed, or an error while queueing make EXEC abort, as Redis
 * does. dedicated.c carries out what this decides. */
#ifndef SLOTGATE_TXN_H
#define SLOTGATE_TXN_H

struct txn_state {
    int in_multi;
    int watching; /* a WATCH is in force (on the client's own connection) */
    int dirty;    /* EXEC will abort */
    int slot;     /* the transaction's slot once a key named it, else -1 */
    int nqueued;  /* commands queued here (no WATCH) */
};

enum txn_command { TXN_OTHER = 0, TXN_MULTI, TXN_EXEC, TXN_DISCARD, TXN_WATCH, TXN_UNWATCH };

struct txn_input {
    int command;  /* enum txn_command */
    int has_conn; /* the client has its WATCH connection */
    int is_error; /* the command failed planning (unknown, wrong arity): error says how */
    const char *error;
    int not_allowed; /* no-multi, or it would change the (shared) connection it runs on */
    int is_split;    /* its keys are in several slots */
    int slot;        /* its keys' slot, -1 for none */
};

enum txn_action {
    TXN_REPLY_OK,     /* +OK from slotgate */
    TXN_REPLY_EMPTY,  /* *0 (EXEC of nothing) */
    TXN_QUEUE,        /* keep it for the group, +QUEUED */
    TXN_ERROR,        /* answer error */
    TXN_OPEN,         /* WATCH: open the client's connection to the slot's master, then txn_watched and send */
    TXN_SEND,         /* send it on the client's connection */
    TXN_SEND_RELEASE, /* send it, then let the connection go once it answered (EXEC, DISCARD, UNWATCH) */
    TXN_EXEC_GROUP,   /* MULTI, the queued commands and EXEC, as one request to the slot's master */
    TXN_ABORT,        /* EXECABORT: DISCARD on the connection if there is one, and let it go */
};

struct txn_decision {
    int action;        /* enum txn_action */
    const char *error; /* TXN_ERROR, TXN_ABORT */
    int reset;         /* the transaction is over: state back to none (after carrying the action out) */
};

void txn_init(struct txn_state *s);
struct txn_decision txn_next(struct txn_state *s, const struct txn_input *in);
/* The WATCH connection opened (TXN_OPEN): the transaction is pinned to slot. */
void txn_watched(struct txn_state *s, int slot);
/* The WATCH connection was lost: whatever it held is gone, so EXEC must abort. */
void txn_conn_lost(struct txn_state *s);

#endif
