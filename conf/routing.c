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
        json_t *prefix = json_object_get(r, "prefix"), *backend = json_object_get(r, "backend"),
               *strip = json_object_get(r, "strip-prefix");
        if (!json_is_object(r) || json_object_size(r) != 2u + (strip != NULL) || !json_is_string(prefix) ||
            !json_is_string(backend) || (strip && !json_is_boolean(strip)) || c->nroutes == CONF_MAX_ROUTES) {
            json_decref(a);
            return snprintf(err, errlen,
                            "routes: entry %zu must be {\"prefix\": \"...\", \"backend\": \"...\"} with "
                            "an optional \"strip-prefix\": true/false",
                            i),
                   -1;
        }
        int b = -1;
        const char *bn = json_string_value(backend);
        if (!strcmp(bn, "default")) b = 0;
        for (int k = 0; k < c->nbackends && b < 0; k++)
            if (!strcmp(c->backends[k].name, bn)) b = k + 1;
        if (b < 0) {
            snprintf(err, errlen, "routes: entry %zu names backend '%s', which is not in backends", i, bn);
            return json_decref(a), -1;
        }
        const char *p = json_string_value(prefix);
        for (int k = 0; k < c->nroutes; k++)
            if (!strcmp(c->routes[k].prefix, p)) {
                snprintf(err, errlen, "routes: two routes for the prefix '%s'", p);
                return json_decref(a), -1;
            }
        c->routes[c->nroutes++] = (struct conf_route){.prefix = strdup(p), .backend = b, .strip = json_is_true(strip)};
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
