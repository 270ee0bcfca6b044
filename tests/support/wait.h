/* The one way tests wait for something to become true: poll a condition (every 10 ms at first, backing
 * off to 200 ms) for at most ms, and fail the test with a message saying what never happened. Nothing
 * waits forever. */
#ifndef SLOTGATE_TEST_WAIT_H
#define SLOTGATE_TEST_WAIT_H

#include <check.h>

long long now_ms(void);
void sleep_ms(int ms);

/* 1 once cond held within ms, else 0 (cond is evaluated again each time). */
#define WAITED_FOR(ms, cond)                                                                                           \
    ({                                                                                                                 \
        long long until_ = now_ms() + (ms);                                                                            \
        int held_, step_ = 10;                                                                                         \
        while (!(held_ = !!(cond)) && now_ms() < until_) {                                                             \
            sleep_ms(step_);                                                                                           \
            step_ = step_ < 200 ? step_ * 3 / 2 : 200;                                                                 \
        }                                                                                                              \
        held_;                                                                                                         \
    })

/* Fails the test with the printf-style message when cond has not held within ms. */
#define WAIT_UNTIL(ms, cond, ...) ck_assert_msg(WAITED_FOR(ms, cond), __VA_ARGS__)

#endif
