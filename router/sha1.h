/* SHA-1 (FIPS 180-4), for the script cache: Redis names a Lua script by the SHA-1 of its body. */
#ifndef SLOTGATE_SHA1_H
#define SLOTGATE_SHA1_H

#include <stddef.h>

/* Writes the 40 lower-case hex digits Redis uses (and a NUL) into hex. */
void sha1_hex(const void *data, size_t len, char hex[41]);

#endif
