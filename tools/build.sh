#!/bin/sh
# build.sh: installs what is missing (Debian 12), then configures and builds Blatt.
# Licensed under the Apache License, Version 2.0.
#
# Usage: tools/build.sh [BUILDDIR [CONFIGURE-ARGS...]]  (default BUILDDIR: build/)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
[ $# -gt 0 ] && shift
"$src/tools/install-deps.sh"
cd "$src"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    mkdir -p m4
    autoreconf -fi >/dev/null
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$src/configure" -nt config.status ]; then
    # The layout the man pages describe: /etc/blatt, /usr/share/blatt, /var/lib/blatt.
    "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var --enable-werror "$@" \
        >configure.out
fi
make -j"$(nproc)" >make.out 2>&1 || { tail -40 make.out; exit 1; }
echo "build: $build is built"
