#!/bin/sh
# fuzz.sh: builds the fuzz targets for libFuzzer (clang, ASan, UBSan) in build-fuzz/ and runs
# them, each for a while, on a copy of its corpus (tests/fuzz/TARGET/ is only read).
# Licensed under the Apache License, Version 2.0.
#
# Usage: tools/fuzz.sh [SECONDS [TARGET...]]   (default: 60 s each, every target)
# Crashes are left as build-fuzz/crash-* and make the script exit 1.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build="$src/build-fuzz"
"$src/tools/install-deps.sh"
cd "$src"
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
    "$src/configure" CC=clang \
        CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
        >configure.out
fi
targets=${*:-$(sed -n 's/^BL_FUZZ_TARGETS [+]*= //p' "$src/tests/local.mk" | tr '\n' ' ')}
# Only the fuzz targets link with libFuzzer (its main replaces tests/fuzz/replay.c's).
make -j"$(nproc)" $targets AM_LDFLAGS="-fsanitize=fuzzer,address,undefined" >make.out 2>&1 ||
    { tail -30 make.out; exit 1; }
rc=0
for t in $targets; do
    corpus="$build/corpus/${t#fuzz-}"
    mkdir -p "$corpus"
    echo "fuzz: $t for ${secs}s"
    if ! ./"$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 "$corpus" \
        "$src/tests/fuzz/${t#fuzz-}" >"$t.log" 2>&1; then
        echo "fuzz: $t FAILED (see $build/$t.log)"
        rc=1
    fi
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$t.log" | tr '\n' ' '
    echo
done
exit $rc
