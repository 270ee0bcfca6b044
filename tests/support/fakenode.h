/* A fake cluster node, the only stand-in for Redis the tests use, and only to produce faults a real
 * server cannot: it claims all 16384 slots, answers what slotgate's discovery and probes ask, and
 * answers GET/SET by the key's prefix: "ok:" normally, "malformed:" with a byte that is not RESP,
 * "oversized:" with a bulk length over any limit, "deep:" with 40 nested arrays, "truncated:" with
 * half a reply and a close, "reset:" with half a reply and a TCP reset, "stall:" never, "nowhere:" with a
 * MOVED to "?" (a Redis 7 node with no hostname while hostnames are preferred) that never goes away. Other keys
 * read as nil. Runs on a thread of the test process. */
#ifndef SLOTGATE_TEST_FAKENODE_H
#define SLOTGATE_TEST_FAKENODE_H

#include <pthread.h>

struct fakenode {
    int port;
    int listen_fd;
    pthread_t thread;
    volatile int stop;
    volatile int connections; /* accepted so far */
};

void fakenode_start(struct fakenode *f, int port);
void fakenode_stop(struct fakenode *f);

#endif
