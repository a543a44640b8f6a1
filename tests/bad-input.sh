#!/bin/bash
# bad-input.sh: malformed and hostile IPP requests get the precise status, lose nothing, and
# the daemon keeps serving.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init bad-input

port=$(bl_port)
mkdir -p "$W/out"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
MaxIPPAttributesSize 64K
<Printer virt>
  DeviceURI file://$W/out
</Printer>
<Printer held>
  DeviceURI file://$W/out
  ReleaseMode hold
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"
q="ipp://127.0.0.1:$port/ipp/print/virt"
n=0

# expect NAME HTTP-STATUS IPP-STATUS: posts $W/req.bin and checks both statuses.
expect()
{
    n=$((n + 1))
    local code st
    code=$(ipp_post "$port" /ipp/print/virt "$W/req.bin" "$W/resp-$n.bin")
    st=$(ipp_status "$W/resp-$n.bin")
    [ "$2" = 200 ] || st=""
    is "$code/$st" "$2/$3" "$1"
}

{ ipp_head 000b 1 0000; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "IPP version 0.0 is refused" 200 0x0503
{ ipp_head 000b 1 0909; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "IPP version 9.9 is refused" 200 0x0503
{ ipp_head 000b 0; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "request-id 0 is a bad request" 200 0x0400
rid=$(od -An -tu4 --endian=big -j4 -N4 "$W/resp-$n.bin" | tr -d ' ')
is "$rid" 0 "the bad request-id is echoed back"
{ printf '\x02\x00\x00\x0b\x00\x00\x00\x01\x01'; ipp_attr 48 attributes-natural-language en
  ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "a request without attributes-charset is a bad request" 200 0x0400
{ printf '\x02\x00\x00\x0b\x00\x00\x00\x01\x01'; ipp_attr 48 attributes-natural-language en
  ipp_attr 47 attributes-charset utf-8; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "charset after natural-language is a bad request" 200 0x0400
{ printf '\x02\x00\x00\x0b\x00\x00\x00\x01\x01'; ipp_attr 47 attributes-charset iso-8859-1
  ipp_attr 48 attributes-natural-language en; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "an unsupported charset is client-error-charset-not-supported" 200 0x040d
{ ipp_head 000b; printf '\x03'; } >"$W/req.bin"
expect "a missing printer-uri is a bad request" 200 0x0400
{ ipp_head 000b; ipp_attr 45 printer-uri "ipp://127.0.0.1:$port/ipp/print/nope"; printf '\x03'; } >"$W/req.bin"
expect "an unknown queue is client-error-not-found" 200 0x0406
{ ipp_head 000b; ipp_attr 44 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "printer-uri with a keyword tag is a bad request" 200 0x0400
{ ipp_head 7777; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "an unknown operation is server-error-operation-not-supported" 200 0x0501
printf '\x02\x00\x00\x0b' >"$W/req.bin"
expect "a message cut after 4 bytes is a bad request" 200 0x0400
{ ipp_head 000b; printf '\x45\x00\x0bprinter-uri\x00\x40ipp://'; } >"$W/req.bin"
expect "a message cut inside a value is a bad request" 200 0x0400
{ ipp_head 000b; printf '\x45\xff\xffprinter-uri'; } >"$W/req.bin"
expect "a 0xFFFF name length is a bad request" 200 0x0400
{ ipp_head 000b; printf '\x00'; ipp_attr 45 printer-uri "$q"; printf '\x03'; } >"$W/req.bin"
expect "the reserved delimiter 0x00 is a bad request" 200 0x0400
{ ipp_head 000b; for i in $(seq 1 20); do ipp_attr 34 media-col ""; done; printf '\x03'; } >"$W/req.bin"
expect "collections nested 20 deep are a bad request" 200 0x0400
big=$(head -c 3000 /dev/zero | tr '\0' x)
{ ipp_head 000b; ipp_attr 45 printer-uri "$q"; for i in $(seq 1 30); do ipp_attr 44 requested-attributes "$big"; done; printf '\x03'; } >"$W/req.bin"
expect "an attribute block over MaxIPPAttributesSize is 413" 413 ""
{ ipp_head 0009; ipp_attr 45 printer-uri "$q"; ipp_attr 41 job-id 1; printf '\x03'; } >"$W/req.bin"
expect "job-id as text is a bad request" 200 0x0400
{ ipp_head 0009; ipp_attr 45 printer-uri "$q"; printf '\x21\x00\x06job-id\x00\x04\x00\x01\x86\x9f\x03'; } >"$W/req.bin"
expect "an unknown job-id is client-error-not-found" 200 0x0406
{ ipp_head 000a; ipp_attr 45 printer-uri "$q"; printf '\x21\x00\x0awhich-jobs\x00\x04\x00\x00\x00\x01\x03'; } >"$W/req.bin"
expect "which-jobs as an integer is client-error-attributes-or-values-not-supported" 200 0x040b
{ ipp_head 000b; ipp_attr 45 printer-uri "$q"; printf '\x21\x00\x14requested-attributes\x00\x04\x00\x00\x00\x01\x03'; } >"$W/req.bin"
expect "requested-attributes as an integer is a bad request" 200 0x0400
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 49 document-format application/x-nonsense; printf '\x03'; cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
expect "an unknown document-format is client-error-document-format-not-supported" 200 0x040a
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 49 document-format application/pdf; printf '\x03'; } >"$W/req.bin"
expect "Print-Job without document data is a bad request" 200 0x0400
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 44 compression lzw; printf '\x03'; cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
expect "compression lzw is client-error-compression-not-supported" 200 0x040f
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 44 compression gzip; printf '\x03'; head -c 5000 "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
expect "gzip compression over data that is not gzip is a bad request" 200 0x0400
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 42 requesting-user-name alice
  printf '\x02\x21\x00\x06copies\x00\x04\xff\xff\xff\xfb\x03'; cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
expect "copies=-5 is ignored (successful-ok-ignored-or-substituted-attributes)" 200 0x0001
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; printf '\x22\x00\x16ipp-attribute-fidelity\x00\x01\x01'
  printf '\x02\x21\x00\x06copies\x00\x04\xff\xff\xff\xfb\x03'; cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
expect "copies=-5 with ipp-attribute-fidelity is client-error-attributes-or-values-not-supported" 200 0x040b

# A broken PDF is accepted, then ends as aborted with document-format-error; nothing crashes.
head -c 3000 "$BL_DOCS/onepage-a4.pdf" >"$W/broken.pdf"
{ ipp_head 0002; ipp_attr 45 printer-uri "$q"; ipp_attr 49 document-format application/pdf; printf '\x03'; cat "$W/broken.pdf"; } >"$W/req.bin"
expect "a broken PDF is accepted" 200 0x0000
id=$(grep -a -o 'ipp/print/virt/[0-9]*' "$W/resp-$n.bin" | head -1 | sed 's/.*\///')
bl_wait_job "$port" virt "$id" aborted 30
ok $? "the broken PDF's job is aborted"
reasons=$(ipptool -c -d job_id="$id" "$q" "$top_srcdir/tests/ipp/get-job-state.test" | tail -1)
like "$reasons" "document-format-error" "with job-state-reasons document-format-error ($reasons)"

# Another user cannot cancel alice's job; alice can.
{ ipp_head 0002; ipp_attr 45 printer-uri "ipp://127.0.0.1:$port/ipp/print/held"; ipp_attr 42 requesting-user-name alice
  printf '\x03'; cat "$BL_DOCS/onepage-a4.pdf"; } >"$W/req.bin"
code=$(ipp_post "$port" /ipp/print/held "$W/req.bin" "$W/held.bin")
id=$(grep -a -o 'ipp/print/held/[0-9]*' "$W/held.bin" | head -1 | sed 's/.*\///')
{ ipp_head 0008; ipp_attr 45 printer-uri "ipp://127.0.0.1:$port/ipp/print/held"
  printf '\x21\x00\x06job-id\x00\x04'; be32 "$id"; ipp_attr 42 requesting-user-name bob; printf '\x03'; } >"$W/req.bin"
expect "bob cannot cancel alice's job (client-error-not-authorized)" 200 0x0403
is "$(bl_job_state "$port" held "$id")" "pending-held" "alice's job is still there"

# After all of that the daemon serves as before.
out=$(ipptool -t "$q" get-printer-attributes.test 2>&1)
like "$out" "\[PASS\]" "Get-Printer-Attributes still works"
kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
grep -q "client-error-charset-not-supported" "$W/blattd.log"
ok $? "the log says why requests were refused"
bl_done
