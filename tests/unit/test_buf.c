/* The data path's buffers (lib/buf.c): chains whose pinned ranges survive being written out (what lets a
 * MOVED resend a command without a copy), ranges split over chunks, copies between chains, chunks
 * going back to the pool only when written and unpinned, partial writes, and the input buffer. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../support/run.h"

static struct pool pool;

static void setup(void) { pool_init(&pool, 8); }
static void teardown(void) { pool_drain(&pool); }

/* The bytes of a pinned range, gathered over its chunks. */
static char *gather(const struct cref *r) {
    char *out = malloc(r->len + 1);
    size_t n = 0, off = r->off;
    for (const struct chunk *c = r->chunk; c && n < r->len; c = c->next, off = 0) {
        size_t k = c->wpos - off;
        if (k > r->len - n) k = r->len - n;
        memcpy(out + n, c->data + off, k);
        n += k;
    }
    out[n] = '\0';
    return out;
}

/* Reads everything written to the other end of a socketpair. */
static size_t drain(int fd, char *buf, size_t cap) {
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = recv(fd, buf + n, cap - n, MSG_DONTWAIT)) > 0) n += (size_t)r;
    return n;
}

/* Writes ch to sv[0] while reading sv[1] into back (up to cap bytes, *got of them): how many writes it took. */
static int write_through(struct chain *ch, int sv[2], char *back, size_t cap, size_t *got) {
    int calls = 0;
    while (ch->pending && calls++ < 10000) {
        ssize_t w = chain_write(&pool, ch, sv[0]);
        ck_assert(w >= 0 || errno == EAGAIN);
        *got += drain(sv[1], back + *got, cap - *got);
    }
    *got += drain(sv[1], back + *got, cap - *got);
    return calls;
}

START_TEST(a_pinned_range_survives_its_write) {
    struct chain ch;
    struct cref a, b;
    int sv[2];
    char got[64];
    chain_init(&ch);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(chain_append_pinned(&pool, &ch, "GET a\r\n", 7, &a), 0);
    ck_assert_int_eq(chain_append(&pool, &ch, "PING\r\n", 6), 0);
    ck_assert_int_eq(chain_append_pinned(&pool, &ch, "GET b\r\n", 7, &b), 0);
    ck_assert_uint_eq(ch.pending, 20);
    ck_assert_int_eq(chain_write(&pool, &ch, sv[0]), 20); /* one call for all three */
    ck_assert_uint_eq(drain(sv[1], got, sizeof(got)), 20);
    ck_assert(memcmp(got, "GET a\r\nPING\r\nGET b\r\n", 20) == 0);
    ck_assert_uint_eq(ch.pending, 0);
    char *again = gather(&a); /* written, but pinned: still readable for a resend */
    ck_assert_str_eq(again, "GET a\r\n");
    free(again);
    ck_assert_ptr_nonnull(ch.head);
    size_t in_use = pool.in_use;
    chain_unpin(&pool, &ch, &a);
    ck_assert_uint_eq(pool.in_use, in_use); /* b still pins the same chunk */
    chain_unpin(&pool, &ch, &b);
    ck_assert_uint_lt(pool.in_use, in_use); /* written and unpinned: back to the pool */
    chain_free(&pool, &ch);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(a_range_split_over_chunks_is_whole) {
    struct chain ch, other;
    struct cref big, copy;
    size_t n = 3 * CHUNK_BYTES + 123;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    chain_init(&ch);
    chain_init(&other);
    ck_assert_int_eq(chain_append(&pool, &ch, "x", 1), 0); /* not at a chunk's start */
    ck_assert_int_eq(chain_append_pinned(&pool, &ch, data, n, &big), 0);
    ck_assert_uint_eq(big.len, n);
    char *g = gather(&big);
    ck_assert(memcmp(g, data, n) == 0);
    free(g);
    /* copied onto another chain (a request parked, or moved to another node), pinned there too */
    ck_assert_int_eq(chain_copy(&pool, &other, &big, &copy), 0);
    ck_assert_uint_eq(other.pending, n);
    g = gather(&copy);
    ck_assert(memcmp(g, data, n) == 0);
    free(g);
    chain_unpin(&pool, &ch, &big);
    chain_mark_written(&pool, &ch);
    ck_assert_ptr_null(ch.head); /* nothing pinned, all written: every chunk released */
    chain_unpin(&pool, &other, &copy);
    chain_mark_written(&pool, &other);
    ck_assert_ptr_null(other.head);
    ck_assert_uint_eq(pool.in_use, 0);
    free(data);
}
END_TEST

START_TEST(a_partial_write_resumes_where_it_stopped) {
    struct chain ch;
    int sv[2], size = 4096;
    chain_init(&ch);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    size_t n = 2 * CHUNK_BYTES, got = 0;
    char *data = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)(i * 7);
    ck_assert_int_eq(chain_append(&pool, &ch, data, n), 0);
    int calls = write_through(&ch, sv, back, n, &got);
    ck_assert_uint_eq(got, n);
    ck_assert(memcmp(back, data, n) == 0); /* in order, nothing twice */
    ck_assert_int_gt(calls, 1);            /* it did take several writes */
    ck_assert_ptr_null(ch.head);
    free(data);
    free(back);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* An early reply moved into the output without a copy: written from where it lies, between what was
 * appended before and after it, over chunks and over partial writes; its chunks go back to the pool once
 * it is written, and freeing the output unpinned releases them too. */
START_TEST(a_linked_range_is_written_in_place_and_in_order) {
    struct chain out, early;
    int sv[2], size = 4096;
    chain_init(&out);
    chain_init(&early);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    size_t n = 2 * CHUNK_BYTES + 100, got = 0;
    char *data = malloc(n), *back = malloc(n + 20);
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    struct cref big, small;
    ck_assert_int_eq(chain_append_pinned(&pool, &early, "+x\r\n", 4, &small), 0); /* not at a chunk's start */
    ck_assert_int_eq(chain_append_pinned(&pool, &early, data, n, &big), 0);
    chain_mark_written(&pool, &early);
    size_t early_chunks = pool.in_use;
    ck_assert_int_eq(chain_append(&pool, &out, "<<", 2), 0);
    ck_assert_int_eq(chain_link(&pool, &out, &early, &big), 0);
    ck_assert_ptr_null(big.chunk);                    /* the pin moved to the output */
    ck_assert_uint_eq(pool.in_use, early_chunks + 1); /* the bytes were not copied */
    ck_assert_int_eq(chain_append(&pool, &out, ">>", 2), 0);
    ck_assert_uint_eq(out.pending, n + 4);
    chain_unpin(&pool, &early, &small);
    int calls = write_through(&out, sv, back, n + 4, &got);
    ck_assert_uint_eq(got, n + 4);
    ck_assert(memcmp(back, "<<", 2) == 0);
    ck_assert(memcmp(back + 2, data, n) == 0);
    ck_assert(memcmp(back + 2 + n, ">>", 2) == 0);
    ck_assert_int_gt(calls, 1); /* over several partial writes */
    ck_assert_ptr_null(out.head);
    ck_assert_ptr_null(early.head); /* written: its chunks went back */
    ck_assert_uint_eq(pool.in_use, 0);

    /* freed before it was written: the range goes back to its chain all the same */
    ck_assert_int_eq(chain_append_pinned(&pool, &early, data, n, &big), 0);
    chain_mark_written(&pool, &early);
    ck_assert_int_eq(chain_link(&pool, &out, &early, &big), 0);
    chain_free(&pool, &out);
    ck_assert_ptr_null(early.head);
    ck_assert_uint_eq(pool.in_use, 0);
    free(data);
    free(back);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* A released early reply copied onto the output and unpinned in one step: within one chunk (straight
 * into the output's tail) and over two; its chunks go back once the early chain is trimmed. */
START_TEST(a_range_copied_and_unpinned_in_one_step) {
    struct chain out, early;
    chain_init(&out);
    chain_init(&early);
    size_t n = CHUNK_BYTES + 10;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)('A' + i % 26);
    struct cref small, big;
    ck_assert_int_eq(chain_append_pinned(&pool, &early, "$3\r\nabc\r\n", 9, &small), 0);
    ck_assert_int_eq(chain_append_pinned(&pool, &early, data, n, &big), 0); /* over two chunks */
    chain_mark_written(&pool, &early);
    ck_assert_int_eq(chain_append(&pool, &out, "+OK\r\n", 5), 0);
    ck_assert_int_eq(chain_copy_unpin(&pool, &out, &small), 0);
    ck_assert_ptr_null(small.chunk);
    ck_assert_int_eq(chain_copy_unpin(&pool, &out, &big), 0);
    ck_assert_uint_eq(out.pending, 5 + 9 + n);
    char *back = malloc(out.pending);
    size_t got = 0;
    for (struct chunk *k = out.head; k; k = k->next) {
        memcpy(back + got, k->data + k->rpos, k->wpos - k->rpos);
        got += k->wpos - k->rpos;
    }
    ck_assert_uint_eq(got, 5 + 9 + n);
    ck_assert(memcmp(back, "+OK\r\n$3\r\nabc\r\n", 14) == 0);
    ck_assert(memcmp(back + 14, data, n) == 0);
    ck_assert_ptr_nonnull(early.head); /* not trimmed yet: the caller does it once */
    chain_trim(&pool, &early);
    ck_assert_ptr_null(early.head);
    chain_free(&pool, &out);
    ck_assert_uint_eq(pool.in_use, 0);
    free(back);
    free(data);
}
END_TEST

START_TEST(the_input_buffer_grows_compacts_and_returns) {
    struct ibuf b = {0};
    ck_assert_int_eq(ibuf_reserve(&pool, &b, 100, 0), 0);
    ck_assert_ptr_nonnull(b.from_pool); /* a pool chunk first */
    memcpy(b.data + b.end, "hello world", 11);
    b.end += 11;
    ibuf_consume(&pool, &b, 6);
    ck_assert_uint_eq(ibuf_len(&b), 5);
    /* a frame larger than a chunk: moves to its own allocation, the bytes kept */
    ck_assert_int_eq(ibuf_reserve(&pool, &b, 16, CHUNK_BYTES * 3), 0);
    ck_assert_ptr_null(b.from_pool);
    ck_assert_uint_ge(b.cap, CHUNK_BYTES * 3);
    ck_assert(memcmp(b.data + b.start, "world", 5) == 0);
    ibuf_consume(&pool, &b, 5); /* empty: released at once */
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(pool.in_use, 0);
}
END_TEST

START_TEST(the_pool_keeps_a_bounded_reserve) {
    struct chunk *c[20];
    for (int i = 0; i < 20; i++) c[i] = pool_get(&pool);
    ck_assert_uint_eq(pool.in_use, 20);
    for (int i = 0; i < 20; i++) pool_put(&pool, c[i]);
    ck_assert_uint_eq(pool.in_use, 0);
    ck_assert_uint_le(pool.nfree, 8); /* max_free: the rest went back to malloc */
    pool_shrink(&pool, 2);
    ck_assert_uint_le(pool.nfree, 2);
}
END_TEST

SUITE_MAIN(.name = "buf", .before_each = setup, .after_each = teardown,
           .tests = {TEST(a_pinned_range_survives_its_write), TEST(a_range_split_over_chunks_is_whole),
                     TEST(a_partial_write_resumes_where_it_stopped),
                     TEST(a_linked_range_is_written_in_place_and_in_order),
                     TEST(a_range_copied_and_unpinned_in_one_step), TEST(the_input_buffer_grows_compacts_and_returns),
                     TEST(the_pool_keeps_a_bounded_reserve)})
