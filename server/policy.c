// Authorisation: roles, queue access, job rules per group, operations per role.
// Licensed under the Apache License, Version 2.0.
//
// blatt-policy.conf: one directive per line, `#` comments, <Queue NAME> and <Rules MEMBER...>
// blocks. Members are subjects (compared byte for byte) or @groups; `*` is every
// authenticated requester. The parser is table-driven like blattd.conf's; every error names
// file:line. Without a file the built-in policy applies: every authenticated requester may
// print everywhere, nobody may print anonymously, and only the Unix-socket root has roles.
#include "server/policy.h"

#include "server/conffile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_MEMBERS 256
#define MAX_QUEUES 4096
#define MAX_RULES 256

typedef struct members {
    char **v;
    size_t n;
} members_t;

typedef struct queue_rule {
    char name[128];
    members_t allow, deny;
    bool has_allow, anonymous;
} queue_rule_t;

typedef struct rules_block {
    members_t who;
    bl_job_rules_t r;
    bool set_color, set_copies;
} rules_block_t;

struct bl_policy {
    members_t admins, operators, auditors;
    queue_rule_t *queues;
    size_t num_queues;
    rules_block_t *rules;
    size_t num_rules;
    unsigned op_roles[BL_OP_COUNT]; // roles that may do each class without owning the job
};

typedef struct parser {
    const char *file;
    int line;
    char *err;
    size_t errlen;
    bl_policy_t *p;
    queue_rule_t *queue;  // open <Queue>
    rules_block_t *rules; // open <Rules>
} parser_t;

static const struct {
    const char *name;
    bl_op_class_t c;
} classes[] = {
    {"query", BL_OP_QUERY},         {"print", BL_OP_PRINT},
    {"document", BL_OP_DOCUMENT},   {"manage-jobs", BL_OP_MANAGE_JOB},
    {"read-jobs", BL_OP_READ_JOBS}, {"cancel-all", BL_OP_CANCEL_ALL},
    {"identify", BL_OP_IDENTIFY},   {"audit", BL_OP_AUDIT},
    {"release", BL_OP_RELEASE},     {"admin", BL_OP_ADMIN},
};

static bool fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(parser_t *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bl_conffile_verror(ps->err, ps->errlen, ps->file, ps->line, fmt, ap);
    va_end(ap);
    return false;
}

static void members_free(members_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

// A member word: *, @group or a subject (printable, no spaces, at most 255 bytes).
static bool member_ok(const char *w, size_t n)
{
    if (n == 0 || n > 255 || (w[0] == '@' && n == 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c <= 0x20 || c == 0x7f || c == '#')
            return false;
    }
    return true;
}

static bool add_members(parser_t *ps, members_t *m, const char *words)
{
    for (const char *w = words; *w;) {
        w += strspn(w, " \t");
        size_t n = strcspn(w, " \t");
        if (!n)
            break;
        if (!member_ok(w, n))
            return fail(ps, "\"%.*s\" is not a subject, @group or *", (int)(n > 64 ? 64 : n), w);
        if (m->n == MAX_MEMBERS)
            return fail(ps, "more than %d members", MAX_MEMBERS);
        char **v = realloc(m->v, (m->n + 1) * sizeof(*v));
        if (!v)
            return fail(ps, "out of memory");
        m->v = v;
        if (!(v[m->n] = strndup(w, n)))
            return fail(ps, "out of memory");
        m->n++;
        w += n;
    }
    if (m->n == 0)
        return fail(ps, "needs at least one member");
    return true;
}

static bool is_member(const members_t *m, const bl_identity_t *id)
{
    if (!id->subject[0])
        return false;
    for (size_t i = 0; i < m->n; i++) {
        const char *w = m->v[i];
        if (!strcmp(w, "*") || !strcmp(w, id->subject))
            return true;
        for (size_t g = 0; w[0] == '@' && g < id->num_groups; g++) {
            if (!strcmp(w + 1, id->groups[g]))
                return true;
        }
    }
    return false;
}

static bool parse_bool(parser_t *ps, const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off"))
        *out = false;
    else
        return fail(ps, "expected Yes or No, got \"%s\"", v);
    return true;
}

static bool parse_roles(parser_t *ps, const char *words, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } roles[] = {{"user", BL_ROLE_USER},
                 {"operator", BL_ROLE_OPERATOR},
                 {"admin", BL_ROLE_ADMIN},
                 {"auditor", BL_ROLE_AUDITOR},
                 {"none", 0}};
    *out = 0;
    for (const char *w = words; *w;) {
        w += strspn(w, " \t");
        size_t n = strcspn(w, " \t"), i;
        if (!n)
            break;
        for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
            if (strlen(roles[i].name) == n && !strncasecmp(w, roles[i].name, n))
                break;
        }
        if (i == sizeof(roles) / sizeof(roles[0]))
            return fail(ps, "unknown role \"%.*s\" (user, operator, admin, auditor, none)",
                        (int)(n > 32 ? 32 : n), w);
        *out |= roles[i].bit;
        w += n;
    }
    return true;
}

// Operations CLASS ROLE...: which roles may do a class of operations on others' things.
static bool parse_operations(parser_t *ps, const char *v)
{
    size_t n = strcspn(v, " \t");
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        if (strlen(classes[i].name) == n && !strncasecmp(v, classes[i].name, n))
            return parse_roles(ps, v + n, &ps->p->op_roles[classes[i].c]);
    }
    return fail(ps, "unknown operation class \"%.*s\"", (int)(n > 32 ? 32 : n), v);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    }
    return true;
}

static bool open_block(parser_t *ps, char *line)
{
    size_t n = strlen(line);
    if (line[n - 1] != '>')
        return fail(ps, "block line must end with '>'");
    line[n - 1] = '\0';
    char *arg = line + 1 + strcspn(line + 1, " \t");
    size_t kl = (size_t)(arg - line - 1);
    arg += strspn(arg, " \t");
    if (ps->queue || ps->rules)
        return fail(ps, "blocks cannot nest");
    bl_policy_t *p = ps->p;
    if (kl == 5 && !strncasecmp(line + 1, "Queue", 5)) {
        if (!name_ok(arg))
            return fail(ps, "invalid queue name \"%.64s\"", arg);
        if (p->num_queues == MAX_QUEUES)
            return fail(ps, "too many <Queue> blocks");
        queue_rule_t *q = realloc(p->queues, (p->num_queues + 1) * sizeof(*q));
        if (!q)
            return fail(ps, "out of memory");
        p->queues = q;
        ps->queue = &q[p->num_queues++];
        memset(ps->queue, 0, sizeof(*ps->queue));
        snprintf(ps->queue->name, sizeof(ps->queue->name), "%s", arg);
        return true;
    }
    if (kl == 5 && !strncasecmp(line + 1, "Rules", 5)) {
        if (p->num_rules == MAX_RULES)
            return fail(ps, "too many <Rules> blocks");
        rules_block_t *r = realloc(p->rules, (p->num_rules + 1) * sizeof(*r));
        if (!r)
            return fail(ps, "out of memory");
        p->rules = r;
        ps->rules = &r[p->num_rules++];
        memset(ps->rules, 0, sizeof(*ps->rules));
        return add_members(ps, &ps->rules->who, arg);
    }
    return fail(ps, "unknown block <%.*s>", (int)(kl > 32 ? 32 : kl), line + 1);
}

static bool close_block(parser_t *ps, const char *line)
{
    if ((!strcasecmp(line, "</Queue>") && ps->queue) ||
        (!strcasecmp(line, "</Rules>") && ps->rules)) {
        ps->queue = NULL;
        ps->rules = NULL;
        return true;
    }
    return fail(ps, "%s without its block", line);
}

static bool keyword_ok(const char *v, const char *choices)
{
    size_t vl = strlen(v);
    for (const char *c = choices; *c;) {
        size_t n = strcspn(c, "|");
        if (n == vl && !strncmp(c, v, n))
            return true;
        c += n + (c[n] == '|');
    }
    return false;
}

// Directives inside <Rules>.
static bool rules_directive(parser_t *ps, const char *name, const char *v)
{
    bl_job_rules_t *r = &ps->rules->r;
    if (!strcasecmp(name, "ColorAllowed")) {
        ps->rules->set_color = true;
        return parse_bool(ps, v, &r->color_allowed);
    }
    if (!strcasecmp(name, "MaxCopies")) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > 999)
            return fail(ps, "MaxCopies must be 1..999");
        r->max_copies = (int)n;
        ps->rules->set_copies = true;
        return true;
    }
    if (!strcasecmp(name, "ForceSides")) {
        if (!keyword_ok(v, "one-sided|two-sided-long-edge|two-sided-short-edge"))
            return fail(ps, "ForceSides: \"%.64s\" is not a sides keyword", v);
        snprintf(r->force_sides, sizeof(r->force_sides), "%s", v);
        return true;
    }
    if (!strcasecmp(name, "ForceColorMode")) {
        if (!keyword_ok(v, "monochrome|color|auto"))
            return fail(ps, "ForceColorMode: \"%.64s\" is not monochrome, color or auto", v);
        snprintf(r->force_color_mode, sizeof(r->force_color_mode), "%s", v);
        return true;
    }
    return fail(ps, "unknown directive \"%.64s\" in <Rules>", name);
}

static bool queue_directive(parser_t *ps, const char *name, const char *v)
{
    queue_rule_t *q = ps->queue;
    if (!strcasecmp(name, "Allow")) {
        q->has_allow = true;
        return add_members(ps, &q->allow, v);
    }
    if (!strcasecmp(name, "Deny"))
        return add_members(ps, &q->deny, v);
    if (!strcasecmp(name, "Anonymous"))
        return parse_bool(ps, v, &q->anonymous);
    return fail(ps, "unknown directive \"%.64s\" in <Queue>", name);
}

static bool global_directive(parser_t *ps, const char *name, const char *v)
{
    bl_policy_t *p = ps->p;
    if (!strcasecmp(name, "Admin"))
        return add_members(ps, &p->admins, v);
    if (!strcasecmp(name, "Operator"))
        return add_members(ps, &p->operators, v);
    if (!strcasecmp(name, "Auditor"))
        return add_members(ps, &p->auditors, v);
    if (!strcasecmp(name, "Operations"))
        return parse_operations(ps, v);
    return fail(ps, "unknown directive \"%.64s\"", name);
}

static bool parse_line(void *ctx, int number, char *line)
{
    parser_t *ps = ctx;
    ps->line = number;
    line = bl_conffile_trim(line);
    if (!*line)
        return true;
    if (line[0] == '<')
        return line[1] == '/' ? close_block(ps, line) : open_block(ps, line);
    char *v = bl_conffile_value(line);
    if (!*v)
        return fail(ps, "%.64s needs a value", line);
    if (ps->queue)
        return queue_directive(ps, line, v);
    if (ps->rules)
        return rules_directive(ps, line, v);
    return global_directive(ps, line, v);
}

static bl_policy_t *policy_new(void)
{
    bl_policy_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    // Built-in defaults: who may act on other people's jobs and on the server.
    p->op_roles[BL_OP_QUERY] = BL_ROLE_USER;
    p->op_roles[BL_OP_PRINT] = BL_ROLE_USER;
    p->op_roles[BL_OP_DOCUMENT] = 0; // only the owner
    p->op_roles[BL_OP_MANAGE_JOB] = BL_ROLE_OPERATOR | BL_ROLE_ADMIN;
    p->op_roles[BL_OP_RELEASE] = 0; // pull printing: only the owner releases, at the printer
    p->op_roles[BL_OP_READ_JOBS] = BL_ROLE_OPERATOR | BL_ROLE_ADMIN | BL_ROLE_AUDITOR;
    p->op_roles[BL_OP_CANCEL_ALL] = BL_ROLE_OPERATOR | BL_ROLE_ADMIN;
    p->op_roles[BL_OP_IDENTIFY] = BL_ROLE_USER;
    p->op_roles[BL_OP_AUDIT] = BL_ROLE_AUDITOR | BL_ROLE_ADMIN;
    p->op_roles[BL_OP_ADMIN] = BL_ROLE_ADMIN;
    return p;
}

void bl_policy_delete(bl_policy_t *p)
{
    if (!p)
        return;
    members_free(&p->admins);
    members_free(&p->operators);
    members_free(&p->auditors);
    for (size_t i = 0; i < p->num_queues; i++) {
        members_free(&p->queues[i].allow);
        members_free(&p->queues[i].deny);
    }
    free(p->queues);
    for (size_t i = 0; i < p->num_rules; i++)
        members_free(&p->rules[i].who);
    free(p->rules);
    free(p);
}

bl_policy_t *bl_policy_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen)
{
    parser_t ps = {.file = name ? name : "(policy)", .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    if (!(ps.p = policy_new())) {
        snprintf(err, errlen, "%s: out of memory", ps.file);
        return NULL;
    }
    if (!bl_conffile_lines(text, len, ps.file, err, errlen, parse_line, &ps) ||
        ((ps.queue || ps.rules) && !fail(&ps, "a block is not closed"))) {
        bl_policy_delete(ps.p);
        return NULL;
    }
    return ps.p;
}

bl_policy_t *bl_policy_load(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return bl_policy_parse("", 0, "(built-in policy)", err, errlen);
    char *buf;
    size_t n;
    if (!bl_conffile_read(path, &buf, &n, err, errlen))
        return NULL;
    bl_policy_t *p = bl_policy_parse(buf, n, path, err, errlen);
    free(buf);
    return p;
}

unsigned bl_policy_roles(const bl_policy_t *p, const bl_identity_t *id)
{
    if (!id->subject[0])
        return 0;
    unsigned r = BL_ROLE_USER;
    if (id->local_root)
        r |= BL_ROLE_ADMIN | BL_ROLE_OPERATOR | BL_ROLE_AUDITOR;
    if (is_member(&p->admins, id))
        r |= BL_ROLE_ADMIN;
    if (is_member(&p->operators, id))
        r |= BL_ROLE_OPERATOR;
    if (is_member(&p->auditors, id))
        r |= BL_ROLE_AUDITOR;
    return r;
}

bool bl_policy_role_may(const bl_policy_t *p, bl_op_class_t c, unsigned roles)
{
    return c < BL_OP_COUNT && (p->op_roles[c] & roles) != 0;
}

static const queue_rule_t *find_queue(const bl_policy_t *p, const char *queue)
{
    for (size_t i = 0; i < p->num_queues; i++) {
        if (!strcmp(p->queues[i].name, queue))
            return &p->queues[i];
    }
    return NULL;
}

bool bl_policy_anonymous_queue(const bl_policy_t *p, const char *queue)
{
    const queue_rule_t *q = queue ? find_queue(p, queue) : NULL;
    return q && q->anonymous;
}

bool bl_policy_may_print(const bl_policy_t *p, const char *queue, const bl_identity_t *id)
{
    const queue_rule_t *q = find_queue(p, queue);
    if (!id->subject[0])
        return q && q->anonymous;
    unsigned roles = bl_policy_roles(p, id);
    if (!bl_policy_role_may(p, BL_OP_PRINT, roles))
        return false;
    if (!q)
        return true;
    if (is_member(&q->deny, id))
        return false;
    return !q->has_allow || is_member(&q->allow, id) || (roles & BL_ROLE_ADMIN);
}

void bl_policy_rules(const bl_policy_t *p, const bl_identity_t *id, bl_job_rules_t *out)
{
    memset(out, 0, sizeof(*out));
    out->color_allowed = true;
    for (size_t i = 0; i < p->num_rules; i++) {
        const rules_block_t *b = &p->rules[i];
        if (!is_member(&b->who, id))
            continue;
        // The strictest rule wins; a forced value of a later block replaces an earlier one.
        if (b->set_color && !b->r.color_allowed)
            out->color_allowed = false;
        if (b->set_copies && (!out->max_copies || b->r.max_copies < out->max_copies))
            out->max_copies = b->r.max_copies;
        if (b->r.force_sides[0])
            snprintf(out->force_sides, sizeof(out->force_sides), "%s", b->r.force_sides);
        if (b->r.force_color_mode[0])
            snprintf(out->force_color_mode, sizeof(out->force_color_mode), "%s",
                     b->r.force_color_mode);
    }
}
