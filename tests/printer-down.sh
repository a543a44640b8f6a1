#!/bin/bash
# printer-down.sh: a printer that is down stops its queue with the right reasons, the job
# waits, and it completes when ippeveprinter comes back.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init printer-down

eve=$(bl_port)
port=$(bl_port)
bl_start_eve downdev "$eve" application/pdf,image/pwg-raster
ok $? "ippeveprinter runs"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
<Printer q>
  DeviceURI ipp://localhost:$eve/ipp/print
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"
bl_wait_for 10 sh -c "lpstat -h 127.0.0.1:$port -p q | grep -q idle"
ok $? "the queue is idle while the printer is up"

kill -TERM "$EVE_PID"
wait "$EVE_PID" 2>/dev/null
out=$(lp -h "127.0.0.1:$port" -d q "$BL_DOCS/onepage-a4.pdf" 2>&1)
like "$out" "request id is q-[0-9]+" "a job is accepted while the printer is down"
id=$(printf '%s' "$out" | sed -n 's/.*request id is q-\([0-9]*\).*/\1/p')
gpa="ipptool -tv ipp://127.0.0.1:$port/ipp/print/q get-printer-attributes.test"
bl_wait_for 15 sh -c "$gpa | grep -q 'printer-state (enum) = stopped'"
ok $? "the queue is stopped"
attrs=$($gpa 2>&1)
like "$attrs" "printer-state-reasons \(keyword\) = offline-report" "printer-state-reasons says offline-report"
like "$attrs" "printer-state-message \(textWithoutLanguage\) = .*connect" "printer-state-message says why"
st=$(bl_job_state "$port" q "$id")
like "$st" "^(pending|processing)$" "the job waits ($st)"
grep -q "printer q: device unreachable" "$W/blattd.log"
ok $? "the log says the device is unreachable"

bl_start_eve downdev "$eve" application/pdf,image/pwg-raster
ok $? "ippeveprinter comes back"
bl_wait_job "$port" q "$id" completed 30
ok $? "the job completes when the printer is back"
attrs=$($gpa 2>&1)
like "$attrs" "printer-state-reasons \(keyword\) = none" "the queue's reasons are clear again"
ls "$W"/eve-downdev/*.pdf >/dev/null 2>&1
ok $? "the printer received the document"
bl_done
