/* HTTP for the admin endpoint tests, through the real curl client (Debian's curl). */
#ifndef SLOTGATE_TEST_HTTP_H
#define SLOTGATE_TEST_HTTP_H

#include <jansson.h>

struct http_reply {
    int status; /* 0 when curl could not connect */
    char *body; /* NUL-terminated, never NULL */
    char headers[2048];
};

/* GET (or method) http://127.0.0.1:port/path with optional extra curl arguments (e.g. a header). */
void http_request(struct http_reply *r, const char *method, int port, const char *path, const char *extra);
void http_reply_free(struct http_reply *r);
/* GET returning the JSON body parsed; fails the test unless the status is want_status and it parses. */
json_t *http_json(int port, const char *path, int want_status);
/* The dashboard (http://127.0.0.1:port/ with fragment, e.g. "#load") in headless Chromium: mode
 * "--dump-dom" returns the DOM after its scripts ran; "--screenshot=" writes out_png. */
char *chromium_page(int port, const char *fragment, const char *mode, const char *out_png);
/* Pixels of each colour ("4e79a7") in a PNG screenshot, into counts (tests/support/png_colours.py). */
void png_colour_counts(const char *png, const char *const *colours, int n, long *counts);

#endif
