/* See tls.h. The settings mean what they mean in Redis's tls.c: same defaults (TLSv1.2 and TLSv1.3,
 * client certificates required, a server-side session cache of 20480 sessions for 300 s). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/uio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_IOV_TLS 8

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *current[TLS_ROLES];

const char *tls_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error(), next;
    if (!e) return snprintf(buf, len, "%s", errno ? strerror(errno) : "unknown error"), buf;
    while ((next = ERR_get_error())) e = next; /* the last one is the most specific */
    ERR_error_string_n(e, buf, len);
    return buf;
}

static int password_cb(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pass = u;
    if (!pass) return 0;
    int n = (int)strlen(pass);
    if (n > size) n = size;
    memcpy(buf, pass, (size_t)n);
    return n;
}

/* "TLSv1.2 TLSv1.3" into SSL_OP_NO_* options for the versions left out; -1 if a word is unknown. */
static long protocol_options(const char *list, char *err, size_t errlen) {
    if (!list || !*list) return SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    static const struct {
        const char *name;
        long op;
    } v[] = {{"TLSv1", SSL_OP_NO_TLSv1},
             {"TLSv1.1", SSL_OP_NO_TLSv1_1},
             {"TLSv1.2", SSL_OP_NO_TLSv1_2},
             {"TLSv1.3", SSL_OP_NO_TLSv1_3}};
    long on = 0;
    char copy[128], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", list);
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        size_t i;
        for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
            if (!strcasecmp(t, v[i].name)) break;
        if (i == sizeof(v) / sizeof(v[0])) {
            snprintf(err, errlen, "tls-protocols: '%s' is not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3", t);
            return -1;
        }
        on |= v[i].op;
    }
    long off = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (!(on & v[i].op)) off |= v[i].op;
    return off;
}

SSL_CTX *tls_ctx_new(const struct tls_options *o, int server, char *err, size_t errlen) {
    char e[256];
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) return snprintf(err, errlen, "TLS: %s", tls_last_error(e, sizeof(e))), NULL;
    long off = protocol_options(o->protocols, err, errlen);
    if (off < 0) goto fail_quiet;
    SSL_CTX_set_options(ctx, (uint64_t)off | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (o->prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Whole pipelines in one read system call, not a header and a body per record. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (server) {
        if (o->session_caching) {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
            SSL_CTX_sess_set_cache_size(ctx, o->session_cache_size);
            SSL_CTX_set_timeout(ctx, (long)o->session_cache_timeout);
            SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"slotgate", 8);
        } else {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        }
        int mode = o->auth_clients == TLS_AUTH_YES        ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                   : o->auth_clients == TLS_AUTH_OPTIONAL ? SSL_VERIFY_PEER
                                                          : SSL_VERIFY_NONE;
        SSL_CTX_set_verify(ctx, mode, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (o->key_pass) {
        SSL_CTX_set_default_passwd_cb(ctx, password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)o->key_pass);
    }
    if (o->cert_file && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) <= 0) {
        snprintf(err, errlen, "cannot load certificate %s: %s", o->cert_file, tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    if (o->key_file && SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) <= 0) {
        snprintf(err, errlen, "cannot load private key %s: %s", o->key_file, tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    if (o->cert_file && o->key_file && SSL_CTX_check_private_key(ctx) <= 0) {
        snprintf(err, errlen, "private key %s does not match certificate %s: %s", o->key_file, o->cert_file,
                 tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL); /* the string is the caller's */
    if ((o->ca_file || o->ca_dir) && SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir) <= 0) {
        snprintf(err, errlen, "cannot load CA certificates %s: %s", o->ca_file ? o->ca_file : o->ca_dir,
                 tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) <= 0) {
        snprintf(err, errlen, "tls-ciphers: '%s': %s", o->ciphers, tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    if (o->ciphersuites && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) <= 0) {
        snprintf(err, errlen, "tls-ciphersuites: '%s': %s", o->ciphersuites, tls_last_error(e, sizeof(e)));
        goto fail_quiet;
    }
    return ctx;
fail_quiet:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_current_set(int role, SSL_CTX *ctx) {
    pthread_mutex_lock(&current_lock);
    SSL_CTX *old = current[role];
    current[role] = ctx;
    pthread_mutex_unlock(&current_lock);
    if (old) SSL_CTX_free(old); /* connections made with it hold their own reference */
}

SSL *tls_new(int role, int fd, const char *host) {
    pthread_mutex_lock(&current_lock);
    SSL *ssl = current[role] ? SSL_new(current[role]) : NULL;
    pthread_mutex_unlock(&current_lock);
    if (!ssl) return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    if (role == TLS_SERVER) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    unsigned char bin[16];
    if (host && *host && inet_pton(AF_INET, host, bin) != 1 && inet_pton(AF_INET6, host, bin) != 1) {
        /* A node announced by name: SNI, and the name must be the certificate's. Addresses are checked
         * against the CA only, as Redis's own cluster links do. */
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, host);
    }
    return ssl;
}

int tls_handshake(SSL *ssl, char *why, size_t whylen) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) return TLS_DONE;
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return TLS_WANT_WRITE;
    char buf[256];
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK)
        snprintf(why, whylen, "TLS handshake failed: certificate: %s", X509_verify_cert_error_string(vr));
    else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(why, whylen, "TLS handshake failed: %s", errno ? strerror(errno) : "connection closed");
    else
        snprintf(why, whylen, "TLS handshake failed: %s", tls_last_error(buf, sizeof(buf)));
    ERR_clear_error();
    return TLS_FAILED;
}

ssize_t tls_read(SSL *ssl, char *buf, size_t len, int *want_write) {
    ERR_clear_error();
    int rc = SSL_read(ssl, buf, len > 0x7fffffff ? 0x7fffffff : (int)len);
    if (rc > 0) return rc;
    int e = SSL_get_error(ssl, rc);
    switch (e) {
    case SSL_ERROR_ZERO_RETURN: return 0;       /* close_notify */
    case SSL_ERROR_WANT_WRITE: *want_write = 1; /* fall through */
    case SSL_ERROR_WANT_READ: errno = EAGAIN; return -1;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno == 0) return 0; /* closed without close_notify */
        if (errno == 0) errno = EPROTO;
        ERR_clear_error();
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

ssize_t tls_chain_write(struct pool *p, struct chain *ch, SSL *ssl) {
    struct iovec iov[MAX_IOV_TLS];
    int n = chain_iov(ch, iov, MAX_IOV_TLS); /* a link's bytes lie in another chain's chunks */
    ssize_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        while (off < iov[i].iov_len) {
            ERR_clear_error();
            int rc = SSL_write(ssl, (char *)iov[i].iov_base + off, (int)(iov[i].iov_len - off));
            if (rc <= 0) {
                int e = SSL_get_error(ssl, rc);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    errno = EAGAIN;
                } else {
                    if (errno == 0 || errno == EAGAIN) errno = EPIPE;
                    ERR_clear_error();
                    if (total == 0) total = -1;
                }
                goto done;
            }
            off += (size_t)rc;
            total += rc;
        }
    }
done:
    if (total > 0) chain_advance(p, ch, (size_t)total);
    if (total == 0 && ch->pending) errno = EAGAIN, total = -1;
    return total;
}

int tls_release_buffers(SSL *ssl) {
    if (!SSL_is_init_finished(ssl) || SSL_pending(ssl) > 0 || SSL_has_pending(ssl)) return 0;
    return SSL_free_buffers(ssl) == 1;
}

void tls_close(SSL *ssl) {
    if (!ssl) return;
    ERR_clear_error();
    if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl); /* best effort, never waits */
    ERR_clear_error();
    SSL_free(ssl);
}

void tls_describe(SSL *ssl, char *buf, size_t len) {
    snprintf(buf, len, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
