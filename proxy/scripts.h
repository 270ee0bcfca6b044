/* The Lua scripts slotgate has seen (EVAL bodies, SCRIPT LOAD), by SHA-1, shared by all workers: when
 * a master answers EVALSHA with NOSCRIPT (a promoted replica, a SCRIPT FLUSH, a new node), slotgate loads
 * the script there and runs the EVALSHA again, so the client never sees it. Bounded in count and bytes. */
#ifndef SLOTGATE_SCRIPTS_H
#define SLOTGATE_SCRIPTS_H

#include <stddef.h>

struct scripts;

struct scripts *scripts_new(size_t max_scripts, size_t max_bytes);
void scripts_free(struct scripts *s);
void scripts_remember(struct scripts *s, const char *body, size_t len);
/* A copy of the body (malloc'd, caller frees) of the script with this SHA-1, or NULL. */
char *scripts_lookup(struct scripts *s, const char *sha, size_t *len);

#endif
