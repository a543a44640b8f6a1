#!/bin/bash
# durability.sh: kill -9 of blattd while 50 jobs are being submitted; after the restart every
# job that got successful-ok is there and completes, and nothing else is left behind.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init durability

port=$(bl_port)
mkdir -p "$W/out"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
<Printer virt>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"

# Four clients submit in parallel; each records the job ids it was given.
uri="ipp://127.0.0.1:$port/ipp/print/virt"
submit()
{
    local i
    for ((i = 0; i < 13; i++)); do
        ipptool -T 5 -c -d filename="$BL_DOCS/onepage-a4.pdf" -d filetype=application/pdf \
            -d job_name="durable-$1-$i" "$uri" "$top_srcdir/tests/ipp/print-file.test" 2>/dev/null |
            sed -n '2p' >>"$W/acked-$1"
    done
}
for c in 1 2 3 4; do
    submit "$c" &
    pids[$c]=$!
done
# Let some jobs in, then pull the plug in the middle of the stream.
bl_wait_for 20 sh -c "test \$(cat '$W'/acked-* 2>/dev/null | grep -c .) -ge 12"
kill -9 "$BLATTD_PID"
wait "$BLATTD_PID" 2>/dev/null
for c in 1 2 3 4; do
    wait "${pids[$c]}"
done
acked=$(cat "$W"/acked-* | grep -E '^[0-9]+$' | sort -n)
n=$(printf '%s\n' "$acked" | grep -c .)
diag "jobs acknowledged before the kill: $n"
ok $([ "$n" -ge 12 ] && [ "$n" -lt 52 ]; echo $?) "blattd was killed in the middle ($n of 52 accepted)"

bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd restarts"
missing=0
notdone=0
for id in $acked; do
    if ! bl_wait_job "$port" virt "$id" completed 30 >/dev/null; then
        notdone=$((notdone + 1))
        [ "$(bl_job_state "$port" virt "$id")" = "" ] && missing=$((missing + 1))
    fi
done
is "$missing" 0 "every acknowledged job still exists after kill -9"
is "$notdone" 0 "every acknowledged job completes after the restart"
printed=0
for id in $acked; do
    [ "$(bl_pages "$W/out/job-$id.pdf")" = 1 ] && printed=$((printed + 1))
done
is "$printed" "$n" "each acknowledged job was printed"
left=$(ls "$W/state/spool" | wc -l)
is "$left" 0 "no spool file is left behind"
docs=$(sqlite3 "$W/state/blatt.db" "SELECT count(*) FROM documents" 2>/dev/null)
is "$docs" 0 "no document is left in the database"
grep -q "resumed .* unfinished jobs" "$W/blattd.log"
ok $? "the log says what was resumed"
bl_done
