#!/bin/bash
# fuzz-replay.sh: replays every fuzz target's corpus (tests/fuzz/TARGET/) without libFuzzer.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init fuzz-replay

for t in $BL_FUZZ_TARGETS; do
    dir="$top_srcdir/tests/fuzz/${t#fuzz-}"
    out=$("$top_builddir/$t" "$dir" 2>&1)
    rc=$?
    n=$(ls "$dir" | wc -l)
    ok $rc "$t replays its corpus ($n inputs)"
    [ $rc -eq 0 ] || diag "$out"
done
bl_done
