// libFuzzer target of the blatt-policy.conf parser (bl_policy_parse) and of the decisions
// made with what it accepted.
// Licensed under the Apache License, Version 2.0.
#include "server/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    bl_policy_t *p = bl_policy_parse((const char *)data, size, "fuzz.conf", err, sizeof(err));
    if (!p) {
        if (!strchr(err, ':'))
            abort(); // every refusal names file:line
        return 0;
    }
    // Whatever the file says, anonymous has no role and the queries stay answerable.
    bl_identity_t anon, alice;
    memset(&anon, 0, sizeof(anon));
    memset(&alice, 0, sizeof(alice));
    strcpy(alice.subject, "alice");
    strcpy(alice.groups[0], "staff");
    alice.num_groups = 1;
    if (bl_policy_roles(p, &anon) != 0)
        abort();
    unsigned roles = bl_policy_roles(p, &alice);
    if (!(roles & BL_ROLE_USER))
        abort();
    for (int c = 0; c < BL_OP_COUNT; c++)
        (void)bl_policy_role_may(p, (bl_op_class_t)c, roles);
    const char *queues[] = {"office", "a", "visitors", ""};
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        (void)bl_policy_may_print(p, queues[i], &alice);
        if (bl_policy_may_print(p, queues[i], &anon) != bl_policy_anonymous_queue(p, queues[i]))
            abort();
    }
    bl_job_rules_t r;
    bl_policy_rules(p, &alice, &r);
    if (r.max_copies < 0 || r.max_copies > 999)
        abort();
    bl_policy_delete(p);
    return 0;
}
