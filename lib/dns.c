/* See dns.h. A fixed cache of names (no allocation after start), a queue of names to resolve and
 * two resolver threads: one slow name (a DNS server timing out) does not hold up every other name.
 * At exit they are joined for at most a second: a thread stuck in getaddrinfo is left behind. */
#include "dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define CACHE_SIZE   256
#define NAME_LEN     256
#define THREADS      2
#define NEGATIVE_TTL 1.0 /* a failed lookup is answered from the cache this long */
#define FORGET_MIN   1.0 /* an answer younger than this is not thrown away by dns_forget */

struct entry {
    char name[NAME_LEN];
    int used;
    int busy;      /* queued or being resolved */
    int have;      /* an answer (addresses) is stored */
    int failed;    /* the last lookup failed */
    int forgotten; /* a connection failed: ask again before using it */
    double at;     /* when the last lookup finished */
    double last_used;
    int n;
    struct sockaddr_storage addr[DNS_MAX_ADDRS];
    socklen_t len[DNS_MAX_ADDRS];
    char err[96];
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int started, stopping;
    pthread_t threads[THREADS];
    int nthreads;
    double ttl;
    struct entry cache[CACHE_SIZE];
    int queue[CACHE_SIZE], qhead, qlen;
    struct watcher {
        struct ev_loop *loop;
        ev_async *a;
    } * watchers; /* every loop to wake: the refresher's and each worker's, however many (threads) */
    int nwatchers, cap_watchers;
    unsigned long long lookups, failures, hits;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .ttl = 5.0};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_port(struct sockaddr_storage *a, int port) {
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
    else if (a->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int literal(const char *host, int port, struct dns_addrs *out) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr[0];
    memset(&out->addr[0], 0, sizeof(out->addr[0]));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        out->len[0] = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        out->len[0] = sizeof(*s6);
    } else {
        return 0;
    }
    set_port(&out->addr[0], port);
    out->n = 1;
    return 1;
}

int dns_is_literal(const char *host) {
    struct dns_addrs scratch;
    return literal(host, 0, &scratch);
}

void dns_addr_string(const struct sockaddr_storage *a, char *buf, size_t len) {
    const void *src = a->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
                                              : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
    if (!inet_ntop(a->ss_family, src, buf, (socklen_t)len)) snprintf(buf, len, "?");
}

static void notify_all(void) {
    for (int i = 0; i < R.nwatchers; i++) ev_async_send(R.watchers[i].loop, R.watchers[i].a);
}

static void resolve_one(struct entry *e, const char *name) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM; /* no AI_ADDRCONFIG: it hides 127.x names where only lo is up */
    int rc = getaddrinfo(name, NULL, &hints, &res);
    pthread_mutex_lock(&R.mu);
    e->busy = 0;
    e->at = now_mono();
    e->forgotten = 0;
    R.lookups++;
    if (rc != 0) {
        e->failed = 1;
        R.failures++;
        snprintf(e->err, sizeof(e->err), "%s", rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
    } else {
        int n = 0;
        for (struct addrinfo *ai = res; ai && n < DNS_MAX_ADDRS; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
            int dup = 0;
            for (int k = 0; k < n && !dup; k++)
                dup = e->len[k] == ai->ai_addrlen && !memcmp(&e->addr[k], ai->ai_addr, ai->ai_addrlen);
            if (dup) continue;
            memset(&e->addr[n], 0, sizeof(e->addr[n]));
            memcpy(&e->addr[n], ai->ai_addr, ai->ai_addrlen);
            e->len[n++] = ai->ai_addrlen;
        }
        e->n = n;
        e->have = n > 0;
        e->failed = n == 0;
        if (!n) snprintf(e->err, sizeof(e->err), "no IPv4 or IPv6 address");
    }
    notify_all();
    pthread_mutex_unlock(&R.mu);
    if (res) freeaddrinfo(res);
    if (rc != 0) log_verbose("resolving %s failed: %s", name, gai_strerror(rc));
}

static void *resolver_main(void *arg) {
    (void)arg;
    char name[NAME_LEN];
    pthread_mutex_lock(&R.mu);
    for (;;) {
        while (!R.qlen && !R.stopping) pthread_cond_wait(&R.cond, &R.mu);
        if (R.stopping) break;
        int i = R.queue[R.qhead];
        R.qhead = (R.qhead + 1) % CACHE_SIZE;
        R.qlen--;
        memcpy(name, R.cache[i].name, sizeof(name));
        pthread_mutex_unlock(&R.mu);
        resolve_one(&R.cache[i], name);
        pthread_mutex_lock(&R.mu);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

void dns_init(double ttl) {
    pthread_mutex_lock(&R.mu);
    R.ttl = ttl > 0 ? ttl : 5.0;
    int start = !R.started;
    R.started = 1;
    R.stopping = 0;
    pthread_mutex_unlock(&R.mu);
    for (int i = 0; start && i < THREADS; i++)
        if (pthread_create(&R.threads[R.nthreads], NULL, resolver_main, NULL) == 0) R.nthreads++;
}

void dns_shutdown(void) {
    pthread_mutex_lock(&R.mu);
    R.stopping = 1;
    R.nwatchers = 0;
    free(R.watchers);
    R.watchers = NULL;
    R.cap_watchers = 0;
    pthread_cond_broadcast(&R.cond);
    pthread_mutex_unlock(&R.mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    for (int i = 0; i < R.nthreads; i++)
        if (pthread_timedjoin_np(R.threads[i], NULL, &until) != 0) pthread_detach(R.threads[i]);
    R.nthreads = 0;
    R.started = 0;
}

/* With the lock held. */
static void enqueue(struct entry *e) {
    if (e->busy || R.qlen == CACHE_SIZE) return;
    e->busy = 1;
    R.queue[(R.qhead + R.qlen) % CACHE_SIZE] = (int)(e - R.cache);
    R.qlen++;
    pthread_cond_signal(&R.cond);
}

/* With the lock held: the entry for name, or a new one in place of the least recently used idle one. */
static struct entry *find(const char *name, int create) {
    struct entry *victim = NULL;
    for (int i = 0; i < CACHE_SIZE; i++) {
        struct entry *e = &R.cache[i];
        if (e->used && strcmp(e->name, name) == 0) return e;
        if (!create || e->busy) continue;
        if (!victim || !e->used || (victim->used && e->last_used < victim->last_used)) victim = e;
    }
    if (!victim) return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    snprintf(victim->name, sizeof(victim->name), "%s", name);
    return victim;
}

int dns_lookup(const char *host, int port, double max_age, struct dns_addrs *out, char *err, size_t errlen) {
    if (literal(host, port, out)) return DNS_OK;
    if (strlen(host) >= NAME_LEN) {
        snprintf(err, errlen, "host name too long");
        return DNS_FAILED;
    }
    double now = now_mono();
    int rc;
    pthread_mutex_lock(&R.mu);
    struct entry *e = find(host, 1);
    if (!e) {
        snprintf(err, errlen, "resolver busy");
        rc = DNS_FAILED;
        goto out;
    }
    e->last_used = now;
    double limit = max_age >= 0 && max_age < R.ttl ? max_age : R.ttl;
    double age = now - e->at;
    if (e->have && !e->failed && !e->forgotten && age < limit) {
        if (age > R.ttl * 0.75) enqueue(e); /* refreshed before it expires: users never wait */
        out->n = e->n;
        for (int i = 0; i < e->n; i++) {
            out->addr[i] = e->addr[i];
            out->len[i] = e->len[i];
            set_port(&out->addr[i], port);
        }
        R.hits++;
        rc = DNS_OK;
    } else if (e->failed && !e->busy && age < NEGATIVE_TTL) {
        snprintf(err, errlen, "%s", e->err);
        rc = DNS_FAILED;
    } else {
        if (!R.started) {
            snprintf(err, errlen, "no resolver running");
            rc = DNS_FAILED;
            goto out;
        }
        enqueue(e);
        rc = DNS_PENDING;
    }
out:
    pthread_mutex_unlock(&R.mu);
    return rc;
}

void dns_forget(const char *host) {
    if (dns_is_literal(host)) return;
    double now = now_mono();
    pthread_mutex_lock(&R.mu);
    struct entry *e = find(host, 0);
    if (e && e->have && now - e->at >= FORGET_MIN) e->forgotten = 1;
    pthread_mutex_unlock(&R.mu);
}

void dns_watch(struct ev_loop *loop, ev_async *a) {
    pthread_mutex_lock(&R.mu);
    if (R.nwatchers == R.cap_watchers) {
        int cap = R.cap_watchers ? R.cap_watchers * 2 : 16;
        struct watcher *w = realloc(R.watchers, sizeof(*w) * (size_t)cap);
        if (w) R.watchers = w, R.cap_watchers = cap;
    }
    if (R.nwatchers < R.cap_watchers) {
        R.watchers[R.nwatchers].loop = loop;
        R.watchers[R.nwatchers].a = a;
        R.nwatchers++;
    } else {
        log_warning("name resolution: out of memory registering a loop; its connections waiting for a name find the "
                    "answer at their next attempt");
    }
    pthread_mutex_unlock(&R.mu);
}

void dns_unwatch(ev_async *a) {
    pthread_mutex_lock(&R.mu);
    for (int i = 0; i < R.nwatchers; i++) {
        if (R.watchers[i].a != a) continue;
        R.watchers[i] = R.watchers[--R.nwatchers];
        break;
    }
    pthread_mutex_unlock(&R.mu);
}

void dns_get_stats(struct dns_stats *s) {
    pthread_mutex_lock(&R.mu);
    s->lookups = R.lookups;
    s->failures = R.failures;
    s->cache_hits = R.hits;
    s->entries = 0;
    for (int i = 0; i < CACHE_SIZE; i++) s->entries += R.cache[i].used;
    pthread_mutex_unlock(&R.mu);
}
