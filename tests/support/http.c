/* See http.h. */
#include "http.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

char *chromium_page(int port, const char *fragment, const char *mode, const char *out_png) {
    char cmdline[1024];
    snprintf(cmdline, sizeof(cmdline),
             "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--user-data-dir=/tmp/slotgate-test-%d-chromium --window-size=1200,900 --virtual-time-budget=4000 %s%s "
             "'http://127.0.0.1:%d/%s' 2>/dev/null",
             (int)getpid(), mode, out_png ? out_png : "", port, fragment);
    ck_assert_msg(access("/usr/bin/chromium", X_OK) == 0, "chromium is missing: make deps installs it");
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) len += n;
    buf[len] = '\0';
    pclose(p);
    return buf;
}

void png_colour_counts(const char *png, const char *const *colours, int n, long *counts) {
    char cmdline[512], line[128];
    int at = snprintf(cmdline, sizeof(cmdline), "/usr/bin/python3 tests/support/png_colours.py %s", png);
    for (int i = 0; i < n; i++) {
        at += snprintf(cmdline + at, sizeof(cmdline) - (size_t)at, " %s", colours[i]);
        counts[i] = -1;
    }
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p)) {
        long v = 0;
        char hex[16];
        if (sscanf(line, "%15s %ld", hex, &v) != 2) continue;
        for (int i = 0; i < n; i++)
            if (!strcasecmp(hex, colours[i])) counts[i] = v;
    }
    ck_assert_int_eq(pclose(p), 0);
}
