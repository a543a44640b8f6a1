// spy: stands in for a filter or backend, reports its command line and environment on stderr,
// then runs the real program with both unchanged.
// Licensed under the Apache License, Version 2.0.
//
// Installed in a test's FilterDir or BackendDir under the name of the program it replaces
// (argv[0]: "pdfcheck", "ipp"...). The sandbox lets it write nowhere but its TMPDIR, which
// vanishes with the job, so the evidence leaves as status lines that blattd logs (at
// LogLevel debug):
//   DEBUG: spy NAME start argc=N envc=N uid=N gid=N
//   DEBUG: spy NAME aI LEN        argv[I] is LEN bytes long
//   DEBUG: spy NAME aI.K HEX      chunk K of argv[I], hex (eI for environ[I])
// Hex keeps whatever bytes a value holds out of the log as text. The real program is
// BL_BUILDDIR/drivers/backend/NAME for ipp, ipps, socket and file, else
// BL_BUILDDIR/drivers/filter/NAME.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef BL_BUILDDIR
#error BL_BUILDDIR must name the build directory
#endif

#define CHUNK 96

extern char **environ;

static void report(const char *name, char kind, int i, const char *value)
{
    size_t len = strlen(value);
    fprintf(stderr, "DEBUG: spy %s %c%d %zu\n", name, kind, i, len);
    for (size_t off = 0, k = 0; off < len; off += CHUNK, k++) {
        fprintf(stderr, "DEBUG: spy %s %c%d.%zu ", name, kind, i, k);
        for (size_t j = off; j < len && j < off + CHUNK; j++)
            fprintf(stderr, "%02x", (unsigned char)value[j]);
        fputc('\n', stderr);
    }
}

static int is_backend(const char *name)
{
    static const char *const backends[] = {"ipp", "ipps", "socket", "file"};
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (!strcmp(name, backends[i]))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    name = name ? name + 1 : argc > 0 && argv[0] ? argv[0] : "";
    if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name)) {
        fprintf(stderr, "ERROR: spy: bad program name\n");
        return 1;
    }
    int envc = 0;
    while (environ && environ[envc])
        envc++;
    fprintf(stderr, "DEBUG: spy %s start argc=%d envc=%d uid=%u gid=%u\n", name, argc, envc,
            (unsigned)getuid(), (unsigned)getgid());
    for (int i = 0; i < argc; i++)
        report(name, 'a', i, argv[i]);
    for (int i = 0; i < envc; i++)
        report(name, 'e', i, environ[i]);
    fflush(stderr);
    char real[4096];
    snprintf(real, sizeof(real), "%s/drivers/%s/%s", BL_BUILDDIR,
             is_backend(name) ? "backend" : "filter", name);
    execve(real, argv, environ);
    fprintf(stderr, "ERROR: spy: cannot run %s\n", real);
    return 1;
}
