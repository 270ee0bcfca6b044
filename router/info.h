/* INFO through slotgate, as pure functions. slotgate writes a template in Redis's own layout (section
 * headers, "field:value" lines, sections joined by a blank line); where a value belongs to the cluster
 * rather than to the proxy, the template says where to take it from the masters' own INFO replies:
 *   "field:\x01P"   the masters' values of field, combined by rule P:
 *                   S sum, Z sum but 0 when any is 0 (maxmemory: 0 is "no limit"), m min, M max,
 *                   V the lowest version (redis_version), F the first master's, W the first value that
 *                   is not a healthy one ("ok", "no-failover"), H the _human form of the field named
 *                   without "_human", as merged above it;
 *   "\x01section"   every field of that section of the masters' replies, each merged by its own rule
 *                   (info_field_rule): sums for counters, max for gauges and times, per-item sums for
 *                   "k=v,..." lines (commandstats, errorstats, keyspace) with usec_per_call and avg_ttl
 *                   recomputed and latency percentiles taken at their max.
 * A master that answered an error (-BUSY, -LOADING) is left out of every figure. */
#ifndef SLOTGATE_INFO_H
#define SLOTGATE_INFO_H

#include <stddef.h>

#include "merge.h"

enum {
    INFO_SERVER = 1 << 0,
    INFO_CLIENTS = 1 << 1,
    INFO_MEMORY = 1 << 2,
    INFO_PERSISTENCE = 1 << 3,
    INFO_STATS = 1 << 4,
    INFO_REPLICATION = 1 << 5,
    INFO_CPU = 1 << 6,
    INFO_MODULES = 1 << 7,
    INFO_COMMANDSTATS = 1 << 8,
    INFO_ERRORSTATS = 1 << 9,
    INFO_LATENCYSTATS = 1 << 10,
    INFO_CLUSTER = 1 << 11,
    INFO_KEYSPACE = 1 << 12,
    INFO_SECTIONS = 13
};

/* The sections INFO's arguments ask for (none: "default"), as Redis 7 reads them: "default", "all",
 * "everything" and section names, case-insensitive; unknown names add nothing. */
unsigned info_sections_of(const char *const *args, const size_t *lens, int n);
/* Redis's name of section bit i ("server", "clients", ...). */
const char *info_section_name(int i);
/* The sections whose template needs the masters' INFO (mask & this), and the "INFO a b c" command that
 * asks them for those (RESP bytes into out). */
unsigned info_node_sections(unsigned mask);
int info_node_command(unsigned mask, struct sbuf *out);
/* Fills the template from the masters' replies into out, as one RESP bulk string. */
int info_merge(const char *tmpl, size_t tlen, const struct reply_ref *nodes, int n, struct sbuf *out);
/* Compares two "7.0.15"-style versions: <0, 0, >0. */
int info_version_cmp(const char *a, size_t al, const char *b, size_t bl);
/* Bytes the way Redis writes used_memory_human: "1.83M", "200B". */
void info_human_bytes(char *buf, size_t len, double n);

#endif
