#!/bin/bash
# TLS of blattd as a scanner sees it: sslscan from Debian shows no protocol below TLS 1.2 and
# no weak suite; openssl s_client confirms the refusals; plain HTTP and TLS share the port.
# Licensed under the Apache License, Version 2.0.
. "${top_srcdir:-.}/tests/lib.sh"
bl_init tls

PORT=$(bl_port)
bl_conf "$W/blattd.conf" "$PORT"
bl_start_blattd "$W/blattd.conf" "$PORT"

scan=$(sslscan --no-colour --no-fallback --no-renegotiation --no-heartbleed \
    "127.0.0.1:$PORT" 2>&1)
ok $? "sslscan runs against blattd"
printf '%s\n' "$scan" >"$W/sslscan.txt"
for p in SSLv2 SSLv3 TLSv1.0 TLSv1.1; do
    like "$scan" "$p +disabled" "$p is disabled"
done
for p in TLSv1.2 TLSv1.3; do
    like "$scan" "$p +enabled" "$p is enabled"
done
suites=$(printf '%s\n' "$scan" | grep -E '^(Preferred|Accepted) +TLSv1\.[0-3]')
[ -n "$suites" ]
ok $? "sslscan lists the accepted suites ($(printf '%s\n' "$suites" | wc -l))"
weak=$(printf '%s\n' "$suites" | grep -Ei 'RC4|DES|NULL|EXP|anon|MD5|CBC|SHA1$|-SHA |PSK|SRP|CAMELLIA|ARIA|SEED|IDEA' || true)
is "$weak" "" "no weak, CBC or non-forward-secret suite is accepted"
short=$(printf '%s\n' "$suites" | awk '{ if ($3 + 0 < 128) print }')
is "$short" "" "every accepted suite has at least 128-bit keys"
nofs=$(printf '%s\n' "$suites" | grep TLSv1.2 | grep -v ECDHE || true)
is "$nofs" "" "every TLS 1.2 suite has forward secrecy (ECDHE)"
like "$scan" "(TLSv1.3|TLS_AES|TLS_CHACHA20)" "TLS 1.3 suites are offered"
groups=$(printf '%s\n' "$scan" | grep -E '^TLSv1\.[23] +[0-9]+ bits' || true)
[ -n "$groups" ]
ok $? "sslscan lists the key exchange groups"
weakg=$(printf '%s\n' "$groups" | awk '{ if ($2 + 0 < 128) print }')
is "$weakg" "" "no key exchange group below 128 bits (no ffdhe2048)"

for v in tls1 tls1_1; do
    openssl s_client -connect "127.0.0.1:$PORT" -"$v" </dev/null >/dev/null 2>&1
    ok $((!$?)) "openssl s_client -$v is refused"
done
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher AES128-SHA >/dev/null 2>&1
ok $((!$?)) "a TLS 1.2 client offering only AES128-SHA (no forward secrecy) is refused"
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 >/dev/null 2>&1
ok $? "a TLS 1.2 client with modern suites gets in"
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/")
is "$code" 200 "HTTPS on the port serves the status page"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
is "$code" 200 "plain HTTP on the same port (loopback) too"

# CUPS clients asked for encryption on an ipp:// URI (lp -E) switch the plain connection to
# TLS (RFC 2817: OPTIONS * with Upgrade: TLS/1.2, 101, the handshake, then the OPTIONS' own
# answer over TLS). Regression: blattd answered 405 and `lp -E` said "The printer or class does
# not exist". A Basic listener with a UserFile: lp asks for alice's password on its terminal
# (script gives it one) and prints as alice; the password only ever crosses TLS.
BPORT=$(bl_port)
printf 'pw-alice\n' | "$BLATT" hash-password >"$W/alice.hash"
printf 'alice:%s:staff\n' "$(cat "$W/alice.hash")" >"$W/users"
chmod 600 "$W/users"
mkdir -p "$W/out"
bl_stop_blattd
bl_conf "$W/blattd.conf" "$PORT"
cat >>"$W/blattd.conf" <<EOF
Listen 127.0.0.1:$BPORT basic
UserFile $W/users
<Printer pdf>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$PORT"
ok $? "blattd with a Basic listener"
(sleep 3; printf 'pw-alice\n') | timeout 30 script -qec \
    "lp -E -h 127.0.0.1:$BPORT -U alice -d pdf -t upgraded '$BL_DOCS/onepage-a4.pdf'" /dev/null \
    >"$W/lp-E.out" 2>&1
like "$(cat "$W/lp-E.out")" "request id is pdf-[0-9]+" "lp -E: the connection is upgraded to TLS and lp prints"
like "$(cat "$W/access.log")" "plain \"OPTIONS \* HTTP/1.1\" 101" "the OPTIONS upgrade is answered 101"
like "$(cat "$W/access.log")" "tls \"POST /ipp/print/pdf HTTP/1.1\" 200" "the job comes over the upgraded TLS connection"
id=$(sed -n 's/.*request id is pdf-\([0-9]*\).*/\1/p' "$W/lp-E.out")
owner=$(sqlite3 "$W/state/blatt.db" "SELECT user FROM jobs WHERE id = ${id:-0}" 2>/dev/null)
is "$owner" alice "the job is alice's (her password was checked)"
! grep -q "pw-alice" "$W/access.log" "$W/blattd.log"
ok $? "the password is in no log"
out=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' --http1.1 -X OPTIONS \
    -H 'Connection: Upgrade' -H 'Upgrade: TLS/1.0' "http://127.0.0.1:$BPORT/" 2>&1)
[ "$out" != 101 ]
ok $? "an upgrade to TLS 1.0 only is not taken ($out)"

bl_done
