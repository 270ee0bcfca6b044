/* The one way every test binary runs its suite: Check's normal output (its "Checks: N, Failures: N"
 * summary line is what CI reads) and exit status 1 when anything failed. */
#ifndef SLOTGATE_TEST_RUN_H
#define SLOTGATE_TEST_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
