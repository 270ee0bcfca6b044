/* The control plane's connections to the nodes (probes, slot-map refresh): asynchronous, on a libev
 * loop, in plaintext or TLS (tls-cluster). Debian's hiredis 0.14 cannot speak TLS, so slotgate opens and
 * drives these sockets itself (with lib/tls.h, as the data path does) and keeps hiredis for what it does
 * well: formatting commands and parsing replies into redisReply trees. Its calling conventions are
 * hiredis's async ones, so the callers read the same. ctl.c. */
#ifndef SLOTGATE_CTL_H
#define SLOTGATE_CTL_H

#include <ev.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

struct ctl;
/* A reply, or NULL when the connection went first (or was freed). The reply is freed after the call. */
typedef void (*ctl_reply_fn)(struct ctl *c, redisReply *reply, void *priv);
/* ok: 1, or 0 with the reason in c->errstr. */
typedef void (*ctl_status_fn)(struct ctl *c, int ok);

struct ctl {
    void *data; /* the caller's */
    char errstr[320];
    struct ctl_impl *impl;
};

/* Starts connecting to ip:port (a numeric address); with tls, a TLS handshake follows (lib/tls.h's client
 * context; host, if a name, for SNI and the certificate check). on_connect is called once, connected or
 * not (a failed connection is freed after it); on_disconnect once a connected one ends (on error, after
 * ctl_disconnect, or at ctl_free). NULL with the reason in err if the socket cannot even be made. */
struct ctl *ctl_connect(struct ev_loop *loop, const char *ip, int port, int tls, const char *host,
                        ctl_status_fn on_connect, ctl_status_fn on_disconnect, void *data, char *err, size_t errlen);
/* Queues a command (hiredis's format: "AUTH %s", "CLUSTER SLOTS"); fn may be NULL. -1 if closing. */
int ctl_command(struct ctl *c, ctl_reply_fn fn, void *priv, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Ends the connection once the replies already asked for are in. */
void ctl_disconnect(struct ctl *c);
/* Ends it now: callbacks still waiting get NULL, then on_disconnect if it was connected. Safe from
 * within its own callbacks (done when they return). */
void ctl_free(struct ctl *c);
/* Replies that no command waits for (after SUBSCRIBE: its messages) go to fn instead of ending the
 * connection as a protocol error. */
void ctl_on_push(struct ctl *c, ctl_reply_fn fn, void *priv);
/* Stops calling on_disconnect (the caller is going away). */
void ctl_forget(struct ctl *c);

#endif
