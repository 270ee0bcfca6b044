/* Routes by key prefix (router/prefix.c): the longest prefix wins whatever the order routes are given
 * in; the empty prefix is the default; keys matching no route go to the default or to none; a repeated
 * prefix is refused; a multi-key request on one route or spread over several; and a brute-force
 * comparison with the plain definition over many keys and routes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/prefix.h"
#include "../support/run.h"

static int route(const struct prefix_table *t, const char *key) { return prefix_route_of(t, key, strlen(key)); }

START_TEST(longest_prefix_wins) {
    struct prefix_route r[] = {{.prefix = "session:", .backend = 1, .strip = 1},
                               {.prefix = "", .backend = 0, .strip = 0},
                               {.prefix = "s", .backend = 2, .strip = 0},
                               {.prefix = "session:admin:", .backend = 3, .strip = 0},
                               {.prefix = "user:", .backend = 4, .strip = 0}};
    char err[128];
    struct prefix_table *t = prefix_table_new(r, 5, err, sizeof(err));
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(route(t, "session:42"), 0);
    ck_assert_int_eq(route(t, "session:admin:7"), 3);
    ck_assert_int_eq(route(t, "session"), 2); /* shorter than "session:": the "s" route */
    ck_assert_int_eq(route(t, "sx"), 2);
    ck_assert_int_eq(route(t, "user:1"), 4);
    ck_assert_int_eq(route(t, "users"), 1); /* "user:" does not match "users": the default */
    ck_assert_int_eq(route(t, ""), 1);
    ck_assert_int_eq(route(t, "\xff\x00binary"), 1);
    ck_assert_int_eq(t->routes[0].strip, 1);
    ck_assert_str_eq(t->routes[3].prefix, "session:admin:");
    prefix_table_free(t);
}
END_TEST

START_TEST(no_default_and_refusals) {
    struct prefix_route r[] = {{.prefix = "a:", .backend = 0, .strip = 0}, {.prefix = "b:", .backend = 1, .strip = 0}};
    char err[128];
    struct prefix_table *t = prefix_table_new(r, 2, err, sizeof(err));
    ck_assert_int_eq(route(t, "a:1"), 0);
    ck_assert_int_eq(route(t, "c:1"), -1);
    const char *keys[] = {"a:1", "a:2", "b:1"};
    size_t lens[] = {3, 3, 3};
    ck_assert_int_eq(prefix_route_of_keys(t, keys, lens, 2), 0);
    ck_assert_int_eq(prefix_route_of_keys(t, keys, lens, 3), PREFIX_SPREAD);
    ck_assert_int_eq(prefix_route_of_keys(t, keys + 2, lens, 1), 1);
    prefix_table_free(t);
    struct prefix_route dup[] = {{.prefix = "a:", .backend = 0, .strip = 0},
                                 {.prefix = "b:", .backend = 1, .strip = 0},
                                 {.prefix = "a:", .backend = 2, .strip = 0}};
    ck_assert_ptr_null(prefix_table_new(dup, 3, err, sizeof(err)));
    ck_assert_str_eq(err, "two routes for the prefix 'a:'");
}
END_TEST

/* The plain definition: the longest matching prefix, else the default. */
static int slow_route(const struct prefix_route *r, int n, const char *key, size_t len) {
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(r[i].prefix);
        if (l <= len && !memcmp(r[i].prefix, key, l) && (best < 0 || l > best_len)) best = i, best_len = l;
    }
    return best;
}

START_TEST(matches_the_plain_definition) {
    static char pool[60][8];
    struct prefix_route r[60];
    unsigned x = 7;
    int n = 0;
    for (int i = 0; i < 60; i++) { /* short prefixes over a small alphabet: many share first bytes */
        x = x * 1103515245u + 12345u;
        int len = (int)(x >> 16) % 5;
        for (int k = 0; k < len; k++) pool[i][k] = "abc:"[(x >> (4 + 2 * k)) & 3];
        pool[i][len] = '\0';
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= !strcmp(r[k].prefix, pool[i]);
        if (!dup) r[n] = (struct prefix_route){.prefix = pool[i], .backend = n, .strip = 0}, n++;
    }
    char err[128];
    struct prefix_table *t = prefix_table_new(r, n, err, sizeof(err));
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 20000; i++) {
        char key[8];
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 16) % 7;
        for (size_t k = 0; k < len; k++) key[k] = "abc:d"[(x >> (3 * k)) % 5];
        ck_assert_int_eq(prefix_route_of(t, key, len), slow_route(r, n, key, len));
    }
    prefix_table_free(t);
}
END_TEST

SUITE_MAIN(.name = "prefix",
           .tests = {TEST(longest_prefix_wins), TEST(no_default_and_refusals), TEST(matches_the_plain_definition)})
