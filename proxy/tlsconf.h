/* slotgate's TLS settings made into the contexts of lib/tls.h, again on SIGHUP and whenever one of the
 * certificate, key or CA files changes (a renewed Kubernetes Secret, cert-manager): a bad new file is
 * logged and the running context stays. tlsconf.c. */
#ifndef SLOTGATE_TLSCONF_H
#define SLOTGATE_TLSCONF_H

#include <ev.h>

#include "../conf/conf.h"

/* Builds the contexts c asks for (clients: tls-port; nodes: tls-cluster) and makes them current, both
 * or neither. -1 with the reason. */
int tlsconf_apply(const struct conf *c, char *err, size_t errlen);
/* Watches c's files (c must outlive the watch: the running configuration) once a second. */
void tlsconf_watch(struct ev_loop *loop, const struct conf *c);
void tlsconf_rearm(void); /* the files may be other ones now (SIGHUP): take their state as the new base */
void tlsconf_unwatch(struct ev_loop *loop);

#endif
