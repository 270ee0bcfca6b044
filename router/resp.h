/* RESP framing, pure: the client request parser (multibulk and inline) and the backend reply scanner.
 * Both work over a caller's contiguous buffer, never copy multibulk arguments, and resume where they
 * stopped when more bytes arrive, so a frame split into 1-byte reads costs no rescans of its bulk data.
 * Errors use Redis's own "Protocol error: ..." texts. Nothing here touches a socket. */
#ifndef SLOTGATE_RESP_H
#define SLOTGATE_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_INLINE_MAX (64 * 1024) /* Redis's PROTO_INLINE_MAX_SIZE: longest inline or count line */
#define RESP_MAX_DEPTH  32          /* deepest reply nesting accepted from a backend */
#define RESP_ERR_LEN    128

enum { RESP_AGAIN = 0, RESP_DONE = 1, RESP_ERROR = -1 };

struct resp_arg {
    uint32_t off; /* from the command's first byte, or into the inline scratch for inline commands */
    uint32_t len;
};

/* Where a multibulk request's parse stopped (state): RESP_ST_BULK_DATA with bulk/pos while waiting
 * for the data of argument argc (the proxy streams a large last argument from there). */
enum { RESP_ST_START = 0, RESP_ST_MB_COUNT, RESP_ST_BULK_LEN, RESP_ST_BULK_DATA };

struct resp_request {
    /* Results, valid when resp_request_parse() returned RESP_DONE. argc 0 means an empty command
     * (a blank inline line, "*0"): consume cmd_len bytes and reply nothing, as Redis does. */
    struct resp_arg *argv;
    uint32_t argc;
    uint32_t argv_cap;
    size_t cmd_len;
    int is_inline;
    char *scratch; /* inline arguments, unescaped */
    size_t scratch_cap;
    size_t need; /* on RESP_AGAIN: total bytes known to be needed (0 = unknown), to size the buffer */
    /* Resumable state. */
    int state;
    size_t pos;
    long long nargs;
    long long bulk;
    long long max_bulk;      /* proto-max-bulk-len */
    long long max_multibulk; /* most arguments in one command */
    struct resp_arg inline_argv[6];
};

void resp_request_init(struct resp_request *r, long long max_bulk, long long max_multibulk);
void resp_request_reset(struct resp_request *r); /* before the next command; keeps argv storage */
void resp_request_free(struct resp_request *r);
/* Drops argv/scratch storage grown past the inline arrays (for idle clients). */
void resp_request_shrink(struct resp_request *r);
int resp_request_parse(struct resp_request *r, const char *buf, size_t len, char *err, size_t errlen);
/* The bytes of argument i of a parsed command whose first byte is at cmd. */
static inline const char *resp_request_arg(const struct resp_request *r, const char *cmd, uint32_t i) {
    return (r->is_inline ? r->scratch : cmd) + r->argv[i].off;
}

struct resp_scanner {
    size_t pos;
    int depth;
    int resp3; /* RESP3's types are framed too; else they are a protocol error */
    long long max_bulk;
    long long remain[RESP_MAX_DEPTH];
};

void resp_scanner_init(struct resp_scanner *s, long long max_bulk); /* a RESP2 connection's */
/* A scanner for a connection speaking RESP3 (resp3 = 1) or RESP2 (0). RESP3 adds null (_), booleans (#),
 * doubles (,), big numbers ((), blob errors (!), verbatim strings (=), maps (%: n pairs), sets (~),
 * pushes (>) and attributes (|: n pairs before the value they describe, framed as one reply with it). */
void resp_scanner_init_proto(struct resp_scanner *s, long long max_bulk, int resp3);
/* Finds the end of the first complete reply in buf: RESP_DONE with *reply_len set, RESP_AGAIN, or
 * RESP_ERROR for bytes that are not RESP (the connection cannot be trusted after that). */
int resp_scan_reply(struct resp_scanner *s, const char *buf, size_t len, size_t *reply_len, char *err, size_t errlen);

/* Redirections in an error reply: "-MOVED 3999 127.0.0.1:6381\r\n" / "-ASK ...". */
enum { REDIR_NONE = 0, REDIR_MOVED, REDIR_ASK };
struct redirect {
    int kind;
    unsigned slot;
    char host[256];
    int port;
};
int resp_parse_redirect(const char *reply, size_t len, struct redirect *out);
/* Whether an error reply starts with the given error code ("TRYAGAIN", "CLUSTERDOWN", ...). */
int resp_error_is(const char *reply, size_t len, const char *code);

/* A node's pub/sub (un)subscribe confirmation [kind, channel or nil, count] (an array, or a RESP3 push), as one
 * complete framed reply: its kind, 0-5 for subscribe, psubscribe, ssubscribe, unsubscribe, punsubscribe, sunsubscribe,
 * with the channel (NULL for nil) and the count; -1 for anything else (a message, a pong). */
int resp_parse_confirmation(const char *p, size_t len, const char **name, size_t *nlen, long long *count);

/* A node's RESP3 invalidation push (client-side caching): ">2 invalidate [keys]" calls each(key) for every
 * key and returns how many; ">2 invalidate _" (FLUSHALL/FLUSHDB: drop everything) returns RESP_INVALIDATE_ALL;
 * anything else, or a malformed one, returns -1 before calling each. */
#define RESP_INVALIDATE_ALL (-2)
long long resp_parse_invalidation(const char *p, size_t len, void (*each)(const char *key, size_t klen, void *ctx),
                                  void *ctx);

/* Parses a decimal integer the way Redis's string2ll does (no '+', no leading zeros, no spaces). */
int resp_parse_ll(const char *p, size_t len, long long *out);

#endif
