/* Test helpers for TLS: certificates made with the openssl command, and a blocking TLS client that
 * speaks RESP (hiredis's reader on top of OpenSSL, as Debian's hiredis 0.14 has no TLS). */
#ifndef SLOTGATE_TEST_TLSCLIENT_H
#define SLOTGATE_TEST_TLSCLIENT_H

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <stddef.h>

/* In dir: ca.{crt,key}; server (CN localhost, SAN IP 127.0.0.1 and localhost), client and node
 * certificates signed by it; other-ca.crt and rogue.{crt,key}, a client certificate of another CA.
 * Aborts the test on failure. */
void tls_make_certs(const char *dir);
/* Signs a new certificate for "name" (files dir/name.crt, .key) with CN cn by dir's CA. */
void tls_sign(const char *dir, const char *name, const char *cn);

struct tconn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    redisReader *reader;
    char err[256];
};

/* Connects to 127.0.0.1:port and completes the handshake (CA checked; cert/key may be NULL). NULL with
 * the reason in err when it fails. */
struct tconn *tconn_open(int port, const char *ca, const char *cert, const char *key, char *err, size_t errlen);
void tconn_close(struct tconn *t);
/* Sends a command (hiredis format) and reads its reply; NULL on a connection error (reason in t->err). */
redisReply *tcmd(struct tconn *t, const char *fmt, ...);
int tsend(struct tconn *t, const char *fmt, ...); /* pipelining: send only */
redisReply *tread(struct tconn *t);               /* ... then read one reply */
/* Raw bytes: up to len within ms (0 on timeout or close); for RESP3 pushes hiredis 0.14 cannot parse. */
int tread_raw(struct tconn *t, char *buf, size_t len, int ms);
int twrite_raw(struct tconn *t, const char *buf, size_t len);
/* The subject CN of the certificate the server showed. */
void tconn_peer_cn(struct tconn *t, char *out, size_t len);

#endif
