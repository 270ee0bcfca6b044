/* TLS with OpenSSL: contexts built from Redis's tls-* settings, swapped whole when certificates are
 * reloaded (a connection keeps the context it began with, so none is dropped), and the non-blocking
 * reads, writes and handshakes the event loops drive. tls.c. */
#ifndef SLOTGATE_TLS_H
#define SLOTGATE_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

enum { TLS_AUTH_NO = 0, TLS_AUTH_YES, TLS_AUTH_OPTIONAL }; /* tls-auth-clients */

struct tls_options {
    const char *cert_file, *key_file, *key_pass; /* the server's (or, for a client, the client's) */
    const char *ca_file, *ca_dir;
    int auth_clients;         /* TLS_AUTH_*: server side */
    const char *protocols;    /* "TLSv1.2 TLSv1.3"; NULL: TLSv1.2 and up */
    const char *ciphers;      /* TLSv1.2 and below */
    const char *ciphersuites; /* TLSv1.3 */
    int prefer_server_ciphers;
    int session_caching, session_cache_size, session_cache_timeout;
};

/* A context for accepting (server) or for connecting (client: peers verified against the CA). NULL
 * with the reason in err (file, and OpenSSL's words). */
SSL_CTX *tls_ctx_new(const struct tls_options *o, int server, char *err, size_t errlen);

/* The context connections start with now, shared by the threads; tls_current_set replaces it (the old
 * one is freed when its last connection ends). Index: TLS_SERVER, TLS_CLIENT. */
enum { TLS_SERVER = 0, TLS_CLIENT, TLS_ROLES };
void tls_current_set(int role, SSL_CTX *ctx);
/* A new connection on fd with the current context (accepting or connecting); NULL when out of memory
 * or none is set. For a client, host (a name, not an address) is sent as SNI and checked against the
 * peer's certificate. */
SSL *tls_new(int role, int fd, const char *host);

enum { TLS_DONE = 0, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAILED };
/* One step of the handshake; on TLS_FAILED, why says what went wrong. */
int tls_handshake(SSL *ssl, char *why, size_t whylen);
/* Reads what is there, into buf: >0 bytes, 0 the peer closed, -1 with errno (EAGAIN: nothing now;
 * ECONNRESET, EPROTO: the connection is done). *want_write is set when the read must wait until the
 * socket is writable. */
ssize_t tls_read(SSL *ssl, char *buf, size_t len, int *want_write);
/* Whether bytes the library read from the socket are still to be handed out (not visible to poll). */
static inline int tls_has_pending(SSL *ssl) { return SSL_pending(ssl) > 0 || SSL_has_pending(ssl); }
/* chain_write's TLS twin: writes pending bytes (one record per chunk), same return contract. */
ssize_t tls_chain_write(struct pool *p, struct chain *ch, SSL *ssl);
/* Frees the connection's record buffers if they hold nothing (an idle connection); OpenSSL makes them
 * again when needed. 1 when freed (or there were none). */
int tls_release_buffers(SSL *ssl);
/* Sends close_notify if it can (never waits) and frees. */
void tls_close(SSL *ssl);
/* The last OpenSSL error as text (empties the thread's queue). */
const char *tls_last_error(char *buf, size_t len);
/* Protocol and cipher of a connection ("TLSv1.3 TLS_AES_256_GCM_SHA384"). */
void tls_describe(SSL *ssl, char *buf, size_t len);

#endif
