/* See merge.h. An error from any part wins (a single server would have failed the whole command), except
 * for "one succeeded" policies. */
#include "merge.h"

#include "info.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "resp.h"

int sbuf_add(struct sbuf *b, const char *p, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) cap *= 2;
        char *n = realloc(b->p, cap);
        if (!n) return -1;
        b->p = n;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int sbuf_add_header(struct sbuf *b, char type, unsigned long long n) {
    char tmp[24];
    size_t i = sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do tmp[--i] = (char)('0' + n % 10);
    while ((n /= 10) && i > 1);
    tmp[--i] = type;
    return sbuf_add(b, tmp + i, sizeof(tmp) - i);
}

int sbuf_add_bulk(struct sbuf *b, const char *p, size_t len) {
    return sbuf_add_header(b, '$', len) < 0 || sbuf_add(b, p, len) < 0 || sbuf_add(b, "\r\n", 2) < 0 ? -1 : 0;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof(tmp)) return sbuf_add(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = sbuf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

int sbuf_add_map(struct sbuf *b, unsigned long long pairs, int resp3) {
    return resp3 ? sbuf_add_header(b, '%', pairs) : sbuf_add_header(b, '*', pairs * 2);
}

int sbuf_add_set(struct sbuf *b, unsigned long long n, int resp3) { return sbuf_add_header(b, resp3 ? '~' : '*', n); }

int sbuf_add_push(struct sbuf *b, unsigned long long n, int resp3) { return sbuf_add_header(b, resp3 ? '>' : '*', n); }

int sbuf_add_null(struct sbuf *b, int resp3) { return resp3 ? sbuf_add(b, "_\r\n", 3) : sbuf_add(b, "$-1\r\n", 5); }

int sbuf_add_verbatim(struct sbuf *b, const char *p, size_t len, int resp3) {
    if (!resp3) return sbuf_add_bulk(b, p, len);
    return sbuf_add_header(b, '=', len + 4) < 0 || sbuf_add(b, "txt:", 4) < 0 || sbuf_add(b, p, len) < 0 ||
                   sbuf_add(b, "\r\n", 2) < 0
               ? -1
               : 0;
}

int bulk_as_verbatim(const char *p, size_t len, struct sbuf *out) {
    const char *cr = len > 3 && p[0] == '$' ? memchr(p, '\r', len) : NULL;
    long long n;
    if (!cr || resp_parse_ll(p + 1, (size_t)(cr - p - 1), &n) < 0 || n < 0 || (size_t)(cr - p) + 4 + (size_t)n != len)
        return sbuf_add(out, p, len);
    return sbuf_add_verbatim(out, cr + 2, (size_t)n, 1);
}

void sbuf_free(struct sbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int unexpected(struct sbuf *out) {
    out->len = 0;
    return sbuf_printf(out, "-ERR slotgate: unexpected reply from a node while merging\r\n");
}

/* The number in ":N\r\n", or -1 when the reply is not an integer. */
static int int_reply(const struct reply_ref *r, long long *v) {
    if (r->len < 4 || r->p[0] != ':') return -1;
    return resp_parse_ll(r->p + 1, r->len - 3, v);
}

/* Array header "*N\r\n": N (nil arrays count as empty) and where the elements start. */
static int array_header(const struct reply_ref *r, long long *n, size_t *body) {
    const char *cr = r->len ? memchr(r->p, '\r', r->len) : NULL;
    if (!cr || r->p[0] != '*' || resp_parse_ll(r->p + 1, (size_t)(cr - r->p) - 1, n) < 0) return -1;
    if (*n < 0) *n = 0;
    *body = (size_t)(cr - r->p) + 2;
    return 0;
}

/* Offsets of each element of an array reply (count elements), into offs (count + 1 entries). */
static int split_elements(const struct reply_ref *r, size_t body, long long count, size_t *offs) {
    struct resp_scanner s;
    char err[RESP_ERR_LEN];
    size_t at = body, len;
    resp_scanner_init_proto(&s, (long long)r->len, 1); /* RESP3 frames RESP2 the same */
    for (long long i = 0; i < count; i++) {
        offs[i] = at;
        if (resp_scan_reply(&s, r->p + at, r->len - at, &len, err, sizeof(err)) != RESP_DONE) return -1;
        at += len;
    }
    offs[count] = at;
    return 0;
}

static int merge_mget(const struct reply_ref *rs, int n, const int *key_child, int nkeys, struct sbuf *out) {
    size_t **offs = calloc((size_t)n, sizeof(*offs));
    int *next = calloc((size_t)n, sizeof(int));
    int rc = -1;
    if (!offs || !next) goto done;
    for (int i = 0; i < n; i++) {
        long long cnt;
        size_t body;
        if (array_header(&rs[i], &cnt, &body) < 0 || !(offs[i] = malloc(sizeof(size_t) * ((size_t)cnt + 1))) ||
            split_elements(&rs[i], body, cnt, offs[i]) < 0) {
            rc = unexpected(out);
            goto done;
        }
    }
    if (sbuf_add_header(out, '*', (unsigned long long)nkeys) < 0) goto done;
    for (int k = 0; k < nkeys; k++) {
        int c = key_child[k], e = next[c]++;
        if (sbuf_add(out, rs[c].p + offs[c][e], offs[c][e + 1] - offs[c][e]) < 0) goto done;
    }
    rc = 0;
done:
    for (int i = 0; offs && i < n; i++) free(offs[i]);
    free(offs);
    free(next);
    return rc;
}

static int merge_concat(const struct reply_ref *rs, int n, struct sbuf *out) {
    long long total = 0, cnt;
    size_t body;
    for (int i = 0; i < n; i++) {
        if (array_header(&rs[i], &cnt, &body) < 0) return unexpected(out);
        total += cnt;
    }
    if (sbuf_printf(out, "*%lld\r\n", total) < 0) return -1;
    for (int i = 0; i < n; i++) {
        array_header(&rs[i], &cnt, &body);
        if (sbuf_add(out, rs[i].p + body, rs[i].len - body) < 0) return -1;
    }
    return 0;
}

static int merge_and(const struct reply_ref *rs, int n, struct sbuf *out) {
    long long cnt0, cnt;
    size_t body;
    if (array_header(&rs[0], &cnt0, &body) < 0) return unexpected(out);
    char *bits = malloc((size_t)cnt0 + 1);
    size_t *offs = malloc(sizeof(size_t) * ((size_t)cnt0 + 1));
    int rc = -1;
    if (!bits || !offs) goto done;
    memset(bits, 1, (size_t)cnt0 + 1);
    for (int i = 0; i < n; i++) {
        if (array_header(&rs[i], &cnt, &body) < 0 || cnt != cnt0 || split_elements(&rs[i], body, cnt, offs) < 0) {
            rc = unexpected(out);
            goto done;
        }
        for (long long e = 0; e < cnt; e++) {
            struct reply_ref el = {rs[i].p + offs[e], offs[e + 1] - offs[e]};
            long long v;
            if (int_reply(&el, &v) < 0) {
                rc = unexpected(out);
                goto done;
            }
            bits[e] = (char)(bits[e] && v);
        }
    }
    if (sbuf_printf(out, "*%lld\r\n", cnt0) < 0) goto done;
    for (long long e = 0; e < cnt0; e++)
        if (sbuf_add(out, bits[e] ? ":1\r\n" : ":0\r\n", 4) < 0) goto done;
    rc = 0;
done:
    free(bits);
    free(offs);
    return rc;
}

int merge_replies(int policy, const struct reply_ref *rs, int n, const int *key_child, int nkeys, unsigned pick,
                  const char *prefix, struct sbuf *out) {
    int first_ok = -1, first_err = -1;
    for (int i = 0; i < n; i++) {
        if (rs[i].len && (rs[i].p[0] == '-' || rs[i].p[0] == '!')) {
            if (first_err < 0) first_err = i;
        } else if (first_ok < 0) {
            first_ok = i;
        }
    }
    if (policy == MERGE_ONE_OK) { /* SCRIPT/FUNCTION KILL: a node's UNKILLABLE says more than the others' NOTBUSY */
        int i = first_ok >= 0 ? first_ok : first_err;
        for (int k = 0; first_ok < 0 && k < n; k++)
            if (rs[k].len > 8 && rs[k].p[0] == '-' && memcmp(rs[k].p, "-NOTBUSY", 8) != 0) {
                i = k;
                break;
            }
        return sbuf_add(out, rs[i].p, rs[i].len);
    }
    if (first_err >= 0) return sbuf_add(out, rs[first_err].p, rs[first_err].len);
    long long acc = 0, v;
    switch (policy) {
    case MERGE_SUM:
    case MERGE_MIN:
    case MERGE_MAX:
        for (int i = 0; i < n; i++) {
            if (int_reply(&rs[i], &v) < 0) return unexpected(out);
            if (policy == MERGE_SUM)
                acc += v;
            else if (i == 0 || (policy == MERGE_MIN ? v < acc : v > acc))
                acc = v;
        }
        return sbuf_printf(out, ":%lld\r\n", acc);
    case MERGE_MGET: return merge_mget(rs, n, key_child, nkeys, out);
    case MERGE_CONCAT: return merge_concat(rs, n, out);
    case MERGE_AND: return merge_and(rs, n, out);
    case MERGE_RANDOM:
        for (int k = 0; k < n; k++) {
            const struct reply_ref *r = &rs[(pick + (unsigned)k) % (unsigned)n];
            int is_nil = (r->len == 5 && memcmp(r->p, "$-1\r\n", 5) == 0) || (r->len == 3 && r->p[0] == '_');
            if (!is_nil) return sbuf_add(out, r->p, r->len);
        }
        return sbuf_add(out, rs[0].p, rs[0].len); /* nil, in the protocol the nodes answered in */
    case MERGE_INFO: return info_merge(prefix ? prefix : "", prefix ? strlen(prefix) : 0, rs, n, out);
    default: /* MERGE_ALL_OK, MERGE_NONE: every part agreed; the first reply speaks for all */
        return sbuf_add(out, rs[0].p, rs[0].len);
    }
}

int scan_cursor_decode(const char *p, size_t len, unsigned *shard, unsigned long long *node_cursor) {
    unsigned long long v = 0;
    if (len == 0 || len > 20) return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        unsigned long long d = (unsigned long long)(p[i] - '0');
        if (v > (~0ULL - d) / 10) return -1;
        v = v * 10 + d;
    }
    *shard = (unsigned)(v & ((1u << SCAN_SHARD_BITS) - 1));
    *node_cursor = v >> SCAN_SHARD_BITS;
    return 0;
}

int scan_reply_rewrite(const char *reply, size_t len, unsigned shard, unsigned nshards, struct sbuf *out) {
    long long n;
    size_t body;
    struct reply_ref r = {reply, len};
    if (len && reply[0] == '-') return sbuf_add(out, reply, len);
    if (array_header(&r, &n, &body) < 0 || n != 2 || body >= len || reply[body] != '$') return unexpected(out);
    const char *cr = memchr(reply + body, '\r', len - body);
    long long blen;
    if (!cr || resp_parse_ll(reply + body + 1, (size_t)(cr - reply - body - 1), &blen) < 0 || blen < 0 ||
        (size_t)(cr - reply) + 2 + (size_t)blen + 2 > len)
        return unexpected(out);
    const char *cur = cr + 2;
    unsigned long long node_cursor = strtoull(cur, NULL, 10), next;
    if (node_cursor >> (64 - SCAN_SHARD_BITS)) return unexpected(out); /* would not fit beside the shard */
    if (node_cursor != 0)
        next = (node_cursor << SCAN_SHARD_BITS) | shard;
    else
        next = shard + 1 < nshards ? shard + 1 : 0; /* this master is done: the next one from its start */
    char num[32];
    int nl = snprintf(num, sizeof(num), "%llu", next);
    if (sbuf_printf(out, "*2\r\n$%d\r\n%s\r\n", nl, num) < 0) return -1;
    const char *rest = cur + blen + 2;
    return sbuf_add(out, rest, (size_t)(reply + len - rest));
}
