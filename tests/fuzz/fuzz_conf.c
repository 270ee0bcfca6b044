/* libFuzzer: the configuration loader (conf/conf.c) on arbitrary JSON files: it either accepts the
 * file or says why, and an accepted configuration is within every setting's range; then the backends
 * and routes (conf/routing.c), which either name backends that exist or are refused with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof(path), "/tmp/slotgate-fuzz-conf-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct conf c;
    char err[CONF_ERR_LEN];
    conf_defaults(&c);
    if (conf_load_file(&c, path, err, sizeof(err)) == 0) {
        if (c.port < 1 || c.port > 65535 || c.threads < 1 || c.threads > 256 || c.backend_connections < 1 ||
            c.backend_connections > 64 || c.nseeds > CONF_MAX_SEEDS || c.log_level < 0 || c.log_level > LOG_WARNING ||
            c.read_policy < 0 || c.read_policy > 2 || c.admin_port < 0 || c.admin_port > 65535)
            abort();
        err[0] = '\0';
        if (conf_routing_parse(&c, err, sizeof(err)) == 0) {
            int migrating = 0;
            for (int i = 0; i < c.nroutes; i++) {
                const struct conf_route *r = &c.routes[i];
                if (!r->prefix || r->backend < 0 || r->backend > c.nbackends || r->mirror < -1 ||
                    r->mirror > c.nbackends || r->migrate_to < -1 || r->migrate_to > c.nbackends ||
                    r->mirror == r->backend || r->migrate_to == r->backend || (r->mirror >= 0 && r->migrate_to >= 0) ||
                    r->mirror_percent < 1 || r->mirror_percent > 100)
                    abort();
                migrating += r->migrate_to >= 0;
            }
            if (migrating > 1 || c.nbackends >= CONF_MAX_BACKENDS) abort();
        } else if (!err[0]) {
            abort();
        }
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    conf_free(&c);
    return 0;
}
