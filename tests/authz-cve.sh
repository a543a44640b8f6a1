#!/bin/bash
# authz-cve.sh: regression tests for the failure classes that hurt CUPS, against the real blattd
# over TLS: (a) CVE-2023-32360, an unauthenticated client fetching documents or job data;
# (b) CVE-2025-58060, a Basic header on a listener that takes bearer tokens only; (c)
# CVE-2026-27447, user names that differ only in case; (d) the identity comes from
# authentication, never from requesting-user-name.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz/common.sh"
bl_init authz-cve

port=$(bl_port)
bport=$(bl_port)
while [ "$bport" = "$port" ]; do bport=$(bl_port); done

# A signing key of our own, its JWKS, and a token for alice: the bearer listener works.
b64url()
{
    base64 -w0 | tr '+/' '-_' | tr -d '='
}
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/jwt.key" 2>/dev/null
n=$(openssl rsa -in "$W/jwt.key" -noout -modulus | sed 's/^Modulus=//' |
    perl -ne 'chomp; print pack("H*", $_)' | b64url)
printf '{"keys":[{"kty":"RSA","kid":"t1","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}\n' \
    "$n" >"$W/jwks.json"
# Loopback, and nobody listens there: the keys come from the file, nothing is fetched.
issuer="http://127.0.0.1:$(bl_port)"
token()
{
    local now h p s
    now=$(date +%s)
    h=$(printf '{"alg":"RS256","typ":"JWT","kid":"t1"}' | b64url)
    p=$(printf '{"iss":"%s","aud":"blatt","sub":"%s","preferred_username":"%s","groups":["staff"],"iat":%d,"nbf":%d,"exp":%d}' \
        "$issuer" "$1" "$1" "$now" $((now - 5)) $((now + 900)) | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$W/jwt.key" | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}

authz_conf "$W/blattd.conf" "$port" "Listen 127.0.0.1:$bport bearer
OIDCIssuer $issuer
OIDCAudience blatt
OIDCKeys $W/jwks.json
OIDCGroupClaim groups"
bl_start_blattd "$W/blattd.conf" "$port" && bl_wait_port "$bport" 5
ok $? "blattd runs with a Basic-only and a bearer-only TLS listener"
authz_client "$port"

# ipp1 [-p] PORT CRED OPERATION RESOURCE [WORDS...]: one request on its own connection.
ipp1()
{
    local opt=()
    [ "$1" = -p ] && opt=(-p) && shift
    local p=$1
    shift
    R=$(printf '%s\n' "$*" | "$IPPREQ" "${opt[@]}" 127.0.0.1 "$p" 2>>"$W/ippreq.log")
    printf '[%s%s] %s\n  -> %s\n' "$p" "${opt[*]:+ plain}" "$*" "$R" >>"$W/requests.log"
}

# no_leak FILE WHAT: FILE holds no document byte, marker, job name or user name of alice's.
no_leak()
{
    local hit=""
    grep -aq "$MARK" "$1" && hit+=" marker"
    grep -aq '%PDF' "$1" && hit+=" %PDF"
    grep -aq "$SECRET" "$1" && hit+=" job-name"
    grep -aqw alice "$1" && hit+=" user-name"
    ok "$([ -z "$hit" ] && echo 0 || echo 1)" "$2: no document, job or user name"
    [ -z "$hit" ] || diag "  found:$hit"
}

# --- (a) CVE-2023-32360 class: documents and job data are not for the unauthenticated ------
MARK="BLATTMARK$$x$RANDOM"
SECRET="secret-report-$RANDOM"
bl_marker_pdf "$W/marker.pdf" "$MARK"
ipp "$(cred alice)" Print-Job /ipp/print/office "job-name=$SECRET" \
    document-format=application/pdf "@file=$W/marker.pdf" job.job-hold-until=indefinite
held=$(val job) && held=${held%%,*}
OWNER[$held]=alice JQUEUE[$held]=office JNAME[$held]=$SECRET
ipp "$(cred alice)" Print-Job /ipp/print/office "job-name=$SECRET" \
    document-format=application/pdf "@file=$W/marker.pdf"
done_id=$(val job) && done_id=${done_id%%,*}
OWNER[$done_id]=alice JQUEUE[$done_id]=office JNAME[$done_id]=$SECRET
bl_wait_for 20 sh -c "ls '$W/out' | grep -q 'job-$done_id'"
is "$(job_attr "$held" state) $(job_attr "$done_id" state)" "held completed" \
    "alice has a held job ($held) and a printed one ($done_id) with a marked document"

n=0
for id in "$held" "$done_id"; do
    for who in anonymous bob otto audrey; do
        for op in CUPS-Get-Document Get-Document-Attributes Get-Documents Fetch-Document \
            Fetch-Job; do
            n=$((n + 1))
            ipp "$(cred "$who")" "$op" /ipp/print/office "job-id=$id" document-number=1 \
                requested-attributes=all "@dump=$W/fetch-$n"
            if [ "$(status)" = successful-ok ] || [ "$(val extra)" != 0 ] ||
                grep -aq "$MARK\|%PDF\|$SECRET" "$W/fetch-$n"; then
                echo "$who $op job $id: $R"
            fi
        done >>"$W/fetch-problems"
    done
done
is "$(cat "$W/fetch-problems" 2>/dev/null)" "" \
    "$n document fetches (CUPS-Get-Document, Get-Document(s), Fetch-*) by anonymous, another user, the operator and the auditor: refused, no bytes"
ipp anon CUPS-Get-Document "/jobs/$held" @nouri "job-uri=ipps://127.0.0.1:$port/jobs/$held" \
    document-number=1 "@dump=$W/fetch-uri"
no_leak "$W/fetch-uri" "CUPS-Get-Document by job-uri /jobs/$held, anonymous ($(status))"

for id in "$held" "$done_id"; do
    ipp anon Get-Job-Attributes /ipp/print/office "job-id=$id" "@dump=$W/gja-anon-$id"
    is "$(status)" http-401 "anonymous Get-Job-Attributes of job $id: HTTP 401"
    no_leak "$W/gja-anon-$id" "  and its body"
done
ipp anon Get-Jobs / which-jobs=all requested-attributes=all "@dump=$W/gj-anon"
is "$(status)" http-401 "anonymous Get-Jobs of every queue: HTTP 401"
no_leak "$W/gj-anon" "  and its body"
ipp "$(cred bob)" Get-Jobs / which-jobs=all my-jobs=false requested-attributes=all \
    "@dump=$W/gj-bob"
no_leak "$W/gj-bob" "bob's Get-Jobs of every queue, which-jobs=all ($(status))"
ipp "$(cred otto)" Get-Jobs /ipp/print/office which-jobs=all requested-attributes=all \
    "@dump=$W/gj-otto"
like "$R" "job=$held,[^ ]*user=alice" "the operator sees alice's job $held"
! grep -aq "$MARK\|%PDF\|$SECRET" "$W/gj-otto"
ok $? "  but neither its name nor any document byte"

# Over plain HTTP (loopback, same port) nobody can log in: refused in IPP, still nothing.
ipp1 -p "$port" anon Get-Job-Attributes /ipp/print/office "job-id=$held" "@dump=$W/gja-plain"
is "$(status)" client-error-not-authenticated "anonymous over plain HTTP: not-authenticated"
no_leak "$W/gja-plain" "  and its reply"
ipp1 -p "$port" "$(cred alice)" Get-Job-Attributes /ipp/print/office "job-id=$held"
is "$(status)" http-401 "alice's password over plain HTTP: HTTP 401, never checked"

# HTTP GET and HEAD on every path a document or a job could live at (CUPS-style too).
paths="/jobs/$held /jobs/$held/document /jobs/$done_id /ipp/print/office/$held
/ipp/print/office/$held/1 /printers/office/$held /printers/office/$done_id /jobs /jobs/
/ipp/print/office /printers/office.ppd /admin /admin/log/access_log /admin/log/error_log
/printers/office/$held/document-1 /icons/../state/blatt.db"
get_problems=""
for mode in tls plain; do
    for who in anonymous bob; do
        for p in $paths / /printers/office; do
            url="https://127.0.0.1:$port$p"
            [ $mode = plain ] && url="http://127.0.0.1:$port$p"
            auth=()
            [ $who = bob ] && auth=(-u bob:pw-bob)
            code=$(curl -sk --path-as-is "${auth[@]}" -o "$W/get.out" -w '%{http_code}' "$url")
            if grep -aq "$MARK\|%PDF\|$SECRET" "$W/get.out" || grep -aqw alice "$W/get.out"; then
                get_problems+=" $mode/$who/$p:leak"
            fi
            case $p in
            / | /printers/office) [ "$code" = 200 ] || get_problems+=" $mode/$who/$p:$code" ;;
            *) [ "$code" = 404 ] || get_problems+=" $mode/$who/$p:$code" ;;
            esac
            code=$(curl -sk --path-as-is -I "${auth[@]}" -o "$W/head.out" -w '%{http_code}' "$url")
            grep -aq "$MARK\|$SECRET" "$W/head.out" && get_problems+=" HEAD:$mode/$who/$p:leak"
        done
    done
done
is "$get_problems" "" "GET and HEAD on $(echo "$paths" | wc -w) job and document paths, TLS and plain, anonymous and bob: 404, nothing leaks; / and /printers/office show no job or user names"
! grep -raq "$MARK" "$W/state"
ok $? "the marker is nowhere in the state directory (the spool is encrypted)"

# --- (b) CVE-2025-58060 class: a scheme the listener does not take is a 401, always -------
tok=$(token alice)
ipp1 "$bport" "header:Bearer:$tok" Get-Jobs /ipp/print/office
is "$(status)" successful-ok "the bearer listener takes alice's token"
ipp1 "$bport" "header:Bearer:$tok" Print-Job /ipp/print/office job-name=via-bearer \
    document-format=application/pdf "@file=$DOC" job.job-hold-until=indefinite
is "$(status)" successful-ok "  and she prints with it"
ipp1 "$bport" "header:Bearer:$tok" Get-Jobs /ipp/print/office requested-attributes=job-id
before=$(jobs_of_reply | wc -l)
for op in Get-Printer-Attributes Get-Jobs Print-Job Cancel-Job; do
    for c in "$(cred alice)" basic:alice:wrong "header:basic:$(printf alice:pw-alice | base64)" \
        "header:BASIC:$(printf alice:pw-alice | base64)"; do
        ipp1 "$bport" "$c" "$op" /ipp/print/office "job-id=$held" job-name=via-basic \
            document-format=application/pdf "@file=$DOC" job.job-hold-until=indefinite
        [ "$(status)" = http-401 ] && [[ $(val www) == Bearer* ]] &&
            [[ $(val www) != *Basic* ]] || echo "$op with ${c%%:*}:${c#*:} -> $R"
    done
done >"$W/basic-on-bearer"
is "$(cat "$W/basic-on-bearer")" "" \
    "Basic on the bearer-only listener (valid, wrong, 'basic', 'BASIC'; query, list, print, cancel): HTTP 401 with a Bearer challenge only"
ipp1 "$bport" "header:Bearer:$tok" Get-Jobs /ipp/print/office requested-attributes=job-id
is "$(jobs_of_reply | wc -l)" "$before" "  no job was created with Basic"
is "$(job_attr "$held" state)" held "  and alice's job $held was not canceled"
ipp1 -p "$bport" "$(cred alice)" Get-Jobs /ipp/print/office
is "$(status)" http-401 "Basic over plain HTTP to the bearer listener: HTTP 401"
ipp1 "$bport" anon Get-Jobs /ipp/print/office
is "$(status) $(val www)" "http-401 Bearer%20realm%3D%22Blatt%22" \
    "anonymous on the bearer listener: a Bearer challenge"
# Two Authorization headers: the one that counts is never a Basic one here.
b64=$(printf alice:pw-alice | base64)
hdr_status()
{
    { ipp_head 000a 1; ipp_attr 45 printer-uri "ipps://127.0.0.1:$bport/ipp/print/office"
        printf '\x03'; } >"$W/gj.bin"
    curl -sk -o "$W/dup.out" -w '%{http_code}' -H 'Content-Type: application/ipp' "$@" \
        --data-binary @"$W/gj.bin" "https://127.0.0.1:$bport/ipp/print/office"
}
# Two Authorization headers are ambiguous: the request is malformed (400), whatever they hold.
is "$(hdr_status -H "Authorization: Basic $b64" -H "Authorization: Bearer $tok")" 400 \
    "Basic then Bearer in two headers: 400"
is "$(hdr_status -H "Authorization: Bearer x$tok" -H "Authorization: Basic $b64")" 400 \
    "a bad Bearer then a good Basic: 400"
is "$(hdr_status -H "Authorization: Bearer $tok" -H "Authorization: Bearer $tok")" 400 \
    "even the same good token twice: 400"
is "$(hdr_status -H "Authorization: Basic$b64")" 401 "'Basic' glued to its credentials: 401"
is "$(hdr_status -H "Authorization: Negotiate $b64")" 401 "an unknown scheme: 401"
# And the other way round: the Basic listener does not take tokens.
ipp "header:Bearer:$tok" Get-Jobs /ipp/print/office
is "$(status)" http-401 "a valid token on the Basic-only listener: HTTP 401"
ipp "header:Bearer:$tok" Get-Printer-Attributes /ipp/print/office
is "$(status)" http-401 "  even for Get-Printer-Attributes"

# --- (c) CVE-2026-27447 class: alice and Alice are two people ---------------------------
new_job Alice office held
A_held=$NEWID
new_job Alice office open
A_open=$NEWID
new_job Alice office openheld
A_doc=$NEWID
new_job alice office held
a_held=$NEWID
new_job alice office open
a_open=$NEWID
new_job alice office openheld
a_doc=$NEWID
# case_ops WHO HELD OPEN DOC: WHO tries every job operation on someone else's jobs; prints
# every one that was not refused.
case_ops()
{
    local who=$1 h=$2 o=$3 d=$4 line
    for line in "Get-Job-Attributes job-id=$h" "Cancel-Job job-id=$h" "Release-Job job-id=$h" \
        "Hold-Job job-id=$o" "Set-Job-Attributes job-id=$o job.job-hold-until=indefinite" \
        "Close-Job job-id=$o" \
        "Send-Document job-id=$d last-document=true document-format=application/pdf @file=$DOC"; do
        # shellcheck disable=SC2086 # line is words
        ipp "$(cred "$who")" ${line%% *} /ipp/print/office ${line#* }
        [ "$(status)" = client-error-not-authorized ] || echo "$who ${line%% *}: $R"
    done
}
is "$(case_ops alice "$A_held" "$A_open" "$A_doc")" "" \
    "alice may not read, cancel, release, hold, change, close or send to Alice's jobs"
is "$(case_ops Alice "$a_held" "$a_open" "$a_doc")" "" "  nor Alice to alice's"
is "$(job_attr "$A_held" state) $(job_attr "$A_open" state) $(job_attr "$A_doc" docs)" \
    "held pending 0" "  Alice's jobs are untouched"
is "$(job_attr "$a_held" state) $(job_attr "$a_open" state) $(job_attr "$a_doc" docs)" \
    "held pending 0" "  and alice's"
ipp "$(cred alice)" Cancel-My-Jobs /ipp/print/office
is "$(job_attr "$A_held" state)" held "Cancel-My-Jobs by alice leaves Alice's job alone"
ipp "$(cred Alice)" Cancel-Job /ipp/print/office "job-id=$A_held"
is "$(status) $(job_attr "$A_held" state)" "successful-ok canceled" "Alice cancels her own job"
ipp "$(cred alice)" Get-Jobs / which-jobs=all my-jobs=false \
    requested-attributes=job-id,job-name,job-originating-user-name
got=$(jobs_of_reply | awk '$3 != "alice"')
is "$got" "" "alice's Get-Jobs (active and history) shows none of Alice's jobs"
ipp "$(cred alice)" Get-Jobs /ipp/print/office which-jobs=completed
[[ " $(jobs_of_reply | cut -d' ' -f1 | tr '\n' ' ') " != *" $A_held "* ]]
ok $? "  nor Alice's canceled job $A_held in the history"
for c in basic:ALICE:pw-alice basic:ALICE:pw-Alice basic:alice:pw-Alice basic:Alice:pw-alice \
    "header:Basic:$(printf 'alice :pw-alice' | base64)" \
    "header:Basic:$(printf ' alice:pw-alice' | base64)"; do
    ipp1 "$port" "$c" Get-Jobs /ipp/print/office
    [ "$(status)" = http-401 ] || echo "$c: $R"
done >"$W/case-logins"
is "$(cat "$W/case-logins")" "" "logins with another case or the other one's password: 401"
ipp "$(cred Alice)" Print-Job /ipp/print/restricted job-name=x document-format=application/pdf \
    "@file=$DOC"
is "$(status)" client-error-not-authorized "Alice is not on restricted's allow list (alice is)"

# --- (d) identity from authentication, never from requesting-user-name ------------------
new_job alice office held
a_held=$NEWID
new_job alice office openheld
a_doc=$NEWID
ipp "$(cred bob)" Print-Job /ipp/print/office requesting-user-name=alice job-name=bob-as-alice \
    document-format=application/pdf "@file=$DOC" job.job-hold-until=indefinite
b_id=$(val job) && b_id=${b_id%%,*}
OWNER[$b_id]=bob JQUEUE[$b_id]=office JNAME[$b_id]=bob-as-alice
is "$(job_attr "$b_id" user)" bob \
    "bob prints with requesting-user-name=alice: job-originating-user-name is bob"
ipp "$(cred alice)" Get-Job-Attributes /ipp/print/office "job-id=$b_id"
is "$(status)" client-error-not-authorized "  alice may not read that job"
ipp "$(cred alice)" Cancel-Job /ipp/print/office "job-id=$b_id"
is "$(status)" client-error-not-authorized "  nor cancel it"
ipp "$(cred otto)" Get-Job-Attributes /ipp/print/office "job-id=$b_id"
like "$R" "job=$b_id,[^ ]*user=bob" "  the operator sees bob as its owner"
ipp "$(cred bob)" Get-Jobs /ipp/print/office requesting-user-name=alice my-jobs=true \
    which-jobs=all requested-attributes=job-id,job-originating-user-name
is "$(jobs_of_reply | awk '$3 != "bob"')" "" "bob's Get-Jobs as 'alice' lists only bob's jobs"
ipp "$(cred bob)" Cancel-Job /ipp/print/office requesting-user-name=alice "job-id=$a_held"
is "$(status) $(job_attr "$a_held" state)" "client-error-not-authorized held" \
    "bob cannot cancel alice's job by naming himself alice"
ipp "$(cred bob)" Cancel-Job /ipp/print/office requesting-user-name=otto "job-id=$a_held"
is "$(status) $(job_attr "$a_held" state)" "client-error-not-authorized held" \
    "  nor by naming himself otto (the operator)"
ipp "$(cred bob)" Send-Document /ipp/print/office requesting-user-name=alice "job-id=$a_doc" \
    last-document=true document-format=application/pdf "@file=$DOC"
is "$(status) $(job_attr "$a_doc" docs)" "client-error-not-authorized 0" \
    "  nor send a document to alice's job"
ipp "$(cred bob)" Cancel-My-Jobs /ipp/print/office requesting-user-name=alice
is "$(job_attr "$a_held" state) $(job_attr "$b_id" state)" "held canceled" \
    "Cancel-My-Jobs by bob as 'alice' cancels bob's job, not alice's"
ipp anon Cancel-Job /ipp/print/office requesting-user-name=alice "job-id=$a_held"
is "$(status) $(job_attr "$a_held" state)" "http-401 held" \
    "anonymous with requesting-user-name=alice: HTTP 401, alice's job stays"
ipp anon Get-Jobs /ipp/print/office requesting-user-name=alice
is "$(status)" http-401 "  and Get-Jobs is 401 too"
# Anonymous printing where it is allowed: the job belongs to nobody, whatever name it gives.
ipp anon Print-Job /ipp/print/open requesting-user-name=alice job-name=anon-as-alice \
    document-format=application/pdf "@file=$DOC"
n_id=$(val job) && n_id=${n_id%%,*}
OWNER[$n_id]="" JQUEUE[$n_id]=open JNAME[$n_id]=anon-as-alice
is "$(status)" successful-ok "anonymous prints on open naming itself alice (job $n_id)"
ipp "$(cred alice)" Cancel-Job /ipp/print/open "job-id=$n_id"
is "$(status) $(job_attr "$n_id" state)" "client-error-not-authorized held" \
    "  alice may not cancel it: it is not hers"
ipp "$(cred alice)" Get-Jobs /ipp/print/open
is "$(jobs_of_reply)" "" "  nor does it appear among her jobs"

# The audit chain has the refusals, under the subject that was refused.
"$BLATT" -c "$W/blattd.conf" audit export --format jsonl >"$W/audit.jsonl" 2>&1
ok $? "blatt audit export"
like "$(grep '"action":"Cancel-Job"' "$W/audit.jsonl" | grep "\"object\":\"job $a_held\"")" \
    '"result":"denied: .*"subject":"bob"' "bob's refused Cancel-Job of job $a_held is audited as bob"
like "$(grep "\"object\":\"job $A_held\"" "$W/audit.jsonl")" '"result":"denied: .*"subject":"alice"' \
    "alice's refusals on Alice's job are audited as alice"
like "$(grep '"action":"login"' "$W/audit.jsonl")" \
    '"result":"this kind of credentials is not accepted here"' \
    "Basic on the bearer listener is audited as a refused login"
! grep -q "pw-alice\|$tok" "$W/audit.jsonl" "$W/blattd.log" "$W/access.log"
ok $? "no password or token in the audit chain or the logs"

kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
bl_done
