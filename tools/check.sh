#!/bin/bash
# check.sh: sets up, builds and runs every test of Blatt: the test suite once as built with
# -Werror and once under ASan/UBSan, cppcheck and clang-format. Ends with "N passed, N failed".
# Licensed under the Apache License, Version 2.0.
#
# Usage: tools/check.sh [--quick]   (--quick: no sanitizer run)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
quick=${1:-}
passed=0
failed=0
start=$SECONDS

# The test documents (PWG's self-certification kit) lie beside the project, in
# ../shared/testdata/documents. A clone made elsewhere (git clone /path/to/blatt /tmp/x) finds
# them beside the repository it was cloned from; BL_DOCS names them anywhere.
if [ -z "${BL_DOCS:-}" ] && [ ! -d "$src/../shared/testdata/documents" ]; then
    origin=$(git -C "$src" config --get remote.origin.url 2>/dev/null)
    if [ -n "$origin" ] && [ -d "$origin/../shared/testdata/documents" ]; then
        BL_DOCS=$(cd "$origin/../shared/testdata/documents" && pwd)
        export BL_DOCS
        echo "check: test documents from $BL_DOCS"
    else
        echo "check: the test documents are missing: clone beside shared/" \
            "(../shared/testdata/documents) or set BL_DOCS" >&2
    fi
fi

# count DIR: adds the results of a `make check` in DIR (every test and every TAP check).
count()
{
    local p f
    p=$(cat "$1"/*.trs "$1"/tests/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
    f=$(cat "$1"/*.trs "$1"/tests/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|ERROR\|XPASS\)')
    passed=$((passed + p))
    failed=$((failed + f))
    echo "check: $1: $p passed, $f failed"
    if [ "$f" -gt 0 ]; then
        grep -h '^\(FAIL\|ERROR\|XPASS\)' "$1/test-suite.log" | head -40
    fi
}

# result NAME STATUS: one check of its own (build, static analysis).
result()
{
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        echo "check: $1: passed"
    else
        failed=$((failed + 1))
        echo "check: $1: FAILED"
    fi
}

# Where the builds (and the tests' work directories with their file queues) go: beside the
# sources, unless those lie in a shared temporary directory, which blattd's sandbox makes
# read-only for filters and backends (a file queue there is refused): then outside it.
out=${BL_CHECK_DIR:-$src}
case "$src/" in
/tmp/* | /var/tmp/* | /dev/shm/* | /run/lock/*)
    if [ -z "${BL_CHECK_DIR:-}" ]; then
        if [ "$(id -u)" = 0 ]; then
            out="/var/lib/blatt-check/$(printf '%s' "$src" | tr -c 'A-Za-z0-9\n' _)"
        else
            out="${XDG_CACHE_HOME:-$HOME/.cache}/blatt-check/$(printf '%s' "$src" | tr -c 'A-Za-z0-9\n' _)"
        fi
        echo "check: $src lies in a shared temporary directory: building and testing in $out"
    fi
    ;;
esac
mkdir -p "$out" || exit 1
build="$out/build"
"$src/tools/build.sh" "$build"
result "build with -Wall -Wextra -Werror" $?
# The OpenID Connect provider of the bearer-token tests (npm, pinned by its lock file).
if [ ! -d "$src/tests/oidc/node_modules" ] ||
    [ "$src/tests/oidc/package-lock.json" -nt "$src/tests/oidc/node_modules" ]; then
    npm ci --prefix "$src/tests/oidc" --no-audit --no-fund >"$build/npm.out" 2>&1
    result "npm ci (tests/oidc)" $?
fi
make -C "$build" -j2 check >"$build/check.out" 2>&1
count "$build"

if [ "$quick" != --quick ]; then
    asan="$out/build-asan"
    "$src/tools/build.sh" "$asan" --enable-sanitizers
    result "build with ASan and UBSan" $?
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        make -C "$asan" -j2 check >"$asan/check.out" 2>&1
    count "$asan"
fi

files=$(cd "$src" && git ls-files '*.c' '*.h')
(cd "$src" && cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
    --inline-suppr --std=c11 -D__GNUC__ -DBL_BUILDDIR=\"/\" -I. -I"$build" $files) >"$build/cppcheck.out" 2>&1
result "cppcheck" $?
[ -s "$build/cppcheck.out" ] && head -20 "$build/cppcheck.out"
(cd "$src" && clang-format --dry-run --Werror $files) >"$build/format.out" 2>&1
result "clang-format" $?
[ -s "$build/format.out" ] && head -20 "$build/format.out"

echo "check: $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
