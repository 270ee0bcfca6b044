/* The one way every test binary declares and runs its suite: a table of its tests with the fixtures
 * and timeout as fields, run with Check's normal output (its "Checks: N, Failures: N" summary line is
 * what CI reads) and exit status 1 when anything failed.
 *
 *   SUITE_MAIN(.name = "slot", .setup = suite_setup, .teardown = suite_teardown, .timeout = 120,
 *              .tests = {TEST(crc16_reference_vector), LOOP_TEST(keyslot_matches_redis, N_CASES)})
 *
 * setup/teardown run once around the suite (in the runner, so a cluster outlives each forked test);
 * before_each/after_each run around every test, inside its fork. TEST_ONLY=text in the environment runs
 * only the tests whose name contains text. */
#ifndef SLOTGATE_TEST_RUN_H
#define SLOTGATE_TEST_RUN_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct test_entry {
    const TTest *test;
    int loops; /* 0: once; n: a loop test, run with _i = 0 .. n-1 */
};

#define SUITE_MAX_TESTS 64

struct suite_spec {
    const char *name;
    void (*setup)(void), (*teardown)(void);
    void (*before_each)(void), (*after_each)(void);
    int timeout; /* seconds per test; 0: Check's default */
    int no_fork; /* the tests share this process with a thread of the suite's (a load, a fake node) */
    struct test_entry tests[SUITE_MAX_TESTS]; /* up to the first NULL test */
};

#define TEST(t)                                                                                                        \
    { t, 0 }
#define LOOP_TEST(t, n)                                                                                                \
    { t, (int)(n) }

static inline int run_suite_spec(const struct suite_spec *spec) {
    if (spec->no_fork) setenv("CK_FORK", "no", 1);
    Suite *s = suite_create(spec->name);
    TCase *tc = tcase_create(spec->name);
    if (spec->timeout) tcase_set_timeout(tc, spec->timeout);
    if (spec->setup || spec->teardown) tcase_add_unchecked_fixture(tc, spec->setup, spec->teardown);
    if (spec->before_each || spec->after_each) tcase_add_checked_fixture(tc, spec->before_each, spec->after_each);
    const char *only = getenv("TEST_ONLY"); /* a developer's filter: tests whose name contains it */
    for (int i = 0; i < SUITE_MAX_TESTS && spec->tests[i].test; i++) {
        if (only && *only && !strstr(spec->tests[i].test->name, only)) continue;
        if (spec->tests[i].loops)
            tcase_add_loop_test(tc, spec->tests[i].test, 0, spec->tests[i].loops);
        else
            tcase_add_test(tc, spec->tests[i].test);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define SUITE_MAIN(...)                                                                                                \
    int main(void) {                                                                                                   \
        struct suite_spec spec = {__VA_ARGS__};                                                                        \
        return run_suite_spec(&spec);                                                                                  \
    }

#endif
