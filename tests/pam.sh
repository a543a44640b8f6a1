#!/bin/bash
# pam.sh: Basic authentication against PAM (pam_unix) with real, throw-away local users, over
# TLS (curl -k): the right password prints, a wrong one is a 401 and a failed-login audit
# record, plain http gets no password through, and user names that differ only in case are
# different users. Needs root (useradd, /etc/pam.d); removes its users and PAM service on exit.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init pam

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root to create test users and /etc/pam.d/blatt-test"
    exit 0
fi
for tool in useradd userdel chpasswd; do
    if ! command -v "$tool" >/dev/null; then
        echo "1..0 # SKIP $tool is missing"
        exit 0
    fi
done

SERVICE=/etc/pam.d/blatt-test
# Two users whose names differ only in case (shadow's useradd needs --badname for the second).
U1="bltpam$((RANDOM % 10000))"
U2="BltPam${U1#bltpam}"
PW1="One-$RANDOM-pass"
PW2="Two-$RANDOM-pass"
made_users=()

pam_cleanup()
{
    local u
    for u in "${made_users[@]}"; do
        userdel -r "$u" >/dev/null 2>&1 || userdel "$u" >/dev/null 2>&1
    done
    rm -f "$SERVICE"
}
trap 'bl_cleanup; pam_cleanup' EXIT

if getent passwd "$U1" >/dev/null || getent passwd "$U2" >/dev/null || [ -e "$SERVICE" ]; then
    echo "Bail out! $U1, $U2 or $SERVICE exists already"
    exit 1
fi
useradd --no-create-home --shell /usr/sbin/nologin "$U1" && made_users+=("$U1") &&
    useradd --badname --no-create-home --shell /usr/sbin/nologin "$U2" && made_users+=("$U2") &&
    printf '%s:%s\n%s:%s\n' "$U1" "$PW1" "$U2" "$PW2" | chpasswd
ok $? "test users $U1 and $U2 exist with passwords"
printf 'auth required pam_unix.so\naccount required pam_unix.so\n' >"$SERVICE"
ok $? "PAM service blatt-test (pam_unix)"

PORT=$(bl_port)
CONF="$W/blattd.conf"
mkdir -p "$W/out"
bl_conf "$CONF" "$PORT"
sed -i '/^Listen /d' "$CONF"
cat >>"$CONF" <<EOF
Listen 127.0.0.1:$PORT basic
PAMService blatt-test
<Printer virt>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$CONF" "$PORT"
ok $? "blattd serves a Basic listener on 127.0.0.1:$PORT"

PRINTER="ipp://127.0.0.1:$PORT/ipp/print/virt"
{
    ipp_head 0002
    ipp_attr 45 printer-uri "$PRINTER"
    ipp_attr 42 requesting-user-name mallory
    ipp_attr 49 document-format application/pdf
    printf '\x03'
    cat "$BL_DOCS/onepage-a4.pdf"
} >"$W/print.bin"

# post USER:PASSWORD REQUEST OUT [http]: POSTs over https (or plain http); the HTTP status.
post()
{
    local scheme=${4:-https}
    curl -sk --max-time 30 -o "$3" -D "$3.hdr" -w '%{http_code}' -u "$1" \
        -H 'Content-Type: application/ipp' --data-binary @"$2" "$scheme://127.0.0.1:$PORT/ipp/print/virt"
}

# ipp_value FILE NAME: the first value of an attribute in an IPP response.
ipp_value()
{
    python3 - "$1" "$2" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
want, i = sys.argv[2].encode(), 8
while i < len(data):
    tag = data[i]
    i += 1
    if tag < 0x10:
        if tag == 0x03:
            break
        continue
    nl = struct.unpack('>H', data[i:i + 2])[0]
    name = data[i + 2:i + 2 + nl]
    i += 2 + nl
    vl = struct.unpack('>H', data[i:i + 2])[0]
    v = data[i + 2:i + 2 + vl]
    i += 2 + vl
    if name == want:
        print(struct.unpack('>i', v)[0] if tag in (0x21, 0x23) else v.decode())
        break
EOF
}

# owner USER:PASSWORD ID: job-originating-user-name of job ID, asked with these credentials.
owner()
{
    {
        ipp_head 0009
        ipp_attr 45 printer-uri "$PRINTER"
        printf '\x21'
        be16 6
        printf 'job-id'
        be16 4
        be32 "$2"
        printf '\x03'
    } >"$W/gja.bin"
    post "$1" "$W/gja.bin" "$W/gja-resp.bin" >/dev/null
    ipp_value "$W/gja-resp.bin" job-originating-user-name
}

code=$(post "$U1:$PW1" "$W/print.bin" "$W/ok1.bin")
is "$code/$(ipp_status "$W/ok1.bin")" 200/0x0000 "$U1 prints with the right password"
job1=$(ipp_value "$W/ok1.bin" job-id)
bl_wait_for 20 test -s "$W/out/job-$job1.pdf"
ok $? "the job comes out of the file queue"
is "$(owner "$U1:$PW1" "$job1")" "$U1" "the job is $U1's (not requesting-user-name's)"

start=$(date +%s%N)
code=$(post "$U1:wrong-$PW1" "$W/print.bin" "$W/bad.bin")
ms=$((($(date +%s%N) - start) / 1000000))
is "$code" 401 "a wrong password gets 401"
grep -qi '^WWW-Authenticate: Basic realm="Blatt"' "$W/bad.bin.hdr"
ok $? "with a Basic challenge"
[ "$ms" -ge 900 ]
ok $? "a failed login takes about a second ($ms ms)"
[ -z "$(ls "$W/out" | grep -v "^job-$job1.pdf$")" ]
ok $? "and prints nothing"
code=$(post "$U1:$PW1" "$W/print.bin" "$W/plain.bin" http)
is "$code" 401 "the right password over plain http gets 401"
grep -q "only accepted over TLS" "$W/plain.bin"
ok $? "because a password is only accepted over TLS"

# Case: U2 is another account; the upper-case spelling of U1 is nobody.
code=$(post "$U2:$PW1" "$W/print.bin" "$W/case1.bin")
is "$code" 401 "$U2 with $U1's password gets 401"
code=$(post "${U1^^}:$PW1" "$W/print.bin" "$W/case2.bin")
is "$code" 401 "${U1^^} (no such user) with $U1's password gets 401"
code=$(post "$U2:$PW2" "$W/print.bin" "$W/ok2.bin")
is "$code/$(ipp_status "$W/ok2.bin")" 200/0x0000 "$U2 prints with its own password"
job2=$(ipp_value "$W/ok2.bin" job-id)
is "$(owner "$U2:$PW2" "$job2")" "$U2" "that job is $U2's"
is "$(owner "$U1:$PW1" "$job2")" "" "$U1 does not see $U2's job"
owner "$U1:$PW1" "$job2" >/dev/null
is "$(ipp_status "$W/gja-resp.bin")" 0x0403 "it gets client-error-not-authorized for it"

# The audit chain has the logins, failed and good.
log=$("$BLATT" -c "$CONF" audit export --format jsonl 2>&1)
ok $? "blatt audit export"
like "$(printf '%s\n' "$log" | grep '"action":"login"' | grep "\"subject\":\"$U1\"")" \
    '"result":"wrong user name or password"' "a failed login of $U1 is in the audit chain"
like "$(printf '%s\n' "$log" | grep '"action":"login"' | grep "\"subject\":\"$U1\"")" \
    '"result":"ok"' "and its good login"
like "$(printf '%s\n' "$log" | grep '"action":"login"' | grep "\"subject\":\"${U1^^}\"")" \
    '"result":"wrong user name or password"' "the failed login of ${U1^^} is recorded as such"
! grep -aq -- "$PW1\|$PW2" "$W"/*.log "$W/state/blatt.db" 2>/dev/null
ok $? "no password is in the logs or the database"
out=$("$BLATT" -c "$CONF" audit verify 2>&1)
ok $? "the audit chain verifies"

bl_stop_blattd
bl_done
