#!/bin/bash
# cancel.sh: canceling jobs at every moment: right after they start (regression: a SIGTERM
# that reached a filter before it had reset its signal handlers stopped blattd), while the
# printer hangs and blattd is stopped (regression: the job printed after the restart), and a
# job whose filter fails leaves no output file (regression: an empty file was left).
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init cancel

eve=$(bl_port)
port=$(bl_port)
bl_start_eve canceldev "$eve" application/pdf,image/pwg-raster
ok $? "ippeveprinter runs"
mkdir -p "$W/out"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
<Printer dev>
  DeviceURI ipp://localhost:$eve/ipp/print
</Printer>
<Printer virt>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"

# Print-Job followed at once by Cancel-Job, many times, on both queues.
canceled=0
for i in $(seq 1 40); do
    for q in dev virt; do
        id=$(ipptool -c -d filename="$BL_DOCS/onepage-a4.pdf" -d filetype=application/pdf \
            -d job_name="c$i" "ipp://127.0.0.1:$port/ipp/print/$q" \
            "$top_srcdir/tests/ipp/print-file.test" 2>/dev/null | sed -n 2p)
        [ -n "$id" ] && cancel -h "127.0.0.1:$port" "$q-$id" 2>/dev/null && canceled=$((canceled + 1))
    done
done
kill -0 "$BLATTD_PID"
ok $? "blattd survives 80 cancels right after submission ($canceled canceled)"
bl_wait_for 30 sh -c "test -z \"\$(lpstat -h 127.0.0.1:$port -o)\""
ok $? "every job left the queues"
# No stray job on the printer: a new job goes through at once.
out=$(lp -h "127.0.0.1:$port" -d dev "$BL_DOCS/onepage-a4.pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is dev-\([0-9]*\).*/\1/p')
bl_wait_job "$port" dev "$id" completed 20
ok $? "a job after all the cancels prints at once (the printer is not left busy)"

# Cancel while the printer prints, and blattd dies before the filters stopped: after the
# restart the job is canceled (Cancel-Job answers only once the wish is on disk).
slow=$(bl_port)
BL_EVE_SLOW=1 bl_start_eve slowdev "$slow" application/pdf
ok $? "a slow ippeveprinter runs"
printf '<Printer slow>\n  DeviceURI ipp://localhost:%s/ipp/print\n</Printer>\n' "$slow" >>"$W/blattd.conf"
kill -TERM "$BLATTD_PID"
wait "$BLATTD_PID" 2>/dev/null
bl_start_blattd "$W/blattd.conf" "$port"
out=$(lp -h "127.0.0.1:$port" -d slow "$BL_DOCS/document-a4.pdf" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is slow-\([0-9]*\).*/\1/p')
bl_wait_for 15 sh -c "test \"\$(ipptool -c -d job_id=$id ipp://127.0.0.1:$port/ipp/print/slow $top_srcdir/tests/ipp/get-job-state.test | tail -1 | cut -d, -f1)\" = processing"
ok $? "the job is processing at the slow printer"
cancel -h "127.0.0.1:$port" "slow-$id"
ok $? "it is canceled"
kill -9 "$BLATTD_PID"
wait "$BLATTD_PID" 2>/dev/null
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd restarts after kill -9"
bl_wait_job "$port" slow "$id" canceled 10
ok $? "the job is still canceled after the restart"
sleep 3
is "$(bl_job_state "$port" slow "$id")" "canceled" "and was not printed again"

# A document that is not a PDF: the job aborts and the file printer writes nothing.
printf 'this is not a PDF\n' >"$W/hello.txt"
out=$(lp -h "127.0.0.1:$port" -d virt -o document-format=application/pdf "$W/hello.txt" 2>&1)
id=$(printf '%s' "$out" | sed -n 's/.*request id is virt-\([0-9]*\).*/\1/p')
bl_wait_job "$port" virt "$id" aborted 20
ok $? "a fake PDF is aborted"
[ ! -e "$W/out/job-$id.pdf" ]
ok $? "and leaves no output file"
is "$(ls -A "$W/out" | grep -c '^\.job-')" 0 "and no temporary file"
bl_done
