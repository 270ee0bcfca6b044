/* See load.h. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

static int max_seconds_of(struct load *l) { return (int)(l->max_keys >> 40); }

static void *run(void *arg) {
    struct load *l = arg;
    long long limit = l->max_keys & ((1LL << 40) - 1), end = now_ms() + max_seconds_of(l) * 1000LL;
    redisContext *c = connect_port(l->port);
    if (!c) {
        snprintf(l->first_error, sizeof(l->first_error), "cannot connect");
        return NULL;
    }
    long long last_reply = now_ms(), next = 0;
    while (!l->stop && next + l->batch < limit && now_ms() < end) {
        int n = 0;
        long long first = next;
        for (int i = 0; i < l->batch; i++, n++) { /* every 4th command reads back an earlier key */
            if (i % 4 == 3 && first > 0)
                redisAppendCommand(c, "GET ha:%lld", (next * 7919) % first);
            else
                redisAppendCommand(c, "SET ha:%lld %lld", next, next), next++;
        }
        long long at = first;
        for (int i = 0; i < n; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                snprintf(l->first_error, sizeof(l->first_error), "connection: %s", c->errstr);
                l->errors++;
                redisFree(c);
                return NULL;
            }
            long long t = now_ms();
            if (t - last_reply > l->longest_stall_ms) l->longest_stall_ms = t - last_reply;
            last_reply = t;
            l->ops++;
            int is_get = i % 4 == 3 && first > 0;
            if (r->type == REDIS_REPLY_ERROR) {
                if (!l->errors) snprintf(l->first_error, sizeof(l->first_error), "%s", r->str);
                snprintf(l->last_error, sizeof(l->last_error), "%s", r->str);
                l->errors++;
            } else if (!is_get) {
                l->acked[at] = 1;
                l->written++;
            }
            if (!is_get) at++;
            freeReplyObject(r);
        }
        sleep_ms(5); /* a steady load (about 10k ops/s), not a stress test: the cluster must have room to fail over */
    }
    redisFree(c);
    return NULL;
}

void load_start(struct load *l, int port, int batch, long long max_keys, int max_seconds) {
    memset(l, 0, sizeof(*l));
    l->port = port;
    l->batch = batch;
    l->acked = calloc((size_t)max_keys, 1);
    l->max_keys = max_keys | ((long long)max_seconds << 40);
    pthread_create(&l->thread, NULL, run, l);
}

void load_stop(struct load *l) {
    l->stop = 1;
    pthread_join(l->thread, NULL);
}

static int reads_back(redisContext *c, long long i) {
    redisReply *r = redisCommand(c, "GET ha:%lld", i);
    int ok = r && r->type == REDIS_REPLY_STRING && atoll(r->str) == i;
    if (r) freeReplyObject(r);
    return ok;
}

long long load_verify(struct load *l, int port, int (*direct_port)(const char *key), long long *wrong) {
    redisContext *c = connect_port(port);
    long long limit = l->max_keys & ((1LL << 40) - 1), redis_lost = 0;
    *wrong = 0;
    for (long long i = 0; i < limit; i++) {
        if (!l->acked[i] || reads_back(c, i)) continue;
        char key[32];
        snprintf(key, sizeof(key), "ha:%lld", i);
        redisContext *d = connect_port(direct_port(key));
        if (d && reads_back(d, i)) {
            if ((*wrong)++ < 3) fprintf(stderr, "%s is on its master but slotgate does not return it\n", key);
        } else {
            redis_lost++;
        }
        if (d) redisFree(d);
    }
    redisFree(c);
    return redis_lost;
}

void load_free(struct load *l) { free(l->acked); }
