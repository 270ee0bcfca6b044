/* libFuzzer: the backend reply framer (router/resp.c), RESP2 and RESP3. Whole and in pieces it must find
 * the same reply boundaries (or the same error), never reading past what it was given; each reply it frames
 * also goes through the parsers of what nodes push (pub/sub confirmations, invalidations) and a migration's
 * miss test (router/reply.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/reply.h"
#include "../../router/resp.h"

#define MAX_REPLIES 64

/* Each framed reply also goes through the pub/sub confirmation parser, from a copy of exactly its
 * bytes: the channel it finds must lie inside them. */
static void check_confirmation(const char *p, size_t len) {
    char *copy = malloc(len);
    const char *name;
    size_t nlen;
    long long count;
    memcpy(copy, p, len);
    int k = resp_parse_confirmation(copy, len, &name, &nlen, &count);
    if (k >= 0 && name && (name < copy || name + nlen > copy + len)) abort();
    (void)reply_is_miss(copy, len); /* a migration's read looks at each reply (ASan: within its bytes) */
    free(copy);
}

/* And through the invalidation push parser (client-side caching): every key inside the bytes, as many as
 * it says. */
struct seen {
    const char *lo, *hi;
    long long n;
};

static void check_key(const char *key, size_t klen, void *ctx) {
    struct seen *s = ctx;
    if (key < s->lo || key + klen > s->hi) abort();
    s->n++;
}

static void check_invalidation(const char *p, size_t len) {
    char *copy = malloc(len);
    memcpy(copy, p, len);
    struct seen s = {copy, copy + len, 0};
    long long n = resp_parse_invalidation(copy, len, check_key, &s);
    if ((n >= 0 && n != s.n) || (n < 0 && s.n != 0)) abort();
    free(copy);
}

static int frame(const uint8_t *data, size_t len, size_t step, int resp3, size_t *ends, int *error) {
    struct resp_scanner s;
    char err[RESP_ERR_LEN];
    resp_scanner_init_proto(&s, 1 << 20, resp3);
    size_t start = 0, avail = step < len ? step : len;
    int n = 0;
    *error = 0;
    while (n < MAX_REPLIES) {
        size_t rlen;
        int rc = resp_scan_reply(&s, (const char *)data + start, avail - start, &rlen, err, sizeof(err));
        if (rc == RESP_ERROR) {
            *error = 1;
            break;
        }
        if (rc == RESP_DONE) {
            if (rlen == 0 || rlen > avail - start) abort();
            check_confirmation((const char *)data + start, rlen);
            check_invalidation((const char *)data + start, rlen);
            start += rlen;
            ends[n++] = start;
            continue;
        }
        if (avail == len) break;
        avail = avail + step > len ? len : avail + step;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t step = data[0] % 32 + 1;
    int resp3 = data[0] >> 7; /* the first byte's top bit: a RESP3 connection's scanner */
    static size_t a[MAX_REPLIES], b[MAX_REPLIES];
    int ea, eb;
    int na = frame(data + 1, size - 1, size, resp3, a, &ea), nb = frame(data + 1, size - 1, step, resp3, b, &eb);
    if (na != nb || ea != eb) abort();
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) abort();
    return 0;
}
