#!/bin/bash
# slow-client.sh: clients that send one byte per second (in the head and in the body) do not
# delay other clients' requests or printing.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init slow-client

port=$(bl_port)
mkdir -p "$W/out"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
RequestTimeout 60s
BodyTimeout 60s
<Printer virt>
  DeviceURI file://$W/out
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs"
uri="ipp://127.0.0.1:$port/ipp/print/virt"

# trickle TEXT: writes TEXT to a new connection one byte per second.
trickle()
{
    local text=$1 i
    exec 5<>"/dev/tcp/127.0.0.1/$port"
    for ((i = 0; i < ${#text}; i++)); do
        printf '%s' "${text:$i:1}" >&5 || break
        sleep 1
    done
    exec 5<&-
}

# ms COMMAND...: the milliseconds COMMAND takes.
ms()
{
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

worst()
{
    local max=0 i t
    for ((i = 0; i < 10; i++)); do
        t=$(ms ipptool -T 5 "$uri" get-printer-attributes.test)
        [ "$t" -gt "$max" ] && max=$t
    done
    echo "$max"
}

base=$(worst)
diag "slowest of 10 Get-Printer-Attributes alone: ${base} ms"
trickle "GET /printers/virt HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" &
bl_pids+=($!)
trickle "POST /ipp/print/virt HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: 400\r\n\r\n" &
bl_pids+=($!)
for i in 1 2 3 4 5 6 7 8; do
    trickle "GET / HTTP/1.1\r\nHost: x\r\n" &
    bl_pids+=($!)
done
sleep 3
slow=$(worst)
diag "slowest of 10 Get-Printer-Attributes next to 10 one-byte-per-second clients: ${slow} ms"
ok $([ "$slow" -le $((base * 3 + 100)) ]; echo $?) "slow clients do not delay others (${base} ms -> ${slow} ms)"
t=$(ms lp -h "127.0.0.1:$port" -d virt "$BL_DOCS/onepage-a4.pdf")
ok $([ "$t" -le 2000 ]; echo $?) "printing meanwhile takes ${t} ms"
bl_wait_for 20 test -s "$W/out/job-1.pdf"
ok $? "and the job is printed"
conns=$(grep -c . /proc/net/tcp 2>/dev/null)
kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
bl_done
