/* See nodestate.h. */
#include "nodestate.h"

const char *node_state_name(int state) { return state == NODE_UP ? "up" : state == NODE_SUSPECT ? "suspect" : "down"; }

struct node_change nodestate_next(struct node_health *h, enum probe_outcome o, int down_after) {
    struct node_change c = {.from = h->state, .to = h->state};
    if (o == PROBE_FAILED) {
        /* busy stays as it was: a probe that times out says nothing about a script */
        h->failures++;
        c.to = h->failures >= down_after ? NODE_DOWN : NODE_SUSPECT;
        c.ask_refresh = h->failures == down_after;
    } else {
        h->failures = 0;
        c.to = NODE_UP;
        c.busy_began = o == PROBE_BUSY && !h->busy;
        c.busy_ended = o == PROBE_PONG && h->busy;
        h->busy = o == PROBE_BUSY;
    }
    h->state = c.to;
    return c;
}
