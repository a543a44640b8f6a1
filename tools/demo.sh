#!/bin/bash
# demo.sh: sets up, builds and shows Blatt's main job: blattd with two queues (one on an IPP
# Everywhere printer simulated by ippeveprinter, one virtual PDF printer) printing a real PDF.
# Licensed under the Apache License, Version 2.0.
#
# Usage: tools/demo.sh [--keep]   (--keep leaves blattd and the printer running)
# Everything runs on loopback; output goes to demo-out/ in the source tree.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
keep=${1:-}
"$src/tools/build.sh"
bin="$src/build"
out="$src/demo-out"
# blattd refuses a file queue in a shared temporary directory (its sandbox makes those
# read-only for backends): a checkout there puts the demo's files elsewhere.
case "$src/" in
/tmp/* | /var/tmp/* | /dev/shm/* | /run/lock/*)
    if [ "$(id -u)" = 0 ]; then out=/var/lib/blatt-demo; else out="$HOME/blatt-demo-out"; fi
    ;;
esac
doc="${BL_DEMO_PDF:-$src/../shared/testdata/documents/document-a4.pdf}"
if [ -n "${BL_DEMO_PDF:-}" ] && [ ! -f "$doc" ]; then
    echo "demo: $doc is missing (BL_DEMO_PDF names any PDF)" >&2
    exit 1
fi

pids=()
stop()
{
    [ "$keep" = --keep ] && return
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT

free_port()
{
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

wait_port()
{
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo: nothing listens on port $1" >&2
    return 1
}

rm -rf "$out"
mkdir -p "$out/printer" "$out/pdf-printer"
if [ ! -f "$doc" ]; then
    # No test documents beside this clone: Ghostscript writes a real three-page A4 PDF.
    doc="$out/demo.pdf"
    gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -sPAPERSIZE=a4 -sOutputFile="$doc" -c '
        /Helvetica-Bold findfont 28 scalefont setfont
        1 1 3 { /n exch def
            72 760 moveto (Blatt demo) show
            /Helvetica findfont 14 scalefont setfont
            72 720 moveto (Printed through blattd: encrypted while it waited, shredded after.) show
            72 700 moveto (Page ) show n 3 string cvs show ( of 3) show
            0.9 setgray 72 120 450 540 rectfill 0 setgray
            /Helvetica-Bold findfont 28 scalefont setfont showpage } for' >/dev/null
fi
eve=$(free_port)
port=$(free_port)

echo "== 1. An IPP Everywhere printer (ippeveprinter) on 127.0.0.1:$eve"
dbus-daemon --session --address="unix:path=$out/dbus.sock" --nofork --nopidfile \
    >"$out/dbus.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S "$out/dbus.sock" ] && break; sleep 0.1; done
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$out/dbus.sock" ippeveprinter -n localhost -r off -p "$eve" -k \
    -d "$out/printer" -c /bin/true -2 -f application/pdf,image/pwg-raster,image/jpeg \
    "Demo Printer" >"$out/printer.log" 2>&1 &
pids+=($!)
wait_port "$eve"

echo "== 2. blattd on 127.0.0.1:$port with two queues"
cat >"$out/blattd.conf" <<EOF
# trust: on loopback, lp's requesting-user-name is believed (a demo; real listeners
# authenticate, see blattd.conf(5)).
Listen 127.0.0.1:$port trust
LocalSocket $out/blattd.sock
StateDir $out/state
LogFile $out/blattd.log
DataDir $src/etc
FilterDir $bin/drivers/filter
BackendDir $bin/drivers/backend
HelperDir $bin/drivers
<Printer office>
  DeviceURI ipp://localhost:$eve/ipp/print
  Info Office printer (ippeveprinter)
  Location Demo
</Printer>
<Printer pdf>
  DeviceURI file://$out/pdf-printer
  Info Virtual PDF printer
</Printer>
EOF
"$bin/blattd" -t -c "$out/blattd.conf"
"$bin/blattd" -f -c "$out/blattd.conf" &
pids+=($!)
wait_port "$port"
sleep 1 # the first probe of the printer's capabilities
"$bin/blatt" -c "$out/blattd.conf" printers

echo "== 3. Printing $(basename "$doc") ($(qpdf --show-npages "$doc") pages) with CUPS' lp to both queues"
lp -h "127.0.0.1:$port" -d office -t "Demo to the office printer" "$doc"
lp -h "127.0.0.1:$port" -d pdf -t "Demo to the PDF printer" "$doc"
for _ in $(seq 1 60); do
    [ -z "$(lpstat -h "127.0.0.1:$port" -o)" ] && break
    sleep 0.5
done

echo "== 4. Job states"
"$bin/blatt" -c "$out/blattd.conf" jobs -a
echo
echo "== 5. Where the output landed"
for f in "$out"/printer/*.pdf "$out"/pdf-printer/*.pdf; do
    [ -f "$f" ] && echo "  $f ($(qpdf --show-npages "$f") pages)"
done
echo "  While they waited, the documents were encrypted: small ones in the document log"
echo "  ($out/state/doclog), large ones in spool files ($out/state/spool). Their keys"
echo "  are destroyed now that the jobs have ended: $(ls "$out/state/spool" | wc -l) spool files left."
echo "== 6. The audit chain (who did what; people appear as pseudonyms)"
"$bin/blatt" -c "$out/blattd.conf" audit verify | sed 's/^/  /'
"$bin/blatt" -c "$out/blattd.conf" audit export | tail -n 4 |
    sed -E 's/.*"time":"([^"]*)","actor":"([^"]*)".*"action":"([^"]*)","object":"([^"]*)","result":"([^"]*)".*/  \1 \2 \3 \4: \5/'
if [ "$keep" = --keep ]; then
    echo "== blattd keeps running: http://127.0.0.1:$port/ (stop: kill ${pids[*]})"
fi
