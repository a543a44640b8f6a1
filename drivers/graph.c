// The format graph: which filter turns which document format into which, at what cost (data).
// Licensed under the Apache License, Version 2.0.
//
// formats.conf holds one edge per line: `FROM TO COST PROGRAM`, `#` comments. An edge whose
// FROM and TO are the same type is a check: it runs first on every document of that type (for
// example qpdf on PDF) and is never part of a conversion. The cheapest chain wins (Dijkstra over
// at most a few dozen types); ties go to the chain with fewer steps.
#include "drivers/graph.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EDGES 128
#define MAX_TYPES 64
#define MAX_FILE (256 * 1024)

struct bl_graph {
    bl_graph_step_t edges[MAX_EDGES];
    size_t num_edges;
};

static bool type_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = strlen(s);
    if (!slash || slash == s || !slash[1] || n >= BL_GRAPH_TYPE_LEN)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("/.+-_", *s))
            return false;
    }
    return true;
}

static bool program_ok(const char *s)
{
    if (!*s || strlen(s) >= BL_GRAPH_PROGRAM_LEN || s[0] == '.')
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr(".-_", *s))
            return false;
    }
    return true;
}

static bool parse_line(bl_graph_t *g, char *line, const char *name, int lineno, char *err,
                       size_t errlen)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *tok[5];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t\r", &save); t;
         t = strtok_r(NULL, " \t\r", &save)) {
        if (n == 5)
            break;
        tok[n++] = t;
    }
    if (n == 0)
        return true;
    if (n != 4) {
        snprintf(err, errlen, "%s:%d: expected FROM TO COST PROGRAM", name, lineno);
        return false;
    }
    char *end = NULL;
    errno = 0;
    long cost = strtol(tok[2], &end, 10);
    if (!type_ok(tok[0]) || !type_ok(tok[1])) {
        snprintf(err, errlen, "%s:%d: bad MIME type", name, lineno);
        return false;
    }
    if (errno || *end || cost < 0 || cost > 100000) {
        snprintf(err, errlen, "%s:%d: COST must be 0..100000", name, lineno);
        return false;
    }
    if (!program_ok(tok[3])) {
        snprintf(err, errlen, "%s:%d: PROGRAM must be a plain file name", name, lineno);
        return false;
    }
    if (g->num_edges == MAX_EDGES) {
        snprintf(err, errlen, "%s:%d: more than %d edges", name, lineno, MAX_EDGES);
        return false;
    }
    bl_graph_step_t *e = &g->edges[g->num_edges++];
    snprintf(e->from, sizeof(e->from), "%s", tok[0]);
    snprintf(e->to, sizeof(e->to), "%s", tok[1]);
    snprintf(e->program, sizeof(e->program), "%s", tok[3]);
    e->cost = (int)cost;
    return true;
}

bl_graph_t *bl_graph_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    bl_graph_t *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    size_t pos = 0;
    int lineno = 0;
    char line[1024];
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - text - pos) : len - pos;
        if (n >= sizeof(line) || memchr(text + pos, '\0', n)) {
            snprintf(err, errlen, "%s:%d: line too long or binary", name, lineno);
            bl_graph_delete(g);
            return NULL;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl != NULL);
        if (!parse_line(g, line, name, lineno, err, errlen)) {
            bl_graph_delete(g);
            return NULL;
        }
    }
    return g;
}

bl_graph_t *bl_graph_load(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, fp) : 0;
    fclose(fp);
    if (!buf || n > MAX_FILE) {
        snprintf(err, errlen, "%s: unreadable or larger than 256 KiB", path);
        free(buf);
        return NULL;
    }
    bl_graph_t *g = bl_graph_parse(buf, n, path, err, errlen);
    free(buf);
    return g;
}

void bl_graph_delete(bl_graph_t *g)
{
    free(g);
}

// Index of type t in the node table (added when missing); -1 when the table is full.
static int node(const char *types[], size_t *n, const char *t)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(types[i], t))
            return (int)i;
    }
    if (*n == MAX_TYPES)
        return -1;
    types[*n] = t;
    return (int)(*n)++;
}

static bool is_dest(const char *t, const char *const *dests, size_t nd)
{
    for (size_t i = 0; i < nd; i++) {
        if (dests[i] && !strcmp(dests[i], t))
            return true;
    }
    return false;
}

static const bl_graph_step_t *check_for(const bl_graph_t *g, const char *type)
{
    for (size_t i = 0; i < g->num_edges; i++) {
        if (!strcmp(g->edges[i].from, type) && !strcmp(g->edges[i].to, type))
            return &g->edges[i];
    }
    return NULL;
}

// Dijkstra from src; fills out with the cheapest conversion (without the check).
static bool shortest(const bl_graph_t *g, const char *src, const char *const *dests, size_t nd,
                     bl_graph_path_t *out)
{
    const char *types[MAX_TYPES] = {NULL};
    size_t nt = 0;
    int dist[MAX_TYPES], steps[MAX_TYPES], via[MAX_TYPES];
    bool done[MAX_TYPES] = {false};
    node(types, &nt, src);
    for (size_t i = 0; i < g->num_edges; i++) {
        node(types, &nt, g->edges[i].from);
        node(types, &nt, g->edges[i].to);
    }
    for (size_t i = 0; i < nt; i++)
        dist[i] = INT_MAX, steps[i] = 0, via[i] = -1;
    dist[0] = 0;
    for (;;) {
        int u = -1;
        for (size_t i = 0; i < nt; i++) {
            if (!done[i] && dist[i] != INT_MAX &&
                (u < 0 || dist[i] < dist[u] || (dist[i] == dist[u] && steps[i] < steps[u])))
                u = (int)i;
        }
        if (u < 0)
            return false;
        done[u] = true;
        if (is_dest(types[u], dests, nd)) {
            // Walk back along `via` (edge indices) to build the chain.
            size_t k = (size_t)steps[u];
            if (k > BL_GRAPH_MAX_STEPS)
                return false;
            out->num_steps = k;
            out->cost = dist[u];
            snprintf(out->dest, sizeof(out->dest), "%s", types[u]);
            for (int v = u; via[v] >= 0;) {
                const bl_graph_step_t *e = &g->edges[via[v]];
                out->steps[--k] = *e;
                v = node(types, &nt, e->from);
            }
            return true;
        }
        for (size_t i = 0; i < g->num_edges; i++) {
            const bl_graph_step_t *e = &g->edges[i];
            if (strcmp(e->from, types[u]) || !strcmp(e->from, e->to))
                continue;
            int v = node(types, &nt, e->to);
            int d = dist[u] + e->cost;
            if (v >= 0 && !done[v] && (d < dist[v] || (d == dist[v] && steps[u] + 1 < steps[v]))) {
                dist[v] = d;
                steps[v] = steps[u] + 1;
                via[v] = (int)i;
            }
        }
    }
}

bool bl_graph_find(const bl_graph_t *g, const char *src, const char *const *dests, size_t nd,
                   bl_graph_path_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!src || !*src || !shortest(g, src, dests, nd, out))
        return false;
    const bl_graph_step_t *check = check_for(g, src);
    if (check) {
        if (out->num_steps == BL_GRAPH_MAX_STEPS)
            return false;
        memmove(&out->steps[1], &out->steps[0], out->num_steps * sizeof(out->steps[0]));
        out->steps[0] = *check;
        out->num_steps++;
        out->cost += check->cost;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char **bl_graph_sources(const bl_graph_t *g, const char *const *dests, size_t nd, size_t *count)
{
    *count = 0;
    const char *cand[MAX_TYPES + 64];
    size_t nc = 0;
    for (size_t i = 0; i < g->num_edges && nc < MAX_TYPES; i++)
        cand[nc++] = g->edges[i].from;
    for (size_t i = 0; i < nd && i < 64; i++)
        cand[nc++] = dests[i];
    char **list = calloc(nc + 1, sizeof(*list));
    if (!list)
        return NULL;
    for (size_t i = 0; i < nc; i++) {
        bl_graph_path_t path;
        bool dup = false;
        for (size_t k = 0; k < *count; k++)
            dup = dup || !strcmp(list[k], cand[i]);
        // application/octet-stream is accepted separately (the format is then detected).
        if (dup || !cand[i] || !strcmp(cand[i], "application/octet-stream") ||
            !shortest(g, cand[i], dests, nd, &path))
            continue;
        if (!(list[*count] = strdup(cand[i])))
            break;
        (*count)++;
    }
    if (*count == 0) {
        free(list);
        return NULL;
    }
    qsort(list, *count, sizeof(*list), cmp_str);
    return list;
}
