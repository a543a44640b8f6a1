#!/bin/bash
# bench.sh: Blatt's benchmarks, side by side with cupsd 2.4 on the same machine, as ratios.
# Licensed under the Apache License, Version 2.0.
#
# Usage: tests/bench/bench.sh [--quick]
#   --quick (what `make check` runs): tiny sizes, one run each, no report file: it only proves
#   that every scenario still runs and that both servers answer correctly.
# Without it (`make bench`): full sizes, RUNS runs per figure (default 5), median with min and
# max, and the report in tests/bench/report.md (and on stdout).
# Everything runs on loopback; cupsd gets its own config, spool and state in a temp directory.
set -u
trap '' PIPE
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
quick=${1:-}
RUNS=${RUNS:-5}
# Sandbox uids of its own (bench-quick runs beside other tests; a job's end kills its uid).
UID_BASE=$((1900000000 + 2048 * 99999 + 2048))
DOCS="${BL_DOCS:-$top_srcdir/../shared/testdata/documents}"
LOAD="$top_builddir/tests/bench/ippload"
HOLD="$top_builddir/tests/bench/connhold"
FLOOR="$top_builddir/tests/bench/libfloor"
BLATTD="$top_builddir/blattd"
W="$top_builddir/tests/work/bench"
# What the run needs, before anything starts (make bench and make check build its tools).
for f in "$BLATTD" "$LOAD" "$HOLD" "$FLOOR"; do
    if [ ! -x "$f" ]; then
        echo "bench: $f is missing: run it through 'make bench' (or make tests/bench/ippload" \
            "tests/bench/connhold tests/bench/libfloor first)" >&2
        exit 2
    fi
done
for f in onepage-a4.pdf document-a4.pdf; do
    if [ ! -f "$DOCS/$f" ]; then
        echo "bench: $DOCS/$f is missing (set BL_DOCS to the test documents' directory)" >&2
        exit 2
    fi
done
for c in cupsd ippeveprinter gs dbus-daemon sqlite3 readelf; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed (tools/install-deps.sh)" >&2; exit 2; }
done
if [ "$quick" = --quick ]; then
    RUNS=1 N_JOBS=40 N_HIST="50 100" N_QUEUES=20 BIG_MB=8 N_IDLE=20 N_SLOW=5 N_CONN_JOBS=20
    echo "# quick run: every scenario once with small sizes"
else
    N_JOBS=${N_JOBS:-2000} N_HIST=${N_HIST:-"1000 10000 100000"} N_QUEUES=${N_QUEUES:-1000}
    BIG_MB=${BIG_MB:-1024} N_IDLE=${N_IDLE:-1000} N_SLOW=${N_SLOW:-100}
    N_CONN_JOBS=${N_CONN_JOBS:-1000}
fi
rm -rf "$W"
mkdir -p "$W"
ulimit -n 8192 2>/dev/null || true
pids=()
n_ok=0
n_fail=0
rows=()

cleanup()
{
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

check()
{
    if [ "$1" -eq 0 ]; then
        n_ok=$((n_ok + 1))
        echo "ok $((n_ok + n_fail)) - $2"
    else
        n_fail=$((n_fail + 1))
        echo "not ok $((n_ok + n_fail)) - $2"
    fi
}

port()
{
    local p
    while :; do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % 22000)) # below the ephemeral ports (32768-)
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

wait_port()
{
    local i
    for ((i = 0; i < ${2:-600}; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

now_ms()
{
    echo $(($(date +%s%N) / 1000000))
}

rss_kb()
{
    awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null
}

hwm_kb()
{
    awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null
}

# stats V1 V2 ...: "median min max" of numbers.
stats()
{
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%g %g %g", m, v[1], v[NR] }'
}

# field LINE NAME: the value of NAME=... in an ippload line.
field()
{
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# row SCENARIO METRIC UNIT "blatt-values" "baseline-values" [BETTER=higher|lower [BASELINE]]
# BASELINE names what the second column is (default cupsd): the factor is how many times
# better blattd is than it.
row()
{
    local b c ratio better=${6:-higher} base=${7:-cupsd} cm=""
    if [ -z "${4// /}" ]; then
        rows+=("| $1 | $2 | failed | – | – |")
        return
    fi
    read -r bm bmin bmax <<<"$(stats $4)"
    if [ -n "${5// /}" ]; then
        read -r cm cmin cmax <<<"$(stats $5)"
        ratio=$(awk -v b="$bm" -v c="$cm" -v h="$better" 'BEGIN {
            if (b == 0 || c == 0) print "-"; else if (h == "higher") printf "%.2f", b / c;
            else printf "%.2f", c / b}')
        c="$base: $cm ($cmin–$cmax) $3"
    else
        c="–" ratio="–"
    fi
    rows+=("| $1 | $2 | $bm ($bmin–$bmax) $3 | $c | $ratio |")
    echo "# $1 / $2: blattd $bm $3 (min $bmin, max $bmax)${cm:+, $base $cm $3; factor $ratio}"
}

# ---------------------------------------------------------------------------------------------
# The two servers.

blatt_conf()
{
    local dir=$1 p=$2 queues=$3 i
    mkdir -p "$dir/out"
    cat >"$dir/blattd.conf" <<EOF
Listen 127.0.0.1:$p trust
LocalSocket $dir/blattd.sock
StateDir $dir/state
SandboxUIDBase $UID_BASE
LogLevel warn
LogFile $dir/blattd.log
DataDir $top_srcdir/etc
FilterDir $top_builddir/drivers/filter
BackendDir $top_builddir/drivers/backend
HelperDir $top_builddir/drivers
MaxConnections 4096
MaxDocumentSize 0
BodyTimeout 10m
<Printer sink>
  DeviceURI file://$dir/out
  ReleaseMode hold
</Printer>
EOF
    for ((i = 1; i < queues; i++)); do
        printf '<Printer q%d>\n  DeviceURI file://%s/out\n</Printer>\n' "$i" "$dir" >>"$dir/blattd.conf"
    done
    [ -n "${4:-}" ] && printf '%s\n' "$4" >>"$dir/blattd.conf"
}

start_blatt()
{
    "$BLATTD" -f -c "$1/blattd.conf" >>"$1/blattd.out" 2>&1 &
    BPID=$!
    pids+=($BPID)
    wait_port "$2"
}

cups_conf()
{
    local dir=$1 p=$2 queues=$3 i
    mkdir -p "$dir"/{spool,cache,state,tmp,log,ssl}
    cat >"$dir/cupsd.conf" <<EOF
Listen 127.0.0.1:$p
Browsing No
LogLevel warn
MaxJobs 0
MaxClients 4096
MaxClientsPerHost 4096
PreserveJobHistory Yes
PreserveJobFiles No
<Location />
  Order allow,deny
  Allow all
</Location>
EOF
    cat >"$dir/cups-files.conf" <<EOF
ServerRoot $dir
RequestRoot $dir/spool
CacheDir $dir/cache
StateDir $dir/state
TempDir $dir/tmp
ErrorLog $dir/log/error_log
AccessLog $dir/log/access_log
PageLog $dir/log/page_log
ServerKeychain $dir/ssl
FileDevice Yes
SystemGroup root
EOF
    # The first queue is stopped (it accepts but does not print), like Blatt's hold queue.
    printf '<Printer sink>\nDeviceURI file:/dev/null\nState Stopped\nAccepting Yes\nShared No\n</Printer>\n' \
        >"$dir/printers.conf"
    for ((i = 1; i < queues; i++)); do
        printf '<Printer q%d>\nDeviceURI file:/dev/null\nState Idle\nAccepting Yes\nShared No\n</Printer>\n' \
            "$i" >>"$dir/printers.conf"
    done
}

start_cups()
{
    cupsd -f -c "$1/cupsd.conf" -s "$1/cups-files.conf" >>"$1/cupsd.out" 2>&1 &
    CPID=$!
    pids+=($CPID)
    wait_port "$2" 1200
}

stop_pid()
{
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# 1. Job acceptance: Print-Job of a one-page PDF from 1 and 8 clients.

bench_accept()
{
    local clients=$1 b=() c=() r line
    for ((r = 0; r < RUNS; r++)); do
        local bp cp
        bp=$(port)
        blatt_conf "$W/a-blatt-$clients-$r" "$bp" 1
        start_blatt "$W/a-blatt-$clients-$r" "$bp"
        line=$("$LOAD" -c "$clients" -n "$N_JOBS" -o print -f "$DOCS/onepage-a4.pdf" \
            "ipp://127.0.0.1:$bp/ipp/print/sink")
        check $? "blattd accepts $N_JOBS jobs from $clients clients ($line)"
        b+=("$(field "$line" rate)")
        stop_pid "$BPID"
        local stored
        stored=$(sqlite3 "$W/a-blatt-$clients-$r/state/blatt.db" "SELECT count(*) FROM jobs" 2>/dev/null)
        [ "$stored" = "$N_JOBS" ]
        check $? "every accepted job is in blattd's database after the stop ($stored)"
        cp=$(port)
        cups_conf "$W/a-cups-$clients-$r" "$cp" 1
        start_cups "$W/a-cups-$clients-$r" "$cp"
        line=$("$LOAD" -c "$clients" -n "$N_JOBS" -o print -f "$DOCS/onepage-a4.pdf" \
            "ipp://127.0.0.1:$cp/printers/sink")
        check $? "cupsd accepts $N_JOBS jobs from $clients clients ($line)"
        c+=("$(field "$line" rate)")
        stop_pid "$CPID"
        rm -rf "$W/a-blatt-$clients-$r" "$W/a-cups-$clients-$r"
    done
    row "Job acceptance, $clients client(s)" "Print-Job of onepage-a4.pdf, durable" "jobs/s" \
        "${b[*]}" "${c[*]}"
    [ "$clients" -gt 1 ] && accept_ceiling "$clients" "${b[*]}"
}

# What the disk allows at all: N clients have at most N jobs waiting for one durable write, so
# N documents per synchronous write (dd oflag=dsync: write and flush, as fdatasync) is the most
# any server can acknowledge durably, before it has done anything else. The row sets blattd's
# rate against that ceiling: its factor is the share of the disk's limit that blattd reaches.
accept_ceiling()
{
    local clients=$1 d=() r size count=200 t0 t1
    size=$(($(stat -c %s "$DOCS/onepage-a4.pdf") * clients))
    [ "$quick" = --quick ] && count=20
    for ((r = 0; r < RUNS; r++)); do
        t0=$(date +%s%N)
        dd if=/dev/zero of="$W/ceiling.dat" bs="$size" count="$count" oflag=dsync status=none
        t1=$(date +%s%N)
        d+=("$(awk -v n=$((count * clients)) -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", n * 1e9 / ns}')")
        rm -f "$W/ceiling.dat"
    done
    row "Job acceptance, $clients clients" \
        "durable, against the disk's ceiling ($clients documents per dd oflag=dsync write)" \
        "jobs/s" "$2" "${d[*]}" higher "disk ceiling"
}

# ---------------------------------------------------------------------------------------------
# 2. History: Get-Jobs and Get-Job-Attributes with N finished jobs.

# fill URI N: N finished (canceled) jobs through the protocol, 4 clients.
fill()
{
    "$LOAD" -c 4 -n "$2" -o create-cancel "$1" >/dev/null
}

# beside_listing URI COUNT: COUNT Get-Printer-Attributes (the ippload line) while another
# client lists every completed job of URI's queue again and again.
beside_listing()
{
    local stop="$W/stop-listing" lp line rc
    rm -f "$stop"
    (while [ ! -e "$stop" ]; do
        "$LOAD" -c 1 -n 1 -o get-jobs -r -w completed "$1" >/dev/null || break
    done) &
    lp=$!
    sleep 0.3
    line=$("$LOAD" -c 1 -n "$2" -o get-printer "$1")
    rc=$?
    touch "$stop"
    wait "$lp"
    echo "$line"
    return $rc
}

bench_history()
{
    local n=$1 bp cp line
    bp=$(port)
    cp=$(port)
    blatt_conf "$W/h-blatt-$n" "$bp" 1
    start_blatt "$W/h-blatt-$n" "$bp"
    cups_conf "$W/h-cups-$n" "$cp" 1
    start_cups "$W/h-cups-$n" "$cp"
    local bu="ipp://127.0.0.1:$bp/ipp/print/sink" cu="ipp://127.0.0.1:$cp/printers/sink"
    fill "$bu" "$n"
    check $? "blattd has $n finished jobs"
    fill "$cu" "$n"
    check $? "cupsd has $n finished jobs"
    local reps=$((n >= 100000 ? 10 : 50))
    local what
    for what in "get-jobs -l 50" "get-jobs" "get-jobs -r" "get-job -j $((n / 2))"; do
        local b=() c=() r bl cl
        for ((r = 0; r < RUNS; r++)); do
            # shellcheck disable=SC2086
            bl=$("$LOAD" -c 1 -n "$reps" -o $what -w completed "$bu")
            check $? "blattd $what over $n jobs ($bl)"
            # shellcheck disable=SC2086
            cl=$("$LOAD" -c 1 -n "$reps" -o $what -w completed "$cu")
            check $? "cupsd $what over $n jobs ($cl)"
            b+=("$(field "$bl" median_ms)")
            c+=("$(field "$cl" median_ms)")
            b99+=("$(field "$bl" p99_ms)")
            c99+=("$(field "$cl" p99_ms)")
        done
        local label
        case $what in
        "get-jobs -l 50") label="Get-Jobs completed, first 50" ;;
        get-jobs) label="Get-Jobs completed, all" ;;
        "get-jobs -r") label="Get-Jobs completed, all, to the reply's last byte (not decoded)" ;;
        *) label="Get-Job-Attributes" ;;
        esac
        row "History of $n jobs" "$label, median" "ms" "${b[*]}" "${c[*]}" lower
        row "History of $n jobs" "$label, p99" "ms" "${b99[*]}" "${c99[*]}" lower
        unset b99 c99
    done
    # Another client beside one that lists the whole history again and again: how long it
    # waits (blattd lists 256 jobs per turn of its loop and serves others in between).
    local bb=() cb=() gpa=$((n >= 100000 ? 50 : 200))
    for ((r = 0; r < RUNS; r++)); do
        bl=$(beside_listing "$bu" "$gpa")
        check $? "blattd Get-Printer-Attributes beside listings of $n jobs ($bl)"
        cl=$(beside_listing "$cu" "$gpa")
        check $? "cupsd Get-Printer-Attributes beside listings of $n jobs ($cl)"
        bb+=("$(field "$bl" p99_ms)")
        cb+=("$(field "$cl" p99_ms)")
    done
    row "History of $n jobs" "Get-Printer-Attributes p99 while another client lists it all" "ms" \
        "${bb[*]}" "${cb[*]}" lower
    # What does cupsd keep? (MaxJobs 0 = no limit here; its default of 500 drops the rest.)
    local kept
    kept=$(ipptool -tv "$cu" get-completed-jobs.test 2>/dev/null | grep -c "job-id (integer)")
    echo "# cupsd lists $kept completed jobs of $n (MaxJobs 0)"
    stop_pid "$BPID"
    stop_pid "$CPID"
    rm -rf "$W/h-blatt-$n" "$W/h-cups-$n"
}

# ---------------------------------------------------------------------------------------------
# 3. Many queues: start time, idle RSS, Get-Printers latency.

anon_kb()
{
    awk '/^RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null
}

# tree_pss_kb PID: the proportional set size of PID and all its descendants (blattd keeps a
# root helper beside its main process; cupsd has no process besides itself when idle).
tree_pss_kb()
{
    local p sum=0 kb
    for p in $1 $(pgrep -P "$1"); do
        if [ "$p" != "$1" ]; then
            kb=$(tree_pss_kb "$p")
        else
            kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
        fi
        sum=$((sum + ${kb:-0}))
    done
    echo "$sum"
}

bench_queues()
{
    local q=$N_QUEUES bs=() cs=() br=() cr=() ba=() ca=() bp_=() cp_=() bg=() cg=() r t0 line
    for ((r = 0; r < RUNS; r++)); do
        local bp cp
        bp=$(port)
        cp=$(port)
        blatt_conf "$W/q-blatt-$r" "$bp" "$q"
        t0=$(now_ms)
        start_blatt "$W/q-blatt-$r" "$bp"
        line=$("$LOAD" -c 1 -n 1 -o get-printer "ipp://127.0.0.1:$bp/ipp/print/sink")
        bs+=($(($(now_ms) - t0)))
        sleep 1
        br+=("$(rss_kb "$BPID")")
        ba+=("$(anon_kb "$BPID")")
        bp_+=("$(tree_pss_kb "$BPID")")
        line=$("$LOAD" -c 1 -n 20 -o get-printers "ipp://127.0.0.1:$bp/")
        check $? "blattd CUPS-Get-Printers with $q queues ($line)"
        bg+=("$(field "$line" median_ms)")
        stop_pid "$BPID"
        cups_conf "$W/q-cups-$r" "$cp" "$q"
        t0=$(now_ms)
        start_cups "$W/q-cups-$r" "$cp"
        line=$("$LOAD" -c 1 -n 1 -o get-printer "ipp://127.0.0.1:$cp/printers/sink")
        cs+=($(($(now_ms) - t0)))
        sleep 1
        cr+=("$(rss_kb "$CPID")")
        ca+=("$(anon_kb "$CPID")")
        cp_+=("$(tree_pss_kb "$CPID")")
        line=$("$LOAD" -c 1 -n 20 -o get-printers "ipp://127.0.0.1:$cp/")
        check $? "cupsd CUPS-Get-Printers with $q queues ($line)"
        cg+=("$(field "$line" median_ms)")
        stop_pid "$CPID"
        rm -rf "$W/q-blatt-$r" "$W/q-cups-$r"
    done
    row "$q queues" "start until the first answer" "ms" "${bs[*]}" "${cs[*]}" lower
    row "$q queues" "idle RSS (the main process)" "KiB" "${br[*]}" "${cr[*]}" lower
    # RSS counts the mapped pages of shared libraries (libc, libcups with GnuTLS, OpenSSL,
    # SQLite): the same files for every process. Anonymous memory is what the daemon itself
    # allocated.
    row "$q queues" "idle anonymous RSS (RssAnon: heap, stacks)" "KiB" "${ba[*]}" "${ca[*]}" lower
    # All of the daemon's processes, each shared page divided among the processes mapping it.
    row "$q queues" "idle PSS of all its processes (blattd: with its root helper)" "KiB" \
        "${bp_[*]}" "${cp_[*]}" lower
    # The floor under both: a process that only loads the daemon's shared libraries (its
    # DT_NEEDED list, with their dependencies and constructors) and runs none of its code.
    local bf=() cf=() above_b=() above_c=()
    for ((r = 0; r < RUNS; r++)); do
        line=$("$FLOOR" $(needed "$BLATTD"))
        check $? "the libraries of blattd load ($line)"
        bf+=("$(field "$line" rss_kb)")
        above_b+=($((${br[r]:-0} - ${bf[r]:-0})))
        line=$("$FLOOR" $(needed "$(command -v cupsd)"))
        check $? "the libraries of cupsd load ($line)"
        cf+=("$(field "$line" rss_kb)")
        above_c+=($((${cr[r]:-0} - ${cf[r]:-0})))
    done
    row "$q queues" "RSS of its shared libraries alone (loaded, no code of its own run)" "KiB" \
        "${bf[*]}" "${cf[*]}" lower
    row "$q queues" "idle RSS above that floor" "KiB" "${above_b[*]}" "${above_c[*]}" lower
    row "$q queues" "CUPS-Get-Printers, median" "ms" "${bg[*]}" "${cg[*]}" lower
}

# needed BINARY: the shared libraries BINARY names (DT_NEEDED), one per line.
needed()
{
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# ---------------------------------------------------------------------------------------------
# 4. A big job over IPPS: peak RSS and throughput, against dd to the same disk.

bench_big()
{
    local b=() rss=() d=() r bp line
    head -c $((BIG_MB * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$W/big.pdf" 2>/dev/null ||
        dd if=/dev/zero of="$W/big.pdf" bs=1M count="$BIG_MB" status=none
    printf '%%PDF-1.4\n' | dd of="$W/big.pdf" conv=notrunc status=none
    for ((r = 0; r < RUNS; r++)); do
        bp=$(port)
        blatt_conf "$W/b-blatt-$r" "$bp" 1
        start_blatt "$W/b-blatt-$r" "$bp"
        line=$("$LOAD" -c 1 -n 1 -o print -f "$W/big.pdf" "ipps://127.0.0.1:$bp/ipp/print/sink")
        check $? "blattd takes a $BIG_MB MiB job over IPPS ($line)"
        b+=("$(awk -v s="$(field "$line" seconds)" -v m="$BIG_MB" 'BEGIN {printf "%.1f", m / s}')")
        rss+=($(($(hwm_kb "$BPID") / 1024)))
        stop_pid "$BPID"
        local t0 t1
        t0=$(now_ms)
        dd if="$W/big.pdf" of="$W/b-blatt-$r/dd.out" bs=1M conv=fdatasync status=none
        t1=$(now_ms)
        d+=("$(awk -v ms=$((t1 - t0)) -v m="$BIG_MB" 'BEGIN {printf "%.1f", m * 1000 / ms}')")
        rm -rf "$W/b-blatt-$r"
    done
    rm -f "$W/big.pdf"
    row "$BIG_MB MiB job over IPPS" "throughput with the spool encryption, against dd to the same disk" \
        "MiB/s" "${b[*]}" "${d[*]}" higher "dd"
    row "$BIG_MB MiB job over IPPS" "blattd peak RSS" "MiB" "${rss[*]}" ""
}

# ---------------------------------------------------------------------------------------------
# 5. Pipeline overhead: document-a4.pdf to PWG raster at 300 dpi on a raster-only printer.
#
# One blattd and one ippeveprinter serve every run; a first job warms them (and the page cache)
# and is not counted. Each run then times, one after the other, the job from submit until
# ippeveprinter completed it (ippload -o print-wait: Print-Job, then Get-Job-Attributes every
# 5 ms on the same connection), and the same Ghostscript command that pdftoraster runs for
# that job, by hand, on the same file. The machine's noise is larger than the difference, so
# the scenario makes at least 21 runs.

# The Ghostscript command of pdftoraster for a grey A4 job at 300 dpi (drivers/filter/
# pdftoraster.c builds it), writing the raster to /dev/null.
bare_gs()
{
    gs -dSAFER -dBATCH -dNOPAUSE -dQUIET -sstdout=%stderr -sBandListStorage=memory \
        -sDEVICE=pwgraster -r300 -dcupsColorSpace=18 -dcupsBitsPerColor=8 \
        -dDEVICEWIDTHPOINTS=595.28 -dDEVICEHEIGHTPOINTS=841.89 -dFIXEDMEDIA -dPDFFitPage \
        -scupsPageSizeName=iso_a4_210x297mm -sOutputFile=- -f "$1" >/dev/null 2>&1
}

bench_pipeline()
{
    local b=() g=() r runs=$((RUNS < 21 ? 21 : RUNS))
    [ "$quick" = --quick ] && runs=1
    local dbus="$W/p-dbus.sock" ep bp line t0 t1
    dbus-daemon --session --address="unix:path=$dbus" --nofork --nopidfile >/dev/null 2>&1 &
    pids+=($!)
    sleep 0.3
    ep=$(port)
    bp=$(port)
    mkdir -p "$W/p-eve"
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dbus" ippeveprinter -n localhost -r off -p "$ep" \
        -d "$W/p-eve" -c /bin/true -f image/pwg-raster "Bench" >/dev/null 2>&1 &
    local epid=$!
    pids+=($epid)
    wait_port "$ep"
    blatt_conf "$W/p-blatt" "$bp" 1 "<Printer raster>
  DeviceURI ipp://localhost:$ep/ipp/print
</Printer>"
    start_blatt "$W/p-blatt" "$bp"
    local uri="ipp://127.0.0.1:$bp/ipp/print/raster"
    # The queue probes its printer at start: wait until it takes raster jobs.
    for ((r = 0; r < 100; r++)); do
        "$LOAD" -c 1 -n 1 -o print-wait -f "$DOCS/document-a4.pdf" "$uri" >/dev/null 2>&1 && break
        sleep 0.2
    done
    for ((r = 0; r < runs; r++)); do
        line=$("$LOAD" -c 1 -n 1 -o print-wait -f "$DOCS/document-a4.pdf" "$uri")
        check $? "document-a4.pdf printed as PWG raster through blattd ($line)"
        b+=("$(field "$line" median_ms)")
        t0=$(date +%s%N)
        bare_gs "$DOCS/document-a4.pdf"
        check $? "the same Ghostscript command by hand"
        t1=$(date +%s%N)
        g+=("$(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", ns / 1e6}')")
    done
    stop_pid "$BPID"
    stop_pid "$epid"
    rm -rf "$W/p-blatt" "$W/p-eve"
    row "Pipeline, document-a4.pdf to PWG raster 300 dpi" \
        "submit to completed at ippeveprinter, against the same gs command ($runs runs)" "ms" \
        "${b[*]}" "${g[*]}" lower "bare gs"
}

# ---------------------------------------------------------------------------------------------
# 6. Connections: idle keep-alive and slow clients while a client works.

bench_conns()
{
    local base=() loaded=() r bp line
    for ((r = 0; r < RUNS; r++)); do
        bp=$(port)
        blatt_conf "$W/c-blatt-$r" "$bp" 1
        start_blatt "$W/c-blatt-$r" "$bp"
        local uri="ipp://127.0.0.1:$bp/ipp/print/sink"
        # A warm-up, so that the baseline does not pay for a cold daemon (and look slower).
        "$LOAD" -c 1 -n 100 -o print -f "$DOCS/onepage-a4.pdf" "$uri" >/dev/null
        # The baseline is taken before and after the connections (the mean of both medians):
        # the disk's sync latency drifts over a run, and that is not the connections' doing.
        local before after
        line=$("$LOAD" -c 1 -n "$N_CONN_JOBS" -o print -f "$DOCS/onepage-a4.pdf" "$uri")
        before=$(field "$line" median_ms)
        "$HOLD" 127.0.0.1 "$bp" "$N_IDLE" "$N_SLOW" 25 >"$W/c-hold-$r.out" 2>"$W/c-hold-$r.err" &
        local hpid=$!
        pids+=($hpid)
        sleep 4
        line=$("$LOAD" -c 1 -n "$N_CONN_JOBS" -o print -f "$DOCS/onepage-a4.pdf" "$uri")
        check $? "printing next to $N_IDLE idle and $N_SLOW slow connections ($line)"
        loaded+=("$(field "$line" median_ms)")
        wait "$hpid"
        grep -q "idle_open=$N_IDLE " "$W/c-hold-$r.out"
        check $? "blattd kept all $N_IDLE idle connections ($(cat "$W/c-hold-$r.out"))"
        line=$("$LOAD" -c 1 -n "$N_CONN_JOBS" -o print -f "$DOCS/onepage-a4.pdf" "$uri")
        after=$(field "$line" median_ms)
        base+=("$(awk -v a="${before:-0}" -v b="${after:-0}" 'BEGIN {printf "%.3f", (a + b) / 2}')")
        stop_pid "$BPID"
        rm -rf "$W/c-blatt-$r"
    done
    row "$N_IDLE idle + $N_SLOW slow connections" "Print-Job latency with them, against without" \
        "ms" "${loaded[*]}" "${base[*]}" lower "blattd without them"
}

# BENCH_ONLY="accept history queues big pipeline conns" picks scenarios (default: all).
want()
{
    [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]
}
want accept && bench_accept 1
want accept && bench_accept 8
if want history; then
    for n in $N_HIST; do
        bench_history "$n"
    done
fi
want queues && bench_queues
want big && bench_big
want pipeline && bench_pipeline
want conns && bench_conns

report()
{
    echo "# Blatt benchmarks"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);"
    echo "cupsd $(cupsd -h 2>&1 | head -0; dpkg-query -W -f='${Version}' cups-daemon 2>/dev/null)."
    echo "Median of $RUNS runs (min–max; the pipeline: at least 21). The baseline column names what"
    echo "blattd is set against: cupsd, or the disk's ceiling, dd, the bare gs command, blattd"
    echo "itself without the extra connections. The factor is how many times better blattd is"
    echo "than that baseline (higher or lower is better as the metric says): above 1 blattd is"
    echo "better, below 1 worse; against the disk's ceiling it is the share of it blattd reaches."
    echo
    echo "| scenario | metric | blattd | baseline | factor |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
}
if [ "$quick" = --quick ]; then
    echo "1..$((n_ok + n_fail))"
else
    report | tee "$here/report.md"
fi
[ "$n_fail" -eq 0 ]
