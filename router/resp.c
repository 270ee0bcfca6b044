/* RESP request parser and reply scanner; see resp.h. The request parser follows the checks and error
 * texts of Redis's processMultibulkBuffer()/processInlineBuffer() so clients see what Redis would say. */
#include "resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#define ST_START     RESP_ST_START
#define ST_MB_COUNT  RESP_ST_MB_COUNT
#define ST_BULK_LEN  RESP_ST_BULK_LEN
#define ST_BULK_DATA RESP_ST_BULK_DATA

int resp_parse_ll(const char *p, size_t len, long long *out) {
    /* The lengths in requests and replies are mostly one or two digits. */
    if (len == 1 && p[0] >= '1' && p[0] <= '9') return *out = p[0] - '0', 0;
    if (len == 2 && p[0] >= '1' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9')
        return *out = (p[0] - '0') * 10 + (p[1] - '0'), 0;
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    if (len == 0 || len > 20) return -1;
    if (len == 1 && p[0] == '0') return *out = 0, 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return -1;
    }
    if (p[i] < '1' || p[i] > '9' || len - i > 19) return -1; /* 19 digits cannot overflow 64 bits */
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (unsigned long long)(p[i] - '0');
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    return 0;
}

void resp_request_init(struct resp_request *r, long long max_bulk, long long max_multibulk) {
    memset(r, 0, sizeof(*r));
    r->argv = r->inline_argv;
    r->argv_cap = sizeof(r->inline_argv) / sizeof(r->inline_argv[0]);
    r->max_bulk = max_bulk;
    r->max_multibulk = max_multibulk;
}

void resp_request_reset(struct resp_request *r) {
    r->argc = 0;
    r->cmd_len = 0;
    r->is_inline = 0;
    r->need = 0;
    r->state = ST_START;
    r->pos = 0;
    r->nargs = 0;
    r->bulk = 0;
}

void resp_request_shrink(struct resp_request *r) {
    if (r->argv != r->inline_argv) {
        free(r->argv);
        r->argv = r->inline_argv;
        r->argv_cap = sizeof(r->inline_argv) / sizeof(r->inline_argv[0]);
    }
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
}

void resp_request_free(struct resp_request *r) { resp_request_shrink(r); }

static int push_arg(struct resp_request *r, size_t off, size_t len) {
    if (r->argc == r->argv_cap) {
        uint32_t cap = r->argv_cap * 2;
        struct resp_arg *a = malloc(sizeof(*a) * cap);
        if (!a) return -1;
        memcpy(a, r->argv, sizeof(*a) * r->argc);
        if (r->argv != r->inline_argv) free(r->argv);
        r->argv = a;
        r->argv_cap = cap;
    }
    r->argv[r->argc].off = (uint32_t)off;
    r->argv[r->argc].len = (uint32_t)len;
    r->argc++;
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return RESP_ERROR;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

/* Splits an inline line into unescaped arguments in r->scratch, with sdssplitargs()'s quoting rules:
 * "..." understands \xHH \n \r \t \b \a, '...' only \', and a closing quote must end the argument. */
static int split_inline(struct resp_request *r, const char *p, size_t len) {
    size_t i = 0, o = 0;
    if (r->scratch_cap < len + 1) {
        char *s = realloc(r->scratch, len + 1);
        if (!s) return -1;
        r->scratch = s;
        r->scratch_cap = len + 1;
    }
    for (;;) {
        while (i < len && is_space(p[i])) i++;
        if (i == len) return 0;
        size_t start = o;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (inq) {
                if (i == len) return -2;
                if (p[i] == '\\' && i + 3 < len && p[i + 1] == 'x' && hexval(p[i + 2]) >= 0 && hexval(p[i + 3]) >= 0) {
                    r->scratch[o++] = (char)(hexval(p[i + 2]) * 16 + hexval(p[i + 3]));
                    i += 3;
                } else if (p[i] == '\\' && i + 1 < len) {
                    char c;
                    i++;
                    switch (p[i]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = p[i]; break;
                    }
                    r->scratch[o++] = c;
                } else if (p[i] == '"') {
                    if (i + 1 < len && !is_space(p[i + 1])) return -2;
                    done = 1;
                } else {
                    r->scratch[o++] = p[i];
                }
            } else if (insq) {
                if (i == len) return -2;
                if (p[i] == '\\' && i + 1 < len && p[i + 1] == '\'') {
                    i++;
                    r->scratch[o++] = '\'';
                } else if (p[i] == '\'') {
                    if (i + 1 < len && !is_space(p[i + 1])) return -2;
                    done = 1;
                } else {
                    r->scratch[o++] = p[i];
                }
            } else {
                if (i == len) break;
                switch (p[i]) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = 1; break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: r->scratch[o++] = p[i]; break;
                }
            }
            if (i < len) i++;
        }
        if (push_arg(r, start, o - start) < 0) return -1;
    }
}

static int parse_inline(struct resp_request *r, const char *buf, size_t len, char *err, size_t errlen) {
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX) return fail(err, errlen, "Protocol error: too big inline request");
        return RESP_AGAIN;
    }
    size_t linelen = (size_t)(nl - buf);
    if (linelen > RESP_INLINE_MAX) return fail(err, errlen, "Protocol error: too big inline request");
    if (linelen && buf[linelen - 1] == '\r') linelen--;
    r->argc = 0;
    r->is_inline = 1;
    int rc = split_inline(r, buf, linelen);
    if (rc == -2) return fail(err, errlen, "Protocol error: unbalanced quotes in request");
    if (rc < 0) return fail(err, errlen, "ERR out of memory");
    r->cmd_len = (size_t)(nl - buf) + 1;
    return RESP_DONE;
}

/* The common case of a count or length: 1 to 18 digits, no leading zero, then CRLF, all in the buffer.
 * Returns the offset just past the CRLF with the value in *out, or 0 for anything else (the general
 * path then decides: a sign, a leading zero, more bytes needed, an error). */
static size_t quick_number(const char *buf, size_t at, size_t len, long long *out) {
    size_t i = at;
    long long v = 0;
    if (i >= len || buf[i] < '1' || buf[i] > '9') return 0;
    while (i < len && i - at < 18 && buf[i] >= '0' && buf[i] <= '9') v = v * 10 + (buf[i++] - '0');
    if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n') return 0;
    *out = v;
    return i + 2;
}

/* Finds "\r\n" at or after from; returns the offset of '\r' or -1. */
static long find_crlf(const char *buf, size_t from, size_t len) {
    while (from < len) {
        const char *cr = memchr(buf + from, '\r', len - from);
        if (!cr) return -1;
        size_t at = (size_t)(cr - buf);
        if (at + 1 >= len) return -1;
        if (buf[at + 1] == '\n') return (long)at;
        from = at + 1;
    }
    return -1;
}

int resp_request_parse(struct resp_request *r, const char *buf, size_t len, char *err, size_t errlen) {
    long long ll;
    long cr;
    r->need = 0;
    for (;;) {
        switch (r->state) {
        case ST_START:
            if (len == 0) return RESP_AGAIN;
            if (buf[0] != '*') return parse_inline(r, buf, len, err, errlen);
            r->pos = 1;
            r->state = ST_MB_COUNT;
            break;
        case ST_MB_COUNT: {
            size_t next = quick_number(buf, 1, len, &ll);
            if (next && ll <= r->max_multibulk) {
                r->pos = next;
                r->nargs = ll;
                r->argc = 0;
                r->state = ST_BULK_LEN;
                break;
            }
        }
            cr = find_crlf(buf, r->pos, len);
            if (cr < 0) {
                if (len - r->pos > RESP_INLINE_MAX)
                    return fail(err, errlen, "Protocol error: too big mbulk count string");
                return RESP_AGAIN;
            }
            if (resp_parse_ll(buf + 1, (size_t)cr - 1, &ll) < 0 || ll > r->max_multibulk)
                return fail(err, errlen, "Protocol error: invalid multibulk length");
            r->pos = (size_t)cr + 2;
            if (ll <= 0) {
                r->argc = 0;
                r->cmd_len = r->pos;
                return RESP_DONE;
            }
            r->nargs = ll;
            r->argc = 0;
            r->state = ST_BULK_LEN;
            break;
        case ST_BULK_LEN:
            if (r->pos >= len) return RESP_AGAIN;
            if (buf[r->pos] != '$') {
                snprintf(err, errlen, "Protocol error: expected '$', got '%c'", buf[r->pos]);
                return RESP_ERROR;
            }
            {
                size_t next = quick_number(buf, r->pos + 1, len, &ll);
                if (next && ll <= r->max_bulk) {
                    r->bulk = ll;
                    r->pos = next;
                    r->state = ST_BULK_DATA;
                    break;
                }
            }
            cr = find_crlf(buf, r->pos + 1, len);
            if (cr < 0) {
                if (len - r->pos > RESP_INLINE_MAX)
                    return fail(err, errlen, "Protocol error: too big bulk count string");
                return RESP_AGAIN;
            }
            if (resp_parse_ll(buf + r->pos + 1, (size_t)cr - r->pos - 1, &ll) < 0 || ll < 0 || ll > r->max_bulk)
                return fail(err, errlen, "Protocol error: invalid bulk length");
            r->bulk = ll;
            r->pos = (size_t)cr + 2;
            r->state = ST_BULK_DATA;
            break;
        case ST_BULK_DATA:
            /* Like Redis, the two bytes after the data are taken as the CRLF without looking at them;
             * the backend frames the forwarded bytes the same way, so both sides agree. */
            if (len < r->pos + (size_t)r->bulk + 2) {
                r->need = r->pos + (size_t)r->bulk + 2;
                return RESP_AGAIN;
            }
            if (push_arg(r, r->pos, (size_t)r->bulk) < 0) return fail(err, errlen, "ERR out of memory");
            r->pos += (size_t)r->bulk + 2;
            if ((long long)r->argc == r->nargs) {
                r->cmd_len = r->pos;
                return RESP_DONE;
            }
            r->state = ST_BULK_LEN;
            break;
        }
    }
}

void resp_scanner_init_proto(struct resp_scanner *s, long long max_bulk, int resp3) {
    s->pos = 0;
    s->depth = 0;
    s->resp3 = resp3;
    s->max_bulk = max_bulk;
}

void resp_scanner_init(struct resp_scanner *s, long long max_bulk) { resp_scanner_init_proto(s, max_bulk, 0); }

/* RESP3's one-line types: the line after the type byte, checked as Redis writes them. */
static int resp3_line_ok(char type, const char *v, size_t n) {
    long long ll;
    switch (type) {
    case '_': return n == 0;
    case '#': return n == 1 && (v[0] == 't' || v[0] == 'f');
    case '(': /* a big number: digits, perhaps a sign */
        if (n > 0 && v[0] == '-') v++, n--;
        if (n == 0) return 0;
        for (size_t i = 0; i < n; i++)
            if (v[i] < '0' || v[i] > '9') return 0;
        return 1;
    case ',': return n > 0 && n < 64; /* a double, inf, -inf or nan */
    default: return resp_parse_ll(v, n, &ll) == 0;
    }
}

int resp_scan_reply(struct resp_scanner *s, const char *buf, size_t len, size_t *reply_len, char *err, size_t errlen) {
    long long n;
    for (;;) {
        size_t p = s->pos;
        if (p >= len) return RESP_AGAIN;
        long cr = find_crlf(buf, p + 1, len);
        if (cr < 0) {
            if (len - p > RESP_INLINE_MAX) return fail(err, errlen, "reply line too long");
            return RESP_AGAIN;
        }
        size_t next = (size_t)cr + 2, end;
        switch (buf[p]) {
        case '+':
        case '-': end = next; break;
        case ':':
            if (resp_parse_ll(buf + p + 1, (size_t)cr - p - 1, &n) < 0)
                return fail(err, errlen, "invalid integer reply");
            end = next;
            break;
        case '$':
        case '!': /* RESP3: a blob error */
        case '=': /* RESP3: a verbatim string, "txt:" or "mkd:" first */
            if (buf[p] != '$' && !s->resp3) goto not_resp;
            if (resp_parse_ll(buf + p + 1, (size_t)cr - p - 1, &n) < 0 || n > s->max_bulk ||
                n < (buf[p] == '$'   ? -1
                     : buf[p] == '=' ? 4
                                     : 0))
                return fail(err, errlen,
                            buf[p] == '$' ? "invalid bulk length in reply" : "invalid blob length in reply");
            if (n == -1) { /* RESP2's null bulk */
                end = next;
                break;
            }
            if (len < next + (size_t)n + 2) return RESP_AGAIN;
            if (buf[next + n] != '\r' || buf[next + n + 1] != '\n')
                return fail(err, errlen, "bulk reply not terminated by CRLF");
            if (buf[p] == '=' && buf[next + 3] != ':') return fail(err, errlen, "verbatim string without its format");
            end = next + (size_t)n + 2;
            break;
        case '*':
        case '%': /* RESP3: a map, n pairs */
        case '~': /* RESP3: a set */
        case '>': /* RESP3: a push */
        case '|': /* RESP3: an attribute, n pairs, then the value they describe */
            if (buf[p] != '*' && !s->resp3) goto not_resp;
            if (resp_parse_ll(buf + p + 1, (size_t)cr - p - 1, &n) < 0 || n < (buf[p] == '*' ? -1 : 0) ||
                n > LLONG_MAX / 4)
                return fail(err, errlen,
                            buf[p] == '*' ? "invalid multibulk length in reply" : "invalid aggregate length in reply");
            n = buf[p] == '%' ? 2 * n : buf[p] == '|' ? 2 * n + 1 : n; /* the elements to frame */
            if (n > 0) {
                if (s->depth == RESP_MAX_DEPTH) return fail(err, errlen, "reply nested too deeply");
                s->remain[s->depth++] = n;
                s->pos = next;
                continue;
            }
            end = next;
            break;
        case '_':
        case '#':
        case ',':
        case '(':
            if (!s->resp3) goto not_resp;
            if (!resp3_line_ok(buf[p], buf + p + 1, (size_t)cr - p - 1))
                return fail(err, errlen, "invalid RESP3 value");
            end = next;
            break;
        not_resp:
        default:
            snprintf(err, errlen, "unexpected byte 0x%02x at the start of a reply", (unsigned char)buf[p]);
            return RESP_ERROR;
        }
        s->pos = end;
        while (s->depth > 0 && --s->remain[s->depth - 1] == 0) s->depth--;
        if (s->depth == 0) {
            *reply_len = end;
            s->pos = 0;
            return RESP_DONE;
        }
    }
}

int resp_error_is(const char *reply, size_t len, const char *code) {
    size_t n = strlen(code);
    return len > n + 1 && reply[0] == '-' && memcmp(reply + 1, code, n) == 0 &&
           (reply[n + 1] == ' ' || reply[n + 1] == '\r');
}

static const char *const confirm_kinds[] = {"subscribe",   "psubscribe",   "ssubscribe",
                                            "unsubscribe", "punsubscribe", "sunsubscribe"};

int resp_parse_confirmation(const char *p, size_t len, const char **name, size_t *nlen, long long *count) {
    const char *end = p + len, *q, *cr;
    long long klen, n;
    if (len < 8 || (p[0] != '*' && p[0] != '>') || memcmp(p + 1, "3\r\n$", 4) != 0) return -1; /* RESP2, RESP3 */
    if (!(q = memchr(p + 5, '\r', len - 5)) || resp_parse_ll(p + 5, (size_t)(q - p - 5), &klen) < 0 || klen < 0 ||
        klen > end - q || q + 2 + klen + 2 > end)
        return -1;
    const char *kind = q + 2;
    int k = -1;
    for (int i = 0; i < 6; i++)
        if (strlen(confirm_kinds[i]) == (size_t)klen && memcmp(confirm_kinds[i], kind, (size_t)klen) == 0) k = i;
    q = kind + klen + 2;
    if (k < 0 || q >= end || *q != '$' || !(cr = memchr(q, '\r', (size_t)(end - q))) ||
        resp_parse_ll(q + 1, (size_t)(cr - q - 1), &n) < 0 || n > end - cr)
        return -1;
    *name = n < 0 ? NULL : cr + 2;
    *nlen = n < 0 ? 0 : (size_t)n;
    q = n < 0 ? cr + 2 : cr + 2 + n + 2;
    if (q >= end || *q != ':' || !(cr = memchr(q, '\r', (size_t)(end - q))) ||
        resp_parse_ll(q + 1, (size_t)(cr - q - 1), count) < 0)
        return -1;
    return k;
}

int resp_parse_redirect(const char *reply, size_t len, struct redirect *out) {
    const char *p, *end = reply + len;
    long long slot, port;
    out->kind = REDIR_NONE;
    if (resp_error_is(reply, len, "MOVED")) {
        out->kind = REDIR_MOVED;
        p = reply + 7;
    } else if (resp_error_is(reply, len, "ASK")) {
        out->kind = REDIR_ASK;
        p = reply + 5;
    } else {
        return REDIR_NONE;
    }
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (!sp || !cr || sp > cr) goto bad;
    if (resp_parse_ll(p, (size_t)(sp - p), &slot) < 0 || slot < 0 || slot >= 16384) goto bad;
    const char *addr = sp + 1;
    const char *colon = NULL; /* the last one: IPv6 addresses contain colons */
    for (const char *q = addr; q < cr; q++)
        if (*q == ':') colon = q;
    /* the host may be "" (the node that answered) or "?" (no address to give): backend.c decides */
    if (!colon || (size_t)(colon - addr) >= sizeof(out->host)) goto bad;
    if (resp_parse_ll(colon + 1, (size_t)(cr - colon - 1), &port) < 0 || port <= 0 || port > 65535) goto bad;
    memcpy(out->host, addr, (size_t)(colon - addr));
    out->host[colon - addr] = '\0';
    out->slot = (unsigned)slot;
    out->port = (int)port;
    return out->kind;
bad:
    out->kind = REDIR_NONE;
    return REDIR_NONE;
}

long long resp_parse_invalidation(const char *p, size_t len, void (*each)(const char *key, size_t klen, void *ctx),
                                  void *ctx) {
    static const char head[] = ">2\r\n$10\r\ninvalidate\r\n";
    const size_t hl = sizeof(head) - 1;
    if (len < hl + 3 || memcmp(p, head, hl) != 0) return -1;
    const char *q = p + hl, *end = p + len, *cr;
    if (len == hl + 3 && memcmp(q, "_\r\n", 3) == 0) return RESP_INVALIDATE_ALL;
    long long n, kl;
    if (*q != '*' || !(cr = memchr(q, '\r', (size_t)(end - q))) || resp_parse_ll(q + 1, (size_t)(cr - q - 1), &n) < 0 ||
        n < 0 || cr + 1 >= end || cr[1] != '\n')
        return -1;
    /* checked whole first: a malformed push names no key at all */
    const char *first = cr + 2;
    q = first;
    for (long long i = 0; i < n; i++) {
        if (q >= end || *q != '$' || !(cr = memchr(q, '\r', (size_t)(end - q))) ||
            resp_parse_ll(q + 1, (size_t)(cr - q - 1), &kl) < 0 || kl < 0 || kl > end - cr - 4 || cr[1] != '\n' ||
            cr[2 + kl] != '\r' || cr[3 + kl] != '\n')
            return -1;
        q = cr + 4 + kl;
    }
    if (q != end) return -1;
    for (q = first; q < end;) {
        cr = memchr(q, '\r', (size_t)(end - q));
        resp_parse_ll(q + 1, (size_t)(cr - q - 1), &kl);
        each(cr + 2, (size_t)kl, ctx);
        q = cr + 4 + kl;
    }
    return n;
}
