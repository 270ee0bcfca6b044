/* See http.h. */
#include "http.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void http_request(struct http_reply *r, const char *method, int port, const char *path, const char *extra) {
    char cmdline[2048], hdr[128];
    snprintf(hdr, sizeof(hdr), "/tmp/slotgate-test-%d-http-headers", (int)getpid());
    snprintf(cmdline, sizeof(cmdline), "curl -s -g -m 10 -D %s -X %s %s -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'",
             hdr, method, extra ? extra : "", port, path);
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    pclose(p);
    buf[len] = '\0';
    char *last = strrchr(buf, '\n');
    r->status = last ? atoi(last + 1) : atoi(buf);
    if (last)
        *last = '\0';
    else
        buf[0] = '\0';
    r->body = buf;
    r->headers[0] = '\0';
    FILE *h = fopen(hdr, "r");
    if (h) {
        size_t hn = fread(r->headers, 1, sizeof(r->headers) - 1, h);
        r->headers[hn] = '\0';
        fclose(h);
        unlink(hdr);
    }
}

void http_reply_free(struct http_reply *r) {
    free(r->body);
    r->body = NULL;
}

json_t *http_json(int port, const char *path, int want_status) {
    struct http_reply r;
    http_request(&r, "GET", port, path, NULL);
    ck_assert_msg(r.status == want_status, "GET %s: status %d, want %d: %s", path, r.status, want_status, r.body);
    json_error_t err;
    json_t *j = json_loads(r.body, 0, &err);
    ck_assert_msg(j != NULL, "GET %s: not JSON (%s): %s", path, err.text, r.body);
    http_reply_free(&r);
    return j;
}
