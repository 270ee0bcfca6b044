/* A steady, bounded load through slotgate on its own thread: pipelined batches of SET ha:N N (N
 * increasing) and GETs of keys written earlier, every reply recorded. After stop, every
 * acknowledged write can be checked, through slotgate or on the nodes directly. */
#ifndef SLOTGATE_TEST_LOAD_H
#define SLOTGATE_TEST_LOAD_H

#include <pthread.h>

struct load {
    int port;
    int batch;
    pthread_t thread;
    volatile int stop;
    /* results */
    long long ops, errors, written, bad_reads;
    long long longest_stall_ms;
    char first_error[256];
    char last_error[256];
    unsigned char *acked; /* acked[i]: SET ha:i was answered +OK */
    long long max_keys;
};

void load_start(struct load *l, int port, int batch, long long max_keys, int max_seconds);
void load_stop(struct load *l);
/* Reads every acknowledged write back through slotgate (port). One that does not read back is looked
 * up on its slot's master directly (direct_port(key) gives it): found there, slotgate answered wrong
 * (counted in *wrong); missing there too, Redis itself lost it (the return value): asynchronous
 * replication drops the last writes of a master that dies or is cut off before they reached its replica. */
long long load_verify(struct load *l, int port, int (*direct_port)(const char *key), long long *wrong);
void load_free(struct load *l);

#endif
