// jwtcheck: verifies one bearer token against a JWKS file with server/jwt.c (for oidc-jwt.sh).
// Licensed under the Apache License, Version 2.0.
//
// Usage: jwtcheck [--now SECONDS] [--skew SECONDS] [--group-claim NAME] JWKS-FILE TOKEN-FILE
//                 ISSUER AUDIENCE
// TOKEN-FILE "-" reads standard input; one trailing newline is ignored. Prints
// "ok SUBJECT NAME GROUPS..." (exit 0) or "refused REASON" (exit 1); 2 on usage or I/O errors.
#include "server/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAX (1024 * 1024)

// The whole of path ("-": stdin) as a NUL-terminated string, or NULL. Caller frees.
static char *read_all(const char *path, size_t *len)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "jwtcheck: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX + 1, fp) : 0;
    if (fp != stdin)
        fclose(fp);
    if (!buf || n > FILE_MAX) {
        fprintf(stderr, "jwtcheck: %s: too large\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

// A non-negative number option value, or exits.
static long long number_arg(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0) {
        fprintf(stderr, "jwtcheck: %s needs a number\n", opt);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: jwtcheck [--now SECONDS] [--skew SECONDS] [--group-claim NAME] "
                    "JWKS-FILE TOKEN-FILE ISSUER AUDIENCE\n");
    exit(2);
}

static int check(const char *jwks_path, const char *token_path, const bl_jwt_rules_t *rules,
                 time_t now)
{
    size_t jlen = 0, tlen = 0;
    char why[256];
    char *jwks_json = read_all(jwks_path, &jlen);
    char *token = jwks_json ? read_all(token_path, &tlen) : NULL;
    if (!token) {
        free(jwks_json);
        return 2;
    }
    if (tlen > 0 && token[tlen - 1] == '\n')
        token[--tlen] = '\0';
    bl_jwks_t *jwks = bl_jwks_parse(jwks_json, jlen, why, sizeof(why));
    free(jwks_json);
    bl_jwt_claims_t c;
    int rc = 1;
    if (!jwks) {
        printf("refused JWKS: %s\n", why);
    } else if (!bl_jwt_verify(jwks, token, rules, now, &c, why, sizeof(why))) {
        printf("refused %s\n", why);
    } else {
        printf("ok %s %s", c.subject, c.name);
        for (size_t i = 0; i < c.num_groups; i++)
            printf(" %s", c.groups[i]);
        printf("\n");
        rc = 0;
    }
    bl_jwks_delete(jwks);
    free(token);
    return rc;
}

int main(int argc, char **argv)
{
    bl_jwt_rules_t rules = {NULL, NULL, "groups", 60};
    time_t now = time(NULL);
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--now") == 0)
            now = (time_t)number_arg(argv[i], argv[i + 1]);
        else if (strcmp(argv[i], "--skew") == 0)
            rules.skew = (int)number_arg(argv[i], argv[i + 1]);
        else if (strcmp(argv[i], "--group-claim") == 0)
            rules.group_claim = argv[i + 1];
        else
            usage();
    }
    if (argc - i != 4)
        usage();
    rules.issuer = argv[i + 2];
    rules.audience = argv[i + 3];
    return check(argv[i], argv[i + 1], &rules, now);
}
