/* libFuzzer: CLUSTER SLOTS replies (router/slotmap.c), as hiredis parses them off the wire. A map that
 * is built must be consistent: every slot's shard exists, its master and replicas are nodes of the map,
 * and the covered count is the number of slots with a shard. */
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../router/slotmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* hiredis 0.14 allocates an aggregate's element array as soon as it reads "*N": inputs announcing a
 * million elements only measure malloc, not slotgate. */
static int huge_count(const uint8_t *data, size_t size) {
    for (size_t i = 0; i + 8 < size; i++) {
        if (data[i] != '*' && data[i] != '$') continue;
        size_t d = 0;
        while (i + 1 + d < size && data[i + 1 + d] >= '0' && data[i + 1 + d] <= '9') d++;
        if (d >= 7) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (huge_count(data, size)) return 0;
    redisReader *rd = redisReaderCreate();
    if (!rd) return 0;
    redisReaderFeed(rd, (const char *)data, size);
    void *reply = NULL;
    if (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        char err[256];
        struct slotmap *m = slotmap_build(reply, "127.0.0.1", err, sizeof(err));
        if (m) {
            unsigned covered = 0;
            for (unsigned s = 0; s < SLOT_COUNT; s++) {
                const struct sm_shard *sh = slotmap_shard(m, s);
                if (!sh) continue;
                covered++;
                if (sh->master < 0 || sh->master >= m->nnodes || sh->nreplicas < 0 || sh->nreplicas > SM_MAX_REPLICAS)
                    abort();
                for (int r = 0; r < sh->nreplicas; r++)
                    if (sh->replicas[r] < 0 || sh->replicas[r] >= m->nnodes) abort();
            }
            if (covered != m->covered) abort();
            slotmap_unref(m);
        }
        freeReplyObject(reply);
    }
    redisReaderFree(rd);
    return 0;
}
