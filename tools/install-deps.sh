#!/bin/sh
# Installs the Debian 12 packages Blatt needs to build, run and test (idempotent).
# Licensed under the Apache License, Version 2.0.
set -eu

PKGS="build-essential autoconf automake libtool pkg-config
 libcups2-dev libevent-dev node-llhttp libjansson-dev libsqlite3-dev libssl-dev
 libxml2-dev libavahi-client-dev libargon2-dev libcmocka-dev libseccomp-dev
 cups-ipp-utils cups-client cups-daemon qpdf ghostscript mandoc dbus
 sqlite3 curl clang clang-format libclang-rt-14-dev cppcheck openssl procps zlib1g-dev
 file perl libpam0g-dev sslscan"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Node.js and npm run the test OpenID Connect provider (tests/oidc); any installed Node >= 18
# will do (a NodeSource nodejs already brings npm, and Debian's npm would conflict with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi

# blattd drops root to this account after binding its ports (User in blattd.conf).
if ! getent passwd blatt >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        useradd --system --home-dir /var/lib/blatt --no-create-home --shell /usr/sbin/nologin \
            --user-group blatt
    else
        sudo useradd --system --home-dir /var/lib/blatt --no-create-home \
            --shell /usr/sbin/nologin --user-group blatt
    fi
fi

if [ -z "$missing" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
