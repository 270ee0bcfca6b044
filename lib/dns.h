/* Name resolution that never blocks an event loop. Hostnames (seeds, names announced by the cluster
 * with cluster-announce-hostname, names in MOVED/ASK) are resolved by a small pool of resolver threads
 * with the system's resolver (getaddrinfo: /etc/hosts, search domains and ndots as the pod's
 * resolv.conf says, like every other program on the host); answers are cached for a bounded time.
 *
 * A caller asks with dns_lookup(): an address literal or a fresh enough cached answer comes back at
 * once; otherwise a lookup is started and DNS_PENDING returned, and every loop registered with
 * dns_watch() is woken (ev_async) when any lookup finishes, to ask again. */
#ifndef SLOTGATE_DNS_H
#define SLOTGATE_DNS_H

#include <ev.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS 8

enum { DNS_OK = 0, DNS_PENDING = 1, DNS_FAILED = -1 };

struct dns_addrs {
    int n;
    struct sockaddr_storage addr[DNS_MAX_ADDRS]; /* with the port asked for */
    socklen_t len[DNS_MAX_ADDRS];
};

struct dns_stats {
    unsigned long long lookups, failures, cache_hits;
    int entries;
};

/* ttl: how long an answer is used (seconds); it is refreshed in the background once older. */
void dns_init(double ttl);
void dns_shutdown(void);

/* max_age < 0: the cache's own lifetime; otherwise an answer older than max_age seconds is not used
 * (seeds at a rediscovery ask with 1 s: a Service's members change). err gets the resolver's reason
 * on DNS_FAILED. */
int dns_lookup(const char *host, int port, double max_age, struct dns_addrs *out, char *err, size_t errlen);

/* A connection to one of host's addresses failed: its next lookup asks the resolver again (at most
 * once a second per name). A no-op for address literals. */
void dns_forget(const char *host);

/* 1 when host is an IPv4 or IPv6 address literal (needs no resolver). */
int dns_is_literal(const char *host);

/* Formats an address without its port ("127.0.0.1", "::1"). */
void dns_addr_string(const struct sockaddr_storage *a, char *buf, size_t len);

void dns_watch(struct ev_loop *loop, ev_async *a);
void dns_unwatch(ev_async *a);
void dns_get_stats(struct dns_stats *s);

#endif
