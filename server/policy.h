// Authorisation: roles, who may print on which queue, rules on job attributes per group, and
// which role may do which operation (blatt-policy.conf(5)).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_POLICY_H
#define BL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "server/auth.h"

// Roles are additive bits. Every authenticated requester is a user.
#define BL_ROLE_USER 0x1u
#define BL_ROLE_OPERATOR 0x2u
#define BL_ROLE_ADMIN 0x4u
#define BL_ROLE_AUDITOR 0x8u

// Operation classes the policy speaks about.
typedef enum bl_op_class {
    BL_OP_QUERY,      // printer and system attributes: open to everyone
    BL_OP_PRINT,      // Print-Job, Validate-Job, Create-Job (plus the queue's allow list)
    BL_OP_DOCUMENT,   // Send-Document, Close-Job: the job's owner only
    BL_OP_MANAGE_JOB, // Cancel-Job, Hold-Job, Set-Job-Attributes: owner or role
    BL_OP_RELEASE,    // Release-Job (and job-hold-until=no-hold): owner, or role (default none)
    BL_OP_READ_JOBS,  // Get-Jobs, Get-Job-Attributes: own jobs, or all for the roles
    BL_OP_CANCEL_ALL, // Cancel-Jobs, Purge-Jobs on others' jobs
    BL_OP_IDENTIFY,   // Identify-Printer
    BL_OP_AUDIT,      // reading the audit chain
    BL_OP_ADMIN,      // admin routes and operations
    BL_OP_COUNT
} bl_op_class_t;

// Attribute rules that apply to a requester (merged from every matching <Rules> block).
typedef struct bl_job_rules {
    bool color_allowed;   // false: colour becomes monochrome (refused with fidelity)
    int max_copies;       // 0 = no limit
    char force_sides[32]; // "" = not forced
    char force_color_mode[32];
} bl_job_rules_t;

typedef struct bl_policy bl_policy_t;

// Parses blatt-policy.conf text. NULL with "file:line: what" in err.
bl_policy_t *bl_policy_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen);
// Reads a file (NULL path or "": the built-in policy: roles from nothing, everyone
// authenticated may print everywhere, nobody anonymous).
bl_policy_t *bl_policy_load(const char *path, char *err, size_t errlen);
void bl_policy_delete(bl_policy_t *p);

// The roles of an identity (0 for anonymous; the Unix-socket root is admin, operator and
// auditor).
unsigned bl_policy_roles(const bl_policy_t *p, const bl_identity_t *id);
// Whether roles may do operations of class c (for the roles that need no ownership).
bool bl_policy_role_may(const bl_policy_t *p, bl_op_class_t c, unsigned roles);
// Whether id may print on queue (deny lists win; allow lists when present; admins pass allow
// lists). Anonymous requesters only where the queue allows anonymous printing.
bool bl_policy_may_print(const bl_policy_t *p, const char *queue, const bl_identity_t *id);
// Whether the queue takes anonymous Print-Job (so an unauthenticated client is not challenged).
bool bl_policy_anonymous_queue(const bl_policy_t *p, const char *queue);
// The job rules for id.
void bl_policy_rules(const bl_policy_t *p, const bl_identity_t *id, bl_job_rules_t *out);

#endif
