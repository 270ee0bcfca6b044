/* The routes in force (routes by prefix, issue 19): the table the workers route by, swapped whole on
 * SIGHUP (a table once published is never changed; a replaced one is kept a while, since a worker may
 * still be reading it, then freed), and the running migration's background work. Shared by the main
 * thread (which swaps them) and the admin endpoint (which shows them), under lock. */
#ifndef SLOTGATE_ROUTING_H
#define SLOTGATE_ROUTING_H

#include <pthread.h>

#include "../router/prefix.h"
#include "migrator.h"

#define ROUTING_RETIRED 16

struct routing {
    pthread_mutex_t lock;
    struct prefix_table *table; /* NULL: no routes, every key to the default backend */
    struct prefix_table *retired[ROUTING_RETIRED];
    unsigned nretired;
    struct migrator *migrator; /* while a route has migrate-to */
    double since;              /* when this table came in */
};

#endif
