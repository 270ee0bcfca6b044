/* INFO through slotgate: which sections the arguments ask for, and the template filled from the
 * masters' replies by each field's rule (router/info.h), case by case. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/info.h"
#include "../support/run.h"

#define R(s)                                                                                                           \
    { s, sizeof(s) - 1 }

/* Three masters' INFO replies, as bulk strings. */
static struct reply_ref bulk(const char *body) {
    static char store[3][2048];
    static int k;
    char *b = store[k++ % 3];
    snprintf(b, 2048, "$%zu\r\n%s\r\n", strlen(body), body);
    return (struct reply_ref){b, strlen(b)};
}

static const char *filled(const char *tmpl, const char *a, const char *b, const char *c) {
    static struct sbuf out;
    struct reply_ref rs[3] = {bulk(a), bulk(b), c ? bulk(c) : (struct reply_ref)R("-BUSY Redis is busy\r\n")};
    sbuf_free(&out);
    ck_assert_int_eq(info_merge(tmpl, strlen(tmpl), rs, 3, &out), 0);
    const char *crlf = strstr(out.p, "\r\n"); /* the body, without the bulk header and trailer */
    out.p[out.len - 2] = '\0';
    return crlf + 2;
}

static const struct {
    const char *tmpl, *a, *b, *c, *want;
} cases[] = {
    /* the lowest version, whatever the order */
    {"# Server\r\nredis_version:\x01V\r\n", "redis_version:7.2.4\r\n", "redis_version:7.0.15\r\n",
     "redis_version:7.0.9\r\n", "# Server\r\nredis_version:7.0.9\r\n"},
    /* sum, min, max, first; a master that answered an error is left out */
    {"a:\x01S\r\nb:\x01m\r\nc:\x01M\r\nd:\x01"
     "F\r\n",
     "a:1\r\nb:5\r\nc:5\r\nd:x\r\n", "a:2\r\nb:3\r\nc:9\r\nd:y\r\n", NULL, "a:3\r\nb:3\r\nc:9\r\nd:x\r\n"},
    /* maxmemory: 0 on any master is no limit at all; its _human form follows the merged value */
    {"maxmemory:\x01Z\r\nmaxmemory_human:\x01H\r\n", "maxmemory:1048576\r\n", "maxmemory:1048576\r\n",
     "maxmemory:2097152\r\n", "maxmemory:4194304\r\nmaxmemory_human:4.00M\r\n"},
    {"maxmemory:\x01Z\r\n", "maxmemory:1048576\r\n", "maxmemory:0\r\n", "maxmemory:5\r\n", "maxmemory:0\r\n"},
    /* a status: the first one that is not healthy */
    {"s:\x01W\r\n", "s:ok\r\n", "s:err\r\n", "s:ok\r\n", "s:err\r\n"},
    /* floats keep their decimals */
    {"f:\x01S\r\n", "f:0.50\r\n", "f:1.25\r\n", "f:1\r\n", "f:2.75\r\n"},
    /* a whole section: counters add up, times and states take the worst, the oldest save wins */
    {"# Persistence\r\n\x01persistence\r\n",
     "# "
     "Persistence\r\nloading:0\r\nrdb_changes_since_last_save:3\r\nrdb_last_save_time:100\r\nrdb_last_bgsave_status:"
     "ok\r\n",
     "# "
     "Persistence\r\nloading:1\r\nrdb_changes_since_last_save:4\r\nrdb_last_save_time:90\r\nrdb_last_bgsave_status:"
     "err\r\n",
     "# "
     "Persistence\r\nloading:0\r\nrdb_changes_since_last_save:5\r\nrdb_last_save_time:95\r\nrdb_last_bgsave_status:"
     "ok\r\n",
     "# "
     "Persistence\r\nloading:1\r\nrdb_changes_since_last_save:12\r\nrdb_last_save_time:90\r\nrdb_last_bgsave_status:"
     "err\r\n"},
    /* k=v lines: per item; usec_per_call and avg_ttl recomputed, percentiles at their max; a field only
     * some masters have is still there */
    {"# Commandstats\r\n\x01"
     "commandstats\r\n",
     "# Commandstats\r\ncmdstat_get:calls=1,usec=10,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n",
     "# Commandstats\r\ncmdstat_get:calls=3,usec=2,usec_per_call=0.67,rejected_calls=1,failed_calls=2\r\n"
     "cmdstat_set:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n",
     "# Commandstats\r\n",
     "# Commandstats\r\ncmdstat_get:calls=4,usec=12,usec_per_call=3.00,rejected_calls=1,failed_calls=2\r\n"
     "cmdstat_set:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n"},
    {"# Keyspace\r\n\x01keyspace\r\n", "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=100\r\n", "# Keyspace\r\n",
     "# Keyspace\r\ndb0:keys=5,expires=3,avg_ttl=300\r\n", "# Keyspace\r\ndb0:keys=8,expires=4,avg_ttl=250\r\n"},
    {"# Latencystats\r\n\x01latencystats\r\n", "# Latencystats\r\nlatency_percentiles_usec_get:p50=1.001,p99=5.003\r\n",
     "# Latencystats\r\nlatency_percentiles_usec_get:p50=2.003,p99=3.007\r\n", "# Latencystats\r\n",
     "# Latencystats\r\nlatency_percentiles_usec_get:p50=2.003,p99=5.003\r\n"},
    /* lines without a marker are slotgate's own, as they are */
    {"# CPU\r\nused_cpu_sys:0.5\r\n", "x:1\r\n", "x:2\r\n", "x:3\r\n", "# CPU\r\nused_cpu_sys:0.5\r\n"},
};

START_TEST(fills_the_template_by_each_rule) {
    const char *got = filled(cases[_i].tmpl, cases[_i].a, cases[_i].b, cases[_i].c);
    ck_assert_msg(strcmp(got, cases[_i].want) == 0, "case %d: got\n%s\nwant\n%s", _i, got, cases[_i].want);
}
END_TEST

START_TEST(sections_as_redis_reads_the_arguments) {
    const char *none[1] = {NULL};
    size_t nl[1] = {0};
    unsigned dflt = info_sections_of(none, nl, 0);
    ck_assert(dflt & INFO_SERVER && dflt & INFO_KEYSPACE && dflt & INFO_ERRORSTATS && dflt & INFO_MODULES);
    ck_assert(!(dflt & INFO_COMMANDSTATS) && !(dflt & INFO_LATENCYSTATS));
    const char *all[] = {"ALL"}, *two[] = {"cpu", "Memory"}, *bad[] = {"nosuch"};
    size_t all_l[] = {3}, two_l[] = {3, 6}, bad_l[] = {6};
    ck_assert_uint_eq(info_sections_of(all, all_l, 1), (1u << INFO_SECTIONS) - 1);
    ck_assert_uint_eq(info_sections_of(two, two_l, 2), INFO_CPU | INFO_MEMORY);
    ck_assert_uint_eq(info_sections_of(bad, bad_l, 1), 0);
    /* the masters are asked only for what the template takes from them */
    ck_assert_uint_eq(info_node_sections(INFO_CPU | INFO_CLIENTS | INFO_CLUSTER | INFO_MODULES), 0);
    struct sbuf cmd = {0};
    ck_assert_int_eq(info_node_command(INFO_CPU | INFO_KEYSPACE | INFO_SERVER, &cmd), 0);
    ck_assert_str_eq(cmd.p, "*3\r\n$4\r\nINFO\r\n$6\r\nserver\r\n$8\r\nkeyspace\r\n");
    sbuf_free(&cmd);
    char h[32];
    info_human_bytes(h, sizeof(h), 200);
    ck_assert_str_eq(h, "200B");
    info_human_bytes(h, sizeof(h), 1920800);
    ck_assert_str_eq(h, "1.83M");
}
END_TEST

SUITE_MAIN(.name = "info",
           .tests = {LOOP_TEST(fills_the_template_by_each_rule, (int)(sizeof(cases) / sizeof(cases[0]))),
                     TEST(sections_as_redis_reads_the_arguments)})
