/* See tlsconf.h. */
#include "tlsconf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/log.h"
#include "../lib/tls.h"

static void options(const struct conf *c, int server, struct tls_options *o) {
    memset(o, 0, sizeof(*o));
    if (server || !c->tls_client_cert_file) { /* as Redis: the client side shows tls-cert-file unless told */
        o->cert_file = c->tls_cert_file, o->key_file = c->tls_key_file, o->key_pass = c->tls_key_file_pass;
    } else {
        o->cert_file = c->tls_client_cert_file, o->key_file = c->tls_client_key_file;
        o->key_pass = c->tls_client_key_file_pass;
    }
    o->ca_file = c->tls_ca_cert_file;
    o->ca_dir = c->tls_ca_cert_dir;
    o->auth_clients = c->tls_auth_clients;
    o->protocols = c->tls_protocols;
    o->ciphers = c->tls_ciphers;
    o->ciphersuites = c->tls_ciphersuites;
    o->prefer_server_ciphers = c->tls_prefer_server_ciphers;
    o->session_caching = c->tls_session_caching;
    o->session_cache_size = c->tls_session_cache_size;
    o->session_cache_timeout = c->tls_session_cache_timeout;
}

int tlsconf_apply(const struct conf *c, char *err, size_t errlen) {
    struct tls_options o;
    SSL_CTX *server = NULL, *client = NULL;
    if (c->tls_port) {
        options(c, 1, &o);
        if (!(server = tls_ctx_new(&o, 1, err, errlen))) return -1;
    }
    if (c->tls_cluster) {
        options(c, 0, &o);
        if (!(client = tls_ctx_new(&o, 0, err, errlen))) {
            if (server) SSL_CTX_free(server);
            return -1;
        }
    }
    tls_current_set(TLS_SERVER, server);
    tls_current_set(TLS_CLIENT, client);
    return 0;
}

/* File watching: each file's identity and times, compared once a second. A Secret mounted by Kubernetes
 * is replaced by swapping a symbolic link, which stat() follows. */
#define NFILES 7
static struct {
    ev_timer timer;
    const struct conf *c;
    char sig[NFILES][96];
} watch;

static void signature(const struct conf *c, char sig[NFILES][96]) {
    const char *files[NFILES] = {c->tls_cert_file,
                                 c->tls_key_file,
                                 c->tls_ca_cert_file,
                                 c->tls_client_cert_file,
                                 c->tls_client_key_file,
                                 c->tls_ca_cert_dir,
                                 NULL};
    memset(sig, 0, NFILES * sizeof(sig[0]));
    for (int i = 0; i < NFILES; i++) {
        struct stat st;
        if (!files[i] || stat(files[i], &st) < 0)
            snprintf(sig[i], 96, "-");
        else
            snprintf(sig[i], 96, "%llu:%llu:%lld:%ld.%09ld:%ld.%09ld", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino, (long long)st.st_size, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    }
}

static void on_watch(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)t;
    (void)revents;
    char now[NFILES][96];
    signature(watch.c, now);
    if (!memcmp(now, watch.sig, sizeof(now))) return;
    memcpy(watch.sig, now, sizeof(now));
    char err[512];
    if (tlsconf_apply(watch.c, err, sizeof(err)) < 0) {
        /* a renewal may write the certificate and the key one after the other: said, and tried again at
         * the next change */
        log_warning("TLS certificates changed on disk but were not reloaded, the running ones stay: %s", err);
        return;
    }
    log_notice("TLS certificates changed on disk: reloaded (connections open keep theirs)");
}

void tlsconf_watch(struct ev_loop *loop, const struct conf *c) {
    watch.c = c;
    signature(c, watch.sig);
    ev_timer_init(&watch.timer, on_watch, 1.0, 1.0);
    ev_timer_start(loop, &watch.timer);
}

void tlsconf_rearm(void) {
    if (watch.c) signature(watch.c, watch.sig);
}

void tlsconf_unwatch(struct ev_loop *loop) {
    if (watch.c) ev_timer_stop(loop, &watch.timer);
    tls_current_set(TLS_SERVER, NULL);
    tls_current_set(TLS_CLIENT, NULL);
}
