/* A node's health as its probes see it, as a pure state machine: up, suspect (a probe failed), down
 * (down_after probes in a row failed), and busy beside it (alive, answering -BUSY: a script or function
 * past busy-reply-threshold). probe.c feeds it each probe's outcome and carries out what comes back
 * (log the transition, ask for a refresh, publish). */
#ifndef SLOTGATE_NODESTATE_H
#define SLOTGATE_NODESTATE_H

enum { NODE_UP = 0, NODE_SUSPECT, NODE_DOWN };

enum probe_outcome {
    PROBE_PONG,  /* it answered PING */
    PROBE_BUSY,  /* it answered -BUSY: alive */
    PROBE_FAILED /* an error reply, no reply in time, or no connection */
};

struct node_health {
    int state;    /* NODE_* */
    int failures; /* probes failed in a row */
    int busy;
};

struct node_change {
    int from, to;    /* states; equal when nothing changed */
    int busy_began;  /* it started answering -BUSY */
    int busy_ended;  /* it answers again */
    int ask_refresh; /* it just went down: the slot map may be about to change */
};

struct node_change nodestate_next(struct node_health *h, enum probe_outcome o, int down_after);
const char *node_state_name(int state);

#endif
