/* Intrusive FIFO queues: any struct with head and tail pointers, holding items linked through a field
 * of theirs. The one push and pop the data path uses for its request queues (a client's requests in
 * reply order, a backend's requests in flight, the worker's parked requests). GNU C (typeof and
 * statement expressions), as the rest of the build. */
#ifndef SLOTGATE_QUEUE_H
#define SLOTGATE_QUEUE_H

#include <stddef.h>

/* Declares the members of a queue of type: struct req_fifo FIFO_OF(struct req); */
#define FIFO_OF(type)                                                                                                  \
    { type *head, *tail; }

/* Appends item at the tail. */
#define FIFO_PUSH(q, item, link)                                                                                       \
    do {                                                                                                               \
        __typeof__(item) it_ = (item);                                                                                 \
        it_->link = NULL;                                                                                              \
        if ((q)->tail)                                                                                                 \
            (q)->tail->link = it_;                                                                                     \
        else                                                                                                           \
            (q)->head = it_;                                                                                           \
        (q)->tail = it_;                                                                                               \
    } while (0)

/* Takes the head off (NULL when empty), its link cleared. */
#define FIFO_POP(q, link)                                                                                              \
    ({                                                                                                                 \
        __typeof__((q)->head) it_ = (q)->head;                                                                         \
        if (it_) {                                                                                                     \
            (q)->head = it_->link;                                                                                     \
            if (!(q)->head) (q)->tail = NULL;                                                                          \
            it_->link = NULL;                                                                                          \
        }                                                                                                              \
        it_;                                                                                                           \
    })

#endif
