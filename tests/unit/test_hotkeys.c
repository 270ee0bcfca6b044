/* Space-Saving (router/hotkeys.c): a skewed stream's heaviest keys are found with their counts within the
 * stated error; summaries merge; long keys are told apart. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../router/hotkeys.h"
#include "../support/run.h"

static void add(struct hk_sketch *s, const char *k, uint64_t w) { hk_add(s, k, strlen(k), hk_hash(k, strlen(k)), w); }

static const struct hk_entry *find(const struct hk_entry *e, int n, const char *k) {
    for (int i = 0; i < n; i++)
        if (e[i].len == strlen(k) && !memcmp(e[i].key, k, e[i].len)) return &e[i];
    return NULL;
}

/* 5 hot keys take 60 % of 100,000 requests over 10,000 other keys: each is found, its count at least the
 * truth and at most err above it, and the 5 are the top 5. */
START_TEST(skewed_stream) {
    static struct hk_sketch s;
    hk_reset(&s);
    uint64_t truth[5] = {0}, x = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char k[32];
        if (x % 100 < 60) {
            int h = (int)(x % 5);
            snprintf(k, sizeof(k), "hot:%d", h);
            truth[h]++;
        } else {
            snprintf(k, sizeof(k), "cold:%llu", (unsigned long long)(x % 10000));
        }
        add(&s, k, 1);
    }
    ck_assert_int_eq(s.total, 100000);
    struct hk_entry all[HK_K];
    int n = hk_export(&s, all);
    hk_sort(all, n);
    for (int h = 0; h < 5; h++) {
        char k[16];
        snprintf(k, sizeof(k), "hot:%d", h);
        const struct hk_entry *e = find(all, 5, k);
        ck_assert_msg(e != NULL, "%s is not in the top 5", k);
        ck_assert_uint_ge(e->count, truth[h]);
        ck_assert_uint_le(e->count - e->err, truth[h]);
        ck_assert_uint_le(e->err, s.total / HK_K);
    }
}
END_TEST

/* Fewer distinct keys than counters: exact. Two summaries merged add up per key. */
START_TEST(exact_and_merged) {
    static struct hk_sketch a, b;
    hk_reset(&a);
    hk_reset(&b);
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        add(&a, k, (uint64_t)i + 1);
        add(&b, k, 2);
    }
    struct hk_entry acc[2 * HK_K], tmp[HK_K];
    int n = 0;
    hk_merge_entries(acc, &n, 2 * HK_K, tmp, hk_export(&a, tmp));
    hk_merge_entries(acc, &n, 2 * HK_K, tmp, hk_export(&b, tmp));
    hk_sort(acc, n);
    ck_assert_int_eq(n, 30);
    ck_assert_uint_eq(a.total + b.total, 465 + 60);
    ck_assert_int_eq(acc[0].len, 3);
    ck_assert(!memcmp(acc[0].key, "k29", 3));
    ck_assert_uint_eq(acc[0].count, 32);
    ck_assert_uint_eq(acc[0].err, 0);
}
END_TEST

/* Keys longer than HK_KEY_MAX that share their first bytes stay apart. */
START_TEST(long_keys) {
    static struct hk_sketch s;
    hk_reset(&s);
    char a[200], b[200];
    memset(a, 'x', sizeof(a));
    memcpy(b, a, sizeof(b));
    b[199] = 'y';
    hk_add(&s, a, sizeof(a), hk_hash(a, sizeof(a)), 3);
    hk_add(&s, b, sizeof(b), hk_hash(b, sizeof(b)), 5);
    hk_add(&s, a, sizeof(a), hk_hash(a, sizeof(a)), 1);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(s.count[0], 4);
    ck_assert_uint_eq(s.count[1], 5);
    ck_assert_uint_eq(s.len[0], 200);
}
END_TEST

/* A long stream of distinct keys churns the counters (and their index) without losing a heavy key. */
START_TEST(churn_keeps_the_heavy_key) {
    static struct hk_sketch s;
    hk_reset(&s);
    for (int i = 0; i < 200000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s:%d", i % 10 == 0 ? "heavy" : "churn", i % 10 == 0 ? 0 : i);
        add(&s, k, 1);
    }
    struct hk_entry e[HK_K];
    int n = hk_export(&s, e);
    hk_sort(e, n);
    ck_assert_int_eq(e[0].len, 7);
    ck_assert(!memcmp(e[0].key, "heavy:0", 7));
    ck_assert_uint_ge(e[0].count, 20000);
    ck_assert_uint_le(e[0].count - e[0].err, 20000);
}
END_TEST

/* After heavy churn (each new key takes the smallest counter's place, its hash leaving the index), every
 * counted key is still found through the index: adding it again raises its own count and takes no place;
 * and the counts add up to the total. */
START_TEST(index_stays_whole_under_churn) {
    static struct hk_sketch s;
    hk_reset(&s);
    unsigned x = 12345;
    for (int i = 0; i < 100000; i++) {
        char k[32];
        x = x * 1103515245u + 12345u;
        snprintf(k, sizeof(k), "k:%u", (x >> 8) % 5000); /* keys come back: some are found, some replace */
        add(&s, k, 1 + (uint64_t)(i % 3));
    }
    struct hk_entry e[HK_K];
    int n = hk_export(&s, e);
    ck_assert_int_eq(n, HK_K);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum += e[i].count;
    ck_assert_uint_eq(sum, s.total);
    for (int i = 0; i < n; i++) {
        uint64_t before = e[i].count;
        hk_add(&s, e[i].key, e[i].len, e[i].h, 7);
        struct hk_entry after[HK_K];
        ck_assert_int_eq(hk_export(&s, after), HK_K);
        int found = 0;
        for (int k = 0; k < HK_K; k++)
            if (after[k].h == e[i].h && after[k].len == e[i].len && !memcmp(after[k].key, e[i].key, e[i].len)) {
                found = 1;
                ck_assert_uint_eq(after[k].count, before + 7);
            }
        ck_assert_msg(found, "key %d lost from the index", i);
    }
}
END_TEST

SUITE_MAIN(.name = "hotkeys", .tests = {TEST(skewed_stream), TEST(exact_and_merged), TEST(long_keys),
                                        TEST(churn_keeps_the_heavy_key), TEST(index_stays_whole_under_churn)})
