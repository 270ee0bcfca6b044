/* Unit tests' slot maps: built from a raw CLUSTER SLOTS reply, parsed by hiredis's reader as health/
 * receives it. Header-only: unit tests link no support object. */
#ifndef SLOTGATE_TEST_MAPS_H
#define SLOTGATE_TEST_MAPS_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "../../router/slotmap.h"

/* A node entry of CLUSTER SLOTS: 127.0.0.1, port, an ID of 40 times the letter id. */
#define SLOTS_NODE(port, id)                                                                                           \
    "*3\r\n$9\r\n127.0.0.1\r\n:" port "\r\n$40\r\n" id id id id id id id id id id id id id id id id id id id id id id  \
        id id id id id id id id id id id id id id id id id id "\r\n"

static inline struct slotmap *map_of(const char *raw) {
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    char err[256];
    redisReaderFeed(r, raw, strlen(raw));
    ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
    redisReaderFree(r);
    struct slotmap *m = slotmap_build(reply, "127.0.0.1", err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    freeReplyObject(reply);
    return m;
}

#endif
