/* Who is subscribed to what through this slotgate, process-wide: the registry PUBLISH counts receivers
 * from and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB answer from, as a single server
 * answers from its own clients. Workers add and remove entries as the nodes confirm (un)subscriptions
 * on their clients' pub/sub connections; one mutex, never taken on the GET/SET path. */
#ifndef SLOTGATE_SUBS_H
#define SLOTGATE_SUBS_H

#include <stddef.h>

#include "../router/merge.h"

enum sub_kind { SUB_CHANNEL = 0, SUB_PATTERN, SUB_SHARD, SUB_KINDS };

struct subs;
struct subs *subs_new(void);
void subs_free(struct subs *s);
void subs_add(struct subs *s, int kind, const char *name, size_t len);
void subs_remove(struct subs *s, int kind, const char *name, size_t len);
/* What PUBLISH channel returns on a single server: the channel's subscribers plus, for every pattern
 * matching it, that pattern's subscribers. */
long long subs_receivers(struct subs *s, const char *channel, size_t len);
/* PUBSUB replies in RESP2: CHANNELS/SHARDCHANNELS [pattern] (pat NULL: all), NUMSUB/SHARDNUMSUB
 * name...; NUMPAT is subs_kind_count(SUB_PATTERN). */
int subs_reply_channels(struct subs *s, int kind, const char *pat, size_t plen, struct sbuf *out);
long long subs_count(struct subs *s, int kind, const char *name, size_t len);
long long subs_kind_count(struct subs *s, int kind); /* distinct channels (patterns, shard channels) */

/* One client's subscriptions, so they leave the registry with it. */
struct sub_set {
    struct sub_entry **e;
    int n, cap;
};
int sub_set_add(struct sub_set *set, int kind, const char *name, size_t len);
int sub_set_remove(struct sub_set *set, int kind, const char *name, size_t len); /* 1 if it was there */
/* Removes every entry of the kinds in mask (1 << kind) from set and from the registry. */
void sub_set_clear(struct sub_set *set, struct subs *s, unsigned mask);
/* "SUBSCRIBE a b ..." (cmd) of the set's entries of one kind, appended to out: how many, -1 out of memory. */
int sub_set_encode(const struct sub_set *set, int kind, const char *cmd, struct sbuf *out);

#endif
