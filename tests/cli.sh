#!/bin/bash
# cli.sh: the blatt command line against a running blattd (over its local socket).
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init cli

port=$(bl_port)
mkdir -p "$W/out"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
<Printer virt>
  DeviceURI file://$W/out
  Info Virtual printer
</Printer>
<Printer held>
  DeviceURI file://$W/out
  ReleaseMode hold
</Printer>
EOF
out=$("$BLATT" -c "$W/blattd.conf" printers 2>&1)
is "$?" 1 "blatt printers fails when blattd is not running"
like "$out" "cannot connect to blattd at $W/blattd.sock" "and says why"
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"

out=$("$BLATT" -c "$W/blattd.conf" printers 2>&1)
ok $? "blatt printers"
like "$out" "virt +idle +yes +0 +file://$W/out" "lists the virtual queue with state and device"
like "$out" "held +idle +yes" "lists the hold queue"
lp -h "127.0.0.1:$port" -d virt -t "Annual report" "$BL_DOCS/onepage-a4.pdf" >/dev/null
lp -h "127.0.0.1:$port" -d held -t "Held report" "$BL_DOCS/onepage-a4.pdf" >/dev/null
bl_wait_job "$port" virt 1 completed 20 >/dev/null
out=$("$BLATT" -c "$W/blattd.conf" jobs 2>&1)
ok $? "blatt jobs"
like "$out" "2 +held +[a-z]+ +held .*Held report" "shows the unfinished held job"
if printf '%s' "$out" | grep -q "Annual report"; then r=1; else r=0; fi
ok $r "does not show the finished job without -a"
out=$("$BLATT" -c "$W/blattd.conf" jobs -a 2>&1)
like "$out" "1 +virt +[a-z]+ +completed .*Annual report" "blatt jobs -a shows the completed job"
out=$("$BLATT" -c "$W/blattd.conf" jobs -a -p held 2>&1)
if printf '%s' "$out" | grep -q "Annual report"; then r=1; else r=0; fi
ok $r "blatt jobs -p QUEUE shows only that queue"
out=$("$BLATT" -c "$W/blattd.conf" release 2 2>&1)
is "$out" "job 2 released" "blatt release releases the held job"
bl_wait_job "$port" held 2 completed 20
ok $? "and it prints"
lp -h "127.0.0.1:$port" -d held -t "To cancel" "$BL_DOCS/onepage-a4.pdf" >/dev/null
out=$("$BLATT" -c "$W/blattd.conf" cancel 3 2>&1)
is "$out" "job 3 canceled" "blatt cancel cancels a job"
is "$(bl_job_state "$port" held 3)" canceled "it is canceled"
out=$("$BLATT" -c "$W/blattd.conf" release 99 2>&1)
like "$out" "job 99 does not exist" "releasing an unknown job says so"
"$BLATT" -c "$W/blattd.conf" frobnicate >/dev/null 2>&1
is "$?" 2 "an unknown command exits 2"
"$BLATT" -h | grep -q "printers"
ok $? "blatt -h lists the commands"
like "$("$BLATT" version)" "^blatt [0-9]+\.[0-9]+" "blatt version"
bl_done
