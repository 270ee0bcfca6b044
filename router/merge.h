/* Merging the replies of a request that slotgate split over several slots or sent to every master,
 * into the one reply a single Redis server would have given; and rewriting SCAN replies so the cursor
 * also says which master the scan is on. Pure functions over complete RESP replies. */
#ifndef SLOTGATE_MERGE_H
#define SLOTGATE_MERGE_H

#include <stddef.h>
#include <stdint.h>

struct sbuf {
    char *p;
    size_t len, cap;
};

int sbuf_add(struct sbuf *b, const char *p, size_t len);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<type><n>\r\n" (a RESP count or length) and "$<len>\r\n<p>\r\n", without printf. */
int sbuf_add_header(struct sbuf *b, char type, unsigned long long n);
int sbuf_add_bulk(struct sbuf *b, const char *p, size_t len);
void sbuf_free(struct sbuf *b);
/* Replies in the client's protocol (resp3 = 1: RESP3): a map of n pairs ("%n", or "*2n" in RESP2), a set
 * ("~n" or "*n"), a push (">n" or "*n"), a null ("_" or "$-1"), a verbatim text ("=len\r\ntxt:..." or a
 * bulk string). */
int sbuf_add_map(struct sbuf *b, unsigned long long pairs, int resp3);
int sbuf_add_set(struct sbuf *b, unsigned long long n, int resp3);
int sbuf_add_push(struct sbuf *b, unsigned long long n, int resp3);
int sbuf_add_null(struct sbuf *b, int resp3);
int sbuf_add_verbatim(struct sbuf *b, const char *p, size_t len, int resp3);
/* A complete bulk string reply as RESP3's verbatim text ("txt"), as Redis sends INFO and the like to a
 * RESP3 client; anything else (an error) is copied as it is. */
int bulk_as_verbatim(const char *p, size_t len, struct sbuf *out);

struct reply_ref {
    const char *p;
    size_t len;
};

/* Merges n replies by policy (enum cmd_merge). For MERGE_MGET, key_child[i] names the reply holding
 * key i's value, each reply listing its keys' values in key order; for MERGE_RANDOM, pick is where the
 * search for a non-nil reply starts; for MERGE_INFO, prefix is slotgate's own INFO sections and the
 * replies are the masters' INFO keyspace. Returns 0, or -1 on memory exhaustion. */
int merge_replies(int policy, const struct reply_ref *replies, int n, const int *key_child, int nkeys, unsigned pick,
                  const char *prefix, struct sbuf *out);

/* SCAN cursors through slotgate: the low bits say which master (in slot order), the rest is that
 * master's own cursor. */
#define SCAN_SHARD_BITS 10
int scan_cursor_decode(const char *p, size_t len, unsigned *shard, unsigned long long *node_cursor);
/* Rewrites a master's SCAN reply for the client: its cursor 0 moves on to the next master. */
int scan_reply_rewrite(const char *reply, size_t len, unsigned shard, unsigned nshards, struct sbuf *out);

#endif
