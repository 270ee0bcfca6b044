/* The users clients authenticate as, each with its ACL rules (router/acl.h): the default user (its
 * password requirepass, or none), the users setting and the aclfile. Built by main at start and on SIGHUP,
 * immutable once built, shared by the workers (refcounted) and replaced whole. And the ACL LOG, the
 * process's record of refused commands and logins (one for all workers, behind a mutex: only denials
 * write to it). users.c. */
#ifndef SLOTGATE_USERS_H
#define SLOTGATE_USERS_H

#include <pthread.h>
#include <stddef.h>

#include "../conf/conf.h"
#include "../router/acl.h"

struct users {
    int refs; /* atomic */
    unsigned gen;
    int n;
    struct acl_user **list;
};

/* NULL with err ("users: Error in ACL SETUSER modifier ...", "aclfile /etc/x.acl:3: ...") on a bad rule. */
struct users *users_build(const struct conf *c, char *err, size_t errlen);
struct users *users_ref(struct users *u);
void users_unref(struct users *u);
struct acl_user *users_find(const struct users *u, const char *name, size_t len);

enum { ACLLOG_CMD = 0, ACLLOG_KEY, ACLLOG_CHANNEL, ACLLOG_AUTH };
struct acllog_entry {
    long long count;
    int reason;
    int in_multi;
    char object[128];
    char username[64];
    double created, updated; /* wall clock seconds */
    char client_info[512];
};
struct acllog {
    pthread_mutex_t lock;
    struct acllog_entry *e; /* newest first */
    int n, cap;
};
void acllog_init(struct acllog *l);
void acllog_free(struct acllog *l);
/* Records a denial (Redis groups one with an equal entry of the last 60 s: count+1). max: acllog-max-len. */
void acllog_add(struct acllog *l, int max, int reason, int in_multi, const char *object, size_t olen,
                const char *username, size_t ulen, const char *client_info, double now);
void acllog_reset(struct acllog *l);
/* Up to max entries, newest first, copied out (the caller frees *out). */
int acllog_get(struct acllog *l, int max, struct acllog_entry **out);

#endif
