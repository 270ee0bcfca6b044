/* See ctl.h. */
#include "ctl.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "../lib/tls.h"

enum { S_CONNECTING, S_HANDSHAKE, S_CONNECTED, S_DONE };

struct pending {
    struct pending *next;
    ctl_reply_fn fn;
    void *priv;
};

struct ctl_impl {
    struct ev_loop *loop;
    int fd, state;
    SSL *ssl;
    int tls, read_wants_write;
    ev_io rio, wio;
    redisReader *reader;
    char *out;
    size_t out_len, out_cap;
    struct pending *head, *tail;
    ctl_status_fn on_connect, on_disconnect;
    int in_callback, want_free, closing;
    ctl_reply_fn push_fn; /* replies no command waits for (a subscription's messages) */
    void *push_priv;
};

static void on_io(struct ev_loop *loop, ev_io *io, int revents);

static void teardown(struct ctl *c, int ok);

static void watch(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    int want_write = m->state == S_CONNECTING || m->out_len > 0 || m->read_wants_write;
    if (m->state == S_HANDSHAKE) want_write = m->read_wants_write; /* set from the handshake's wish */
    if (want_write && !ev_is_active(&m->wio)) ev_io_start(m->loop, &m->wio);
    if (!want_write && ev_is_active(&m->wio)) ev_io_stop(m->loop, &m->wio);
    int want_read = m->state != S_CONNECTING;
    if (want_read && !ev_is_active(&m->rio)) ev_io_start(m->loop, &m->rio);
}

struct ctl *ctl_connect(struct ev_loop *loop, const char *ip, int port, int tls, const char *host,
                        ctl_status_fn on_connect, ctl_status_fn on_disconnect, void *data, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(ip, ps, &hints, &res);
    if (rc != 0) return snprintf(err, errlen, "%s is not an address: %s", ip, gai_strerror(rc)), NULL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct ctl *c = calloc(1, sizeof(*c));
    struct ctl_impl *m = calloc(1, sizeof(*m));
    redisReader *reader = redisReaderCreate();
    SSL *ssl = tls && c && m && reader ? tls_new(TLS_CLIENT, fd, host) : NULL;
    if (!c || !m || !reader || (tls && !ssl)) {
        snprintf(err, errlen, tls && !ssl ? "cannot start TLS (no context, or out of memory)" : "out of memory");
        free(c), free(m);
        if (reader) redisReaderFree(reader);
        close(fd);
        return NULL;
    }
    c->impl = m;
    c->data = data;
    m->loop = loop;
    m->fd = fd;
    m->tls = tls;
    m->ssl = ssl;
    m->reader = reader;
    m->on_connect = on_connect;
    m->on_disconnect = on_disconnect;
    ev_io_init(&m->rio, on_io, fd, EV_READ);
    ev_io_init(&m->wio, on_io, fd, EV_WRITE);
    m->rio.data = m->wio.data = c;
    m->state = S_CONNECTING;
    watch(c);
    return c;
}

int ctl_command(struct ctl *c, ctl_reply_fn fn, void *priv, const char *fmt, ...) {
    struct ctl_impl *m = c->impl;
    if (m->closing || m->want_free || m->state == S_DONE) return -1;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    struct pending *p = calloc(1, sizeof(*p));
    if (len < 0 || !p) return free(cmd), free(p), -1;
    if (m->out_len + (size_t)len > m->out_cap) {
        size_t cap = (m->out_len + (size_t)len) * 2;
        char *n = realloc(m->out, cap);
        if (!n) return free(cmd), free(p), -1;
        m->out = n, m->out_cap = cap;
    }
    memcpy(m->out + m->out_len, cmd, (size_t)len);
    m->out_len += (size_t)len;
    free(cmd);
    p->fn = fn;
    p->priv = priv;
    if (m->tail)
        m->tail->next = p;
    else
        m->head = p;
    m->tail = p;
    if (m->state == S_CONNECTED) watch(c);
    return 0;
}

/* Callbacks run with in_callback set: a ctl_free from inside one is done after it returns. */
static void call_reply(struct ctl *c, struct pending *p, redisReply *r) {
    if (!p->fn) return;
    c->impl->in_callback++;
    p->fn(c, r, p->priv);
    c->impl->in_callback--;
}

static void teardown(struct ctl *c, int ok) {
    struct ctl_impl *m = c->impl;
    int was_connected = m->state == S_CONNECTED;
    m->state = S_DONE;
    ev_io_stop(m->loop, &m->rio);
    ev_io_stop(m->loop, &m->wio);
    m->in_callback++; /* nothing below frees it twice */
    for (struct pending *p; (p = m->head);) {
        m->head = p->next;
        if (p->fn) p->fn(c, NULL, p->priv);
        free(p);
    }
    m->tail = NULL;
    if (was_connected && m->on_disconnect)
        m->on_disconnect(c, ok);
    else if (!was_connected && m->on_connect && !m->want_free)
        m->on_connect(c, 0);
    m->in_callback--;
    if (m->ssl) tls_close(m->ssl);
    close(m->fd);
    redisReaderFree(m->reader);
    free(m->out);
    free(m);
    free(c);
}

/* -1: c is gone (or will be once the callback running returns): touch nothing more. */
static int fail(struct ctl *c, const char *why) {
    if (why) snprintf(c->errstr, sizeof(c->errstr), "%s", why);
    if (c->impl->in_callback) {
        c->impl->want_free = 1;
        return -1;
    }
    teardown(c, 0);
    return -1;
}

void ctl_free(struct ctl *c) {
    if (!c) return;
    struct ctl_impl *m = c->impl;
    if (m->in_callback) {
        m->want_free = 1;
        return;
    }
    if (m->state != S_CONNECTED) m->on_connect = NULL; /* given up on by its owner: no word back */
    teardown(c, 1);
}

void ctl_on_push(struct ctl *c, ctl_reply_fn fn, void *priv) {
    c->impl->push_fn = fn;
    c->impl->push_priv = priv;
}

void ctl_forget(struct ctl *c) {
    if (c) c->impl->on_disconnect = NULL, c->impl->on_connect = NULL;
}

void ctl_disconnect(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    m->closing = 1;
    if (!m->head) ctl_free(c);
}

static int connected(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    m->state = S_CONNECTED;
    if (m->on_connect) {
        m->in_callback++;
        m->on_connect(c, 1);
        m->in_callback--;
    }
    if (m->want_free) return teardown(c, 1), -1;
    watch(c);
    return 0;
}

static int handshake(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    char why[300];
    int rc = tls_handshake(m->ssl, why, sizeof(why));
    if (rc == TLS_FAILED) return fail(c, why);
    m->read_wants_write = rc == TLS_WANT_WRITE;
    if (rc == TLS_DONE) {
        m->read_wants_write = 0;
        return connected(c);
    }
    watch(c);
    return 0;
}

static int flush_out(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    while (m->out_len) {
        ssize_t n;
        if (m->ssl) {
            ERR_clear_error();
            int rc = SSL_write(m->ssl, m->out, (int)m->out_len);
            if (rc <= 0) {
                int e = SSL_get_error(m->ssl, rc);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
                char buf[256];
                return fail(c, tls_last_error(buf, sizeof(buf)));
            }
            n = rc;
        } else {
            n = send(m->fd, m->out, m->out_len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            if (n <= 0) return fail(c, n < 0 ? strerror(errno) : "connection closed");
        }
        memmove(m->out, m->out + n, m->out_len - (size_t)n);
        m->out_len -= (size_t)n;
    }
    watch(c);
    return 0;
}

static void read_in(struct ctl *c) {
    struct ctl_impl *m = c->impl;
    char buf[16384];
    for (;;) {
        ssize_t n;
        if (m->ssl) {
            int ww = 0;
            n = tls_read(m->ssl, buf, sizeof(buf), &ww);
            if (ww) m->read_wants_write = 1, watch(c);
        } else {
            n = recv(m->fd, buf, sizeof(buf), 0);
        }
        if (n == 0) {
            fail(c, "connection closed by the node");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            fail(c, strerror(errno));
            return;
        }
        if (redisReaderFeed(m->reader, buf, (size_t)n) != REDIS_OK) {
            fail(c, "protocol error");
            return;
        }
        if (!m->ssl || !tls_has_pending(m->ssl)) break;
    }
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(m->reader, &reply) != REDIS_OK) {
            fail(c, m->reader->errstr);
            return;
        }
        if (!reply) break;
        struct pending *p = m->head;
        if (!p && m->push_fn) { /* a subscription's message */
            struct pending push = {.fn = m->push_fn, .priv = m->push_priv};
            call_reply(c, &push, reply);
            freeReplyObject(reply);
            if (m->want_free) return teardown(c, 1);
            continue;
        }
        if (!p) { /* a reply nobody asked for */
            freeReplyObject(reply);
            fail(c, "unexpected reply");
            return;
        }
        m->head = p->next;
        if (!m->head) m->tail = NULL;
        call_reply(c, p, reply);
        free(p);
        freeReplyObject(reply);
        if (m->want_free) return teardown(c, 1);
    }
    if (m->closing && !m->head) teardown(c, 1);
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    struct ctl *c = io->data;
    struct ctl_impl *m = c->impl;
    if (m->state == S_CONNECTING) {
        if (!(revents & EV_WRITE)) return;
        int err = 0;
        socklen_t sl = sizeof(err);
        if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0) err = errno;
        if (err) {
            fail(c, strerror(err));
            return;
        }
        if (!m->tls) {
            connected(c);
            return;
        }
        m->state = S_HANDSHAKE;
        handshake(c);
        return;
    }
    if (m->state == S_HANDSHAKE) {
        handshake(c);
        return;
    }
    if (m->read_wants_write && (revents & EV_WRITE)) m->read_wants_write = 0, revents |= EV_READ;
    if ((revents & EV_WRITE) && flush_out(c) < 0) return; /* gone */
    if (revents & EV_READ) read_in(c);
}
