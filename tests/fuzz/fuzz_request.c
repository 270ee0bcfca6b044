/* libFuzzer: the client request parser (router/resp.c). The input is parsed twice, whole and in pieces
 * whose sizes come from the input itself, as a client's reads would deliver it; both must give the
 * same commands, argument for argument, and the same error, and every argument must lie inside its
 * command's bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/resp.h"

#define MAX_CMDS 64

struct seen {
    int n, error;
    char err[RESP_ERR_LEN];
    uint32_t argc[MAX_CMDS];
    uint64_t digest[MAX_CMDS];
};

static uint64_t digest_cmd(const struct resp_request *r, const char *cmd) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < r->argc; i++) {
        const char *a = resp_request_arg(r, cmd, i);
        if (!r->is_inline && (size_t)r->argv[i].off + r->argv[i].len > r->cmd_len) abort(); /* outside its command */
        for (uint32_t k = 0; k < r->argv[i].len; k++) h = (h ^ (unsigned char)a[k]) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

/* Feeds data in pieces of the given sizes (cycled), like successive reads into a growing buffer. */
static void run(const uint8_t *data, size_t len, const uint8_t *sizes, size_t nsizes, struct seen *out) {
    struct resp_request r;
    char err[RESP_ERR_LEN];
    resp_request_init(&r, 1 << 20, 1 << 12);
    memset(out, 0, sizeof(*out));
    size_t start = 0, avail = 0, k = 0;
    while (out->n < MAX_CMDS) {
        int rc = resp_request_parse(&r, (const char *)data + start, avail - start, err, sizeof(err));
        if (rc == RESP_ERROR) {
            out->error = 1;
            memcpy(out->err, err, sizeof(err));
            break;
        }
        if (rc == RESP_DONE) {
            if (r.cmd_len == 0 || r.cmd_len > avail - start) abort();
            out->argc[out->n] = r.argc;
            out->digest[out->n] = digest_cmd(&r, (const char *)data + start);
            out->n++;
            start += r.cmd_len;
            resp_request_reset(&r);
            continue;
        }
        if (avail == len) break; /* the rest is an incomplete command */
        size_t step = nsizes ? sizes[k++ % nsizes] % 64 + 1 : len;
        avail = avail + step > len ? len : avail + step;
    }
    resp_request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t nsizes = data[0] % 8; /* the first bytes choose the read sizes */
    if (size < 1 + nsizes) return 0;
    const uint8_t *sizes = data + 1, *body = data + 1 + nsizes;
    size_t len = size - 1 - nsizes;
    static struct seen whole, pieces;
    run(body, len, NULL, 0, &whole);
    run(body, len, sizes, nsizes ? nsizes : 1, &pieces);
    if (whole.n != pieces.n || whole.error != pieces.error) abort();
    for (int i = 0; i < whole.n; i++)
        if (whole.argc[i] != pieces.argc[i] || whole.digest[i] != pieces.digest[i]) abort();
    if (whole.error && strcmp(whole.err, pieces.err) != 0) abort();
    return 0;
}
