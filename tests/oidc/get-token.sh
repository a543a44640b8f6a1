#!/bin/bash
# get-token.sh: prints an access token (JWT) of the test provider (provider.mjs) for a test user.
# Licensed under the Apache License, Version 2.0.
#
# Usage: OIDC_ISSUER=http://127.0.0.1:PORT get-token.sh USER [AUDIENCE]
# USER is alice, bob, carol (test users) or blatt-service; AUDIENCE defaults to "blatt".
# OIDC_ALG=ES256 asks for an ES256 signature instead of RS256; OIDC_TTL=N for a token valid N
# seconds instead of 600; OIDC_SECRET overrides the client secret ("USER-secret"); OIDC_CACERT
# names the CA of an https provider. Exits 1, with the provider's answer on stderr, when no
# token.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "${OIDC_ISSUER:-}" ]; then
    echo "usage: OIDC_ISSUER=http://127.0.0.1:PORT $0 USER [AUDIENCE]" >&2
    exit 2
fi
user=$1
aud=${2:-blatt}
alg=${OIDC_ALG:-RS256}
secret=${OIDC_SECRET:-$user-secret}
resource="urn:blatt-test:$alg:$aud${OIDC_TTL:+:$OIDC_TTL}"
[ "$aud" = blatt ] && [ "$alg" = RS256 ] && [ -z "${OIDC_TTL:-}" ] && resource="urn:blatt"

answer=$(curl -s --max-time 10 ${OIDC_CACERT:+--cacert "$OIDC_CACERT"} -u "$user:$secret" \
    -d grant_type=client_credentials \
    --data-urlencode "resource=$resource" "$OIDC_ISSUER/token")
token=$(printf '%s' "$answer" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
    echo "get-token: no token for $user: $answer" >&2
    exit 1
fi
printf '%s\n' "$token"
