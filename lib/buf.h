/* Buffers of the data path, all drawn from a per-worker pool of fixed-size chunks (no locks, no
 * malloc per request in the steady state, chunks returned when a connection goes idle):
 *  - struct chain: an append-only list of chunks, written out with one sendmsg. A range of it can be
 *    pinned (struct cref) so bytes that were already written stay readable: a backend's output keeps
 *    each command until its reply came, which is what lets MOVED/ASK resend it without a copy.
 *    A chain can also hold a link: a pinned range of another chain taken over whole (its pin moves into
 *    the link), written out from where it lies and unpinned once written: how a reply that came early
 *    reaches the client's output without a second copy.
 *  - struct ibuf: one contiguous input buffer (parsers want contiguous bytes), a pool chunk until a
 *    frame outgrows it, released as soon as it is empty. */
#ifndef SLOTGATE_BUF_H
#define SLOTGATE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK_BYTES (16 * 1024)

struct chunk {
    struct chunk *next;
    uint32_t rpos, wpos; /* written out up to rpos, filled up to wpos */
    uint32_t cap;
    uint32_t refs;
    struct chunk_link *link; /* a link (not a pool chunk): its bytes are link->pin's, in link->from */
    char data[];
};

struct cref {
    struct chunk *chunk;
    uint32_t off;
    uint32_t len;
};

struct chain;
struct chunk_link {
    struct chain *from;
    struct cref pin;
};

struct pool {
    struct chunk *free;
    size_t nfree, max_free;
    size_t in_use;   /* chunks handed out, for stats */
    size_t released; /* chunks given back to malloc since the owner last trimmed (see worker.c) */
};

void pool_init(struct pool *p, size_t max_free);
void pool_drain(struct pool *p);
struct chunk *pool_get(struct pool *p);
void pool_put(struct pool *p, struct chunk *c);
void pool_shrink(struct pool *p, size_t keep); /* frees free chunks beyond keep */

struct chain {
    struct chunk *head, *tail;
    size_t pending; /* appended but not yet written */
};

static inline void chain_init(struct chain *ch) { ch->head = ch->tail = NULL, ch->pending = 0; }
int chain_append(struct pool *p, struct chain *ch, const char *data, size_t len);
/* Appends and pins the bytes; the pin keeps them until chain_unpin(). */
int chain_append_pinned(struct pool *p, struct chain *ch, const char *data, size_t len, struct cref *out);
/* Copies a pinned range (of any chain) onto ch, pinned again if out is given. */
int chain_copy(struct pool *p, struct chain *ch, const struct cref *src, struct cref *out);
void chain_unpin(struct pool *p, struct chain *ch, struct cref *r);
/* Copies the pinned range *r onto ch and drops its pin (*r left empty) without trimming the chain it is
 * in: chain_trim() that one once after a batch. */
int chain_copy_unpin(struct pool *p, struct chain *ch, struct cref *r);
/* Appends the pinned range *r of chain from to ch without copying it: the pin moves to ch (*r is left
 * empty) and is released, on from, once the bytes are written or ch is freed. from must outlive ch's
 * use of them. */
int chain_link(struct pool *p, struct chain *ch, struct chain *from, struct cref *r);
/* Copies up to cap bytes of a pinned range (which may run over chunks) into out: how many. */
size_t cref_copy(const struct cref *r, char *out, size_t cap);
/* Marks everything appended as written, for chains that only hold bytes (never written out). */
void chain_mark_written(struct pool *p, struct chain *ch);
/* Writes pending bytes to socket fd with one system call; returns bytes written or -1 (errno set;
 * EAGAIN is not fatal). */
ssize_t chain_write(struct pool *p, struct chain *ch, int fd);
/* The same in two steps, for a write the caller submits itself (io_uring): the pending bytes as up to max
 * iovecs (their count; they stay valid while nothing is advanced or freed), then n of them written. */
struct iovec;
int chain_iov(const struct chain *ch, struct iovec *iov, int max);
void chain_advance(struct pool *p, struct chain *ch, size_t n);
/* Frees chunks that are written and not pinned. */
void chain_trim(struct pool *p, struct chain *ch);
void chain_free(struct pool *p, struct chain *ch);

struct ibuf {
    char *data;
    size_t cap, start, end;
    struct chunk *from_pool; /* data lives in this pool chunk, or else was malloc'd */
};

static inline size_t ibuf_len(const struct ibuf *b) { return b->end - b->start; }
/* Makes room for at least `want` more bytes, or for a frame of `frame` bytes starting at start. */
int ibuf_reserve(struct pool *p, struct ibuf *b, size_t want, size_t frame);
void ibuf_consume(struct pool *p, struct ibuf *b, size_t n);
void ibuf_free(struct pool *p, struct ibuf *b);

#endif
