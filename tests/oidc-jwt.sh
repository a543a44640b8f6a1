#!/bin/bash
# oidc-jwt.sh: server/jwt.c against a real OpenID Connect provider (oidc-provider, loopback).
# Licensed under the Apache License, Version 2.0.
#
# Needs node and `npm ci --prefix tests/oidc`; jwtcheck is $JWTCHECK, else
# $top_builddir/tests/oidc/jwtcheck.
. "$(dirname "$0")/lib.sh"
bl_init oidc-jwt

oidc="$top_srcdir/tests/oidc"
JWTCHECK=${JWTCHECK:-$top_builddir/tests/oidc/jwtcheck}
if ! command -v node >/dev/null || [ ! -d "$oidc/node_modules/oidc-provider" ]; then
    echo "1..0 # SKIP oidc-provider is not installed (npm ci --prefix tests/oidc)"
    exit 0
fi

# start_provider PORT OUT: a provider on 127.0.0.1:PORT; true once it printed its JWKS URL.
start_provider()
{
    node "$oidc/provider.mjs" "$1" >"$2" 2>"$W/provider-$1.log" &
    bl_pids+=($!)
    bl_wait_for 60 grep -q '^jwks_uri ' "$2" # node and its keys, on a busy machine
}

# check TOKEN-FILE [jwtcheck options] ISSUER AUDIENCE: jwtcheck's verdict on one line.
check()
{
    local tok=$1
    shift
    local opts=()
    while [ $# -gt 2 ]; do
        opts+=("$1")
        shift
    done
    "$JWTCHECK" "${opts[@]}" "$W/jwks.json" "$tok" "$1" "$2" 2>>"$W/jwtcheck.log"
}

b64url()
{
    base64 -w0 | tr '+/' '-_' | tr -d '='
}

b64url_decode()
{
    local s
    s=$(tr -- '-_' '+/')
    while [ $((${#s} % 4)) -ne 0 ]; do
        s="$s="
    done
    printf '%s' "$s" | base64 -d
}

port=$(bl_port)
start_provider "$port" "$W/provider.out"
ok $? "oidc-provider serves on 127.0.0.1:$port"
iss=$(sed -n 's/^issuer //p' "$W/provider.out")
jwks_uri=$(sed -n 's/^jwks_uri //p' "$W/provider.out")
is "$iss" "http://127.0.0.1:$port" "the provider says its issuer"
export OIDC_ISSUER=$iss

curl -s --max-time 10 -o "$W/jwks.json" "$jwks_uri"
like "$(cat "$W/jwks.json")" '"kid":"rsa-1".*"kid":"ec-1"' "its JWKS has the RSA and the EC key"

get()
{
    "$oidc/get-token.sh" "$@" >"$W/tok-$1-${2:-blatt}-${OIDC_ALG:-RS256}" 2>>"$W/get-token.log"
}
get alice && get bob && get carol && get blatt-service && get alice other &&
    OIDC_ALG=ES256 get bob
ok $? "tokens for alice, bob, carol and the service client"

# Valid tokens, with the subject, name and groups of each test user.
is "$(check "$W/tok-alice-blatt-RS256" "$iss" blatt)" "ok alice alice staff" \
    "alice's RS256 token is accepted with her groups"
is "$(check "$W/tok-bob-blatt-RS256" "$iss" blatt)" "ok bob bob staff students" \
    "bob's RS256 token is accepted with his groups"
is "$(check "$W/tok-bob-blatt-ES256" "$iss" blatt)" "ok bob bob staff students" \
    "bob's ES256 token is accepted"
is "$(check "$W/tok-carol-blatt-RS256" "$iss" blatt)" "ok carol carol admins" \
    "carol's token is accepted"
is "$(check "$W/tok-blatt-service-blatt-RS256" "$iss" blatt)" "ok blatt-service blatt-service" \
    "the service client's token has no groups"
like "$(check "$W/tok-alice-blatt-RS256" --group-claim none "$iss" blatt)" '^ok alice alice$' \
    "no groups when the group claim is absent"
is "$(check "$W/tok-alice-blatt-RS256" --group-claim groups --now $(($(date +%s) + 300)) \
    "$iss" blatt)" "ok alice alice staff" "still valid five minutes later"

# Expiry, audience and issuer.
like "$(check "$W/tok-alice-blatt-RS256" --now $(($(date +%s) + 86400)) "$iss" blatt)" \
    '^refused token expired' "a token is refused a day later (expired)"
like "$(check "$W/tok-alice-blatt-RS256" --now $(($(date +%s) - 3600)) "$iss" blatt)" \
    '^refused token issued in the future' "a token is refused an hour before it was issued"
like "$(check "$W/tok-alice-other-RS256" "$iss" blatt)" '^refused wrong aud' \
    "a token for audience other is refused"
like "$(check "$W/tok-alice-blatt-RS256" "$iss" other)" '^refused wrong aud' \
    "a token for blatt is refused where audience other is required"
like "$(check "$W/tok-alice-blatt-RS256" "http://127.0.0.1:$((port + 1))" blatt)" \
    '^refused wrong iss' "a token from another issuer is refused"
like "$(check "$W/tok-alice-blatt-RS256" "$iss/" blatt)" '^refused wrong iss' \
    "the issuer must match exactly (no trailing slash)"

# Tampering: split alice's token into its parts.
IFS=. read -r h p s <"$W/tok-alice-blatt-RS256"
flip=${p:10:1}
[ "$flip" = A ] && to=B || to=A
printf '%s.%s%s%s.%s\n' "$h" "${p:0:10}" "$to" "${p:11}" "$s" >"$W/tampered-char"
like "$(check "$W/tampered-char" "$iss" blatt)" '^refused ' \
    "a token with one payload character changed is refused"
claims=$(printf '%s' "$p" | b64url_decode)
forged=$(printf '%s' "$claims" | sed 's/"groups":\["staff"\]/"groups":["staf1"]/')
[ "$forged" != "$claims" ]
ok $? "the groups claim can be rewritten by one byte"
printf '%s.%s.%s\n' "$h" "$(printf '%s' "$forged" | b64url)" "$s" >"$W/tampered-claims"
like "$(check "$W/tampered-claims" "$iss" blatt)" '^refused bad signature' \
    "a token with one claim byte changed is refused (bad signature)"
[ "${s:100:1}" = A ] && to=B || to=A
printf '%s.%s.%s\n' "$h" "$p" "${s:0:100}$to${s:101}" >"$W/tampered-sig"
like "$(check "$W/tampered-sig" "$iss" blatt)" '^refused ' "a token with a damaged signature is refused"

# Unsigned and HMAC tokens made of alice's real claims.
printf '%s.%s.\n' "$(printf '{"alg":"none"}' | b64url)" "$p" >"$W/alg-none"
like "$(check "$W/alg-none" "$iss" blatt)" '^refused alg none refused' "an alg=none token is refused"
printf '%s.%s.\n' "$(printf '{"alg":"none","typ":"at+jwt","kid":"rsa-1"}' | b64url)" "$p" \
    >"$W/alg-none-kid"
like "$(check "$W/alg-none-kid" "$iss" blatt)" '^refused alg none refused' \
    "an alg=none token naming the provider's kid is refused"
hh=$(printf '{"alg":"HS256","typ":"at+jwt"}' | b64url)
mac=$(printf '%s.%s' "$hh" "$p" | openssl dgst -sha256 -hmac alice-secret -binary | b64url)
printf '%s.%s.%s\n' "$hh" "$p" "$mac" >"$W/hs256"
like "$(check "$W/hs256" "$iss" blatt)" '^refused HMAC alg refused' \
    "an HS256 token keyed with the client secret is refused"

# A second provider has other keys under the same kid: its tokens fail the first one's JWKS.
port2=$(bl_port)
start_provider "$port2" "$W/provider2.out"
ok $? "a second provider serves on 127.0.0.1:$port2"
OIDC_ISSUER="http://127.0.0.1:$port2" "$oidc/get-token.sh" alice >"$W/tok-foreign" \
    2>>"$W/get-token.log"
like "$(check "$W/tok-foreign" "http://127.0.0.1:$port2" blatt)" '^refused bad signature' \
    "a token signed by another provider's key is refused"

bl_done
