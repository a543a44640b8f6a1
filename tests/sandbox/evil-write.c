// Hostile filter for tests/sandbox.sh: tries to leave files outside its TMPDIR.
// Licensed under the Apache License, Version 2.0.
//
// A filter by blatt-filter(7). OPTIONS: name=MARK (the file name to create, default
// evil-mark), statedir=DIR (blattd's StateDir; else $BL_STATE_DIR). Tries /tmp, /var/tmp,
// /dev/shm, the StateDir and the parent of its working directory, then its own TMPDIR (which
// must work). Exits 0 with "ATTR: evil-succeeded=1" when a file outside TMPDIR was created;
// otherwise prints "ERROR: blocked: <path>: <why>" for each and exits 1.
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool option(const char *opts, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = opts; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = strcspn(p + n + 1, " ");
            snprintf(buf, len, "%.*s", (int)v, p + n + 1);
            return true;
        }
    }
    return false;
}

static bool try_write(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "ERROR: blocked: %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = write(fd, "evil\n", 5) == 5;
    close(fd);
    fprintf(stderr, "INFO: wrote %s%s\n", path, ok ? "" : " (empty)");
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "Usage: %s job-id user title copies options\n", argv[0]);
        return 1;
    }
    char name[256] = "evil-mark", state[4096] = "";
    option(argv[5], "name", name, sizeof(name));
    if (!option(argv[5], "statedir", state, sizeof(state)) && getenv("BL_STATE_DIR"))
        snprintf(state, sizeof(state), "%s", getenv("BL_STATE_DIR"));
    const char *outside[] = {"/tmp", "/var/tmp", "/dev/shm", state[0] ? state : NULL, ".."};
    bool escaped = false;
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        if (outside[i])
            escaped |= try_write(outside[i], name);
    const char *tmp = getenv("TMPDIR");
    if (!try_write(tmp ? tmp : ".", name))
        fprintf(stderr, "WARNING: cannot write in TMPDIR\n");
    if (!escaped)
        return 1;
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
