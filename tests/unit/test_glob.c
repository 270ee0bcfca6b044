/* glob_match against the answers of Redis's own matcher (stringmatchlen), case by case. */
#include <check.h>
#include <string.h>

#include "../../router/glob.h"
#include "../support/run.h"

static const struct {
    const char *pat, *str;
    int nocase, want;
} cases[] = {
    {"*", "", 0, 1},
    {"*", "anything", 0, 1},
    {"", "", 0, 1},
    {"", "a", 0, 0},
    {"a", "", 0, 0},
    {"h?llo", "hello", 0, 1},
    {"h?llo", "hllo", 0, 0},
    {"h*llo", "hllo", 0, 1},
    {"h*llo", "heeeello", 0, 1},
    {"h[ae]llo", "hello", 0, 1},
    {"h[ae]llo", "hillo", 0, 0},
    {"h[^e]llo", "hallo", 0, 1},
    {"h[^e]llo", "hello", 0, 0},
    {"h[a-b]llo", "hbllo", 0, 1},
    {"h[b-a]llo", "hallo", 0, 1},
    {"h[a-b]llo", "hcllo", 0, 0},
    {"news.*", "news.tech", 0, 1},
    {"news.*", "new.tech", 0, 0},
    {"*.tech", "news.tech", 0, 1},
    {"*a*b*c", "xxaxxbxxc", 0, 1},
    {"*a*b*c", "xxaxxcxxb", 0, 0},
    {"a\\*b", "a*b", 0, 1},
    {"a\\*b", "axb", 0, 0},
    {"a[\\]]b", "a]b", 0, 1},
    {"HELLO", "hello", 1, 1},
    {"HELLO", "hello", 0, 0},
    {"h[A-C]llo", "hbllo", 1, 1},
    {"**a", "a", 0, 1},
    {"a*", "a", 0, 1},
    {"a**", "a", 0, 1},
    {"a?", "a", 0, 0},
    {"[abc", "a", 0, 1},
    {"*[abc", "xxb", 0, 1},
    {"app:*:x", "app:1:2:x", 0, 1},
    {"app:*:x", "app:1:2:y", 0, 0},
    {"\\", "\\", 0, 1},
};

START_TEST(matches_like_redis) {
    int got = glob_match(cases[_i].pat, strlen(cases[_i].pat), cases[_i].str, strlen(cases[_i].str), cases[_i].nocase);
    ck_assert_msg(got == cases[_i].want, "'%s' on '%s' (nocase %d): got %d, Redis says %d", cases[_i].pat,
                  cases[_i].str, cases[_i].nocase, got, cases[_i].want);
}
END_TEST

START_TEST(binary_safe_and_bounded) {
    ck_assert_int_eq(glob_match("a?c", 3, "a\0c", 3, 0), 1);
    /* The classic blow-up for recursive matchers: many stars against a long non-match. */
    char pat[64], str[4096];
    for (int i = 0; i < 63; i++) pat[i] = i % 2 ? 'a' : '*';
    pat[63] = 'b';
    memset(str, 'a', sizeof(str));
    ck_assert_int_eq(glob_match(pat, sizeof(pat), str, sizeof(str), 0), 0);
}
END_TEST

SUITE_MAIN(.name = "glob", .tests = {LOOP_TEST(matches_like_redis, (int)(sizeof(cases) / sizeof(cases[0]))),
                                     TEST(binary_safe_and_bounded)})
