/* See hist.h. */
#include "hist.h"

#include <math.h>

/* Upper bounds of buckets 0..HIST_BUCKETS-2 in microseconds. */
#define DECADE(p) 1 * (p), 1.25 * (p), 1.5 * (p), 2 * (p), 2.5 * (p), 3 * (p), 4 * (p), 5 * (p), 6 * (p), 8 * (p)
static const double bounds[HIST_BUCKETS - 1] = {DECADE(1.0), DECADE(10.0), DECADE(100.0), DECADE(1e3),
                                                DECADE(1e4), DECADE(1e5),  DECADE(1e6),   DECADE(1e7)};

double hist_bound(int i) { return i >= HIST_BUCKETS - 1 ? INFINITY : bounds[i < 0 ? 0 : i]; }

/* A binary search over the bounds: seven comparisons, on every request's path. */
int hist_bucket(double us) {
    if (!(us > 1)) return 0;           /* also NaN and negatives (a clock step) */
    int lo = 0, hi = HIST_BUCKETS - 1; /* the answer is in [lo, hi]; hi itself: above every bound */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (us <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
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
