/* A worker's loop turn: what gets written once per turn before the loop sleeps (on_flush), the io_uring
 * engine's ring as one of the loop's watchers, and io-spin-us, the watch of the ring before a sleep. */
#include "worker.h"
#include "migrate.h"
#include "../lib/uring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"

void worker_mark_client(struct worker *w, struct client *c) {
    if (c->is_dirty) return;
    c->is_dirty = 1;
    c->next_dirty = w->dirty_clients;
    w->dirty_clients = c;
}

void worker_mark_backend(struct worker *w, struct backend *b) {
    if (b->is_dirty) return;
    b->is_dirty = 1;
    b->next_dirty = w->dirty_backends;
    w->dirty_backends = b;
}

/* io-spin-us: before the loop sleeps, the ring is watched a while for more work, and a sleep and a
 * wake-up are saved when it comes. That pays where a worker carries one conversation at a time (at most
 * one request alive: a client that does not pipeline, its next request or its reply tens of microseconds
 * away), where a wake-up is most of the hop's cost; with more in flight its turns already carry several
 * and it does not watch (measured, -c 50 -P 1: 12.2 us of CPU a request when it did, 3.1 when not).
 * Where the watching stops paying (work comes further apart), it stops: a miss halves the credit, a hit
 * adds one, and at none it is tried one turn in 64 only. */
static int worker_spin(struct worker *w) {
    if (w->spin_credit == 0 && (++w->spin_skipped & 63) != 0) return 0;
    if (uring_spin(w->uring, w->conf->io_spin_us * 1000L)) {
        if (w->spin_credit < 16) w->spin_credit++;
        STAT_INC(w, spin_hits);
        return 1;
    }
    w->spin_credit /= 2;
    STAT_INC(w, spin_misses);
    return 0;
}

/* Runs once per loop iteration before the loop sleeps: every socket that got data to send during
 * this iteration is written exactly once, so a pipeline of N requests costs one write, not N. A client
 * flushed here may parse commands it held back (a wait ended) and so give backends more to send: the
 * lists are gone over again until both are empty, or that would wait for the next wake-up. */
static void on_flush(struct ev_loop *loop, ev_prepare *wp, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = wp->data;
again:
    if (__builtin_expect(w->mig_batches != NULL, 0)) migrate_flush(w); /* a migration's copies (migrate.c) */
    while (w->dirty_backends) {
        struct backend *b = w->dirty_backends;
        w->dirty_backends = b->next_dirty;
        b->is_dirty = 0;
        if (b->state == BE_CLOSED)
            backend_free(b);
        else
            backend_flush(b);
    }
    while (w->dirty_clients) {
        struct client *c = w->dirty_clients;
        w->dirty_clients = c->next_dirty;
        c->is_dirty = 0;
        if (c->is_closed)
            client_free(c);
        else
            client_flush(c);
    }
    if (w->dirty_backends) goto again;
    if (w->uring) { /* this turn's sends, one system call; what completed meanwhile is taken first */
        int rounds = 0;
        do { /* completions may ask for more (a receive out of buffers armed again): never left unsent */
            uring_submit(w->uring);
            uring_reap(w->uring, 0); /* a send to a socket with room completes at once */
        } while (uring_pending(w->uring) && ++rounds < 8);
        if (uring_pending(w->uring) && !ev_is_active(&w->ring_idle)) /* the loop must not sleep on it */
            ev_idle_start(w->loop, &w->ring_idle);
        /* what the completions did (replies for clients, a migration's copies) goes this turn too */
        if (w->dirty_backends || w->dirty_clients || w->mig_batches) goto again;
        if (!ev_is_active(&w->ring_idle)) {
            if (w->conf->io_spin_us > 0 && STAT_READ(w, live_reqs) <= 1 && worker_spin(w)) { /* work came: */
                ev_idle_start(w->loop, &w->ring_idle); /* the loop's other watchers get their poll (a quick */
                return;                                /* one), then the flush that follows takes what came */
            }
            if (!uring_sleep(w->uring)) goto again; /* arrivals came meanwhile */
        }
    }
}

void worker_reading(struct worker *w, struct uconn *uc, ev_io *rio, int on) {
    if (uc)
        uconn_read(w->uring, uc, on);
    else if (on && !ev_is_active(rio))
        ev_io_start(w->loop, rio);
    else if (!on && ev_is_active(rio))
        ev_io_stop(w->loop, rio);
}

static void on_ring_idle(struct ev_loop *loop, ev_idle *i, int revents) {
    (void)revents;
    ev_idle_stop(loop, i); /* the flush before the next poll submits what was left */
}

static void on_ring(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    (void)revents;
    struct worker *w = io->data;
    uring_reap(w->uring, 1);
}

int worker_turn_init(struct worker *w, int id, const struct conf *conf, char *err, size_t errlen) {
    ev_prepare_init(&w->flush, on_flush);
    w->flush.data = w;
    /* io_uring where asked for, or by default where the kernel allows it (made by the worker's thread;
     * tried here, so a kernel that refuses it stops a start that asked for it, and auto falls back to
     * epoll). auto is io_uring by measurement (make bench, README: I/O engines). */
    if (conf->io_engine != ENGINE_EPOLL) {
        static struct { /* what the kernel allows does not change between workers: asked once */
            int asked, ok, defer, err;
        } k;
        if (!k.asked) {
            struct uring *probe = uring_new(1);
            k.asked = 1, k.ok = probe != NULL, k.err = probe ? 0 : errno;
            if (probe) k.defer = uring_deferred(probe), uring_free(probe);
        }
        if (!k.ok && conf->io_engine == ENGINE_IO_URING)
            return snprintf(err, errlen, "io-engine io_uring: the kernel refuses it (%s)", strerror(k.err)), -1;
        if (!k.ok) {
            if (id == 0) log_notice("io-engine auto: epoll (io_uring refused: %s)", strerror(k.err));
        } else {
            w->use_uring = 1;
            if (id == 0)
                log_notice("io-engine %s: io_uring, multishot receive and batched sends for plaintext sockets, %s",
                           conf_engine_name(conf->io_engine),
                           k.defer ? "completions run in the loop's turn (DEFER_TASKRUN)"
                                   : "completions run as data lands");
        }
    } else if (id == 0) {
        log_notice("io-engine epoll");
    }
    if (!w->use_uring && conf->io_spin_us > 0 && id == 0)
        log_notice("io-spin-us %d: watched only on io_uring; epoll workers sleep at once", conf->io_spin_us);
    ev_prepare_start(w->loop, &w->flush);
    return 0;
}

void worker_ring_start(struct worker *w) {
    if (w->use_uring && (w->uring = uring_new(1))) { /* its thread's own ring (uring.c) */
        ev_io_init(&w->ring_io, on_ring, uring_fd(w->uring), EV_READ);
        w->ring_io.data = w;
        ev_io_start(w->loop, &w->ring_io);
        ev_idle_init(&w->ring_idle, on_ring_idle);
    } else if (w->use_uring) {
        log_warning("worker %d: io_uring failed at start (%s): epoll", w->id, strerror(errno));
    }
}
