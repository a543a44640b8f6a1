// Random bytes for values that must be unique and unguessable but are not keys.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_RANDOM_H
#define BL_RANDOM_H

#include <stdbool.h>
#include <stddef.h>

// Fills buf with len bytes (len <= 256) from OpenSSL's public DRBG, taken from a buffer that
// is refilled 4 KiB at a time: nonces and uuids, several per job, cost one DRBG call per
// hundred jobs instead of one each. Keys never come from here (RAND_priv_bytes, unbuffered).
// false when OpenSSL has no randomness (logged). Not thread-safe: the loop's thread only.
bool bl_random_public(void *buf, size_t len);

#endif
