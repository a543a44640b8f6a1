#!/bin/bash
# filter-crash.sh: a filter that dies in the middle of a document. Its job ends aborted, and
# nothing of the half document is filed (file queue) or printed (ippeveprinter): the backend
# sees the end of its input only when every stage before it has exited with 0. A filter that
# finishes normally (the control) still prints. Real blattd, real backends, ippeveprinter.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init filter-crash

# The shipped format graph plus application/x-midway-MODE -> application/pdf by the filter
# midway-MODE (tests/midway: half the document, then SIGSEGV, exit 1, or the rest), which
# goes straight to the backend.
mkdir -p "$W/data" "$W/filter" "$W/out"
cp "$top_srcdir/etc/formats.conf" "$W/data/formats.conf"
ln -s "$top_srcdir/etc/icons" "$W/data/icons"
for f in $(awk '!/^#/ && NF == 4 {print $4}' "$top_srcdir/etc/formats.conf" | sort -u); do
    cp "$top_builddir/drivers/filter/$f" "$W/filter/$f"
done
for m in crash exit whole reasons; do
    printf 'application/x-midway-%s application/pdf 10 midway-%s\n' "$m" "$m" >>"$W/data/formats.conf"
    cp "$top_builddir/tests/midway" "$W/filter/midway-$m"
done

eve=$(bl_port)
port=$(bl_port)
bl_start_eve middev "$eve" application/pdf
ok $? "ippeveprinter (PDF) runs on port $eve"
# conf BACKEND-DIR: blattd.conf for $port with the midway graph and filters, then the queues
# from stdin.
conf()
{
    bl_conf "$W/blattd.conf" "$port"
    sed -i -e "s|^DataDir .*|DataDir $W/data|" -e "s|^FilterDir .*|FilterDir $W/filter|" \
        -e "s|^BackendDir .*|BackendDir $1|" "$W/blattd.conf"
    cat >>"$W/blattd.conf"
}
conf "$top_builddir/drivers/backend" <<EOC
<Printer fileq>
  DeviceURI file://$W/out
</Printer>
<Printer ippq>
  DeviceURI ipp://localhost:$eve/ipp/print
</Printer>
EOC
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs with the midway filters"
bl_wait_for 10 sh -c "ipptool -t ipp://127.0.0.1:$port/ipp/print/ippq get-printer-attributes.test | grep -q x-midway-crash"

# The document: 256 KiB of text (blattd takes a PDF for a PDF whatever its declared type, and
# the PDF checker before the backend would then refuse half a PDF by itself).
head -c 196608 /dev/urandom | base64 >"$W/doc.txt"
# submit QUEUE FORMAT: the new job's id (doc.txt as FORMAT).
submit()
{
    ipptool -c -T 10 -f "$W/doc.txt" -d filetype="$2" -d job_name="midway" \
        "ipp://127.0.0.1:$port/ipp/print/$1" "$top_srcdir/tests/ipp/print-file.test" 2>/dev/null |
        tail -1
}
# wait_end QUEUE ID: until the job is completed, aborted or canceled (30 s at most).
wait_end()
{
    local i st
    for ((i = 0; i < 150; i++)); do
        st=$(bl_job_state "$port" "$1" "$2")
        case "$st" in completed | aborted | canceled) echo "$st"; return 0 ;; esac
        sleep 0.2
    done
    echo "$st"
    return 1
}
cat >"$W/eve-jobs.test" <<'EOT'
{
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR keyword which-jobs all
	ATTR keyword requested-attributes job-id,job-state
	STATUS successful-ok
	DISPLAY job-state
}
EOT
# The states of ippeveprinter's jobs, in order.
eve_states()
{
    ipptool -T 5 -t -v "ipp://localhost:$eve/ipp/print" "$W/eve-jobs.test" 2>/dev/null |
        sed -n 's/^ *job-state (enum) = //p' | sort | tr '\n' ' '
}

for m in crash exit; do
    id=$(submit fileq "application/x-midway-$m")
    st=$(wait_end fileq "$id")
    is "$st" aborted "midway-$m on the file queue: job $id is aborted"
    left=$(ls -A "$W/out" | grep -- "-$id\." | tr '\n' ' ')
    is "$left" "" "midway-$m on the file queue: no file of job $id is left in the queue's directory"
    grep -aq "job $id: processing -> aborted" "$W/blattd.log"
    ok $? "midway-$m on the file queue: the log has the job's end"
done

id=$(submit fileq application/x-midway-whole)
st=$(wait_end fileq "$id")
is "$st" completed "the control (midway-whole) on the file queue completes"
cmp -s "$W/out/job-$id.pdf" "$W/doc.txt"
ok $? "and its file is the whole document"

before=$(eve_states)
id=$(submit ippq application/x-midway-crash)
st=$(wait_end ippq "$id")
is "$st" aborted "midway-crash on the IPP queue: job $id is aborted"
after=$(eve_states)
case "$after" in *completed*) r=1 ;; *) r=0 ;; esac
ok $r "ippeveprinter completed no job of the half document (its jobs: ${after:-none}; before: ${before:-none})"
id=$(submit ippq application/x-midway-whole)
st=$(wait_end ippq "$id")
is "$st" completed "the control (midway-whole) on the IPP queue completes"
like "$(eve_states)" "completed" "and ippeveprinter completed it"

# A stage that reports printer-state-reasons: the queue shows as many as leave room for
# blattd's own offline-report (7 of the 9 added, one taken back: 6), and they go with the job
# when the stage crashes without taking them back.
id=$(submit fileq application/x-midway-reasons)
bl_wait_for 10 sh -c "ipptool -tv ipp://127.0.0.1:$port/ipp/print/fileq get-printer-attributes.test | grep -q 'printer-state-reasons.*toner-low-report'"
reasons=$(ipptool -tv "ipp://127.0.0.1:$port/ipp/print/fileq" get-printer-attributes.test 2>&1 |
    sed -n 's/.*printer-state-reasons ([^)]*) = //p')
is "$reasons" "toner-low-report,cover-open,door-open,media-jam,interlock-open,output-area-full" \
    "a stage's reasons: 7 of the 9 added, less the one taken back"
st=$(wait_end fileq "$id")
is "$st" aborted "the stage crashes: job $id is aborted"
reasons=$(ipptool -tv "ipp://127.0.0.1:$port/ipp/print/fileq" get-printer-attributes.test 2>&1 |
    sed -n 's/.*printer-state-reasons ([^)]*) = //p')
is "$reasons" none "and the queue's reasons go with it"

# A plug-in backend (a script in place of the file backend) answers the SIGTERM that blattd
# sends it after a filter failed: .../lost says the connection was lost (exit 6, a device
# condition), .../deaf ignores it. Regressions: the lost backend's exit 6 was taken for the
# outcome (the job went back to pending and the queue stopped as unreachable), and a
# Cancel-Job during the grace before SIGKILL put the SIGKILL off by another grace.
bl_stop_blattd
mkdir -p "$W/backend" "$W/lost" "$W/deaf"
cat >"$W/backend/file" <<'EOB'
#!/bin/sh
case "$DEVICE_URI" in
*/deaf) trap '' TERM ;;
*) trap 'echo "ERROR: connection lost" >&2; exit 6' TERM ;;
esac
cat >/dev/null
exit 0
EOB
chmod 755 "$W/backend/file"
port=$(bl_port)
conf "$W/backend" <<EOC
<Printer lost>
  DeviceURI file://$W/lost
</Printer>
<Printer deaf>
  DeviceURI file://$W/deaf
</Printer>
EOC
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs with the plug-in backend"
id=$(submit lost application/x-midway-crash)
st=$(wait_end lost "$id")
is "$st" aborted "midway-crash to a backend that exits 6 on SIGTERM: job $id is aborted"
gpa=$(ipptool -tv "ipp://127.0.0.1:$port/ipp/print/lost" get-printer-attributes.test 2>&1 |
    grep -E 'printer-state(-reasons)? ' | tr -s ' \n' ' ')
! printf '%s' "$gpa" | grep -Eq 'stopped|offline'
ok $? "and its queue is not stopped as unreachable ($gpa)"
id=$(submit deaf application/x-midway-exit)
bl_wait_for 20 grep -q "job $id: pending -> processing" "$W/blattd.log"
bl_wait_for 20 grep -q "stage before the last failed" "$W/blattd.log"
ok $? "midway-exit to a backend that ignores SIGTERM: the backend is stopped"
sleep 2
t0=$(date +%s%N)
cancel -h "127.0.0.1:$port" "deaf-$id"
st=$(wait_end deaf "$id")
ms=$((($(date +%s%N) - t0) / 1000000))
is "$st" canceled "a Cancel-Job 2 s into the grace cancels it"
ok $([ "$ms" -lt 4500 ]; echo $?) "and SIGKILL comes at the end of the first grace (5 s): ${ms} ms after the cancel"

bl_done
