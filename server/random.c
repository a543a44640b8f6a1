// Random bytes for values that must be unique and unguessable but are not keys (random.h).
// Licensed under the Apache License, Version 2.0.
//
// Callgrind counted about 10,000 instructions per RAND_bytes() call (locking, reseed and
// fork checks), four calls per job. The buffer holds public randomness only: it is never
// used for key material, so keeping it in memory reveals nothing secret.
#include "server/random.h"

#include "server/log.h"

#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

#define POOL_SIZE 4096

static unsigned char pool[POOL_SIZE];
static size_t pool_left;
static pid_t pool_pid; // a child after fork() must not hand out its parent's bytes again

bool bl_random_public(void *buf, size_t len)
{
    if (len > 256)
        return RAND_bytes(buf, (int)len) == 1;
    pid_t pid = getpid();
    if (pool_left < len || pool_pid != pid) {
        if (RAND_bytes(pool, POOL_SIZE) != 1) {
            bl_log(BL_LOG_ERROR, "random: OpenSSL has no random bytes");
            pool_left = 0;
            return false;
        }
        pool_left = POOL_SIZE;
        pool_pid = pid;
    }
    // Each byte is handed out once, from the end; what was handed out is cleared.
    memcpy(buf, pool + pool_left - len, len);
    memset(pool + pool_left - len, 0, len);
    pool_left -= len;
    return true;
}
