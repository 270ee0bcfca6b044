/* Big keys: requests and replies over bigkeys-value-bytes (one value, or one reply) or bigkeys-elements
 * (elements of one reply, arguments of one write), each with its key, command, size, client and time,
 * kept newest first up to bigkeys-log-max-len, as Redis keeps its slow log; shared by the workers (a
 * mutex, taken only for a big one). bigkeys.c. */
#ifndef SLOTGATE_BIGKEYS_H
#define SLOTGATE_BIGKEYS_H

#include <pthread.h>
#include <stddef.h>

struct bigkey_entry {
    long long id;
    double time; /* unix seconds */
    char key[128];
    size_t key_len; /* the key's full length (more than 128: cut) */
    char command[32];
    int is_reply;
    long long bytes, elements;
    char client[64];
};

struct bigkeys {
    pthread_mutex_t lock;
    struct bigkey_entry *e; /* newest first */
    int n, cap;
    long long next_id;
};

void bigkeys_init(struct bigkeys *l);
void bigkeys_free(struct bigkeys *l);
void bigkeys_add(struct bigkeys *l, int max, struct bigkey_entry *e);
/* A copy of up to max entries, newest first (free()). */
int bigkeys_get(struct bigkeys *l, int max, struct bigkey_entry **out);

struct worker;
struct client;
struct req;
struct resp_request;
/* A request's size, checked against the thresholds (cheap: its total length first). */
void bigkeys_request(struct worker *w, struct client *c, const struct resp_request *q, const char *bytes);
/* A value on its way in by upload (upload.c): its command, key and length. */
void bigkeys_upload(struct worker *w, struct client *c, const char *cmd, size_t clen, const char *key, size_t klen,
                    long long bytes);
/* A reply (or a streamed one's length, elements -1), for request r whose command bytes are still pinned. */
void bigkeys_reply(struct worker *w, struct req *r, const char *reply, size_t len, long long streamed);

#endif
