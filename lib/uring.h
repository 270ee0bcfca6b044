/* The io_uring engine (io-engine io_uring, issue 20): a worker's plaintext client and backend sockets are
 * read and written through one ring instead of a system call per socket operation. Each socket has a
 * multishot receive armed (the kernel fills buffers from a ring of provided buffers and posts one
 * completion per arrival; the bytes are copied into the connection's input buffer, where the parsers
 * want them contiguous) and at most one send in flight (sendmsg over its output chain's pending bytes,
 * which stay put until the completion says how many went; its header and iovecs are taken from the
 * ring's spares for the send only). Sockets get registered-file slots (no descriptor lookup per
 * operation). Every send of a loop turn goes to the kernel
 * in one io_uring_enter, at the end of the turn (worker.c's flush); the ring's file descriptor is watched
 * by the libev loop, which the rest of the program keeps using: timers, accept, connect, TLS (whose
 * sockets stay on readiness: OpenSSL reads and writes them itself), the admin and health threads.
 * uring.c (lib/: it knows sockets and buffers, nothing of Redis; proxy/ wires clients and backends to
 * it). */
#ifndef SLOTGATE_URING_H
#define SLOTGATE_URING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct chain;
struct uring;
struct usend;

#define UCONN_IOV 256 /* a send covers up to 256 chunks (4 MiB, as chain_write); the rest goes with the next */

/* What the owner of a socket on the ring is told (one table per kind of owner). */
struct uconn_cb {
    /* n > 0: bytes arrived at p; n == 0: the peer closed; n < 0: -errno */
    void (*on_data)(void *owner, const char *p, ssize_t n);
    /* n >= 0: bytes sent; n < 0: -errno */
    void (*on_sent)(void *owner, ssize_t n);
    void (*on_gone)(void *owner); /* closed and released by the kernel: free the owner */
};

/* A socket on the ring. Its owner (a client or a backend) is told of arrivals and of sends done, and
 * may be freed only once ops is 0 (the kernel holds pointers into it until then): uconn_close, then
 * free in on_gone. */
struct uconn {
    int fd;
    int slot; /* its registered-file slot, or -1 (the descriptor is used) */
    uint8_t slot_tried;
    uint32_t ops;          /* requests the kernel still holds */
    uint8_t recv_armed;    /* a multishot receive is in the kernel */
    uint8_t recv_wanted;   /* the owner reads (not paused) */
    uint8_t send_inflight; /* a sendmsg is in the kernel */
    uint8_t closed;        /* the owner closed it: no callbacks but on_gone */
    uint8_t queued;        /* in the ring's to-arm list */
    struct uconn *next_queued;
    struct usend *send; /* the send in flight's header and iovecs (uring.c) */
    const struct uconn_cb *cb;
    void *owner;
};

/* NULL (errno set) where the kernel refuses io_uring or lacks multishot receive with provided buffers.
 * defer: the kernel's part of completions waits for this thread's next io_uring_enter (DEFER_TASKRUN,
 * where the kernel has it) instead of interrupting it as packets land. */
struct uring *uring_new(int defer);
void uring_free(struct uring *u);
int uring_deferred(const struct uring *u);
/* What the loop watches for readability: the ring, or in deferred mode its eventfd. */
int uring_fd(const struct uring *u);
/* Reaps completions: woken, the loop saw uring_fd readable (and the kernel's deferred part of them runs
 * first); else those already there (at the end of a loop turn). */
void uring_reap(struct uring *u, int woken);
/* Sends what was queued this loop turn (one io_uring_enter; in deferred mode it also runs the work
 * that came meanwhile). */
void uring_submit(struct uring *u);
/* Something waits to be submitted (a receive to arm again after its buffers ran out, say), or in
 * deferred mode to be run. */
int uring_pending(const struct uring *u);
/* The loop is about to sleep: 1 if it may (in deferred mode the eventfd is on again), 0 if work came
 * meanwhile (submit and reap again first). */
int uring_sleep(struct uring *u);
/* Watches the ring up to ns nanoseconds without a system call (io-spin-us): 1 as soon as completions or
 * work for this thread are there, 0 when the time ran out. */
int uring_spin(struct uring *u, long ns);

void uconn_init(struct uconn *c, int fd, void *owner, const struct uconn_cb *cb);
void uconn_read(struct uring *u, struct uconn *c, int on); /* arm or stop the receive */
/* Sends ch's pending bytes unless a send is in flight already (on_sent comes, then send again). */
void uconn_send(struct uring *u, struct uconn *c, struct chain *ch);
/* The owner is done with the socket: cancels what is in flight, closes the descriptor once it is not;
 * on_gone follows (at once when nothing is in flight). u is NULL once the ring is freed (a worker's end). */
void uconn_close(struct uring *u, struct uconn *c);

#endif
