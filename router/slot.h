/* Redis Cluster key hashing: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
 * Pure functions; the rules follow Redis's keyHashSlot() exactly. */
#ifndef SLOTGATE_SLOT_H
#define SLOTGATE_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t slot_crc16(const char *buf, size_t len);
unsigned slot_for_key(const char *key, size_t len);

#endif
