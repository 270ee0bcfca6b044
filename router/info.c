/* See info.h. The masters' replies are parsed into (section, field, value) lines once; the template is
 * then copied line by line, filling each marker from them. */
#include "info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"

static const char *const section_names[INFO_SECTIONS] = {
    "server",  "clients",      "memory",     "persistence",  "stats",   "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"};

const char *info_section_name(int i) { return i >= 0 && i < INFO_SECTIONS ? section_names[i] : ""; }

#define INFO_DEFAULT (((1u << INFO_SECTIONS) - 1) & ~(unsigned)(INFO_COMMANDSTATS | INFO_LATENCYSTATS))
#define INFO_ALL     ((1u << INFO_SECTIONS) - 1)

unsigned info_sections_of(const char *const *args, const size_t *lens, int n) {
    unsigned mask = n == 0 ? INFO_DEFAULT : 0;
    for (int a = 0; a < n; a++) {
        if (lens[a] == 7 && strncasecmp(args[a], "default", 7) == 0) mask |= INFO_DEFAULT;
        if ((lens[a] == 3 && strncasecmp(args[a], "all", 3) == 0) ||
            (lens[a] == 10 && strncasecmp(args[a], "everything", 10) == 0))
            mask |= INFO_ALL;
        for (int i = 0; i < INFO_SECTIONS; i++)
            if (strlen(section_names[i]) == lens[a] && strncasecmp(args[a], section_names[i], lens[a]) == 0)
                mask |= 1u << i;
    }
    return mask;
}

unsigned info_node_sections(unsigned mask) {
    return mask & (INFO_SERVER | INFO_MEMORY | INFO_PERSISTENCE | INFO_STATS | INFO_REPLICATION | INFO_COMMANDSTATS |
                   INFO_ERRORSTATS | INFO_LATENCYSTATS | INFO_KEYSPACE);
}

int info_node_command(unsigned mask, struct sbuf *out) {
    unsigned want = info_node_sections(mask);
    int n = 1, rc;
    for (int i = 0; i < INFO_SECTIONS; i++) n += (want >> i) & 1;
    rc = sbuf_add_header(out, '*', (unsigned long long)n) | sbuf_add_bulk(out, "INFO", 4);
    for (int i = 0; i < INFO_SECTIONS && rc == 0; i++)
        if (want & (1u << i)) rc = sbuf_add_bulk(out, section_names[i], strlen(section_names[i]));
    return rc;
}

void info_human_bytes(char *buf, size_t len, double n) {
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(buf, len, "%lluB", (unsigned long long)n);
        return;
    }
    int u = 0;
    n /= 1024;
    while (n >= 1024 && u < 5) n /= 1024, u++;
    snprintf(buf, len, "%.2f%c", n, units[u]);
}

/* --- the masters' replies, as lines --- */

struct line {
    int section; /* index in section_names, -1 for one Redis 7.0 does not have */
    const char *name, *val;
    size_t nlen, vlen;
};

struct node_info {
    struct line *l;
    int n, cap;
};

static int section_index(const char *p, size_t len) {
    for (int i = 0; i < INFO_SECTIONS; i++)
        if (strlen(section_names[i]) == len && strncasecmp(p, section_names[i], len) == 0) return i;
    return -1;
}

static int parse_node(const struct reply_ref *r, struct node_info *ni) {
    long long blen;
    const char *cr;
    memset(ni, 0, sizeof(*ni));
    if (r->len < 4 || r->p[0] != '$' || !(cr = memchr(r->p, '\r', r->len)) ||
        resp_parse_ll(r->p + 1, (size_t)(cr - r->p - 1), &blen) < 0 || blen < 0 ||
        (size_t)(cr - r->p) + 2 + (size_t)blen > r->len)
        return 0; /* an error (-BUSY, -LOADING): this master is left out */
    const char *p = cr + 2, *end = p + blen;
    int section = -1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t len = (size_t)(eol - p);
        if (len && p[len - 1] == '\r') len--;
        const char *colon = memchr(p, ':', len);
        if (len > 2 && p[0] == '#') {
            section = section_index(p + 2, len - 2);
        } else if (colon) {
            if (ni->n == ni->cap) {
                int cap = ni->cap ? ni->cap * 2 : 128;
                struct line *l = realloc(ni->l, sizeof(*l) * (size_t)cap);
                if (!l) return -1;
                ni->l = l;
                ni->cap = cap;
            }
            ni->l[ni->n++] = (struct line){section, p, colon + 1, (size_t)(colon - p), len - (size_t)(colon - p) - 1};
        }
        p = eol + 1;
    }
    return 0;
}

static const struct line *lookup(const struct node_info *ni, int section, const char *name, size_t nlen) {
    for (int i = 0; i < ni->n; i++)
        if ((section < 0 || ni->l[i].section == section) && ni->l[i].nlen == nlen &&
            memcmp(ni->l[i].name, name, nlen) == 0)
            return &ni->l[i];
    return NULL;
}

/* --- combining values --- */

static int is_number(const char *v, size_t len, double *out, int *is_float, int *decimals) {
    char buf[64], *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (buf[len - 1] == '%') buf[--len] = '\0'; /* used_memory_peak_perc: 95.67% */
    *out = strtod(buf, &end);
    if (*end || end == buf) return 0;
    const char *dot = memchr(buf, '.', len);
    if (dot) *is_float = 1, *decimals = (int)(len - (size_t)(dot - buf) - 1);
    return 1;
}

int info_version_cmp(const char *a, size_t al, const char *b, size_t bl) {
    char x[32], y[32];
    snprintf(x, sizeof(x), "%.*s", (int)(al < 31 ? al : 31), a);
    snprintf(y, sizeof(y), "%.*s", (int)(bl < 31 ? bl : 31), b);
    char *px = x, *py = y;
    for (int k = 0; k < 4; k++) {
        long vx = strtol(px, &px, 10), vy = strtol(py, &py, 10);
        if (vx != vy) return vx < vy ? -1 : 1;
        if (*px == '.') px++;
        if (*py == '.') py++;
    }
    return 0;
}

static int healthy(const char *v, size_t len) {
    return (len == 2 && memcmp(v, "ok", 2) == 0) || (len == 11 && memcmp(v, "no-failover", 11) == 0);
}

/* Appends the combination of vals[0..n) by rule. Returns 0, -1 on memory. */
static int combine(char rule, const struct line *const *vals, int n, struct sbuf *out) {
    if (n == 0)
        return sbuf_add(out, rule == 'V' || rule == 'F' || rule == 'W' ? "" : "0",
                        rule == 'V' || rule == 'F' || rule == 'W' ? 0 : 1);
    if (rule == 'F') return sbuf_add(out, vals[0]->val, vals[0]->vlen);
    if (rule == 'V') {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (info_version_cmp(vals[i]->val, vals[i]->vlen, vals[best]->val, vals[best]->vlen) < 0) best = i;
        return sbuf_add(out, vals[best]->val, vals[best]->vlen);
    }
    if (rule == 'W') {
        for (int i = 0; i < n; i++)
            if (!healthy(vals[i]->val, vals[i]->vlen)) return sbuf_add(out, vals[i]->val, vals[i]->vlen);
        return sbuf_add(out, vals[0]->val, vals[0]->vlen);
    }
    double acc = 0, v;
    int is_float = 0, decimals = 0, pct = vals[0]->vlen && vals[0]->val[vals[0]->vlen - 1] == '%';
    for (int i = 0; i < n; i++) {
        int f = 0, d = 0;
        if (!is_number(vals[i]->val, vals[i]->vlen, &v, &f, &d)) return sbuf_add(out, vals[0]->val, vals[0]->vlen);
        if (f && !is_float) is_float = 1, decimals = d;
        if (rule == 'Z' && v == 0) return sbuf_add(out, "0", 1);
        if (i == 0 || rule == 'S' || rule == 'Z')
            acc = i == 0 ? v : acc + v;
        else if (rule == 'm' ? v < acc : v > acc)
            acc = v;
    }
    if (is_float) return sbuf_printf(out, "%.*f%s", decimals, acc, pct ? "%" : "");
    return sbuf_printf(out, "%.0f", acc);
}

/* The rule for a field of a section copied whole: counters add up, states and times take the worst. */
static char field_rule(const char *name, size_t len) {
    static const char *const max_prefixes[] = {"loading",
                                               "async_loading",
                                               "current_",
                                               "rdb_bgsave_in_progress",
                                               "rdb_last_bgsave_time",
                                               "rdb_current_",
                                               "rdb_last_cow",
                                               "aof_enabled",
                                               "aof_rewrite_",
                                               "aof_last_rewrite",
                                               "aof_current_rewrite",
                                               "aof_rewrites_consecutive",
                                               "aof_last_cow",
                                               "module_fork",
                                               "aof_pending_rewrite",
                                               "aof_delayed",
                                               "mem_fragmentation"};
    if (len > 7 && memcmp(name + len - 7, "_status", 7) == 0) return 'W';
    if (len == 18 && memcmp(name, "rdb_last_save_time", 18) == 0) return 'm'; /* the oldest save */
    for (size_t i = 0; i < sizeof(max_prefixes) / sizeof(*max_prefixes); i++)
        if (len >= strlen(max_prefixes[i]) && memcmp(name, max_prefixes[i], strlen(max_prefixes[i])) == 0) return 'M';
    return 'S';
}

/* "k=v,k=v" lines (cmdstat_get, errorstat_ERR, db0, latency_percentiles_usec_get): item by item. */
static int combine_items(const struct line *const *vals, int n, struct sbuf *out) {
    double calls = 0, usec = 0, expires = 0, ttl_weighted = 0;
    const char *p = vals[0]->val, *end = p + vals[0]->vlen;
    int first = 1, rc = 0;
    while (p < end && rc == 0) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *eq;
        if (!comma) comma = end;
        if (!(eq = memchr(p, '=', (size_t)(comma - p)))) break;
        size_t klen = (size_t)(eq - p);
        double sum = 0, max = 0;
        int is_float = 0, decimals = 0;
        for (int i = 0; i < n; i++) { /* this item in each master's line */
            const char *q = vals[i]->val, *qe = q + vals[i]->vlen;
            while (q < qe) {
                const char *qc = memchr(q, ',', (size_t)(qe - q)), *qeq;
                if (!qc) qc = qe;
                if ((qeq = memchr(q, '=', (size_t)(qc - q))) && (size_t)(qeq - q) == klen && memcmp(q, p, klen) == 0) {
                    double v = 0;
                    int f = 0, d = 0;
                    if (is_number(qeq + 1, (size_t)(qc - qeq - 1), &v, &f, &d)) {
                        if (f && !is_float) is_float = 1, decimals = d;
                        sum += v;
                        if (i == 0 || v > max) max = v;
                        if (klen == 7 && memcmp(p, "expires", 7) == 0) expires += v;
                        if (klen == 7 && memcmp(p, "avg_ttl", 7) == 0) {
                            /* weighted by that master's expires, found in the same line */
                            const char *e = memmem(vals[i]->val, vals[i]->vlen, "expires=", 8);
                            double ex = 0;
                            int ef = 0, ed = 0;
                            if (e) {
                                const char *ee = memchr(e, ',', (size_t)(qe - e));
                                if (!is_number(e + 8, (size_t)((ee ? ee : qe) - e - 8), &ex, &ef, &ed)) ex = 0;
                            }
                            ttl_weighted += v * ex;
                        }
                    }
                    break;
                }
                q = qc + 1;
            }
        }
        if (klen == 5 && memcmp(p, "calls", 5) == 0) calls = sum;
        if (klen == 4 && memcmp(p, "usec", 4) == 0) usec = sum;
        rc |= sbuf_add(out, first ? "" : ",", first ? 0 : 1) | sbuf_add(out, p, klen + 1);
        if (klen == 13 && memcmp(p, "usec_per_call", 13) == 0)
            rc |= sbuf_printf(out, "%.2f", calls > 0 ? usec / calls : 0);
        else if (klen == 7 && memcmp(p, "avg_ttl", 7) == 0)
            rc |= sbuf_printf(out, "%.0f", expires > 0 ? ttl_weighted / expires : 0);
        else if (klen > 1 && p[0] == 'p' && p[1] >= '0' && p[1] <= '9') /* a latency percentile */
            rc |= sbuf_printf(out, "%.*f", is_float ? decimals : 0, max);
        else
            rc |= sbuf_printf(out, "%.*f", is_float ? decimals : 0, sum);
        first = 0;
        p = comma + 1;
    }
    return rc;
}

/* The fields of one section over all masters: in the first master's order, then any the others add. */
static int merge_section(int section, const struct node_info *ni, int n, struct sbuf *out) {
    const struct line **vals = malloc(sizeof(*vals) * (size_t)(n ? n : 1));
    int rc = vals ? 0 : -1;
    for (int k = 0; k < n && rc == 0; k++) {
        for (int i = 0; i < ni[k].n && rc == 0; i++) {
            const struct line *l = &ni[k].l[i];
            if (l->section != section) continue;
            int seen = 0;
            for (int j = 0; j < k && !seen; j++) seen = lookup(&ni[j], section, l->name, l->nlen) != NULL;
            if (seen) continue;
            int nv = 0;
            for (int j = k; j < n; j++) {
                const struct line *x = lookup(&ni[j], section, l->name, l->nlen);
                if (x) vals[nv++] = x;
            }
            rc |= sbuf_add(out, l->name, l->nlen) | sbuf_add(out, ":", 1);
            if (memchr(l->val, '=', l->vlen))
                rc |= combine_items(vals, nv, out);
            else
                rc |= combine(field_rule(l->name, l->nlen), vals, nv, out);
            rc |= sbuf_add(out, "\r\n", 2);
        }
    }
    free(vals);
    return rc;
}

int info_merge(const char *tmpl, size_t tlen, const struct reply_ref *nodes, int n, struct sbuf *out) {
    struct node_info *ni = calloc((size_t)(n ? n : 1), sizeof(*ni));
    const struct line **vals = malloc(sizeof(*vals) * (size_t)(n ? n : 1));
    struct sbuf body = {0};
    int good = 0, rc = ni && vals ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = parse_node(&nodes[i], &ni[good]);
        if (rc == 0 && ni[good].n)
            good++;
        else if (rc == 0)
            free(ni[good].l);
    }
    const char *p = tmpl, *end = tmpl + tlen;
    while (p < end && rc == 0) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
        const char *mark = memchr(p, '\x01', len);
        if (!mark) {
            rc = sbuf_add(&body, p, len);
        } else if (mark == p) { /* a whole section of the masters' INFO */
            size_t nl = len - 1;
            while (nl && (p[nl] == '\n' || p[nl] == '\r')) nl--;
            rc = merge_section(section_index(p + 1, nl), ni, good, &body);
        } else { /* field:\x01R */
            const char *colon = mark - 1;
            char rule = mark[1];
            int nv = 0;
            if (rule == 'H') { /* the human form of the field merged just above */
                char h[32];
                const char *prev = body.len ? body.p + body.len - 2 : NULL, *ls;
                double v = 0;
                if (prev) {
                    ls = prev;
                    while (ls > body.p && ls[-1] != '\n') ls--;
                    const char *c = memchr(ls, ':', (size_t)(prev - ls));
                    v = c ? strtod(c + 1, NULL) : 0;
                }
                info_human_bytes(h, sizeof(h), v);
                rc = sbuf_add(&body, p, (size_t)(colon - p) + 1) | sbuf_add(&body, h, strlen(h)) |
                     sbuf_add(&body, "\r\n", 2);
            } else {
                for (int i = 0; i < good; i++) {
                    const struct line *x = lookup(&ni[i], -1, p, (size_t)(colon - p));
                    if (x) vals[nv++] = x;
                }
                rc = sbuf_add(&body, p, (size_t)(colon - p) + 1) | combine(rule, vals, nv, &body) |
                     sbuf_add(&body, "\r\n", 2);
            }
        }
        p += len;
    }
    if (rc == 0)
        rc = sbuf_add_header(out, '$', body.len) | sbuf_add(out, body.p ? body.p : "", body.len) |
             sbuf_add(out, "\r\n", 2);
    for (int i = 0; ni && i < good; i++) free(ni[i].l);
    free(ni);
    free(vals);
    sbuf_free(&body);
    return rc;
}
