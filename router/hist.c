/* See hist.h. */
#include "hist.h"

#include <math.h>

static const double mantissa[10] = {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8};

double hist_bound(int i) {
    if (i >= HIST_BUCKETS - 1) return INFINITY;
    double p = 1;
    for (int d = 0; d < i / 10; d++) p *= 10;
    return mantissa[i % 10] * p;
}

int hist_bucket(double us) {
    if (!(us > 1)) return 0; /* also NaN and negatives (a clock step) */
    int decade = 0;
    double p = 1;
    while (decade < HIST_DECADES && us > p * 10) p *= 10, decade++;
    if (decade == HIST_DECADES) return HIST_BUCKETS - 1;
    for (int k = 0; k < 10; k++)
        if (us <= mantissa[k] * p) return decade * 10 + k;
    return decade * 10 + 10; /* (8p, 10p]: the next decade's first bucket */
}

double hist_quantile(const uint64_t *counts, double q) {
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) total += counts[i];
    if (!total) return 0;
    double want = q * (double)total, seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (!counts[i]) continue;
        if (seen + (double)counts[i] >= want) {
            double lo = i ? hist_bound(i - 1) : 0, hi = i < HIST_BUCKETS - 1 ? hist_bound(i) : hist_bound(i - 1);
            return lo + (hi - lo) * ((want - seen) / (double)counts[i]);
        }
        seen += (double)counts[i];
    }
    return hist_bound(HIST_BUCKETS - 2);
}
