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

bl_done
