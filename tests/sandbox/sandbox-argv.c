// Test helper for tests/sandbox.sh: builds blatt-exec's argv with bl_sandbox_argv and runs it.
// Licensed under the Apache License, Version 2.0.
//
// Usage: sandbox-argv HELPER TMPDIR PROGRAM ARGV0 ... First checks the edge cases of
// bl_sandbox_argv (too few entries, too small a buffer, bad values: 0), then execs HELPER
// with the filter sandbox of tests/sandbox.sh (nobody, no network, tmpfs TMPDIR, limits,
// seccomp filter) around PROGRAM, so that the test sees blatt-exec accept what blattd builds.
#include "drivers/sandbox.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void expect(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "sandbox-argv: FAILED: %s\n", what);
        failures++;
    }
}

static void check_edges(const bl_sandbox_t *sb, char *const *argv, size_t full)
{
    char *out[BL_SANDBOX_MAX_ARGS];
    char buf[128];
    expect(bl_sandbox_argv(sb, "/h", "/p", argv, out, full + 1, buf, sizeof(buf)) == full,
           "exactly enough entries");
    expect(bl_sandbox_argv(sb, "/h", "/p", argv, out, full, buf, sizeof(buf)) == 0,
           "one entry too few");
    expect(bl_sandbox_argv(sb, "/h", "/p", argv, out, sizeof(out) / sizeof(out[0]), buf, 8) == 0,
           "buffer too small");
    bl_sandbox_t bad = *sb;
    bad.cpu_seconds = -1;
    expect(bl_sandbox_argv(&bad, "/h", "/p", argv, out, BL_SANDBOX_MAX_ARGS, buf, sizeof(buf)) == 0,
           "negative limit");
    bl_sandbox_t none = {0};
    size_t argc = 0;
    while (argv[argc])
        argc++;
    size_t n = bl_sandbox_argv(&none, "/h", "/p", argv, out, BL_SANDBOX_MAX_ARGS, buf, sizeof(buf));
    expect(n == 3 + argc && !strcmp(out[0], "/h") && !strcmp(out[1], "--") &&
               !strcmp(out[2], "/p") && out[3] == argv[0] && !out[n],
           "no sandbox: helper -- program argv...");
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "Usage: sandbox-argv HELPER TMPDIR PROGRAM ARGV0 ...\n");
        return 2;
    }
    bl_sandbox_t sb = {.drop_user = true,
                       .uid = 65534,
                       .gid = 65534,
                       .no_network = true,
                       .tmpfs = argv[2],
                       .tmpfs_mb = 128,
                       .cpu_seconds = 2,
                       .memory_mb = 512,
                       .file_size_mb = 64,
                       .open_files = 64,
                       .seccomp = BL_SECCOMP_FILTER};
    char *out[BL_SANDBOX_MAX_ARGS];
    char buf[256];
    size_t n = bl_sandbox_argv(&sb, argv[1], argv[3], argv + 4, out, BL_SANDBOX_MAX_ARGS, buf,
                               sizeof(buf));
    expect(n > 0 && out[n] == NULL, "full sandbox fits");
    if (n == 0)
        return 1;
    check_edges(&sb, argv + 4, n);
    if (failures)
        return 1;
    execv(out[0], out);
    perror("sandbox-argv: execv");
    return 1;
}
