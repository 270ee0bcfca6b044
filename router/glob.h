/* Glob-style matching as Redis does it for KEYS, PSUBSCRIBE, PUBSUB CHANNELS and ACL patterns: '*' any
 * run, '?' one byte, '[abc]', '[^abc]', '[a-z]' classes, '\' escaping the next byte. Binary-safe and
 * bounded: no recursion, and a '*' is retried at most once per string byte. */
#ifndef SLOTGATE_GLOB_H
#define SLOTGATE_GLOB_H

#include <stddef.h>

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif
