/* Key hashing against Redis's own answers (CLUSTER KEYSLOT, recorded in keyslot_cases.inc). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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

/* The CRC computed one bit at a time, straight from its definition (poly 0x1021, init 0, no reflection). */
static uint16_t crc16_bitwise(const unsigned char *p, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++) crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

START_TEST(crc16_two_bytes_a_step_matches_the_definition) {
    /* every length from 0 to 64 (odd ones take a last single-byte step), every byte value */
    unsigned char buf[64];
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        if (round < 2) memset(buf, round ? 0xff : 0x00, sizeof(buf));
        for (size_t len = 0; len <= sizeof(buf); len++)
            ck_assert_uint_eq(slot_crc16((const char *)buf, len), crc16_bitwise(buf, len));
    }
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

SUITE_MAIN(.name = "slot",
           .tests = {TEST(crc16_reference_vector), TEST(crc16_two_bytes_a_step_matches_the_definition),
                     LOOP_TEST(keyslot_matches_redis, (int)(sizeof(cases) / sizeof(cases[0]))), TEST(hash_tag_rules)})
