// The format graph: which filter turns which document format into which, at what cost (data).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_GRAPH_H
#define BL_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#define BL_GRAPH_MAX_STEPS 6
#define BL_GRAPH_TYPE_LEN 64
#define BL_GRAPH_PROGRAM_LEN 64

typedef struct bl_graph bl_graph_t;

typedef struct bl_graph_step {
    char from[BL_GRAPH_TYPE_LEN];
    char to[BL_GRAPH_TYPE_LEN];
    char program[BL_GRAPH_PROGRAM_LEN]; // file name in FilterDir
    int cost;
} bl_graph_step_t;

typedef struct bl_graph_path {
    bl_graph_step_t steps[BL_GRAPH_MAX_STEPS];
    size_t num_steps; // 0: the device takes the document as it is
    char dest[BL_GRAPH_TYPE_LEN];
    int cost;
} bl_graph_path_t;

// Loads formats.conf (see the file for its syntax). NULL with "file:line: what" in err.
bl_graph_t *bl_graph_load(const char *path, char *err, size_t errlen);
// Parses the same syntax from memory (len bytes).
bl_graph_t *bl_graph_parse(const char *text, size_t len, const char *name, char *err,
                           size_t errlen);
void bl_graph_delete(bl_graph_t *g);
// The cheapest chain from src to one of dests. A `check` for src (an edge from a type to
// itself) always runs first. false when no chain exists.
bool bl_graph_find(const bl_graph_t *g, const char *src, const char *const *dests, size_t nd,
                   bl_graph_path_t *out);
// Every source type that can reach one of dests, sorted, as a malloc'd array of malloc'd
// strings (*count entries). NULL with *count 0 when none.
char **bl_graph_sources(const bl_graph_t *g, const char *const *dests, size_t nd, size_t *count);

#endif
