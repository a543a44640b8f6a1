#!/bin/bash
# oidc-blattd.sh: OAuth2 / OIDC bearer tokens end to end: a real provider (oidc-provider on
# loopback) issues the tokens, blattd fetches the provider's keys itself (metadata, jwks_uri,
# in a worker), and IPP requests carry the tokens in an Authorization header (curl).
# Licensed under the Apache License, Version 2.0.
#
# Covered: the keys are fetched after blattd started before the provider (bearer requests are
# refused until then, with the reason logged); valid tokens print as their subject; expired,
# wrong-audience, wrong-issuer, tampered and alg=none tokens and a Basic header get 401 with
# error="invalid_token"; a group claim works as a policy group; a key rotation at the provider
# is picked up by the refresh on an unknown kid (rate-limited); a failed refresh keeps the
# keys; Get-Printer-Attributes advertises oauth; an https provider is trusted only through
# OIDCCAFile; the keys are refreshed periodically.
. "$(dirname "$0")/lib.sh"
bl_init oidc-blattd

oidc="$top_srcdir/tests/oidc"
if ! command -v node >/dev/null || [ ! -d "$oidc/node_modules/oidc-provider" ]; then
    echo "1..0 # SKIP oidc-provider is not installed (npm ci --prefix tests/oidc)"
    exit 0
fi

OPORT=$(bl_port)
PORT=$(bl_port)
while [ "$PORT" = "$OPORT" ]; do PORT=$(bl_port); done
ISS="http://127.0.0.1:$OPORT"
CONF="$W/blattd.conf"
LOG="$W/blattd.log"
PRINTER="ipp://127.0.0.1:$PORT/ipp/print"
PROVIDER_PID=

# start_provider PORT OUT [VAR=VALUE...]: an oidc-provider; true once it printed its URLs.
start_provider()
{
    local port=$1 out=$2
    shift 2
    env "$@" node "$oidc/provider.mjs" "$port" >"$out" 2>>"$W/provider-$port.log" &
    PROVIDER_PID=$!
    bl_pids+=($PROVIDER_PID)
    bl_wait_for 60 grep -q '^jwks_uri ' "$out" # node and a 2048-bit RSA key, on a busy machine
}

stop_provider()
{
    kill -TERM "$PROVIDER_PID" 2>/dev/null
    wait "$PROVIDER_PID" 2>/dev/null
}

# token USER [AUDIENCE]: a fresh access token of the provider at $ISS (OIDC_* as get-token.sh).
token()
{
    OIDC_ISSUER=${OIDC_ISSUER:-$ISS} "$oidc/get-token.sh" "$@" 2>>"$W/get-token.log"
}

b64url()
{
    base64 -w0 | tr '+/' '-_' | tr -d '='
}

# print_req QUEUE FILE: a Print-Job request with a PDF, naming somebody else as the requester.
print_req()
{
    {
        ipp_head 0002
        ipp_attr 45 printer-uri "$PRINTER/$1"
        ipp_attr 42 requesting-user-name mallory
        ipp_attr 42 job-name "oidc test"
        ipp_attr 49 document-format application/pdf
        printf '\x03'
        cat "$BL_DOCS/onepage-a4.pdf"
    } >"$2"
}

# post TOKEN-OR-HEADER FILE OUT: POSTs an IPP request to blattd; prints the HTTP status. The
# response headers go to OUT.hdr. TOKEN-OR-HEADER is a token, or "-H:<header>" for another
# Authorization header, or "" for none.
post()
{
    local auth=()
    case "$1" in
    "") ;;
    -H:*) auth=(-H "${1#-H:}") ;;
    *) auth=(-H "Authorization: Bearer $1") ;;
    esac
    curl -s --max-time 30 -o "$3" -D "$3.hdr" -w '%{http_code}' -H 'Content-Type: application/ipp' \
        "${auth[@]}" --data-binary @"$2" "http://127.0.0.1:$PORT/ipp/print/${QUEUE:-virt}"
}

# ipp_value FILE NAME: the values of attribute NAME in an IPP response (space-separated).
ipp_value()
{
    python3 - "$1" "$2" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
want, out, name, i = sys.argv[2].encode(), [], b'', 8
while i < len(data):
    tag = data[i]
    i += 1
    if tag < 0x10:
        if tag == 0x03:
            break
        continue
    nl = struct.unpack('>H', data[i:i + 2])[0]
    name = data[i + 2:i + 2 + nl] or name
    i += 2 + nl
    vl = struct.unpack('>H', data[i:i + 2])[0]
    v = data[i + 2:i + 2 + vl]
    i += 2 + vl
    if name == want:
        out.append(str(struct.unpack('>i', v)[0]) if tag in (0x21, 0x23) else v.decode())
print(' '.join(out))
EOF
}

# printed AS-WHAT TOKEN [QUEUE]: prints a PDF with the token; true when the job was accepted.
# Sets JOB to its id.
printed()
{
    print_req "${3:-virt}" "$W/req.bin"
    local code
    code=$(QUEUE=${3:-virt} post "$2" "$W/req.bin" "$W/resp-$1.bin")
    JOB=$(ipp_value "$W/resp-$1.bin" job-id)
    [ "$code" = 200 ] && [ "$(ipp_status "$W/resp-$1.bin")" = 0x0000 ] && [ -n "$JOB" ]
}

# refused TOKEN-OR-HEADER: true when a Print-Job with it gets HTTP 401 and an
# invalid_token Bearer challenge. $W/refused.bin.hdr keeps the headers.
refused()
{
    print_req virt "$W/req.bin"
    local code
    code=$(post "$1" "$W/req.bin" "$W/refused.bin")
    [ "$code" = 401 ] &&
        grep -qi '^WWW-Authenticate: Bearer realm="Blatt", error="invalid_token"' \
            "$W/refused.bin.hdr"
}

# job_owner ID TOKEN: job-originating-user-name of a job, asked with the owner's token.
job_owner()
{
    {
        ipp_head 0009
        ipp_attr 45 printer-uri "$PRINTER/virt"
        printf '\x21' # job-id, a 4-byte integer (ipp_attr writes strings)
        be16 6
        printf 'job-id'
        be16 4
        be32 "$1"
        printf '\x03'
    } >"$W/gja.bin"
    post "$2" "$W/gja.bin" "$W/gja-resp.bin" >/dev/null
    ipp_value "$W/gja-resp.bin" job-originating-user-name
}

# mark: later `logged` and `count` look at the log lines written from now on only.
MARK=0
mark()
{
    MARK=$(wc -l <"$LOG")
}

log_has()
{
    tail -n +$((MARK + 1)) "$LOG" | grep -Eq -- "$1"
}

# logged REGEX: true once the log has a line matching REGEX after the mark (waits up to 15 s).
logged()
{
    bl_wait_for 15 log_has "$1"
}

# count REGEX: how many log lines after the mark match.
count()
{
    tail -n +$((MARK + 1)) "$LOG" | grep -Ec -- "$1"
}

# write_conf FILE ISSUER [EXTRA-LINES]: blattd with one bearer listener and two queues.
write_conf()
{
    bl_conf "$1" "$PORT"
    sed -i '/^Listen /d' "$1"
    cat >>"$1" <<EOF
Listen 127.0.0.1:$PORT bearer
OIDCIssuer $2
OIDCAudience blatt
OIDCKeysMinInterval 2s
OIDCFetchTimeout ${FETCH_TIMEOUT:-5s}
OIDCClockSkew 1s
${3:-}
<Printer virt>
  DeviceURI file://$W/out
</Printer>
<Printer staffonly>
  DeviceURI file://$W/out
</Printer>
EOF
}

mkdir -p "$W/out"
printf '<Queue staffonly>\n  Allow @staff\n</Queue>\n' >"$W/policy.conf"
write_conf "$CONF" "$ISS"

# Configuration checks: an http issuer elsewhere than loopback, or no audience, is refused.
sed "s|^OIDCIssuer .*|OIDCIssuer http://idp.example.org|" "$CONF" >"$W/bad1.conf"
like "$("$BLATTD" -t -c "$W/bad1.conf" 2>&1)" "OIDCIssuer must be an https:// URL" \
    "blattd -t refuses a plain http issuer that is not on loopback"
sed "/^OIDCAudience /d" "$CONF" >"$W/bad2.conf"
like "$("$BLATTD" -t -c "$W/bad2.conf" 2>&1)" "OIDCIssuer needs OIDCAudience" \
    "blattd -t refuses an issuer without an audience"

# blattd starts first; the provider is not there yet.
bl_start_blattd "$CONF" "$PORT"
ok $? "blattd serves a bearer listener on 127.0.0.1:$PORT"
logged "cannot fetch the OIDC signing keys: metadata $ISS/.well-known/openid-configuration: .*refused"
ok $? "the first fetch fails while the provider is down, and says why"

{ ipp_head 000b; ipp_attr 45 printer-uri "$PRINTER/virt"; printf '\x03'; } >"$W/gpa.bin"
code=$(post "" "$W/gpa.bin" "$W/gpa-resp.bin")
is "$code" 200 "Get-Printer-Attributes needs no login"
is "$(ipp_value "$W/gpa-resp.bin" uri-authentication-supported)" oauth \
    "uri-authentication-supported is oauth on the bearer listener"
is "$(ipp_value "$W/gpa-resp.bin" oauth-authorization-server-uri)" "$ISS" \
    "oauth-authorization-server-uri is the issuer"

print_req virt "$W/req.bin"
code=$(post "" "$W/req.bin" "$W/anon.bin")
is "$code" 401 "an anonymous Print-Job gets 401"
grep -qi '^WWW-Authenticate: Bearer realm="Blatt"' "$W/anon.bin.hdr" &&
    ! grep -qi '^WWW-Authenticate: Basic' "$W/anon.bin.hdr"
ok $? "with a Bearer challenge only"

fake="$(printf '{"alg":"RS256","kid":"rsa-1"}' | b64url).$(printf '{"sub":"x"}' | b64url).AAAA"
refused "$fake"
ok $? "before any keys are loaded a token gets 401 invalid_token"
logged "login refused: no OIDC signing keys yet \(metadata $ISS"
ok $? "the log says there are no keys yet and why"

# The provider comes; the first token waits for the fetch it triggers (or the retry timer's).
start_provider "$OPORT" "$W/provider.out" OIDC_KEYS_FILE="$W/keys-1.json"
ok $? "oidc-provider serves on $ISS"
sleep 2 # OIDCKeysMinInterval since the last attempt
alice=$(token alice) && bob_es=$(OIDC_ALG=ES256 token bob) && carol=$(token carol) &&
    spare=$(token alice) && spare2=$(token bob)
ok $? "tokens for alice (RS256), bob (ES256) and carol"
printed alice "$alice"
ok $? "alice's token prints (held until the keys came, if they were not there)"
like "$(grep 'OIDC signing keys (kid' "$LOG")" "2 OIDC signing keys \(kid rsa-1, ec-1\) from $ISS/jwks" \
    "blattd fetched the provider's two keys from its jwks_uri"
alice_job=$JOB
bl_wait_for 20 test -s "$W/out/job-$alice_job.pdf"
ok $? "alice's job $alice_job comes out of the file queue"
is "$(job_owner "$alice_job" "$alice")" alice \
    "the job's job-originating-user-name is the token's preferred_username, not requesting-user-name"
printed bob "$bob_es"
ok $? "bob's ES256 token prints"
is "$(job_owner "$JOB" "$bob_es")" bob "bob's job is his"
is "$(job_owner "$alice_job" "$bob_es")" "" "bob does not see alice's job"

# Tokens that must not pass.
exp=$(OIDC_TTL=1 token alice)
ok $? "a token valid for one second"
sleep 3 # its exp plus OIDCClockSkew (1 s)
refused "$exp"
ok $? "an expired token gets 401 invalid_token"
logged "login refused: token expired"
ok $? "the log says token expired"

other=$(token alice other)
refused "$other"
ok $? "a token for another audience gets 401 invalid_token"
logged "login refused: wrong aud"
ok $? "the log says wrong aud"

# A second provider signs with the same keys but is another issuer.
OPORT2=$(bl_port)
MAIN_PROVIDER=$PROVIDER_PID
start_provider "$OPORT2" "$W/provider2.out" OIDC_KEYS_FILE="$W/keys-1.json"
ok $? "a second provider with the same keys serves on 127.0.0.1:$OPORT2"
foreign=$(OIDC_ISSUER="http://127.0.0.1:$OPORT2" token alice)
ok $? "it issues alice a token"
refused "$foreign"
ok $? "a token of another issuer (signed with a trusted key) gets 401 invalid_token"
logged "login refused: wrong iss"
ok $? "the log says wrong iss"
stop_provider
PROVIDER_PID=$MAIN_PROVIDER

IFS=. read -r h p s <<<"$spare"
claims=$(printf '%s' "$p" | tr -- '-_' '+/' | base64 -d 2>/dev/null)
forged=$(printf '%s' "$claims" | sed 's/"groups":\["staff"\]/"groups":["admins"]/')
[ "$forged" != "$claims" ]
ok $? "alice's claims can be rewritten (groups staff -> admins)"
refused "$h.$(printf '%s' "$forged" | b64url).$s"
ok $? "a token with rewritten claims gets 401 invalid_token"
logged "login refused: bad signature"
ok $? "the log says bad signature"
fetches=$(count "fetching the OIDC signing keys of .* again")
refused "$(printf '{"alg":"none","kid":"rsa-9"}' | b64url).$p."
ok $? "an alg=none token gets 401 invalid_token"
logged "login refused: alg none refused"
ok $? "the log says alg none refused"
is "$(count "fetching the OIDC signing keys of .* again")" "$fetches" \
    "an alg=none token with an unknown kid does not make blattd fetch keys"

print_req virt "$W/req.bin"
code=$(post "-H:Authorization: Basic $(printf 'alice:alice-secret' | base64 -w0)" "$W/req.bin" \
    "$W/basic.bin")
is "$code" 401 "a Basic header on the bearer listener gets 401"
grep -qi '^WWW-Authenticate: Bearer realm="Blatt"' "$W/basic.bin.hdr" &&
    ! grep -qi '^WWW-Authenticate: Basic' "$W/basic.bin.hdr"
ok $? "with a Bearer challenge only"
grep -q "this kind of credentials is not accepted here" "$W/basic.bin"
ok $? "the answer says this kind of credentials is not accepted here"

# The group claim is a policy group: <Queue staffonly> Allow @staff.
printed alice-staff "$alice" staffonly
ok $? "alice (groups: staff) prints on the staff-only queue"
printed carol-staff "$carol" staffonly
st=$(ipp_status "$W/resp-carol-staff.bin")
is "$st" 0x0403 "carol (groups: admins) gets client-error-not-authorized there"
printed carol "$carol"
ok $? "carol prints on the queue open to all"

# Key rotation: the provider restarts with new keys (kid rsa-2, ec-2).
stop_provider
start_provider "$OPORT" "$W/provider-r.out" OIDC_KEYS_FILE="$W/keys-2.json" OIDC_KID_SUFFIX=2
ok $? "the provider restarts with new keys"
sleep 2 # OIDCKeysMinInterval
new=$(token alice) && new2=$(token bob)
ok $? "it issues tokens signed with the new key"
like "$(printf '%s' "${new%%.*}" | tr -- '-_' '+/' | base64 -d 2>/dev/null)" '"kid":"rsa-2"' \
    "the new token names kid rsa-2"
printed rotated "$new"
ok $? "a token of the new key prints: the unknown kid made blattd fetch the keys again"
logged "a token names an unknown key: fetching the OIDC signing keys of $ISS again"
ok $? "the log says why it fetched"
logged "2 OIDC signing keys \(kid rsa-2, ec-2\)"
ok $? "the new keys replaced the old ones"
fetches=$(count "fetching the OIDC signing keys of .* again")
refused "$spare2"
ok $? "an unused token of the old key is refused"
logged "login refused: unknown kid"
ok $? "as an unknown kid"
is "$(count "fetching the OIDC signing keys of .* again")" "$fetches" \
    "within OIDCKeysMinInterval an unknown kid fetches nothing"

# A refresh that fails keeps the keys.
stop_provider
sleep 2
refused "$spare2"
ok $? "with the provider down, an old token still gets 401"
logged "cannot refresh the OIDC signing keys: .*keeping the 2 keys"
ok $? "the failed refresh is logged and the keys are kept"
printed kept "$new2"
ok $? "a token of the current key still prints"
out=$(grep -a -c "$new" "$LOG" "$W/access.log" 2>/dev/null | awk -F: '{ s += $NF } END { print s }')
is "$out" 0 "no token is in the logs"
bl_stop_blattd

# https: the provider's certificate must chain to OIDCCAFile (or the system's CAs).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Blatt-Test-CA -keyout "$W/ca.key" \
    -out "$W/ca.pem" -addext basicConstraints=critical,CA:true \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$W/tls.key" \
        -out "$W/tls.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=IP:127.0.0.1\n' >"$W/ext.cnf" &&
    openssl x509 -req -in "$W/tls.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
        -days 2 -extfile "$W/ext.cnf" -out "$W/tls.crt" >/dev/null 2>&1
ok $? "a test CA and a certificate for 127.0.0.1"
OPORT3=$(bl_port)
ISS3="https://127.0.0.1:$OPORT3"
start_provider "$OPORT3" "$W/provider3.out" OIDC_TLS_CERT="$W/tls.crt" OIDC_TLS_KEY="$W/tls.key"
ok $? "an https provider serves on $ISS3"
mark
write_conf "$W/https.conf" "$ISS3" "OIDCCAFile $W/ca.pem
OIDCKeysRefresh 10s"
bl_start_blattd "$W/https.conf" "$PORT"
logged "2 OIDC signing keys \(kid rsa-1, ec-1\) from $ISS3/jwks"
ok $? "with OIDCCAFile blattd fetches the keys over verified https"
t3=$(OIDC_ISSUER=$ISS3 OIDC_CACERT="$W/ca.pem" token alice)
printed https "$t3"
ok $? "a token of the https provider prints"
logged "the OIDC signing keys at $ISS3/jwks are unchanged"
ok $? "the keys are fetched again after OIDCKeysRefresh (10 s)"
bl_stop_blattd
mark
write_conf "$W/https2.conf" "$ISS3"
bl_start_blattd "$W/https2.conf" "$PORT"
logged "cannot fetch the OIDC signing keys: .*certificate of 127.0.0.1 is not trusted"
ok $? "without OIDCCAFile the test CA is not trusted, and the log says so"
refused "$t3"
ok $? "and its tokens get 401 invalid_token"
bl_stop_blattd

# An issuer that accepts connections but never answers: requests are held at most
# OIDCFetchTimeout, and blattd stops at once even while the fetch hangs.
OPORT4=$(bl_port)
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
time.sleep(120)' "$OPORT4" &
bl_pids+=($!)
bl_wait_port "$OPORT4" 5
mark
FETCH_TIMEOUT=3s write_conf "$W/hang.conf" "http://127.0.0.1:$OPORT4"
bl_start_blattd "$W/hang.conf" "$PORT"
logged "fetching the OIDC signing keys of http://127.0.0.1:$OPORT4"
t0=$(date +%s%N)
refused "$t3"
ok $? "a token while the only fetch hangs gets 401 invalid_token"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4500 ]
ok $? "after at most OIDCFetchTimeout ($ms ms)"
logged "cannot fetch the OIDC signing keys: metadata .*: timed out"
ok $? "the log says the fetch timed out"
sleep 2.5 # the retry (OIDCKeysMinInterval) is under way now
t0=$(date +%s%N)
bl_stop_blattd
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2000 ]
ok $? "blattd stops promptly during a hanging fetch ($ms ms)"

bl_done
