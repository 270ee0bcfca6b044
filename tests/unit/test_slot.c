/* Key hashing against Redis's own answers (CLUSTER KEYSLOT, recorded in keyslot_cases.inc). */
#include <check.h>
#include <stdlib.h>

#include "../../router/slot.h"
#include "../support/run.h"

static const struct {
    const char *key;
    size_t len;
    unsigned slot;
} cases[] = {
#include "keyslot_cases.inc"
};

START_TEST(crc16_reference_vector) {
    /* The CRC16/XMODEM check value Redis's cluster spec gives. */
    ck_assert_uint_eq(slot_crc16("123456789", 9), 0x31C3);
}
END_TEST

START_TEST(keyslot_matches_redis) {
    ck_assert_msg(slot_for_key(cases[_i].key, cases[_i].len) == cases[_i].slot, "case %d: got %u, Redis says %u", _i,
                  slot_for_key(cases[_i].key, cases[_i].len), cases[_i].slot);
}
END_TEST

START_TEST(hash_tag_rules) {
    ck_assert_uint_eq(slot_for_key("{user1000}.following", 20), slot_for_key("user1000", 8));
    ck_assert_uint_eq(slot_for_key("foo{}{bar}", 10), slot_crc16("foo{}{bar}", 10) % 16384); /* empty tag: whole key */
    ck_assert_uint_eq(slot_for_key("foo{{bar}}zap", 13), slot_for_key("{bar", 4));           /* first '{' only */
    ck_assert_uint_eq(slot_for_key("foo{bar}{zap}", 13), slot_for_key("bar", 3));
}
END_TEST

int main(void) {
    Suite *s = suite_create("slot");
    TCase *tc = tcase_create("hashing");
    tcase_add_test(tc, crc16_reference_vector);
    tcase_add_loop_test(tc, keyslot_matches_redis, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, hash_tag_rules);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
