/* GET /routes and POST /routes/check, as JSON (adminroutes.c). */
#ifndef SLOTGATE_ADMINROUTES_H
#define SLOTGATE_ADMINROUTES_H

#include <jansson.h>

#include "admin.h"

json_t *admin_routes_json(const struct admin_view *v);
/* Starts the check: 202 with *body, or an HTTP error code with *err (sample: 1-100 %, tol: ms >= 0,
 * repair "1" mends what differs). */
unsigned admin_routes_check(const struct admin_view *v, const char *sample, const char *tol, const char *repair,
                            json_t **body, const char **err);

#endif
