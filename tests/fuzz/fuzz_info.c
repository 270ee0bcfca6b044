/* libFuzzer: INFO replies from the masters (router/info.c), untrusted bytes merged into slotgate's
 * template of every rule. The input is split at 0xff bytes into up to three replies; the merge must
 * never read past them, and always produce one well-formed bulk string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/info.h"

static const char TMPL[] = "# Server\r\nredis_version:\x01V\r\nx:\x01"
                           "F\r\n\r\n# Memory\r\nmaxmemory:\x01Z\r\n"
                           "maxmemory_human:\x01H\r\nm:\x01m\r\nM:\x01M\r\ns:\x01S\r\nw:\x01W\r\n\r\n# Persistence\r\n"
                           "\x01persistence\r\n\r\n# Commandstats\r\n\x01"
                           "commandstats\r\n\r\n# Keyspace\r\n\x01keyspace\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct reply_ref rs[3];
    char *copies[3] = {0};
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size && n < 3; i++) {
        if (i == size || data[i] == 0xff) {
            size_t len = i - start;
            copies[n] = malloc(len ? len : 1); /* exactly its bytes: ASan sees any read past them */
            memcpy(copies[n], data + start, len);
            rs[n] = (struct reply_ref){copies[n], len};
            n++;
            start = i + 1;
        }
    }
    struct sbuf out = {0};
    if (info_merge(TMPL, sizeof(TMPL) - 1, rs, n, &out) == 0) {
        if (out.len < 4 || out.p[0] != '$' || out.p[out.len - 2] != '\r' || out.p[out.len - 1] != '\n') abort();
        long long blen = strtoll(out.p + 1, NULL, 10);
        const char *crlf = memchr(out.p, '\n', out.len);
        if (!crlf || (size_t)blen != out.len - (size_t)(crlf + 1 - out.p) - 2) abort();
    }
    sbuf_free(&out);
    for (int i = 0; i < n; i++) free(copies[i]);
    return 0;
}
