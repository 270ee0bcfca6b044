/* Several backends in one slotgate (issue 19): the "backends" and "routes" settings, given as JSON (in
 * the file, or as JSON text in a flag or the environment), read into struct conf once every setting is
 * in, each name and field checked; the default backend is the top-level settings. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

const char *conf_kind_name(int kind) {
    static const char *const names[] = {"cluster", "sentinel", "standalone"};
    return names[kind >= 0 && kind < 3 ? kind : 0];
}

const char *conf_engine_name(int engine) {
    static const char *const names[] = {"auto", "io_uring", "epoll"};
    return names[engine >= 0 && engine < 3 ? engine : 0];
}

/* "backends" and "routes": read into c->backends and c->routes, every name and field checked. */
static int dup_str(json_t *v, char **out) {
    if (!json_is_string(v)) return -1;
    free(*out);
    *out = strdup(json_string_value(v));
    return *out ? 0 : -1;
}

static int parse_backend(struct conf_backend *b, const char *name, json_t *o, char *err, size_t errlen) {
    b->name = strdup(name);
    if (!json_is_object(o)) return snprintf(err, errlen, "backends: '%s' must be an object", name), -1;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int rc = 0;
        if (!strcmp(key, "backend-kind")) {
            rc = -1;
            for (int i = 0; i < 3 && json_is_string(v); i++)
                if (!strcasecmp(json_string_value(v), conf_kind_name(i))) b->kind = i, rc = 0;
        } else if (!strcmp(key, "seeds")) {
            size_t i;
            json_t *e;
            rc = json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= CONF_MAX_SEEDS ? 0 : -1;
            json_array_foreach(v, i, e) {
                if (rc == 0 && json_is_string(e) && conf_valid_seed(json_string_value(e)))
                    b->seeds[b->nseeds++] = strdup(json_string_value(e));
                else
                    rc = -1;
            }
        } else if (!strcmp(key, "sentinel-master")) {
            rc = dup_str(v, &b->sentinel_master);
        } else if (!strcmp(key, "sentinel-user")) {
            rc = dup_str(v, &b->sentinel_user);
        } else if (!strcmp(key, "sentinel-password")) {
            rc = dup_str(v, &b->sentinel_password);
        } else if (!strcmp(key, "backend-user")) {
            rc = dup_str(v, &b->backend_user);
        } else if (!strcmp(key, "backend-password")) {
            rc = dup_str(v, &b->backend_password);
        } else {
            return snprintf(err, errlen,
                            "backends: '%s': unknown setting '%s' (backend-kind, seeds, sentinel-master, "
                            "sentinel-user, sentinel-password, backend-user, backend-password)",
                            name, key),
                   -1;
        }
        if (rc < 0) return snprintf(err, errlen, "backends: '%s': bad value for '%s'", name, key), -1;
    }
    if (b->nseeds == 0) return snprintf(err, errlen, "backends: '%s' needs seeds", name), -1;
    if (b->kind == KIND_SENTINEL && !b->sentinel_master)
        return snprintf(err, errlen, "backends: '%s' is a sentinel backend: it needs sentinel-master", name), -1;
    return 0;
}

/* A backend's index by name: 0 for "default", 1 + its place in backends, or -1. */
static int backend_index(const struct conf *c, const char *name) {
    if (!strcmp(name, "default")) return 0;
    for (int k = 0; k < c->nbackends; k++)
        if (!strcmp(c->backends[k].name, name)) return k + 1;
    return -1;
}

/* One entry of "routes", checked whole, appended to c->routes. */
static int parse_route(struct conf *c, json_t *r, size_t i, char *err, size_t errlen) {
    static const char *const shape =
        "{\"prefix\": \"...\", \"backend\": \"...\"} with optional \"strip-prefix\": true/false, \"mirror\": "
        "\"backend\", \"mirror-commands\": \"writes\"/\"all\", \"mirror-percent\": 1-100, \"migrate-to\": \"backend\"";
    struct conf_route out = {.mirror = -1, .migrate_to = -1, .mirror_percent = 100};
    const char *key, *bn = NULL;
    json_t *v;
    if (!json_is_object(r)) return snprintf(err, errlen, "routes: entry %zu must be %s", i, shape), -1;
    json_object_foreach(r, key, v) {
        int ok = 1, *which = NULL;
        if (!strcmp(key, "prefix")) {
            ok = json_is_string(v);
            if (ok) out.prefix = (char *)json_string_value(v);
        } else if (!strcmp(key, "backend")) {
            which = &out.backend;
        } else if (!strcmp(key, "mirror")) {
            which = &out.mirror;
        } else if (!strcmp(key, "migrate-to")) {
            which = &out.migrate_to;
        } else if (!strcmp(key, "strip-prefix")) {
            ok = json_is_boolean(v), out.strip = json_is_true(v);
        } else if (!strcmp(key, "mirror-commands")) {
            ok = json_is_string(v) && (!strcmp(json_string_value(v), "writes") || !strcmp(json_string_value(v), "all"));
            out.mirror_all = ok && !strcmp(json_string_value(v), "all");
        } else if (!strcmp(key, "mirror-percent")) {
            ok = json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 100;
            if (ok) out.mirror_percent = (int)json_integer_value(v);
        } else {
            return snprintf(err, errlen, "routes: entry %zu: unknown field '%s'; an entry is %s", i, key, shape), -1;
        }
        if (which) { /* a backend's name */
            ok = json_is_string(v);
            if (ok && (*which = backend_index(c, json_string_value(v))) < 0)
                return snprintf(err, errlen, "routes: entry %zu names backend '%s', which is not in backends", i,
                                json_string_value(v)),
                       -1;
            if (ok && which == &out.backend) bn = json_string_value(v);
        }
        if (!ok) return snprintf(err, errlen, "routes: entry %zu: bad value for '%s'", i, key), -1;
    }
    if (!out.prefix || !bn) return snprintf(err, errlen, "routes: entry %zu must be %s", i, shape), -1;
    if (out.mirror >= 0 && out.migrate_to >= 0)
        return snprintf(err, errlen, "routes: entry %zu: a route mirrors or migrates, not both", i), -1;
    if (out.mirror == out.backend || out.migrate_to == out.backend)
        return snprintf(err, errlen, "routes: entry %zu: mirror and migrate-to name another backend than '%s'", i, bn),
               -1;
    for (int k = 0; k < c->nroutes; k++) {
        if (!strcmp(c->routes[k].prefix, out.prefix))
            return snprintf(err, errlen, "routes: two routes for the prefix '%s'", out.prefix), -1;
        if (out.migrate_to >= 0 && c->routes[k].migrate_to >= 0)
            return snprintf(err, errlen, "routes: one migration at a time (entries %d and %zu have migrate-to)", k, i),
                   -1;
    }
    if (!(out.prefix = strdup(out.prefix))) return snprintf(err, errlen, "out of memory"), -1;
    c->routes[c->nroutes++] = out;
    return 0;
}

int conf_routing_parse(struct conf *c, char *err, size_t errlen) {
    json_error_t jerr;
    if (c->backends_json) {
        json_t *o = json_loads(c->backends_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            json_decref(o);
            return snprintf(err, errlen, "backends: must be a JSON object of named backends"), -1;
        }
        const char *name;
        json_t *v;
        json_object_foreach(o, name, v) {
            if (c->nbackends == CONF_MAX_BACKENDS - 1 || !strcmp(name, "default") || !*name) {
                json_decref(o);
                return snprintf(err, errlen, "backends: at most %d, and not named 'default' (the top-level one)",
                                CONF_MAX_BACKENDS - 1),
                       -1;
            }
            if (parse_backend(&c->backends[c->nbackends++], name, v, err, errlen) < 0) return json_decref(o), -1;
        }
        json_decref(o);
    }
    if (!c->routes_json) return 0;
    json_t *a = json_loads(c->routes_json, JSON_REJECT_DUPLICATES, &jerr);
    size_t i;
    json_t *r;
    if (!json_is_array(a)) {
        json_decref(a);
        return snprintf(err, errlen, "routes: must be a JSON array of {\"prefix\", \"backend\", \"strip-prefix\"}"), -1;
    }
    json_array_foreach(a, i, r) {
        if (c->nroutes == CONF_MAX_ROUTES) {
            json_decref(a);
            return snprintf(err, errlen, "routes: at most %d", CONF_MAX_ROUTES), -1;
        }
        if (parse_route(c, r, i, err, errlen) < 0) return json_decref(a), -1;
    }
    json_decref(a);
    return 0;
}

void conf_routing_free(struct conf *c) {
    for (int i = 0; i < c->nbackends; i++) {
        struct conf_backend *b = &c->backends[i];
        for (int k = 0; k < b->nseeds; k++) free(b->seeds[k]);
        free(b->name), free(b->sentinel_master), free(b->sentinel_user), free(b->sentinel_password);
        free(b->backend_user), free(b->backend_password);
    }
    for (int i = 0; i < c->nroutes; i++) free(c->routes[i].prefix);
}
