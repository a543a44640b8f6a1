#!/bin/bash
# plaintext.sh: no plaintext document ever reaches StateDir: a PDF with a unique marker is
# held (spooled), then printed; at no point does anything under StateDir contain the marker.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init plaintext

marker="BLATT-SECRET-$RANDOM$RANDOM-$$"
bl_marker_pdf "$W/secret.pdf" "$marker"
grep -q "$marker" "$W/secret.pdf"
ok $? "the test document holds the marker in plain text"
eve=$(bl_port)
port=$(bl_port)
bl_start_eve secdev "$eve" application/pdf,image/pwg-raster
bl_conf "$W/blattd.conf" "$port"
mkdir -p "$W/out"
cat >>"$W/blattd.conf" <<EOF
<Printer held>
  DeviceURI ipp://localhost:$eve/ipp/print
  ReleaseMode hold
</Printer>
<Printer raster>
  DeviceURI file://$W/out
  DocumentFormat image/pwg-raster
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"

scan()
{
    grep -r -a -l -- "$marker" "$W/state" 2>/dev/null | head -3
}
out=$(lp -h "127.0.0.1:$port" -d held -t "report" "$W/secret.pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is held-\([0-9]*\).*/\1/p')
is "$(bl_job_state "$port" held "$id")" "pending-held" "the job is held (its document is spooled)"
# A small document goes to the document log, a large one is a spool file of its own.
hdr=$(bl_doc_header "$W/state" "$id")
like "$hdr" "^424C53504F4F4C3100020000" "the document is spooled, encrypted (BLSPOOL1 header, flags 0)"
is "$(scan)" "" "nothing under StateDir holds the marker while the job is spooled"
is "$(stat -c %a "$W/state/kek")" 600 "the key-encryption key is mode 0600"
# As root the sandboxed filters (other uids) must pass through StateDir to their TMPDIR: 0711,
# nothing can be listed, and every file in it is for blattd alone.
if [ "$(id -u)" = 0 ]; then
    is "$(stat -c %a "$W/state")" 711 "StateDir is mode 0711 (search only, for the sandbox)"
else
    is "$(stat -c %a "$W/state")" 700 "StateDir is mode 0700"
fi
open=$(find "$W/state" -maxdepth 1 -type f -perm /077 -printf '%f ')
is "$open" "" "no file in StateDir is readable by group or others"

ipptool -d job_id="$id" "ipp://127.0.0.1:$port/ipp/print/held" \
    "$top_srcdir/tests/ipp/release-job.test" >/dev/null 2>&1
ok $? "Release-Job"
bl_wait_job "$port" held "$id" completed 30
ok $? "the released job prints"
got=$(ls "$W"/eve-secdev/*.pdf | head -1)
qpdf --qdf --object-streams=disable "$got" "$W/printed.pdf" >/dev/null 2>&1
grep -q -a -- "$marker" "$W/printed.pdf"
ok $? "the printer got the real document"
is "$(scan)" "" "nothing under StateDir holds the marker after printing"
[ ! -e "$W/state/spool/$id.bls" ]
ok $? "there is no spool file of it"
# Its key in the log is destroyed: flags FFFF, the wrapped key replaced by random bytes (written
# by the sync thread right after the job's end was committed).
shredded_now() { bl_doc_header "$W/state" "$id" | grep -q '^424C53504F4F4C310002FFFF'; }
bl_wait_for 5 shredded_now
after=$(bl_doc_header "$W/state" "$id")
like "$after" "^424C53504F4F4C310002FFFF" "the document's key is shredded (flags FFFF)"
[ "${after:32}" != "${hdr:32}" ]
ok $? "the nonce prefix and the wrapped key are overwritten"

# A raster conversion runs filters: their TMPDIR must stay clean as well.
out=$(lp -h "127.0.0.1:$port" -d raster "$W/secret.pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is raster-\([0-9]*\).*/\1/p')
bl_wait_job "$port" raster "$id" completed 60
ok $? "the raster conversion completes"
is "$(scan)" "" "nothing under StateDir holds the marker after a conversion"
is "$(find "$W/state/tmp" -type f | wc -l)" 0 "no file is left in the filters' TMPDIR"
bl_done
