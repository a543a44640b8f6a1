// libfloor: the memory a process costs before it runs any code of its own: it loads the
// shared libraries named on its command line (a daemon's DT_NEEDED list), with their own
// dependencies and constructors, exactly as the dynamic linker would, and prints its RSS.
// Licensed under the Apache License, Version 2.0.
//
//   libfloor LIBRARY...
// Prints `rss_kb=N anon_kb=N file_kb=N` (from /proc/self/status) on success; exits 1 with the
// loader's message when a library cannot be loaded.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static long status_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    long kb = -1;
    if (p == NULL || sscanf(p + strlen(key), " %ld", &kb) != 1)
        return -1;
    return kb;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL) == NULL) {
            fprintf(stderr, "libfloor: %s\n", dlerror());
            return 1;
        }
    }
    char text[8192];
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        perror("libfloor: /proc/self/status");
        return 1;
    }
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    long rss = status_kb(text, "VmRSS:"), anon = status_kb(text, "RssAnon:"),
         file = status_kb(text, "RssFile:");
    if (rss < 0 || anon < 0 || file < 0) {
        fprintf(stderr, "libfloor: no VmRSS, RssAnon or RssFile in /proc/self/status\n");
        return 1;
    }
    printf("rss_kb=%ld anon_kb=%ld file_kb=%ld\n", rss, anon, file);
    return 0;
}
