#!/bin/bash
# mtls.sh: TLS client certificates (AuthSchemes cert, TLSClientCA) end to end with curl: a
# certificate that chains to the CA makes its subject the requester (requesting-user-name is
# ignored), the policy then applies to that subject; no certificate, a certificate of another CA
# or an expired one is not an identity.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init mtls

port=$(bl_port)
C="$W/certs"
mkdir -p "$C" "$W/out"

# A CA, alice and bob signed by it, an expired alice, and an alice of a CA nobody trusts.
ca()
{
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.crt" -days 2 \
        -subj "/CN=$1" 2>/dev/null
}
client()
{ # client NAME CN CA: a certificate for CN signed by CA, valid for two days
    openssl req -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$2" \
        2>/dev/null &&
        openssl x509 -req -in "$C/$1.csr" -CA "$C/$3.crt" -CAkey "$C/$3.key" -CAcreateserial \
            -out "$C/$1.crt" -days 2 2>/dev/null
}
expired()
{ # expired NAME CN: signed by testca, valid for one day in 2020 (openssl ca sets the dates)
    mkdir -p "$C/db" && : >"$C/db/index" && echo 01 >"$C/db/serial"
    printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\nserial = %s\nnew_certs_dir = %s\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' \
        "$C/db/index" "$C/db/serial" "$C/db" >"$C/ca.cnf"
    openssl req -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$2" \
        2>/dev/null &&
        openssl ca -batch -notext -config "$C/ca.cnf" -cert "$C/testca.crt" \
            -keyfile "$C/testca.key" -in "$C/$1.csr" -out "$C/$1.crt" \
            -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
}
ca testca && ca rogueca && client alice alice testca && client bob bob testca &&
    client rogue alice rogueca && expired expired alice &&
    openssl x509 -in "$C/expired.crt" -noout -checkend 0 | grep -q "will expire"
ok $? "a test CA, certificates for alice and bob, an expired one and one of another CA"

cat >"$W/policy.conf" <<EOF
<Queue office>
  Allow alice
</Queue>
EOF
bl_conf "$W/blattd.conf" "$port"
# Only certificates on the TCP listener (bl_conf's trust listeners replaced).
sed -i '/^Listen /d' "$W/blattd.conf"
cat >>"$W/blattd.conf" <<EOF
Listen 127.0.0.1:$port cert
TLSClientCA $C/testca.crt
<Printer office>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs with a cert-only listener"

# print CERT-NAME|- OUT: Print-Job of a one-page PDF over https, with requesting-user-name
# mallory; prints curl's exit status and the HTTP status.
print()
{
    { ipp_head 0002 7
        ipp_attr 45 printer-uri "ipps://127.0.0.1:$port/ipp/print/office"
        ipp_attr 42 requesting-user-name mallory
        ipp_attr 49 document-format application/pdf
        printf '\x03'
        cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/print.bin"
    local cert=()
    [ "$1" != - ] && cert=(--cert "$C/$1.crt" --key "$C/$1.key")
    rm -f "$2"
    curl -sk -o "$2" -w '%{http_code}' "${cert[@]}" -H 'Content-Type: application/ipp' \
        --data-binary @"$W/print.bin" "https://127.0.0.1:$port/ipp/print/office"
    echo " $?"
}

# The requester as the job record and the audit chain have it.
owner_of_last_job()
{
    sqlite3 "$W/state/blatt.db" "SELECT user FROM jobs ORDER BY id DESC LIMIT 1" 2>/dev/null
}

is "$(print alice "$W/alice.out")" "200 0" "alice's certificate: HTTP 200"
is "$(ipp_status "$W/alice.out")" 0x0000 "and the job is accepted (successful-ok)"
is "$(owner_of_last_job)" alice "the job is alice's, not requesting-user-name's mallory"
grep -q "ipp Print-Job from 127.0.0.1:[0-9]* user alice path /ipp/print/office" "$W/blattd.log"
ok $? "the log names alice as the requester"

is "$(print bob "$W/bob.out")" "200 0" "bob's certificate: HTTP 200"
is "$(ipp_status "$W/bob.out")" 0x0403 \
    "but the policy lets only alice print on office (client-error-not-authorized)"

jobs_before=$(sqlite3 "$W/state/blatt.db" "SELECT count(*) FROM jobs")
is "$(print - "$W/anon.out")" "200 0" "no certificate: HTTP 200 (a certificate is no HTTP challenge)"
is "$(ipp_status "$W/anon.out")" 0x0402 "with client-error-not-authenticated"
r=$(print rogue "$W/rogue.out")
case ${r##* } in 35 | 55 | 56) true ;; *) false ;; esac || [ "$(ipp_status "$W/rogue.out")" = 0x0402 ]
ok $? "alice's name on a certificate of another CA: refused in the handshake or not an identity ($r)"
r=$(print expired "$W/expired.out")
case ${r##* } in 35 | 55 | 56) true ;; *) false ;; esac || [ "$(ipp_status "$W/expired.out")" = 0x0402 ]
ok $? "alice's expired certificate: refused in the handshake or not an identity ($r)"
is "$(sqlite3 "$W/state/blatt.db" "SELECT count(*) FROM jobs")" "$jobs_before" \
    "none of them created a job"
is "$(grep -c 'TLS error: certificate verify failed' "$W/blattd.log")" 2 \
    "the log says why both handshakes failed"
kill -0 "$BLATTD_PID"
ok $? "blattd keeps serving"

# (ipptool has no client certificate: the job's state comes from the database.)
for ((i = 0; i < 150; i++)); do
    [ "$(sqlite3 "$W/state/blatt.db" "SELECT state FROM jobs WHERE id=1" 2>/dev/null)" = 9 ] &&
        break
    sleep 0.2
done
[ "$(sqlite3 "$W/state/blatt.db" "SELECT state FROM jobs WHERE id=1")" = 9 ] && [ -s "$W"/out/job-1.* ]
ok $? "alice's job completes"
bl_done
