#!/bin/bash
# ipptool.sh: Debian's IPP conformance suites (ipp-1.1, ipp-2.0, ipp-everywhere) against a
# blattd queue whose device is an ippeveprinter; every test file must end with no failure.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init ipptool

# The documents the suites name, next to copies of the test files (ipptool aborts a whole
# file when one is missing): the PWG self-certification documents, a PostScript rendering of
# document-a4 and PWG raster samples for every resolution and type the queue offers.
D="$W/suite"
mkdir -p "$D"
cp /usr/share/cups/ipptool/ipp-1.1.test /usr/share/cups/ipptool/ipp-2.0.test \
    /usr/share/cups/ipptool/ipp-everywhere.test "$D/"
cp "$BL_DOCS"/*.pdf "$BL_DOCS"/*.jpg "$D/"
chmod u+w "$D"/*
for doc in document-a4 document-letter; do
    gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=ps2write -sOutputFile="$D/$doc.ps" "$BL_DOCS/$doc.pdf"
    ok $? "$doc.ps made with Ghostscript"
done

eve=$(bl_port)
port=$(bl_port)
bl_start_eve evedev "$eve" application/pdf,image/pwg-raster,image/jpeg -2 -s 10,5
ok $? "ippeveprinter (duplex, colour) runs on port $eve"
bl_conf "$W/blattd.conf" "$port"
cat >>"$W/blattd.conf" <<EOF
<Printer everywhere>
  DeviceURI ipp://localhost:$eve/ipp/print
  Info IPP Everywhere test queue
  Location Test lab
</Printer>
EOF
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs on port $port"
uri="ipp://127.0.0.1:$port/ipp/print/everywhere"
bl_wait_for 10 sh -c "ipptool -tv '$uri' get-printer-attributes.test | grep -q pwg-raster-document-type-supported"
ok $? "the queue knows its device's raster capabilities"

# PWG raster samples (Ghostscript's pwgraster device), cached between runs.
attrs=$(ipptool -tv "$uri" get-printer-attributes.test 2>&1)
resolutions=$(printf '%s\n' "$attrs" | sed -n 's/.*pwg-raster-document-resolution-supported ([^)]*) = //p' |
    tr ',' ' ' | sed 's/dpi//g')
types=$(printf '%s\n' "$attrs" | sed -n 's/.*pwg-raster-document-type-supported ([^)]*) = //p' | tr ',' ' ')
diag "raster resolutions: $resolutions; types: $types"
cache="$top_builddir/tests/samples"
mkdir -p "$cache"
for doc in color.jpg gray.jpg; do
    [ -s "$cache/$doc-4x6.pdf" ] || "$top_builddir/drivers/filter/jpegtopdf" 1 u t 1 \
        "media=na_index-4x6_4x6in" <"$BL_DOCS/$doc" >"$cache/$doc-4x6.pdf" 2>/dev/null
done
# ipptool refuses a whole file when any FILE it names is missing, even in a test that is then
# skipped: samples for resolutions and types the queue does not offer are empty stand-ins
# (their tests are skipped by SKIP-IF-NOT-DEFINED and send nothing).
for res in 150 180 300 360 600 720; do
    for type in black-1 cmyk-8 sgray-8 srgb-8 srgb-16; do
        mkdir -p "$D/pwg-raster-samples-${res}dpi/$type"
        for doc in color.jpg-4x6 gray.jpg-4x6 document-a4 document-letter onepage-a4 onepage-letter; do
            : >"$D/pwg-raster-samples-${res}dpi/$type/$doc-$type-${res}dpi.pwg"
        done
    done
done
made=0
for res in $resolutions; do
    for type in $types; do
        case $type in
        black_1) cs=3 bits=1 ;;
        sgray_8) cs=18 bits=8 ;;
        srgb_8) cs=19 bits=8 ;;
        srgb_16) cs=19 bits=16 ;;
        cmyk_8) cs=6 bits=8 ;;
        *) continue ;;
        esac
        dir="pwg-raster-samples-${res}dpi/${type/_/-}"
        mkdir -p "$cache/$dir" "$D/$dir"
        for doc in color.jpg-4x6 gray.jpg-4x6 document-a4 document-letter onepage-a4 onepage-letter; do
            src="$BL_DOCS/$doc.pdf"
            [ -f "$src" ] || src="$cache/$doc.pdf"
            out="$cache/$dir/$doc-${type/_/-}-${res}dpi.pwg"
            if [ ! -s "$out" ]; then
                gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pwgraster -r"$res" -dcupsColorSpace=$cs \
                    -dcupsBitsPerColor=$bits -sBandListStorage=memory -sOutputFile="$out" "$src" \
                    >/dev/null 2>&1 || rm -f "$out"
            fi
            [ -s "$out" ] && ln -sf "$out" "$D/$dir/" && made=$((made + 1))
            [ -s "$out" ] || diag "cannot make $out"
        done
    done
done
ok $([ "$made" -gt 0 ]; echo $?) "$made PWG raster samples ready"

# run_suite FILE ARGS...: one check per suite: no FAIL line, and the summary says 0 failed.
run_suite()
{
    local file=$1 log="$W/${1%.test}.log"
    shift
    (cd "$D" && ipptool -T 30 -t "$@" "$uri" "$file") >"$log" 2>&1
    local rc=$? summary
    # ipptool exits 0 when it gives up on a file: look for that and for failed tests.
    summary="$(grep -ac '\[PASS\]' "$log") passed, $(grep -ac '\[SKIP\]' "$log") skipped"
    grep -aq '\[FAIL\]\|cannot be read' "$log" && rc=1
    ok $rc "ipptool $file: $summary, none failed"
    if [ $rc -ne 0 ]; then
        grep -a -B2 -A8 "\[FAIL\]" "$log" | head -60 | sed 's/^/#   /'
        tail -3 "$log" | sed 's/^/#   /'
    fi
}

run_suite ipp-1.1.test -f document-a4.pdf
run_suite ipp-2.0.test -f document-a4.pdf
run_suite ipp-everywhere.test -f document-a4.pdf
# Every test that names a real sample must have printed it (plain, deflate and gzip).
expected=0
for f in $(sed -n 's/^[[:space:]]*FILE \(pwg-raster-samples.*\)/\1/p' "$D/ipp-everywhere.test"); do
    [ -s "$D/$f" ] && expected=$((expected + 1))
done
printed=$(grep -ac "Print .*dpi.* \[PASS\]" "$W/ipp-everywhere.log")
is "$printed" "$expected" "every raster sample test the queue supports printed ($printed)"

# The queue drains everything to the device.
bl_wait_for 300 sh -c "test \"\$(lpstat -h 127.0.0.1:$port -o everywhere | wc -l)\" = 0"
ok $? "all jobs left the queue"
failed=$(ipptool -tv -d which=completed "$uri" get-completed-jobs.test 2>/dev/null |
    grep -c "job-state (enum) = aborted")
is "$failed" "0" "no job was aborted"
kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
bl_done
