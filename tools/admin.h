// The blatt commands that work on blattd's state directly (tools/admin.c).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_ADMIN_H
#define BL_ADMIN_H

#include <stdbool.h>

typedef struct bl_config bl_config_t;

// Whether cmd is one of them (audit, user, key, hash-password).
bool bl_admin_is_command(const char *cmd);
// Runs argv[0..argc) ("audit verify", ...). 0 ok, 1 failed, 2 usage.
int bl_admin_command(const bl_config_t *c, int argc, char **argv);
// Takes the exclusive lock on StateDir/lock that blattd holds while it runs; the fd, or -1
// (errno EWOULDBLOCK when someone else holds it).
int bl_admin_lock(const bl_config_t *c);

#endif
