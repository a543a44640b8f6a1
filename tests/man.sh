#!/bin/bash
# man.sh: every manual page passes `mandoc -Tlint` without warnings.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init man

for page in "$top_srcdir"/man/*.[1-8]; do
    out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
    ok $([ -z "$out" ]; echo $?) "$(basename "$page") is lint-clean"
    [ -z "$out" ] || diag "$out"
done
# Every program and the file an admin edits have a page.
for p in blattd.8 blatt.1 blattd.conf.5 blatt-policy.conf.5 blatt-filter.7 blatt-backend.7; do
    [ -f "$top_srcdir/man/$p" ]
    ok $? "man/$p exists"
done
bl_done
