#!/bin/bash
# Integration tests of the bundled filters, backends and probe with real peers (qpdf, gs,
# ippeveprinter, a TCP listener), all on loopback.
# Licensed under the Apache License, Version 2.0.
#
# Usage: tests/drivers.sh [DIR]   DIR holds the built programs (flat, or as drivers/filter/…,
# drivers/backend/…); default $BL_DRIVERS_DIR, else $top_builddir, else the current directory.
# Test documents come from $BL_TESTDATA (default ../shared/testdata/documents beside the
# repository). Prints one PASS/FAIL/SKIP line per case and "N passed, N failed"; exits 1 on
# any failure. With BL_TAP=1 (the default under `make check`: no DIR and top_builddir set)
# it prints TAP instead.
set -eu

if [ $# -eq 0 ] && [ -n "${top_builddir:-}" ]; then
    BL_TAP=${BL_TAP:-1}
fi
BL_TAP=${BL_TAP:-0}
BIN=${1:-${BL_DRIVERS_DIR:-${top_builddir:-.}}}
BIN=$(cd "$BIN" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
DOCS=${BL_TESTDATA:-${BL_DOCS:-$REPO/../shared/testdata/documents}}
CORPUS=$REPO/tests/fuzz
W=$(mktemp -d "${TMPDIR:-/tmp}/blatt-drivers.XXXXXX")
PIDS=()
passed=0
failed=0
skipped=0

cleanup() {
    local p
    for p in "${PIDS[@]}" $(cat "$W/pids" 2>/dev/null); do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}" $(cat "$W/pids" 2>/dev/null); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prog() {
    local p
    for p in "$BIN/$1" "$BIN/drivers/filter/$1" "$BIN/drivers/backend/$1" "$BIN/drivers/$1" \
        "$BIN/filter/$1" "$BIN/backend/$1"; do
        if [ -x "$p" ] && [ -f "$p" ]; then
            echo "$p"
            return 0
        fi
    done
    echo "drivers.sh: program $1 not found under $BIN" >&2
    exit 2
}

PDFCHECK=$(prog pdfcheck)
PDFTORASTER=$(prog pdftoraster)
JPEGTOPDF=$(prog jpegtopdf)
RASTERCHECK=$(prog rastercheck)
IPP=$(prog ipp)
SOCKET=$(prog socket)
FILEBE=$(prog file)
PROBE=$(prog probe)
mkdir -p "$W/tmp"

# Runs a filter or backend the way blattd does: argv of 6, a minimal environment. With
# EXEC=exec (in a background subshell only) the subshell becomes the program.
# run_stage PROGRAM CONTENT_TYPE FINAL_CONTENT_TYPE DEVICE_URI OPTIONS [JOBID]
run_stage() {
    ${EXEC:-} env -i PATH=/usr/bin:/bin LANG=C TMPDIR="$W/tmp" PRINTER=test CONTENT_TYPE="$2" \
        FINAL_CONTENT_TYPE="$3" DEVICE_URI="$4" "$1" "${6:-1}" alice "Test title" 1 "$5"
}

# Big-endian 32-bit integer at byte OFFSET of FILE.
be32() {
    local b
    b=$(od -An -tu1 -j "$2" -N4 "$1" | tr -s ' ')
    set -- $b
    echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

# Total from the "PAGE: total N" line of a stderr log.
page_total() {
    sed -n 's/^PAGE: total \([0-9]*\)$/\1/p' "$1" | tail -1
}

expect() {
    if ! "$@"; then
        echo "  expectation failed: $*" >&2
        return 1
    fi
}

# run_case NAME FUNCTION: runs it in a subshell with errexit; its stderr goes to NAME.log.
run_case() {
    local rc
    set +e
    (
        set -e
        "$2"
    ) >"$W/$1.log" 2>&1
    rc=$?
    set -e
    local n=$((passed + failed + skipped + 1))
    if [ $rc -eq 0 ]; then
        [ "$BL_TAP" = 1 ] && echo "ok $n - $1" || echo "PASS $1"
        passed=$((passed + 1))
    elif [ $rc -eq 77 ]; then
        [ "$BL_TAP" = 1 ] && echo "ok $n - $1 # SKIP $(tail -1 "$W/$1.log")" ||
            echo "SKIP $1 ($(tail -1 "$W/$1.log"))"
        skipped=$((skipped + 1))
    else
        [ "$BL_TAP" = 1 ] && echo "not ok $n - $1" || echo "FAIL $1"
        sed 's/^/#   /' "$W/$1.log" | tail -15
        failed=$((failed + 1))
    fi
}

skip() {
    echo "$*"
    exit 77
}

# ---- filters ----

t_pdfcheck_a4() {
    run_stage "$PDFCHECK" application/pdf application/pdf "" "" <"$DOCS/document-a4.pdf" \
        >"$W/a4.pdf" 2>"$W/a4.err"
    local want
    want=$(qpdf --show-npages "$DOCS/document-a4.pdf")
    expect [ "$(page_total "$W/a4.err")" = "$want" ]
    expect [ "$(qpdf --show-npages "$W/a4.pdf")" = "$want" ]
    qpdf --check "$W/a4.pdf" >/dev/null
}

t_pdfcheck_page_ranges() {
    run_stage "$PDFCHECK" application/pdf application/pdf "" "page-ranges=2-3,9" \
        <"$DOCS/document-a4.pdf" >"$W/pr.pdf" 2>"$W/pr.err"
    expect [ "$(page_total "$W/pr.err")" = 2 ]
    expect [ "$(qpdf --show-npages "$W/pr.pdf")" = 2 ]
}

t_pdfcheck_corrupt() {
    local rc=0
    head -c 30000 "$DOCS/document-a4.pdf" >"$W/corrupt.pdf"
    run_stage "$PDFCHECK" application/pdf application/pdf "" "" <"$W/corrupt.pdf" \
        >/dev/null 2>"$W/corrupt.err" || rc=$?
    expect [ $rc = 1 ]
    grep -q '^ERROR: the document is not a valid PDF' "$W/corrupt.err"
    rc=0
    echo "not a pdf at all" | run_stage "$PDFCHECK" application/pdf application/pdf "" "" \
        >/dev/null 2>"$W/garbage.err" || rc=$?
    expect [ $rc = 1 ]
    grep -q '^ERROR:' "$W/garbage.err"
}

# pdftoraster to TYPE at RES dpi, checks page count and the PWG header of the first page.
raster_case() {
    local type=$1 cs=$2 bpp=$3 opts=$4 out=$W/$1.pwg
    run_stage "$PDFTORASTER" application/pdf image/pwg-raster "" \
        "raster-type=$type raster-resolution=300 media=iso_a4_210x297mm $opts" \
        <"$DOCS/document-a4.pdf" >"$out" 2>"$W/$type.err"
    expect [ "$(page_total "$W/$type.err")" = 4 ]
    "$RASTERCHECK" <"$out" >/dev/null 2>"$W/$type.check"
    expect [ "$(page_total "$W/$type.check")" = 4 ]
    expect [ "$(head -c 4 "$out")" = RaS2 ]
    expect [ "$(be32 "$out" $((4 + 276)))" = 300 ]     # HWResolution
    expect [ "$(be32 "$out" $((4 + 372)))" = 2480 ]    # cupsWidth: 210 mm at 300 dpi
    expect [ "$(be32 "$out" $((4 + 388)))" = "$bpp" ] # cupsBitsPerPixel
    expect [ "$(be32 "$out" $((4 + 400)))" = "$cs" ]  # cupsColorSpace
}

t_pdftoraster_sgray8() {
    raster_case sgray_8 18 8 ""
    expect [ "$(be32 "$W/sgray_8.pwg" $((4 + 272)))" = 0 ] # Duplex
}

t_pdftoraster_srgb8_duplex() {
    raster_case srgb_8 19 24 "sides=two-sided-short-edge"
    expect [ "$(be32 "$W/srgb_8.pwg" $((4 + 272)))" = 1 ] # Duplex
    expect [ "$(be32 "$W/srgb_8.pwg" $((4 + 368)))" = 1 ] # Tumble
}

t_pdftoraster_black1() {
    raster_case black_1 3 1 ""
}

t_pdftoraster_urf() {
    run_stage "$PDFTORASTER" application/pdf image/urf "" \
        "raster-type=srgb_8 raster-resolution=300 sides=two-sided-long-edge" \
        <"$DOCS/document-letter.pdf" >"$W/doc.urf" 2>"$W/urf.err"
    expect [ "$(head -c 7 "$W/doc.urf")" = UNIRAST ]
    expect [ "$(od -An -tu1 -j 14 -N1 "$W/doc.urf" | tr -d ' ')" = 3 ] # duplex long edge
    CONTENT_TYPE=image/urf "$RASTERCHECK" <"$W/doc.urf" >/dev/null 2>"$W/urf.check"
    expect [ "$(page_total "$W/urf.check")" = "$(qpdf --show-npages "$DOCS/document-letter.pdf")" ]
}

# Regression: gs kept its band lists (rendered pages) in TMPDIR files. With TMPDIR a plain
# file, any temporary file makes gs fail.
t_pdftoraster_no_tmp_files() {
    touch "$W/not-a-dir"
    env -i PATH=/usr/bin:/bin LANG=C TMPDIR="$W/not-a-dir" FINAL_CONTENT_TYPE=image/pwg-raster \
        "$PDFTORASTER" 1 alice t 1 "raster-type=srgb_8 raster-resolution=600" \
        <"$DOCS/onepage-a4.pdf" 2>"$W/notmp.err" | "$RASTERCHECK" >/dev/null 2>"$W/notmp.check"
    expect [ "$(page_total "$W/notmp.check")" = 1 ]
}

t_jpegtopdf() {
    local j
    for j in color gray; do
        run_stage "$JPEGTOPDF" image/jpeg application/pdf "" "media=iso_a4_210x297mm" \
            <"$DOCS/$j.jpg" >"$W/$j.pdf" 2>"$W/$j.err"
        expect [ "$(page_total "$W/$j.err")" = 1 ]
        qpdf --check "$W/$j.pdf" >/dev/null
        expect [ "$(qpdf --show-npages "$W/$j.pdf")" = 1 ]
        gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=png16m -r20 -sOutputFile="$W/$j.png" \
            "$W/$j.pdf" 2>"$W/$j.gs"
        expect [ ! -s "$W/$j.gs" ]
        expect [ -s "$W/$j.png" ]
    done
}

t_jpegtopdf_bad() {
    local f rc
    for f in "$CORPUS/jpeg/huge-dimensions.jpg" "$CORPUS/jpeg/truncated-in-tables.jpg" \
        "$CORPUS/jpeg/zero-components.jpg" "$DOCS/onepage-a4.pdf"; do
        rc=0
        run_stage "$JPEGTOPDF" image/jpeg application/pdf "" "" <"$f" >"$W/bad.pdf" \
            2>"$W/badjpeg.err" || rc=$?
        expect [ $rc = 1 ]
        grep -q '^ERROR: the document is not a usable JPEG' "$W/badjpeg.err"
    done
}

t_rastercheck_passthrough() {
    local f
    for f in "$CORPUS/raster/pwg-2pages-duplex" "$CORPUS/raster/urf-srgb8"; do
        run_stage "$RASTERCHECK" image/pwg-raster image/pwg-raster "" "" <"$f" >"$W/copy" \
            2>"$W/rc.err" || {
            # URF under a PWG content type is refused; try its own type.
            run_stage "$RASTERCHECK" image/urf image/urf "" "" <"$f" >"$W/copy" 2>"$W/rc.err"
        }
        cmp "$f" "$W/copy"
        grep -q '^PAGE: 1 1$' "$W/rc.err"
    done
    expect [ "$(page_total "$W/rc.err")" = 1 ]
}

t_rastercheck_bad() {
    local f rc
    for f in bad-sync truncated-data literal-overrun line-repeat-overrun huge-width \
        urf-bad-bpp empty; do
        rc=0
        "$RASTERCHECK" <"$CORPUS/raster/$f" >/dev/null 2>"$W/rbad.err" || rc=$?
        expect [ $rc = 1 ]
        grep -q '^ERROR: the raster document is malformed' "$W/rbad.err"
    done
    rc=0
    run_stage "$RASTERCHECK" image/pwg-raster image/pwg-raster "" "" \
        <"$CORPUS/raster/urf-sgray8" >/dev/null 2>"$W/rbad.err" || rc=$?
    expect [ $rc = 1 ]
}

# ---- file and socket backends ----

t_file_backend() {
    mkdir -p "$W/out"
    run_stage "$FILEBE" application/pdf application/pdf "file://$W/out" "" 42 \
        <"$DOCS/document-a4.pdf" 2>"$W/file.err"
    cmp "$DOCS/document-a4.pdf" "$W/out/job-42.pdf"
    expect [ "$(stat -c %a "$W/out/job-42.pdf")" = 600 ]
    expect [ "$(ls -A "$W/out")" = job-42.pdf ]
    grep -q '^ATTR: job-impressions-completed=4$' "$W/file.err"
    run_stage "$FILEBE" image/pwg-raster image/pwg-raster "file://$W/out" "" 43 \
        <"$CORPUS/raster/pwg-sgray8" 2>/dev/null
    expect [ -f "$W/out/job-43.pwg" ]
    local rc=0
    run_stage "$FILEBE" application/pdf application/pdf "file://$W/out" "" "4/../x" \
        </dev/null 2>/dev/null || rc=$?
    expect [ $rc = 1 ]
    rc=0
    run_stage "$FILEBE" application/pdf application/pdf "file://$W/out/../out" "" 44 \
        </dev/null 2>/dev/null || rc=$?
    expect [ $rc != 0 ]
    expect [ "$(ls -A "$W/out" | wc -l)" = 2 ]
}

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((10000 + RANDOM % 22000)) # below the ephemeral ports (32768-)
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

t_socket_backend() {
    command -v perl >/dev/null || skip "perl not installed"
    local port
    port=$(free_port)
    perl -MIO::Socket::INET -e '
        my ($port, $out, $ready) = @ARGV;
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port,
                                      Listen => 1, ReuseAddr => 1) or die "listen: $!";
        open(my $r, ">", $ready); close $r;
        my $c = $s->accept or die; binmode $c;
        open(my $o, ">", $out) or die; binmode $o;
        my $buf; while (sysread($c, $buf, 65536)) { print $o $buf; }
        syswrite($c, "\@PJL USTATUS JOB\r\n"); close $o; close $c;' \
        "$port" "$W/sock.out" "$W/sock.ready" &
    echo $! >>"$W/pids"
    for _ in $(seq 1 50); do
        [ -e "$W/sock.ready" ] && break
        sleep 0.1
    done
    run_stage "$SOCKET" image/pwg-raster image/pwg-raster "socket://127.0.0.1:$port" "" \
        <"$CORPUS/raster/pwg-srgb8" 2>"$W/sock.err"
    cmp "$CORPUS/raster/pwg-srgb8" "$W/sock.out"
}

t_socket_dead_port() {
    local port rc=0
    port=$(free_port)
    run_stage "$SOCKET" application/pdf application/pdf "socket://127.0.0.1:$port" "" \
        </dev/null 2>"$W/sockdead.err" || rc=$?
    expect [ $rc = 6 ]
    grep -q "^ERROR: cannot connect to 127.0.0.1:$port" "$W/sockdead.err"
}

# ---- ipp backend and probe against ippeveprinter ----

EVE_PORT=""
RASTER_PORT=""
SLOW_PORT=""

start_printers() {
    command -v ippeveprinter >/dev/null || return 1
    command -v dbus-daemon >/dev/null || return 1
    dbus-daemon --session --address="unix:path=$W/dbus.sock" --nofork --nopidfile \
        >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do
        [ -S "$W/dbus.sock" ] && break
        sleep 0.1
    done
    local name port
    for name in eve raster slow; do
        port=$(free_port)
        mkdir -p "$W/$name"
        case $name in
        eve) set -- -c /bin/true -f application/pdf,image/pwg-raster,image/jpeg ;;
        raster) set -- -c /bin/true -f image/pwg-raster ;;
        slow) set -- -f application/pdf,image/pwg-raster ;; # "prints" by sleeping
        esac
        DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/dbus.sock" ippeveprinter -r off -p "$port" -k \
            -d "$W/$name" "$@" "Blatt $name" >"$W/$name.ippeve.log" 2>&1 &
        PIDS+=($!)
        wait_port "$port" || return 1
        case $name in
        eve) EVE_PORT=$port ;;
        raster) RASTER_PORT=$port ;;
        slow) SLOW_PORT=$port ;;
        esac
    done
}

need_printers() {
    [ -n "$EVE_PORT" ] || skip "ippeveprinter or dbus-daemon not available"
}

# The newest document ippeveprinter kept in DIR with extension EXT.
kept() {
    ls -t "$1"/*."$2" 2>/dev/null | head -1
}

t_ipp_pdf() {
    need_printers
    run_stage "$IPP" application/pdf application/pdf "ipp://localhost:$EVE_PORT/ipp/print" \
        "copies=1 media=iso_a4_210x297mm print-color-mode=monochrome sides=one-sided" \
        <"$DOCS/document-a4.pdf" 2>"$W/ipp-pdf.err"
    cmp "$DOCS/document-a4.pdf" "$(kept "$W/eve" pdf)"
    grep -q '^INFO: the printer accepted the job' "$W/ipp-pdf.err"
}

t_ipp_raster() {
    need_printers
    run_stage "$IPP" image/pwg-raster image/pwg-raster "ipp://localhost:$EVE_PORT/ipp/print" \
        "" <"$CORPUS/raster/pwg-2pages-duplex" 2>"$W/ipp-pwg.err"
    local f
    f=$(kept "$W/eve" pwg)
    cmp "$CORPUS/raster/pwg-2pages-duplex" "$f"
    "$RASTERCHECK" <"$f" >/dev/null 2>"$W/ipp-pwg.check"
    expect [ "$(page_total "$W/ipp-pwg.check")" = 2 ]
}

t_ipp_jpeg() {
    need_printers
    run_stage "$IPP" image/jpeg image/jpeg "ipp://localhost:$EVE_PORT/ipp/print" "" \
        <"$DOCS/color.jpg" 2>"$W/ipp-jpg.err"
    cmp "$DOCS/color.jpg" "$(kept "$W/eve" jpg)"
}

t_ipps() {
    need_printers
    run_stage "$IPP" application/pdf application/pdf "ipps://localhost:$EVE_PORT/ipp/print" "" \
        <"$DOCS/onepage-a4.pdf" 2>"$W/ipps.err"
    cmp "$DOCS/onepage-a4.pdf" "$(kept "$W/eve" pdf)"
}

t_ipp_busy_retry() {
    need_printers
    local i pids=() rc=0
    for i in 1 2 3; do
        run_stage "$IPP" application/pdf application/pdf \
            "ipp://localhost:$EVE_PORT/ipp/print" "" <"$DOCS/document-letter.pdf" \
            2>"$W/busy$i.err" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=$?
    done
    expect [ $rc = 0 ]
}

t_ipp_raster_only_printer() {
    need_printers
    run_stage "$IPP" image/pwg-raster image/pwg-raster \
        "ipp://localhost:$RASTER_PORT/ipp/print" "" <"$W/sgray_8.pwg" 2>"$W/ro.err"
    cmp "$W/sgray_8.pwg" "$(kept "$W/raster" pwg)"
    local rc=0
    run_stage "$IPP" application/pdf application/pdf "ipp://localhost:$RASTER_PORT/ipp/print" \
        "" <"$DOCS/onepage-a4.pdf" 2>"$W/ro-pdf.err" || rc=$?
    expect [ $rc = 1 ]
    grep -q '^ERROR: the printer does not accept application/pdf' "$W/ro-pdf.err"
}

t_ipp_dead_port() {
    local port rc=0
    port=$(free_port)
    run_stage "$IPP" application/pdf application/pdf "ipp://localhost:$port/ipp/print" "" \
        </dev/null 2>"$W/ippdead.err" || rc=$?
    expect [ $rc = 6 ]
    grep -q "^ERROR: cannot connect to localhost:$port: Connection refused" "$W/ippdead.err"
}

t_ipp_cancel() {
    need_printers
    # EXEC=exec: the background job's pid is the backend itself (env execs it).
    EXEC=exec run_stage "$IPP" application/pdf application/pdf \
        "ipp://localhost:$SLOW_PORT/ipp/print" "" <"$DOCS/document-a4.pdf" 2>"$W/cancel.err" &
    local pid=$! rc=0 id state=""
    echo $pid >>"$W/pids"
    for _ in $(seq 1 100); do
        grep -q 'accepted the job' "$W/cancel.err" && break
        sleep 0.1
    done
    id=$(sed -n 's/.*accepted the job (job \([0-9]*\)).*/\1/p' "$W/cancel.err")
    expect [ -n "$id" ]
    kill -TERM $pid
    local t0=$SECONDS
    wait $pid || rc=$?
    expect [ $rc = 1 ]
    expect [ $((SECONDS - t0)) -le 5 ]
    grep -q "^INFO: canceling job $id at the printer" "$W/cancel.err"
    cat >"$W/gja.test" <<'EOF'
{
    OPERATION Get-Job-Attributes
    GROUP operation-attributes-tag
    ATTR charset attributes-charset utf-8
    ATTR naturalLanguage attributes-natural-language en
    ATTR uri printer-uri $uri
    ATTR integer job-id $jobid
    ATTR keyword requested-attributes job-state,job-state-reasons
}
EOF
    for _ in $(seq 1 30); do
        state=$(ipptool -tv -d jobid="$id" "ipp://localhost:$SLOW_PORT/ipp/print" "$W/gja.test" |
            grep -E 'job-state(-reasons)? ' | tr '\n' ' ')
        case $state in *canceled* | *processing-to-stop-point*) break ;; esac
        sleep 0.2
    done
    echo "device job: $state"
    case $state in *canceled* | *processing-to-stop-point*) ;; *) return 1 ;; esac
}

t_probe() {
    need_printers
    "$PROBE" "ipp://localhost:$EVE_PORT/ipp/print" >"$W/probe.ipp" 2>"$W/probe.err"
    # IPP/2.0, successful-ok, then the attribute groups.
    expect [ "$(od -An -tx1 -N4 "$W/probe.ipp" | tr -d ' ')" = 02000000 ]
    grep -q media-col-database "$W/probe.ipp"
    grep -q document-format-supported "$W/probe.ipp"
    expect [ "$(tail -c 1 "$W/probe.ipp" | od -An -tx1 | tr -d ' ')" = 03 ] # end-of-attributes
    local port rc=0
    port=$(free_port)
    "$PROBE" "ipp://localhost:$port/ipp/print" >"$W/probe2.ipp" 2>"$W/probe2.err" || rc=$?
    expect [ $rc = 1 ]
    grep -q '^ERROR: cannot connect' "$W/probe2.err"
}

run_case pdfcheck-a4 t_pdfcheck_a4
run_case pdfcheck-page-ranges t_pdfcheck_page_ranges
run_case pdfcheck-corrupt t_pdfcheck_corrupt
run_case pdftoraster-pwg-sgray8 t_pdftoraster_sgray8
run_case pdftoraster-pwg-srgb8-duplex t_pdftoraster_srgb8_duplex
run_case pdftoraster-pwg-black1 t_pdftoraster_black1
run_case pdftoraster-urf t_pdftoraster_urf
run_case pdftoraster-no-tmp-files t_pdftoraster_no_tmp_files
run_case jpegtopdf t_jpegtopdf
run_case jpegtopdf-bad-input t_jpegtopdf_bad
run_case rastercheck-passthrough t_rastercheck_passthrough
run_case rastercheck-bad-input t_rastercheck_bad
run_case file-backend t_file_backend
run_case socket-backend t_socket_backend
run_case socket-dead-port t_socket_dead_port
start_printers || echo "drivers.sh: could not start ippeveprinter" >&2
run_case ipp-pdf t_ipp_pdf
run_case ipp-pwg-raster t_ipp_raster
run_case ipp-jpeg t_ipp_jpeg
run_case ipps-pdf t_ipps
run_case ipp-busy-retry t_ipp_busy_retry
run_case ipp-raster-only-printer t_ipp_raster_only_printer
run_case ipp-dead-port t_ipp_dead_port
run_case ipp-cancel-sigterm t_ipp_cancel
run_case probe t_probe

if [ "$BL_TAP" = 1 ]; then
    echo "1..$((passed + failed + skipped))"
fi
echo "# $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
