#!/bin/bash
# http.sh: blattd's HTTP/1.1 and TLS layer with curl, openssl s_client and raw sockets.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init http

port=$(bl_port)
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOC
KeepAliveTimeout 2s
RequestTimeout 3s
MaxHeaders 20
MaxHeaderSize 4K
<Printer virt>
  DeviceURI file://$W/out
  Info Virtual "PDF" <printer>
</Printer>
EOC
mkdir -p "$W/out"
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd serves on 127.0.0.1:$port"
base="http://127.0.0.1:$port"

# Pages and icons.
hdr=$(curl -s -D - -o "$W/index.html" "$base/")
like "$hdr" "^HTTP/1.1 200" "GET / is 200"
like "$hdr" "Content-Security-Policy: default-src 'none'" "pages carry a strict CSP"
grep -q '&quot;PDF&quot; &lt;printer&gt;' "$W/index.html"
ok $? "text on pages is HTML-escaped"
is "$(curl -s -o /dev/null -w '%{http_code}' "$base/printers/virt")" 200 "the queue page exists"
is "$(curl -s -o /dev/null -w '%{http_code}' "$base/printers/nope")" 404 "an unknown queue page is 404"
curl -s -o "$W/icon.png" "$base/icons/virt.png"
like "$(file -b "$W/icon.png")" "PNG image data, 128 x 128" "the printer icon is a 128x128 PNG"
is "$(curl -s -o /dev/null -w '%{http_code}' "$base/icons/virt-lg.png")" 200 "the large icon exists"
is "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$base/ipp/print/virt")" 405 "PUT is 405"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$base/ipp/print/virt")" 415 \
    "POST without application/ipp is 415"
is "$(curl -s -o /dev/null -w '%{http_code}' -I "$base/")" 200 "HEAD / is 200"

# Keep-alive: curl reuses one connection for two URLs.
out=$(curl -sv -o /dev/null -o /dev/null "$base/" "$base/printers/virt" 2>&1)
like "$out" "Re-using existing connection" "keep-alive connections are reused"

# Pipelining: two requests in one write get two answers, in order.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /printers/virt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
resp=$(timeout 5 cat <&3 | grep -a '^HTTP/1.1' | tr -d '\r' | tr '\n' ' ')
exec 3<&-
is "$resp" "HTTP/1.1 200 OK HTTP/1.1 404 Not Found " "pipelined requests are answered in order"

# Limits and malformed heads.
exec 3<>"/dev/tcp/127.0.0.1/$port"
{ printf 'GET / HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 1 30); do printf 'X-%d: y\r\n' "$i"; done; printf '\r\n'; } >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r')
exec 3<&-
is "$resp" "HTTP/1.1 431 Request Header Fields Too Large" "too many headers is 431"
long=$(head -c 5000 /dev/zero | tr '\0' a)
resp=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Long: $long" "$base/")
is "$resp" 431 "a head over MaxHeaderSize is 431"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost : x\r\n\r\n' >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r')
exec 3<&-
is "$resp" "HTTP/1.1 400 Bad Request" "a space before the colon (smuggling shape) is 400"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r')
exec 3<&-
is "$resp" "HTTP/1.1 400 Bad Request" "Content-Length with Transfer-Encoding is 400"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\n\r\n' >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r')
exec 3<&-
is "$resp" "HTTP/1.1 400 Bad Request" "HTTP/1.1 without Host is 400"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/2.0\r\nHost: x\r\n\r\n' >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r')
exec 3<&-
like "$resp" "HTTP/1.1 (400|505)" "HTTP/2.0 in a request line is refused"
resp=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/ipp' \
    -H 'Content-Encoding: br' --data x "$base/ipp/print/virt")
is "$resp" 415 "an unknown Content-Encoding is 415"

# Timeouts: an idle keep-alive connection is closed; a head that never ends gets 408.
exec 3<>"/dev/tcp/127.0.0.1/$port"
start=$SECONDS
timeout 10 cat <&3 >/dev/null
exec 3<&-
elapsed=$((SECONDS - start))
[ "$elapsed" -ge 1 ] && [ "$elapsed" -le 5 ]
ok $? "an idle connection is closed after KeepAliveTimeout (${elapsed}s)"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&3
resp=$(timeout 10 head -1 <&3 | tr -d '\r')
exec 3<&-
is "$resp" "HTTP/1.1 408 Request Timeout" "an unfinished head gets 408 after RequestTimeout"

# IPP over a gzip Content-Encoding body and with Expect: 100-continue.
{ ipp_head 000b 7; ipp_attr 45 printer-uri "ipp://127.0.0.1:$port/ipp/print/virt"; printf '\x03'; } >"$W/gpa.bin"
gzip -c "$W/gpa.bin" >"$W/gpa.gz"
code=$(curl -s -o "$W/gpa.out" -w '%{http_code}' -H 'Content-Type: application/ipp' \
    -H 'Content-Encoding: gzip' --data-binary @"$W/gpa.gz" "$base/ipp/print/virt")
is "$code/$(ipp_status "$W/gpa.out")" "200/0x0000" "a gzip-coded IPP request is decoded"
out=$(curl -sv -o "$W/gpa2.out" -H 'Content-Type: application/ipp' -H 'Expect: 100-continue' \
    --data-binary @"$W/gpa.bin" "$base/ipp/print/virt" 2>&1)
like "$out" "HTTP/1.1 100 Continue" "Expect: 100-continue gets 100 Continue"
is "$(ipp_status "$W/gpa2.out")" "0x0000" "and then the IPP answer"

# TLS on the same port: TLS 1.2 and 1.3 work, older protocols do not.
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/")
is "$code" 200 "HTTPS on the same port works"
echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_2 >"$W/tls12.out" 2>&1
grep -q "Protocol *: TLSv1.2" "$W/tls12.out"
ok $? "TLS 1.2 is accepted"
echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'ALL:@SECLEVEL=0' >"$W/tls11.out" 2>&1
grep -q "Cipher is (NONE)\|no protocols available\|alert" "$W/tls11.out"
ok $? "TLS 1.1 is refused"
echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher 'AES128-SHA' >"$W/weak.out" 2>&1
grep -q "Cipher is (NONE)\|handshake failure\|alert" "$W/weak.out"
ok $? "a non-forward-secret suite is refused"
openssl x509 -in "$W/state/tls/server.crt" -noout -ext subjectAltName >"$W/san.txt" 2>&1
grep -q "IP Address:127.0.0.1" "$W/san.txt"
ok $? "the self-signed certificate names 127.0.0.1"
is "$(stat -c %a "$W/state/tls/server.key")" 600 "the TLS key is mode 0600"
out=$(ipptool -t "ipps://127.0.0.1:$port/ipp/print/virt" get-printer-attributes.test 2>&1)
like "$out" "\[PASS\]" "ipptool talks IPPS to the queue"

# The access log has one line per request, with status and no query noise.
grep -q '"GET /printers/virt HTTP/1.1" 200' "$W/access.log"
ok $? "requests are in the access log"
kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
bl_done
