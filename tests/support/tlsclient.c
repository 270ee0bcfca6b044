/* See tlsclient.h. */
#include "tlsclient.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ck_assert_msg(system(line) == 0, "failed: %s", line);
}

void tls_sign(const char *dir, const char *name, const char *cn) {
    sh("cd %s && openssl req -new -nodes -newkey rsa:2048 -keyout %s.key.new -out %s.csr -subj '/CN=%s' 2>/dev/null &&"
       " printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > %s.ext &&"
       " openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out %s.crt.new -days 2"
       " -extfile %s.ext 2>/dev/null && mv %s.key.new %s.key && mv %s.crt.new %s.crt",
       dir, name, name, cn, name, name, name, name, name, name, name, name);
}

void tls_make_certs(const char *dir) {
    sh("mkdir -p %s && cd %s && openssl req -x509 -new -nodes -newkey rsa:2048 -keyout ca.key -out ca.crt -days 2"
       " -subj '/CN=slotgate test CA' 2>/dev/null",
       dir, dir);
    tls_sign(dir, "server", "localhost");
    tls_sign(dir, "client", "client");
    tls_sign(dir, "node", "localhost");
    sh("cd %s && openssl req -x509 -new -nodes -newkey rsa:2048 -keyout other-ca.key -out other-ca.crt -days 2"
       " -subj '/CN=another CA' 2>/dev/null && openssl req -new -nodes -newkey rsa:2048 -keyout rogue.key"
       " -out rogue.csr -subj '/CN=rogue' 2>/dev/null && openssl x509 -req -in rogue.csr -CA other-ca.crt"
       " -CAkey other-ca.key -CAcreateserial -out rogue.crt -days 2 2>/dev/null",
       dir);
}

/* A signal (the SIGCHLD of a system() on another thread of the test) interrupts a blocking call: that is
 * not the connection failing. */
static int interrupted(struct tconn *t, int rc) {
    int e = SSL_get_error(t->ssl, rc);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE || (e == SSL_ERROR_SYSCALL && errno == EINTR);
}

struct tconn *tconn_open(int port, const char *ca, const char *cert, const char *key, char *err, size_t errlen) {
    struct tconn *t = calloc(1, sizeof(*t));
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {10, 0};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(t->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        goto fail;
    }
    t->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1 ||
        (cert && SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) ||
        (key && SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1)) {
        snprintf(err, errlen, "loading certificates: %s", ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    t->ssl = SSL_new(t->ctx);
    SSL_set_fd(t->ssl, t->fd);
    int rc;
    do errno = 0, rc = SSL_connect(t->ssl);
    while (rc != 1 && interrupted(t, rc));
    if (rc != 1) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "handshake: %s", e ? ERR_reason_error_string(e) : "connection closed");
        goto fail;
    }
    /* TLS 1.3: a server that refuses the client's certificate says so after the client's handshake is
     * done, with the first read: a PING here makes that show as a failed open */
    t->reader = redisReaderCreate();
    redisReply *r = tcmd(t, "PING");
    if (!r) {
        snprintf(err, errlen, "%s", t->err);
        goto fail;
    }
    freeReplyObject(r);
    return t;
fail:
    ERR_clear_error();
    tconn_close(t);
    return NULL;
}

void tconn_close(struct tconn *t) {
    if (!t) return;
    if (t->ssl) SSL_free(t->ssl);
    if (t->ctx) SSL_CTX_free(t->ctx);
    if (t->reader) redisReaderFree(t->reader);
    if (t->fd >= 0) close(t->fd);
    free(t);
}

int twrite_raw(struct tconn *t, const char *buf, size_t len) {
    while (len) {
        errno = 0;
        int n = SSL_write(t->ssl, buf, (int)len);
        if (n <= 0 && interrupted(t, n)) continue;
        if (n <= 0) return snprintf(t->err, sizeof(t->err), "write failed"), -1;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

static int vsend(struct tconn *t, const char *fmt, va_list ap) {
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    if (len < 0) return -1;
    int rc = twrite_raw(t, cmd, (size_t)len);
    free(cmd);
    return rc;
}

int tsend(struct tconn *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vsend(t, fmt, ap);
    va_end(ap);
    return rc;
}

redisReply *tread(struct tconn *t) {
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(t->reader, &reply) != REDIS_OK)
            return snprintf(t->err, sizeof(t->err), "protocol error"), NULL;
        if (reply) return reply;
        char buf[16384];
        errno = 0;
        int n = SSL_read(t->ssl, buf, sizeof(buf));
        if (n <= 0 && interrupted(t, n)) continue;
        if (n <= 0) {
            unsigned long e = ERR_get_error();
            snprintf(t->err, sizeof(t->err), "read: %s", e ? ERR_reason_error_string(e) : "connection closed");
            ERR_clear_error();
            return NULL;
        }
        redisReaderFeed(t->reader, buf, (size_t)n);
    }
}

redisReply *tcmd(struct tconn *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vsend(t, fmt, ap);
    va_end(ap);
    return rc < 0 ? NULL : tread(t);
}

int tread_raw(struct tconn *t, char *buf, size_t len, int ms) {
    if (SSL_pending(t->ssl) == 0) {
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        if (poll(&p, 1, ms) <= 0) return 0;
    }
    int n = SSL_read(t->ssl, buf, (int)len);
    return n > 0 ? n : 0;
}

void tconn_peer_cn(struct tconn *t, char *out, size_t len) {
    out[0] = '\0';
    X509 *c = SSL_get1_peer_certificate(t->ssl);
    if (!c) return;
    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)len);
    X509_free(c);
}
