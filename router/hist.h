/* A latency histogram with fixed buckets: ten per decade from 1 us to 80 s, at 1, 1.25, 1.5, 2, 2.5,
 * 3, 4, 5, 6 and 8 times a power of ten, so that the 1-2.5-5 bounds Prometheus users expect are exact
 * bucket edges and a percentile is known within a quarter of its value. Counting is one array
 * increment; workers keep one histogram each and readers add them up. Pure logic, no I/O. */
#ifndef SLOTGATE_HIST_H
#define SLOTGATE_HIST_H

#include <stdint.h>

#define HIST_DECADES 8                       /* 1 us .. 100 s */
#define HIST_BUCKETS (HIST_DECADES * 10 + 1) /* the last one: above 100 s */

/* The bucket of a latency in microseconds: the first whose upper bound is >= us. */
int hist_bucket(double us);
/* The upper bound of bucket i in microseconds (infinity for the last). */
double hist_bound(int i);
/* The q-quantile (0 < q <= 1) of counts, interpolated within its bucket; 0 when empty. */
double hist_quantile(const uint64_t *counts, double q);

#endif
