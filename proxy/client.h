/* Client connections: read, parse, plan and send; replies written back in request order. client.c. */
#ifndef SLOTGATE_CLIENT_H
#define SLOTGATE_CLIENT_H

#include <ev.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "../router/resp.h"
#include "../router/txn.h"
#include "req.h"
#include "subs.h"
#include "tracking.h"

struct backend;

struct client {
    struct worker *w;
    struct client *prev, *next; /* worker's client list */
    uint64_t id;
    ev_io rio, wio;
    struct ibuf in;
    struct resp_request parser;
    struct req_fifo queue; /* its requests in the order their replies go out (through qnext) */
    uint32_t nqueued;
    int fd;
    struct chain out;
    struct chain early;                                 /* replies that came before the ones ahead of them */
    uint8_t is_dirty, is_closing, is_closed, is_paused; /* flags packed: an idle client's size counts */
    uint8_t free_when_gone;                             /* io_uring: freed once the kernel let go of it */
    uint8_t eof_seen;                                   /* io_uring: its end came; closed once the flush ran */
    struct uconn *uc;                                   /* io-engine io_uring, plaintext: its socket there */
    struct client *next_dirty;
    char addr[64];
    uint8_t laddr_ip[16]; /* the address the client connected to (what CLUSTER SLOTS announces), */
    uint16_t laddr_port;  /* kept in binary (an idle client's size counts): client_laddr() */
    uint8_t laddr_v6;
    char *name;           /* CLIENT SETNAME */
    struct acl_user *acl; /* authenticated as (at first the default user): in the worker's users (users.h) */
    uint8_t is_authed, is_readonly;
    uint8_t resp3;               /* HELLO 3: its replies are RESP3, pub/sub messages are pushes */
    uint8_t sub_mode;            /* subscribed, as Redis sees it: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET */
    uint8_t reply_mode;          /* CLIENT REPLY: 0 on, REPLY_OFF, REPLY_SKIP_NEXT */
    struct client_tracking *trk; /* CLIENT TRACKING (tracking.h): NULL unless it is on */
    double created, last_cmd;
    /* Dedicated connections and their state (dedicated.c). */
    struct backend *txn, *blocking, *sub, *ssub;
    struct txn_state txn_state; /* MULTI/WATCH (router/txn.h) */
    struct chain txn_queued;    /* commands queued after MULTI before its node is known (first key) */
    struct chain push;          /* pushes (pub/sub messages, invalidations) waiting for replies ahead of them */
    struct req *push_after;     /* ... the replies up to this request's */
    struct sub_set subs;        /* its channels, patterns and shard channels (subs.h) */
    struct backend **ks;        /* keyspace notifications: a subscribed mirror on each master (dedicated.c) */
    int nks;
    uint8_t ks_mode; /* subscribed to node-local channels (__keyspace@, __keyevent@): the mirrors deliver them */
    struct backend **scripts; /* DED_SCRIPT connections, one per node used */
    int nscripts, scripts_cap;
    struct backend *streaming; /* streams a large reply to this client; paused while its output is full */
    /* A large last argument streamed to its node as it arrives (upload.c). */
    struct req *upload;           /* being sent */
    size_t upload_left;           /* bytes of it still to come from the client */
    struct req *upload_barrier;   /* sent, not yet answered: the next command waits */
    struct req *sub_barrier;      /* a pub/sub command in flight: the next waits, as the mode may change */
    uint8_t upload_wait;          /* an upload waits for the earlier requests' replies */
    uint8_t upload_paused;        /* reading paused while the node takes the upload slower */
    uint8_t resume_parse;         /* a wait ended: parse what is buffered at the next flush */
    double obl_soft_since;        /* over its soft output limit since (client-output-buffer-limit), or 0 */
    uint32_t read_seq;            /* reads so far: requests carry the one they came in */
    uint32_t done_batch;          /* the read of the last request answered */
    uint8_t flush_now;            /* a request was parked: write what is ready without waiting */
    uint8_t tls_handshaking;      /* a TLS client whose handshake is not done: nothing else is read yet */
    uint8_t tls_read_wants_write; /* a TLS read needs the socket writable first */
    uint8_t tls_buffers;          /* OpenSSL holds record buffers for it (freed once it is idle: worker.c) */
    const char *tls_deny;         /* said (then closed) once its handshake is done: protected mode, maxclients */
    struct ssl_st *ssl;           /* TLS clients (tls-port): its connection (lib/tls.h), else NULL */
};

enum { REPLY_OFF = 1, REPLY_SKIP_NEXT }; /* client.reply_mode */

/* The address the client connected to, "host:port" (with_port 0: the host alone). */
void client_laddr(const struct client *c, char *buf, size_t len, int with_port);

/* A new client on fd; tls: it came to tls-port, deny: a -ERR line it gets (then it is closed) once its
 * TLS handshake is done. */
void client_accept(struct worker *w, int fd, const char *addr, int tls, const char *deny);
void client_enqueue(struct client *c, struct req *r); /* the client's next reply will be r's */
void client_flush(struct client *c);
/* ACL LOG's client-info: "id=... addr=... laddr=... name=... user=...". */
void client_acl_info(const struct client *c, char *buf, size_t len);
/* A push for the client (a pub/sub message, an invalidation): written after the replies to the requests it
 * has sent so far, before those of the requests it sends after. -1 when out of memory. */
int client_push(struct client *c, const char *p, size_t len);
void client_free(struct client *c);
void client_close(struct client *c);
/* Delivers a request's reply (raw RESP bytes), keeping the client's replies in request order. */
void req_reply(struct worker *w, struct req *r, const char *reply, size_t len);
void req_reply_error(struct worker *w, struct req *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A large bulk reply passed on in pieces as it arrives (r at the head of its client's queue). */
void req_stream_begin(struct worker *w, struct req *r, long long size);          /* size: the bulk's length */
int req_stream_data(struct worker *w, struct req *r, const char *p, size_t len); /* -1: client closed */
void req_stream_end(struct worker *w, struct req *r);

/* Reading on or off (the readiness watcher, or the ring's receive). */
void client_reading(struct client *c, int on);

#endif
