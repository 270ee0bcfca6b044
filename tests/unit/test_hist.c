/* The latency histogram: bucket edges, and quantiles read back from known distributions. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "../../router/hist.h"
#include "../support/run.h"

START_TEST(buckets_are_upper_inclusive_edges) {
    ck_assert_int_eq(hist_bucket(0), 0);
    ck_assert_int_eq(hist_bucket(-5), 0); /* a clock step backwards */
    ck_assert_int_eq(hist_bucket(NAN), 0);
    ck_assert_int_eq(hist_bucket(1), 0);
    ck_assert_int_eq(hist_bucket(1.1), 1);  /* (1, 1.25] */
    ck_assert_int_eq(hist_bucket(9), 10);   /* (8, 10] */
    ck_assert_int_eq(hist_bucket(10), 10);  /* 10 us is the first edge of the second decade */
    ck_assert_int_eq(hist_bucket(250), 24); /* exactly 250 us: bucket whose edge is 2.5 x 100 */
    ck_assert(hist_bound(24) == 250);
    ck_assert(hist_bound(37) == 5000); /* 5 ms */
    ck_assert(hist_bound(60) == 1e6);  /* 1 s */
    ck_assert_int_eq(hist_bucket(1e9), HIST_BUCKETS - 1);
    ck_assert(isinf(hist_bound(HIST_BUCKETS - 1)));
    for (int i = 0; i < HIST_BUCKETS - 1; i++) {
        ck_assert_int_eq(hist_bucket(hist_bound(i)), i); /* every edge falls in its own bucket */
        if (i) ck_assert(hist_bound(i) > hist_bound(i - 1));
    }
}
END_TEST

START_TEST(quantiles_within_a_bucket) {
    uint64_t h[HIST_BUCKETS];
    memset(h, 0, sizeof(h));
    ck_assert(hist_quantile(h, 0.5) == 0);                   /* empty */
    for (int us = 1; us <= 1000; us++) h[hist_bucket(us)]++; /* uniform 1..1000 us */
    double p50 = hist_quantile(h, 0.5), p99 = hist_quantile(h, 0.99), p100 = hist_quantile(h, 1.0);
    ck_assert_msg(p50 > 400 && p50 <= 600, "p50 %g", p50);
    ck_assert_msg(p99 > 800 && p99 <= 1000, "p99 %g", p99);
    ck_assert_msg(p100 <= 1000 && p100 > 990, "p100 %g", p100);
    memset(h, 0, sizeof(h));
    h[hist_bucket(300)] = 1000; /* all in (250, 300] */
    ck_assert(hist_quantile(h, 0.5) > 250 && hist_quantile(h, 0.5) <= 300);
}
END_TEST

SUITE_MAIN(.name = "hist", .tests = {TEST(buckets_are_upper_inclusive_edges), TEST(quantiles_within_a_bucket)})
