/* See uring.h. */
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define RING_ENTRIES 1024
#define NBUF         128         /* provided receive buffers per worker ... */
#define BUFSZ        (16 * 1024) /* ... of this size: 2 MiB, whatever the number of connections */
#define BGID         1
#define NFILES       8192 /* registered files per worker; connections beyond use their plain descriptor */

enum { TAG_RECV = 1, TAG_SEND = 2 }; /* in the low bits of a request's user_data (a uconn is 8-aligned) */

struct uring {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    struct uconn *to_arm; /* receives to arm at the next submit (none could be armed in the callback) */
    int evfd;             /* deferred mode: the eventfd the kernel signals for work to run (-1 otherwise) */
    int *free_slots;      /* registered-file slots not in use (a stack), NULL where the kernel has none */
    int nfree;
    struct usend *spare; /* send states not in use (at most SPARE_SENDS kept) */
    int nspare;
    struct usend *all; /* every send state in use or spare, for uring_free */
};

/* A sendmsg's header and iovecs, which the kernel reads until the send completes: taken for the send
 * and given back after, so an idle connection carries none (a uconn is 56 bytes). */
struct usend {
    struct usend *next, *all_next, *all_prev;
    struct msghdr msg;
    struct iovec iov[UCONN_IOV];
};
#define SPARE_SENDS 64

static struct usend *usend_get(struct uring *u) {
    struct usend *s = u->spare;
    if (s) {
        u->spare = s->next;
        u->nspare--;
        return s;
    }
    if (!(s = malloc(sizeof(*s)))) return NULL;
    s->all_prev = NULL;
    s->all_next = u->all;
    if (u->all) u->all->all_prev = s;
    u->all = s;
    return s;
}

static void usend_put(struct uring *u, struct usend *s) {
    if (u->nspare < SPARE_SENDS) {
        s->next = u->spare;
        u->spare = s;
        u->nspare++;
        return;
    }
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        u->all = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    free(s);
}

/* Deferred mode (DEFER_TASKRUN): the kernel's part of a completion (turning a packet into a receive's
 * completion, say) waits until this thread asks for it in io_uring_enter, all of a turn's at once,
 * instead of interrupting the thread as each packet lands. The ring's own descriptor does not tell
 * epoll of such waiting work; an eventfd registered with the ring does, and is kept quiet while the
 * thread is awake (a turn's own sends would signal it otherwise): see uring_quiet and uring_sleep. */
static int deferred(const struct uring *u) { return u->evfd >= 0; }

static void quiet(struct uring *u) {
    if (deferred(u) && !(IO_URING_READ_ONCE(*u->ring.cq.kflags) & IORING_CQ_EVENTFD_DISABLED))
        IO_URING_WRITE_ONCE(*u->ring.cq.kflags, *u->ring.cq.kflags | IORING_CQ_EVENTFD_DISABLED);
}

/* Work the kernel holds for this thread (deferred mode): a receive's data waiting to be completed. */
static int work_waiting(const struct uring *u) {
    return deferred(u) && (IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

static struct io_uring_sqe *sqe_get(struct uring *u) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) { /* the queue is full: what is in it goes now */
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

struct uring *uring_new(int defer) {
    struct uring *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->evfd = -1;
    /* Made by the thread that uses it (SINGLE_ISSUER). Deferred mode where asked for and the kernel has
     * it (6.1); else the default task-run mode, where the kernel completes a receive as its data lands
     * (COOP_TASKRUN alone would leave it waiting for this thread to enter the kernel, which a loop asleep
     * in epoll_wait never does: a backend stalled for 5 s in test_hostile). */
    static const unsigned tries[] = {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                         IORING_SETUP_TASKRUN_FLAG,
                                     IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER};
    struct io_uring_params p;
    int rc = -EINVAL;
    for (size_t i = defer ? 0 : 1; i < sizeof(tries) / sizeof(tries[0]) && rc < 0; i++) {
        p = (struct io_uring_params){.flags = tries[i]};
        rc = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    }
    if (rc < 0) { /* SINGLE_ISSUER came with multishot receive (6.0): a kernel without it has neither */
        free(u);
        errno = -rc == EINVAL ? ENOSYS : -rc;
        return NULL;
    }
    if (p.flags & IORING_SETUP_DEFER_TASKRUN) {
        u->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (u->evfd >= 0 && io_uring_register_eventfd(&u->ring, u->evfd) < 0) {
            close(u->evfd);
            u->evfd = -1;
        }
        if (u->evfd < 0) { /* no way to wake the loop: the default mode */
            io_uring_queue_exit(&u->ring);
            free(u);
            return uring_new(0);
        }
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
    int ok = probe && io_uring_opcode_supported(probe, IORING_OP_RECV) &&
             io_uring_opcode_supported(probe, IORING_OP_SENDMSG) && (p.features & IORING_FEAT_FAST_POLL);
    if (probe) io_uring_free_probe(probe);
    size_t ring_bytes = NBUF * sizeof(struct io_uring_buf);
    void *mem = ok ? mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0) : MAP_FAILED;
    u->bufs = mem != MAP_FAILED ? malloc((size_t)NBUF * BUFSZ) : NULL;
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)mem, .ring_entries = NBUF, .bgid = BGID};
    if (!u->bufs || (rc = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) { /* before 5.19: no buffer rings */
        if (mem != MAP_FAILED) munmap(mem, ring_bytes);
        free(u->bufs);
        io_uring_queue_exit(&u->ring);
        if (u->evfd >= 0) close(u->evfd);
        free(u);
        errno = ok ? (rc < 0 ? -rc : ENOMEM) : ENOSYS;
        return NULL;
    }
    u->br = mem;
    io_uring_buf_ring_init(u->br);
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(u->br, NBUF);
    /* Registered files: an operation on a slot skips looking the descriptor up and taking a reference
     * on its file (shared between the worker threads, so an atomic each way), per send and receive. */
    if (io_uring_register_files_sparse(&u->ring, NFILES) == 0 && (u->free_slots = malloc(NFILES * sizeof(int)))) {
        for (int i = 0; i < NFILES; i++) u->free_slots[i] = NFILES - 1 - i;
        u->nfree = NFILES;
    }
    return u;
}

void uring_free(struct uring *u) {
    if (!u) return;
    io_uring_unregister_buf_ring(&u->ring, BGID);
    munmap(u->br, NBUF * sizeof(struct io_uring_buf));
    io_uring_queue_exit(&u->ring);
    if (u->evfd >= 0) close(u->evfd);
    for (struct usend *s = u->all, *next; s; s = next) { /* sends still in flight were cancelled above */
        next = s->all_next;
        free(s);
    }
    free(u->free_slots);
    free(u->bufs);
    free(u);
}

int uring_fd(const struct uring *u) { return deferred(u) ? u->evfd : u->ring.ring_fd; }

int uring_deferred(const struct uring *u) { return deferred(u); }

int uring_pending(const struct uring *u) {
    return u->to_arm != NULL || io_uring_sq_ready(&u->ring) > 0 || work_waiting(u);
}

int uring_spin(struct uring *u, long ns) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 1;; i++) {
        if (work_waiting(u) || io_uring_cq_ready(&u->ring)) return 1;
        if (i % 32 == 0) { /* the clock is read through the vDSO: no system call either */
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) >= ns) return 0;
        }
    }
}

int uring_sleep(struct uring *u) {
    if (!deferred(u)) return 1;
    /* The eventfd on, with a full barrier (a locked read-modify-write) before the flag is read: against
     * the kernel's side (it sets TASKRUN, then looks whether the eventfd is quiet), either it sees the
     * eventfd on and signals it, or this sees the flag. */
    __atomic_fetch_and(u->ring.cq.kflags, ~(unsigned)IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
    if (!work_waiting(u) && !io_uring_cq_ready(&u->ring)) return 1;
    quiet(u);
    return 0;
}

void uconn_init(struct uconn *c, int fd, void *owner, const struct uconn_cb *cb) {
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->slot = -1;
    c->owner = owner;
    c->cb = cb;
    /* io_uring honours O_NONBLOCK: a send to a full socket would complete with EAGAIN instead of waiting
     * in the kernel for room. The socket is the ring's alone from now: nothing else reads or writes it. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* The socket gets a registered-file slot at its first operation (one io_uring_register), if one is free. */
static void use_slot(struct uring *u, struct uconn *c, struct io_uring_sqe *sqe) {
    if (c->slot < 0 && !c->slot_tried) {
        c->slot_tried = 1;
        if (u->nfree > 0) {
            int slot = u->free_slots[--u->nfree];
            if (io_uring_register_files_update(&u->ring, (unsigned)slot, &c->fd, 1) == 1)
                c->slot = slot;
            else
                u->free_slots[u->nfree++] = slot;
        }
    }
    if (c->slot >= 0) {
        sqe->fd = c->slot;
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

static void arm_recv(struct uring *u, struct uconn *c) {
    struct io_uring_sqe *sqe = sqe_get(u);
    if (!sqe) { /* cannot happen once submitted; try again next turn */
        if (!c->queued) c->queued = 1, c->next_queued = u->to_arm, u->to_arm = c;
        return;
    }
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    use_slot(u, c, sqe);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_RECV);
    c->recv_armed = 1;
    c->ops++;
}

void uconn_read(struct uring *u, struct uconn *c, int on) {
    if (c->closed) return;
    c->recv_wanted = (uint8_t)on;
    if (on && !c->recv_armed) {
        arm_recv(u, c);
    } else if (!on && c->recv_armed) { /* what arrives before the cancel lands is still delivered */
        struct io_uring_sqe *sqe = sqe_get(u);
        if (!sqe) return;
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | TAG_RECV, 0);
        io_uring_sqe_set_data64(sqe, 0);
    }
}

void uconn_send(struct uring *u, struct uconn *c, struct chain *ch) {
    if (c->closed || c->send_inflight || !ch->pending) return;
    struct usend *s = usend_get(u);
    if (!s) return; /* out of memory: the owner's next flush tries again */
    int n = chain_iov(ch, s->iov, UCONN_IOV);
    struct io_uring_sqe *sqe = n ? sqe_get(u) : NULL;
    if (!sqe) {
        usend_put(u, s);
        return;
    }
    s->msg = (struct msghdr){.msg_iov = s->iov, .msg_iovlen = (size_t)n};
    c->send = s;
    io_uring_prep_sendmsg(sqe, c->fd, &s->msg, MSG_NOSIGNAL);
    use_slot(u, c, sqe);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_SEND);
    c->send_inflight = 1;
    c->ops++;
}

static void gone_if_idle(struct uconn *c) {
    if (c->closed && c->ops == 0 && !c->queued && c->cb->on_gone) c->cb->on_gone(c->owner);
}

void uconn_close(struct uring *u, struct uconn *c) {
    if (c->closed) return;
    c->closed = 1;
    c->recv_wanted = 0;
    if (c->fd >= 0) {
        /* what the kernel holds for the socket ends now: the receive sees the end, a send an error */
        if (c->ops) shutdown(c->fd, SHUT_RDWR);
        if (c->slot >= 0 && u) { /* the slot holds the file open too: emptied (operations in flight keep
                                  * theirs); no ring (the worker's end): its table went with it */
            int none = -1;
            io_uring_register_files_update(&u->ring, (unsigned)c->slot, &none, 1);
            u->free_slots[u->nfree++] = c->slot;
            c->slot = -1;
        }
        close(c->fd);
        c->fd = -1;
    }
    gone_if_idle(c);
}

void uring_submit(struct uring *u) {
    for (struct uconn *c = u->to_arm, *next; c; c = next) {
        next = c->next_queued;
        c->queued = 0;
        if (!c->closed && c->recv_wanted && !c->recv_armed)
            arm_recv(u, c);
        else
            gone_if_idle(c);
    }
    u->to_arm = NULL;
    quiet(u);
    if (work_waiting(u))
        io_uring_submit_and_get_events(&u->ring); /* the sends, and the arrivals' completions, in one call */
    else if (io_uring_sq_ready(&u->ring))
        io_uring_submit(&u->ring);
}

static void recycle(struct uring *u, unsigned bid) {
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

static void complete(struct uring *u, struct io_uring_cqe *cqe) {
    uint64_t data = io_uring_cqe_get_data64(cqe);
    if (!data) return; /* a cancel's own completion */
    struct uconn *c = (struct uconn *)(uintptr_t)(data & ~(uint64_t)7);
    int tag = (int)(data & 7), res = cqe->res;
    /* the completion's own op is released only after the callback: one that closes the connection
     * must not see its owner freed under it */
    if (tag == TAG_SEND) {
        c->send_inflight = 0;
        usend_put(u, c->send);
        c->send = NULL;
        if (!c->closed) c->cb->on_sent(c->owner, res);
        c->ops--;
        gone_if_idle(c);
        return;
    }
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) c->recv_armed = 0;
    if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (!c->closed) c->cb->on_data(c->owner, u->bufs + (size_t)bid * BUFSZ, res);
        recycle(u, bid);
    } else if (!c->closed && (res == 0 || (res < 0 && res != -ECANCELED && res != -ENOBUFS))) {
        c->cb->on_data(c->owner, NULL, res); /* the end, or an error */
    }
    if (!more && !c->closed && c->recv_wanted && !c->queued) { /* ended (no buffer, or cancelled, then wanted) */
        c->queued = 1;
        c->next_queued = u->to_arm;
        u->to_arm = c;
    }
    if (!more) c->ops--;
    gone_if_idle(c);
}

void uring_reap(struct uring *u, int woken) {
    if (woken && deferred(u)) { /* the eventfd said: the kernel holds work for this thread */
        uint64_t v;
        quiet(u);
        if (read(u->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN) return;
        if (work_waiting(u) || io_uring_sq_ready(&u->ring)) io_uring_submit_and_get_events(&u->ring);
    }
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe) {
        complete(u, cqe);
        n++;
    }
    io_uring_cq_advance(&u->ring, n);
}
