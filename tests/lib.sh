# lib.sh: shared helpers of Blatt's integration tests (bash): real daemon, real peers, TAP output.
# Licensed under the Apache License, Version 2.0.
#
# A test script sources this file, calls bl_init NAME, starts what it needs (bl_start_eve,
# bl_start_blattd), checks with ok/is/like, and ends with bl_done. Everything runs on loopback;
# every process started here is killed on exit. Peers: ippeveprinter (with a private D-Bus
# daemon as its system bus, see TESTING.md), ipptool, CUPS lp/lpstat/cancel, curl.

set -u
trap '' PIPE # a test writing to a socket the server closed gets EPIPE, not death

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$(pwd)}"
BL_DOCS="${BL_DOCS:-$top_srcdir/../shared/testdata/documents}"
if [ ! -f "$BL_DOCS/document-a4.pdf" ]; then
    echo "Bail out! the test documents are missing (BL_DOCS=$BL_DOCS)"
    exit 1
fi
# bl_bail WHY: the rest of the test cannot run (TAP "Bail out!"; the EXIT trap cleans up).
bl_bail()
{
    echo "Bail out! $*"
    exit 1
}

BLATTD="$top_builddir/blattd"
BLATT="$top_builddir/blatt"

bl_n=0
bl_failed=0
bl_pids=()

# ok COND-EXIT-STATUS DESCRIPTION: one TAP line.
ok()
{
    local rc=$1
    shift
    bl_n=$((bl_n + 1))
    if [ "$rc" -eq 0 ]; then
        echo "ok $bl_n - $*"
    else
        echo "not ok $bl_n - $*"
        bl_failed=$((bl_failed + 1))
    fi
}

# is GOT WANT DESCRIPTION
is()
{
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        echo "#   got:  '$1'"
        echo "#   want: '$2'"
    fi
}

# like TEXT REGEX DESCRIPTION
like()
{
    if printf '%s' "$1" | grep -Eq -- "$2"; then
        ok 0 "$3"
    else
        ok 1 "$3"
        echo "#   text: '$(printf '%s' "$1" | head -c 600)'"
        echo "#   does not match: $2"
    fi
}

diag()
{
    echo "# $*"
}

bl_cleanup()
{
    local p
    for p in "${bl_pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    sleep 0.2
    for p in "${bl_pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

# bl_uid_base NAME: a SandboxUIDBase for test NAME, 2048 ids wide, below 2^31.
bl_uid_base()
{
    echo $((1900000000 + ($(printf '%s' "$1" | cksum | cut -d' ' -f1) % 100000) * 2048))
}

# bl_init NAME: a fresh work directory $W, cleanup on exit.
bl_init()
{
    W="$top_builddir/tests/work/$1"
    # The sandbox uids of this test's blattd: a range of its own, because tests run in parallel
    # and the end of a job kills every process of its uid (SandboxUIDBase in blattd.conf(5)).
    BL_UID_BASE=$(bl_uid_base "$1")
    rm -rf "$W"
    mkdir -p "$W"
    trap 'bl_cleanup' EXIT
    trap 'exit 1' INT TERM
}

bl_done()
{
    # Under ASan/UBSan every daemon, filter and backend report lands in these logs.
    if [ -n "${BL_SANITIZED:-}" ]; then
        local rep
        rep=$(grep -l -a "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" \
            "$W"/*.log "$W"/*.out 2>/dev/null)
        ok $([ -z "$rep" ]; echo $?) "no sanitizer reports in the logs"
        [ -z "$rep" ] || grep -a -A12 "Sanitizer\|runtime error:" $rep | head -40 | sed 's/^/# /'
    fi
    echo "1..$bl_n"
    if [ "$bl_failed" -ne 0 ]; then
        diag "$bl_failed of $bl_n checks failed; logs in $W"
        exit 1
    fi
    exit 0
}

# bl_port: a TCP port nobody listens on now.
bl_port()
{
    local p
    while :; do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % 22000)) # below the ephemeral ports (32768-)
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# bl_wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
bl_wait_port()
{
    local i max=$(((${2:-10}) * 10))
    for ((i = 0; i < max; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# bl_wait_for SECONDS COMMAND...: until COMMAND succeeds.
bl_wait_for()
{
    local i max=$(($1 * 10))
    shift
    for ((i = 0; i < max; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# A private D-Bus daemon that ippeveprinter uses as its system bus (no avahi, no mDNS).
bl_start_dbus()
{
    [ -n "${BL_DBUS:-}" ] && return
    BL_DBUS="$W/dbus.sock"
    dbus-daemon --session --address="unix:path=$BL_DBUS" --nofork --nopidfile \
        >"$W/dbus.log" 2>&1 &
    bl_pids+=($!)
    bl_wait_for 5 test -S "$BL_DBUS"
}

# bl_start_eve NAME PORT FORMATS [ARGS...]: an ippeveprinter that keeps what it gets in
# $W/eve-NAME/ and prints instantly (-c /bin/true), on loopback only. Sets EVE_PID.
bl_start_eve()
{
    local name=$1 port=$2 formats=$3 cmd=(-c /bin/true)
    shift 3
    # BL_EVE_SLOW=1: no print command, so ippeveprinter "prints" for a few seconds per job.
    [ -n "${BL_EVE_SLOW:-}" ] && cmd=()
    bl_start_dbus
    mkdir -p "$W/eve-$name"
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$BL_DBUS" ippeveprinter -n localhost -r off -p "$port" -k \
        -d "$W/eve-$name" "${cmd[@]}" -f "$formats" "$@" "$name" >"$W/eve-$name.log" 2>&1 &
    EVE_PID=$!
    bl_pids+=($EVE_PID)
    bl_wait_port "$port" 10
}

# bl_conf FILE PORT [EXTRA-LINES]: a blattd.conf for this test (queues added by the caller).
# The listeners trust requesting-user-name (loopback only); the user running the tests is an
# operator, so that helpers such as bl_job_state see every job.
bl_conf()
{
    [ -f "$W/policy.conf" ] || printf 'Operator %s\n' "$(id -un)" >"$W/policy.conf"
    cat >"$1" <<EOF
Policy $W/policy.conf
Listen 127.0.0.1:$2 trust
Listen [::1]:$2 trust
LocalSocket $W/blattd.sock
StateDir $W/state
LogLevel debug
LogFile ${BL_LOGFILE:-$W/blattd.log}
AccessLog $W/access.log
ServerName localhost
DataDir $top_srcdir/etc
FilterDir $top_builddir/drivers/filter
BackendDir $top_builddir/drivers/backend
HelperDir $top_builddir/drivers
JobRetryInterval 2
SandboxUIDBase $BL_UID_BASE
EOF
}

# bl_start_blattd CONF PORT: starts blattd in the foreground and waits until it serves.
bl_start_blattd()
{
    "$BLATTD" -f -c "$1" >>"$W/blattd.out" 2>&1 &
    BLATTD_PID=$!
    bl_pids+=($BLATTD_PID)
    local i
    for ((i = 0; i < 150; i++)); do
        # A blattd that refused to start is not waited for (its log says why).
        if ! kill -0 "$BLATTD_PID" 2>/dev/null; then
            diag "blattd exited at start: $(tail -n 2 "$W/blattd.log" 2>/dev/null | tr '\n' ' ')"
            return 1
        fi
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

bl_stop_blattd()
{
    kill -TERM "$BLATTD_PID" 2>/dev/null
    wait "$BLATTD_PID" 2>/dev/null
}

# ipp_status FILE: the status-code of an IPP response file, as 0xNNNN.
ipp_status()
{
    od -An -tx1 -j2 -N2 "$1" 2>/dev/null | tr -d ' \n' | sed 's/^/0x/'
}

# bl_job_state PORT QUEUE ID: the job-state keyword of a job, via ipptool.
bl_job_state()
{
    ipptool -T 5 -c "ipp://127.0.0.1:$1/ipp/print/$2" -d job_id="$3" \
        "$top_srcdir/tests/ipp/get-job-state.test" 2>/dev/null | tail -n +2 | cut -d, -f1 |
        head -1
}

# be16 N / be32 N: big-endian raw bytes on stdout.
be16()
{
    printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"
}
be32()
{
    be16 $(($1 >> 16 & 65535))
    be16 $(($1 & 65535))
}

# ipp_attr TAG NAME VALUE: one attribute record (tag as two hex digits), raw bytes on stdout.
ipp_attr()
{
    printf "\\x$1"
    be16 ${#2}
    printf '%s' "$2"
    be16 ${#3}
    printf '%s' "$3"
}

# ipp_head OP-HEX4 [REQUEST-ID] [VERSION-HEX4]: version (2.0), operation, request-id and the
# operation group with attributes-charset and attributes-natural-language.
ipp_head()
{
    local op=$1 id=${2:-1} v=${3:-0200}
    printf "\\x${v:0:2}\\x${v:2:2}\\x${op:0:2}\\x${op:2:2}"
    be32 "$id"
    printf '\x01'
    ipp_attr 47 attributes-charset utf-8
    ipp_attr 48 attributes-natural-language en
}

# ipp_post PORT PATH FILE OUT: POSTs FILE as application/ipp; the response body goes to OUT,
# the HTTP status is printed.
ipp_post()
{
    curl -s -o "$4" -w '%{http_code}' -H 'Content-Type: application/ipp' \
        --data-binary @"$3" "http://127.0.0.1:$1$2"
}

# bl_held_daemon: starts blattd with bl_conf and a queue `held` (a file queue in $W/out that
# holds every job until its owner releases it); sets port, CONF and DB.
bl_held_daemon() # [EXTRA-CONFIG]
{
    port=$(bl_port)
    mkdir -p "$W/out"
    bl_conf "$W/blattd.conf" "$port"
    printf '<Printer held>\n  DeviceURI file://%s/out\n  ReleaseMode hold\n</Printer>\n' "$W" \
        >>"$W/blattd.conf"
    [ -n "${1:-}" ] && printf '%s\n' "$1" >>"$W/blattd.conf"
    CONF="$W/blattd.conf"
    DB="$W/state/blatt.db"
    bl_start_blattd "$CONF" "$port"
}

# bl_submit_held USER MARKER: a one-page PDF holding MARKER to the queue `held`, as USER
# (trust listener); prints the job's id.
bl_submit_held()
{
    bl_marker_pdf "$W/$2.pdf" "$2"
    lp -h "127.0.0.1:$port" -U "$1" -d held -t "$2" "$W/$2.pdf" 2>&1 |
        sed -n 's/.*request id is held-\([0-9]*\).*/\1/p'
}

# bl_release_held ID USER: Release-Job as the job's owner (release is the owner's: pull
# printing).
bl_release_held()
{
    ipptool -T 10 -d job_id="$1" -d requser="$2" "ipp://127.0.0.1:$port/ipp/print/held" \
        "$top_srcdir/tests/ipp/release-job.test" >/dev/null 2>&1
}

# bl_marker_pdf FILE MARKER: a one-page PDF whose content stream (uncompressed) and /Title
# hold MARKER, so that any plaintext copy of it is found by grep.
bl_marker_pdf()
{
    local f=$1 m=$2 o1 o2 o3 o4 o5 xref stream
    stream="BT /F1 24 Tf 72 720 Td ($m) Tj ET"
    printf '%%PDF-1.4\n' >"$f"
    o1=$(stat -c %s "$f")
    printf '1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n' >>"$f"
    o2=$(stat -c %s "$f")
    printf '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n' >>"$f"
    o3=$(stat -c %s "$f")
    printf '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n' >>"$f"
    o4=$(stat -c %s "$f")
    printf '4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n' "${#stream}" "$stream" >>"$f"
    o5=$(stat -c %s "$f")
    printf '5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n' >>"$f"
    xref=$(stat -c %s "$f")
    {
        printf 'xref\n0 6\n0000000000 65535 f \n'
        printf '%010d 00000 n \n' "$o1" "$o2" "$o3" "$o4" "$o5"
        printf 'trailer\n<< /Size 6 /Root 1 0 R /Info << /Title (%s) >> >>\nstartxref\n%d\n%%%%EOF\n' "$m" "$xref"
    } >>"$f"
}

# bl_pages FILE: the page count of a PDF (qpdf) or a PWG/Apple raster (rastercheck).
bl_pages()
{
    case "$1" in
    *.pdf) qpdf --show-npages "$1" 2>/dev/null ;;
    *) "$top_builddir/drivers/filter/rastercheck" 1 u t 1 "" <"$1" 2>&1 >/dev/null |
        sed -n 's/^PAGE: total //p' ;;
    esac
}

# bl_wait_job PORT QUEUE ID STATE [SECONDS]: until the job reaches STATE (a keyword).
bl_wait_job()
{
    local i max=$((${5:-30} * 5)) st=""
    for ((i = 0; i < max; i++)); do
        st=$(bl_job_state "$1" "$2" "$3")
        [ "$st" = "$4" ] && return 0
        sleep 0.2
    done
    diag "job $3 on $2 is '$st', not '$4'"
    return 1
}

# bl_doc_header STATEDIR JOB-ID: the first 84 bytes (the spool header) of a job's encrypted
# document as upper-case hex, wherever it lies: in the document log (doclog/NNNNNNNN.seg at the
# job's offset), in a spool file of its own, or (blattd before schema 3) in the database.
bl_doc_header()
{
    local db="$1/blatt.db" ref seg off
    ref=$(sqlite3 "$db" "SELECT doc_seg || ' ' || doc_off FROM jobs WHERE id = $2" 2>/dev/null)
    read -r seg off <<<"$ref"
    if [ -n "$seg" ] && [ "$seg" -gt 0 ]; then
        od -An -tx1 -v -j "$off" -N 84 "$1/doclog/$(printf %08d "$seg").seg" | tr -d ' \n' |
            tr a-f A-F
    elif [ -e "$1/spool/$2.bls" ]; then
        od -An -tx1 -v -N 84 "$1/spool/$2.bls" | tr -d ' \n' | tr a-f A-F
    else
        sqlite3 "$db" "SELECT hex(substr(data, 1, 84)) FROM documents WHERE job = $2" 2>/dev/null
    fi
}
