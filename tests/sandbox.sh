#!/bin/bash
# Tests of the filter/backend sandbox: blatt-exec around hostile programs and the real ones.
# Licensed under the Apache License, Version 2.0.
#
# Usage: tests/sandbox.sh [BUILDDIR]   BUILDDIR (default $top_builddir, else .) holds
# drivers/blatt-exec, drivers/filter/*, drivers/backend/*, tests/sandbox/evil-* and
# tests/sandbox/sandbox-argv (or all of them flat). Runs blatt-exec directly, as root, with
# --uid/--gid of nobody/nogroup, a scratch job directory as --tmpfs, and the limits blattd
# uses in tests (cpu 2 s, memory 512 MiB, file size 64 MiB, 64 open files). The ipp backend
# is tried against a private ippeveprinter (with its own dbus-daemon) on loopback. Documents
# come from $BL_TESTDATA (default ../shared/testdata/documents beside the repository).
# Prints TAP; exits 1 on any failure. Without root, or without nobody/nogroup, it skips.
set -u

BIN=${1:-${top_builddir:-.}}
BIN=$(cd "$BIN" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
DOCS=${BL_TESTDATA:-${BL_DOCS:-$REPO/../shared/testdata/documents}}
n=0
failed=0

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (--uid and namespaces)"
    exit 0
fi
NUID=$(id -u nobody 2>/dev/null)
NGID=$(getent group nogroup | cut -d: -f3)
if [ -z "$NUID" ] || [ -z "$NGID" ]; then
    echo "1..0 # SKIP no user nobody or group nogroup"
    exit 0
fi

prog() {
    local p
    for p in "$BIN/$1" "$BIN/drivers/$1" "$BIN/drivers/filter/$1" "$BIN/drivers/backend/$1" \
        "$BIN/tests/sandbox/$1"; do
        if [ -x "$p" ] && [ -f "$p" ]; then
            echo "$p"
            return 0
        fi
    done
    echo "Bail out! sandbox.sh: program $1 not found under $BIN"
    exit 2
}

EXEC=$(prog blatt-exec)
PDFCHECK=$(prog pdfcheck)
PDFTORASTER=$(prog pdftoraster)
JPEGTOPDF=$(prog jpegtopdf)
RASTERCHECK=$(prog rastercheck)
IPP=$(prog ipp)
ARGVTEST=$(prog sandbox-argv)
for e in net write cpu mem fsize ptrace setuid ns; do
    declare "EVIL_${e^^}=$(prog evil-$e)"
done

# Scratch: W is traversable but not writable or listable by nobody (as the parent of a job
# directory must be), JOB is the job's TMPDIR, STATE stands for blattd's StateDir.
W=$(mktemp -d "${TMPDIR:-/tmp}/blatt-sandbox.XXXXXX")
chmod 0711 "$W"
JOB=$W/job
STATE=$W/state
mkdir -m 0700 "$JOB"
mkdir -m 0755 "$STATE" "$W/out" "$W/eve"
MARK=evil-mark-$$
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -f "/tmp/$MARK" "/var/tmp/$MARK" "/dev/shm/$MARK" "/run/lock/$MARK"
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FILTER_SB=(--uid "$NUID" --gid "$NGID" --no-network --tmpfs "$JOB" --tmpfs-mb 128 --cpu 2
    --memory-mb 512 --file-size-mb 64 --open-files 64 --seccomp filter)
BACKEND_SB=(--uid "$NUID" --gid "$NGID" --tmpfs "$JOB" --tmpfs-mb 128 --cpu 10
    --memory-mb 512 --file-size-mb 64 --open-files 64 --seccomp backend)
NOBODY_SB=(--uid "$NUID" --gid "$NGID")
# The bundled filters and backends built with ASan (BL_SANITIZED) cannot live under an
# address-space limit: their runs leave --memory-mb out, as blattd does in such a build
# (server/system.c). The hostile programs are UBSan-only and keep every limit.
for_real() { # for_real SRC DST: copies the array, without --memory-mb N when sanitized
    local -n src=$1 dst=$2
    local i
    dst=()
    for ((i = 0; i < ${#src[@]}; i++)); do
        if [ -n "${BL_SANITIZED:-}" ] && [ "${src[i]}" = --memory-mb ]; then
            i=$((i + 1))
        else
            dst+=("${src[i]}")
        fi
    done
}
for_real FILTER_SB REAL_FILTER_SB
for_real BACKEND_SB REAL_BACKEND_SB

# sandboxed PROGRAM [OPTIONS [CONTENT_TYPE [FINAL_CONTENT_TYPE [DEVICE_URI]]]]: runs PROGRAM
# the way blattd does (argv of 6, minimal environment, cwd = TMPDIR = the job directory)
# under blatt-exec with the options in the array named by $SB (default FILTER_SB; a test
# case sets SB for itself: each case runs in a subshell); at most 60 s.
sandboxed() {
    local -n sb=${SB:-FILTER_SB}
    (cd "$JOB" && exec timeout -s KILL 60 env -i PATH=/usr/bin:/bin LANG=C TMPDIR="$JOB" \
        HOME="$JOB" PRINTER=test CONTENT_TYPE="${3:-application/pdf}" \
        FINAL_CONTENT_TYPE="${4:-application/pdf}" DEVICE_URI="${5:-}" \
        "$EXEC" "${sb[@]}" -- "$1" "${1##*/}" 1 alice "Test title" 1 "${2:-}")
}

# The same without any sandbox (the controls).
plain() {
    (cd "$JOB" && exec timeout -s KILL 60 env -i PATH=/usr/bin:/bin LANG=C TMPDIR="$JOB" \
        HOME="$JOB" PRINTER=test CONTENT_TYPE="${3:-application/pdf}" \
        FINAL_CONTENT_TYPE="${4:-application/pdf}" DEVICE_URI="${5:-}" \
        "$1" 1 alice "Test title" 1 "${2:-}")
}

# check NAME FUNCTION [TODO-REASON]: runs FUNCTION in a subshell with errexit and prints one
# TAP line; its output goes to the log, shown on failure.
check() {
    local rc todo=${3:+ # TODO $3}
    n=$((n + 1))
    (
        set -e
        "$2"
    ) >"$W/case.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "ok $n - $1$todo"
    else
        echo "not ok $n - $1$todo"
        sed 's/^/#   /' "$W/case.log" | tail -15
        [ -n "$todo" ] || failed=$((failed + 1))
    fi
}

expect() {
    if ! "$@"; then
        echo "expectation failed: $*"
        return 1
    fi
}

refute() {
    if "$@"; then
        echo "expected to fail: $*"
        return 1
    fi
}

# Exit status of the last command run with `status CMD...` (never trips errexit).
status() {
    rc=0
    "$@" || rc=$?
    echo "exit status $rc"
}

page_total() {
    sed -n 's/^PAGE: total \([0-9]*\)$/\1/p' "$1" | tail -1
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
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- peers: a TCP and a Unix listener, a same-uid victim, ippeveprinter ----

LISTEN_PORT=$(free_port)
perl -MIO::Socket::INET -MIO::Socket::UNIX -e '
    my ($port, $path) = @ARGV;
    my $t = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port, Listen => 5,
                                  ReuseAddr => 1) or die "listen: $!";
    my $u = IO::Socket::UNIX->new(Local => $path, Listen => 5) or die "listen: $!";
    chmod 0777, $path;
    my $rin = ""; vec($rin, fileno($t), 1) = 1; vec($rin, fileno($u), 1) = 1;
    while (select(my $r = $rin, undef, undef, undef)) {
        for my $s ($t, $u) { if (vec($r, fileno($s), 1)) { my $c = $s->accept; close $c if $c; } }
    }' "$LISTEN_PORT" "$W/listen.sock" &
PIDS+=($!)
wait_port "$LISTEN_PORT"

# Another job's process, as the same unprivileged user.
"$EXEC" "${NOBODY_SB[@]}" -- /bin/sleep sleep 600 &
VICTIM=$!
PIDS+=("$VICTIM")

EVE_PORT=""
start_printer() {
    command -v ippeveprinter >/dev/null && command -v dbus-daemon >/dev/null || return 1
    dbus-daemon --session --address="unix:path=$W/dbus.sock" --nofork --nopidfile \
        >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do
        [ -S "$W/dbus.sock" ] && break
        sleep 0.1
    done
    local port
    port=$(free_port) || return 1
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/dbus.sock" ippeveprinter -n localhost -r off \
        -p "$port" -k -d "$W/eve" -c /bin/true -f application/pdf,image/pwg-raster \
        "Blatt sandbox" >"$W/ippeve.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" && EVE_PORT=$port
}
start_printer

# ---- blatt-exec itself ----

t_bad_options() {
    local args
    for args in "--cpu 0" "--cpu 2x" "--cpu -1" "--uid $NUID" "--gid $NGID" \
        "--tmpfs rel/dir" "--tmpfs $JOB/../job" "--tmpfs-mb 8" "--seccomp none" "--bogus" \
        "--no-network --no-network" "--open-files 99999999999999999999"; do
        # shellcheck disable=SC2086
        status "$EXEC" $args -- /usr/bin/touch touch "$W/ran" 2>"$W/bad.err"
        expect [ $rc = 127 ]
        grep -q '^ERROR: sandbox: ' "$W/bad.err"
        expect [ ! -e "$W/ran" ]
    done
    status "$EXEC" -- touch touch "$W/ran" 2>"$W/bad.err"
    expect [ $rc = 127 ]
    status "$EXEC" --cpu 2 2>"$W/bad.err"
    expect [ $rc = 127 ]
    grep -q '^ERROR: sandbox: usage' "$W/bad.err"
}

t_identity() {
    (cd "$JOB" && "$EXEC" "${FILTER_SB[@]}" -- /bin/cat cat /proc/self/status) >"$W/status"
    grep -Eq "^Uid:(\s+${NUID}){4}$" "$W/status"
    grep -Eq "^Gid:(\s+${NGID}){4}$" "$W/status"
    grep -q "^Groups:[[:space:]]*$" "$W/status"
    grep -q '^CapEff:[[:space:]]*0000000000000000$' "$W/status"
    grep -q '^CapBnd:[[:space:]]*0000000000000000$' "$W/status"
    grep -q '^NoNewPrivs:[[:space:]]*1$' "$W/status"
    grep -q '^Seccomp:[[:space:]]*2$' "$W/status"
}

t_limits_and_cwd() {
    (cd "$JOB" && "$EXEC" "${FILTER_SB[@]}" -- /bin/sh sh -c \
        'ulimit -t; ulimit -v; ulimit -f; ulimit -n; ulimit -c; pwd; stat -f -c %T .') \
        >"$W/limits"
    expect [ "$(tr '\n' ' ' <"$W/limits")" = "2 524288 131072 64 0 $JOB tmpfs " ]
}

t_sandbox_argv() {
    (cd "$JOB" && "$ARGVTEST" "$EXEC" "$JOB" /usr/bin/id id -u) >"$W/argv.out"
    expect [ "$(cat "$W/argv.out")" = "$NUID" ]
}

# ---- hostile programs ----

t_net_control() {
    plain "$EVIL_NET" "port=$LISTEN_PORT unix=$W/listen.sock" 2>"$W/net.err"
    grep -q '^ATTR: evil-succeeded=1$' "$W/net.err"
}

t_net_filter() {
    status sandboxed "$EVIL_NET" "port=$LISTEN_PORT unix=$W/listen.sock" 2>"$W/net.err"
    cat "$W/net.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: socket inet: Operation not permitted$' "$W/net.err"
    grep -q '^ERROR: blocked: socket unix: Operation not permitted$' "$W/net.err"
    refute grep -q evil-succeeded "$W/net.err"
}

t_net_namespace_alone() {
    # shellcheck disable=SC2034 # used through $SB
    local -a only_netns=("${NOBODY_SB[@]}" --no-network)
    SB=only_netns
    status sandboxed "$EVIL_NET" "port=$LISTEN_PORT" 2>"$W/net.err"
    cat "$W/net.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: connect inet: Network is unreachable$' "$W/net.err"
}

t_write() {
    status sandboxed "$EVIL_WRITE" "name=$MARK statedir=$STATE" 2>"$W/write.err"
    cat "$W/write.err"
    expect [ $rc = 1 ]
    grep -q "^ERROR: blocked: /tmp/$MARK: Read-only file system$" "$W/write.err"
    grep -q "^ERROR: blocked: /var/tmp/$MARK: Read-only file system$" "$W/write.err"
    # EROFS when the scratch directory is in /tmp, else the StateDir's permissions.
    grep -Eq "^ERROR: blocked: $STATE/$MARK: (Permission denied|Read-only file system)$" \
        "$W/write.err"
    grep -q "^ERROR: blocked: \.\./$MARK: " "$W/write.err"
    grep -q "^INFO: wrote $JOB/$MARK$" "$W/write.err"
    local f
    for f in "/tmp/$MARK" "/var/tmp/$MARK" "/dev/shm/$MARK" "$STATE/$MARK" "$W/$MARK" \
        "$JOB/$MARK"; do
        expect [ ! -e "$f" ]
    done
    # The private tmpfs is gone with the job, and was never visible here.
    expect [ -z "$(ls -A "$JOB")" ]
    refute grep -q " $JOB " /proc/self/mounts
}

t_cpu() {
    local start=$SECONDS
    status sandboxed "$EVIL_CPU" "" 2>/dev/null
    expect [ $rc = $((128 + 24)) ] # SIGXCPU at the soft limit
    expect [ $((SECONDS - start)) -le 15 ]
}

t_mem() {
    status sandboxed "$EVIL_MEM" "" 2>"$W/mem.err"
    cat "$W/mem.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: malloc after [0-9]* MiB: Cannot allocate memory$' "$W/mem.err"
    local got
    got=$(sed -n 's/.*after \([0-9]*\) MiB.*/\1/p' "$W/mem.err")
    expect [ "$got" -lt 512 ]
}

t_fsize() {
    status sandboxed "$EVIL_FSIZE" "" 2>/dev/null
    expect [ $rc = $((128 + 25)) ] # SIGXFSZ
    status sandboxed "$EVIL_FSIZE" "ignore=1" 2>"$W/fsize.err"
    cat "$W/fsize.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: write after 64 MiB: File too large$' "$W/fsize.err"
}

t_ptrace_parent() {
    status sandboxed "$EVIL_PTRACE" "" 2>"$W/ptrace.err"
    cat "$W/ptrace.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: ptrace: Operation not permitted$' "$W/ptrace.err"
}

t_ptrace_victim_control() {
    # Without seccomp, the same uid may trace another job's process: seccomp is what stops it.
    SB=NOBODY_SB
    sandboxed "$EVIL_PTRACE" "pid=$VICTIM" 2>"$W/ptrace.err"
    grep -q '^ATTR: evil-succeeded=1$' "$W/ptrace.err"
}

t_ptrace_victim() {
    status sandboxed "$EVIL_PTRACE" "pid=$VICTIM" 2>"$W/ptrace.err"
    cat "$W/ptrace.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: ptrace: Operation not permitted$' "$W/ptrace.err"
}

t_process_vm() {
    status sandboxed "$EVIL_PTRACE" "pid=$VICTIM mode=vm" 2>/dev/null
    expect [ $rc = $((128 + 31)) ] # SIGSYS: killed by seccomp
}

t_proc_mem_victim() {
    status sandboxed "$EVIL_PTRACE" "pid=$VICTIM mode=mem" 2>"$W/ptrace.err"
    cat "$W/ptrace.err"
    expect [ $rc = 1 ]
}

t_setuid() {
    status sandboxed "$EVIL_SETUID" "" 2>"$W/setuid.err"
    cat "$W/setuid.err"
    expect [ $rc = 1 ]
    local c
    for c in setgroups setgid setresgid setuid setresuid; do
        grep -q "^ERROR: blocked: $c: Operation not permitted$" "$W/setuid.err"
    done
}

t_namespaces() {
    status sandboxed "$EVIL_NS" "" 2>"$W/ns.err"
    cat "$W/ns.err"
    expect [ $rc = 1 ]
    grep -q '^ERROR: blocked: clone(CLONE_NEWUSER): Operation not permitted$' "$W/ns.err"
    grep -q '^ERROR: blocked: unshare(CLONE_NEWUSER): Operation not permitted$' "$W/ns.err"
    status sandboxed "$EVIL_NS" "mode=mount" 2>/dev/null
    expect [ $rc = $((128 + 31)) ]
}

t_other_abis() {
    [ "$(uname -m)" = x86_64 ] || {
        echo "not x86_64"
        return 0
    }
    status sandboxed "$EVIL_NS" "mode=x32" 2>/dev/null
    expect [ $rc = $((128 + 31)) ]
    status sandboxed "$EVIL_NS" "mode=i386" 2>/dev/null
    expect [ $rc = $((128 + 31)) ]
}

# ---- the real filters and backends under the same sandbox ----

t_pdfcheck() {
    SB=REAL_FILTER_SB
    plain "$PDFCHECK" "" <"$DOCS/document-a4.pdf" >/dev/null 2>"$W/plain.err"
    sandboxed "$PDFCHECK" "" <"$DOCS/document-a4.pdf" >"$W/out/a4.pdf" 2>"$W/sb.err"
    local want
    want=$(page_total "$W/plain.err")
    expect [ -n "$want" ]
    expect [ "$(page_total "$W/sb.err")" = "$want" ]
    expect [ "$(qpdf --show-npages "$W/out/a4.pdf")" = "$want" ]
}

t_pdftoraster() {
    local opts="raster-resolution=150 media=iso_a4_210x297mm"
    SB=REAL_FILTER_SB
    plain "$PDFTORASTER" "$opts" application/pdf image/pwg-raster <"$DOCS/document-a4.pdf" \
        >"$W/out/plain.pwg" 2>"$W/plain.err"
    sandboxed "$PDFTORASTER" "$opts" application/pdf image/pwg-raster \
        <"$DOCS/document-a4.pdf" >"$W/out/sb.pwg" 2>"$W/sb.err"
    local want
    want=$(page_total "$W/plain.err")
    expect [ -n "$want" ]
    expect [ "$(page_total "$W/sb.err")" = "$want" ]
    # Ghostscript's output is the same, page for page.
    cmp "$W/out/plain.pwg" "$W/out/sb.pwg"
    sandboxed "$RASTERCHECK" "" image/pwg-raster image/pwg-raster <"$W/out/sb.pwg" \
        >/dev/null 2>"$W/check.err"
    expect [ "$(page_total "$W/check.err")" = "$want" ]
}

t_jpegtopdf() {
    SB=REAL_FILTER_SB
    sandboxed "$JPEGTOPDF" "" image/jpeg application/pdf <"$DOCS/color.jpg" \
        >"$W/out/color.pdf" 2>"$W/sb.err"
    expect [ "$(page_total "$W/sb.err")" = 1 ]
    expect [ "$(qpdf --show-npages "$W/out/color.pdf")" = 1 ]
}

t_ipp_backend() {
    [ -n "$EVE_PORT" ] || {
        echo "ippeveprinter did not start"
        return 1
    }
    SB=REAL_BACKEND_SB
    sandboxed "$IPP" "" application/pdf application/pdf \
        "ipp://localhost:$EVE_PORT/ipp/print" <"$DOCS/document-a4.pdf" 2>"$W/ipp.err"
    cat "$W/ipp.err"
    grep -q '^INFO: the printer accepted the job' "$W/ipp.err"
    # shellcheck disable=SC2012 # ippeveprinter's names are JOBID-NAME.pdf
    cmp "$DOCS/document-a4.pdf" "$(ls -t "$W"/eve/*.pdf | head -1)"
}

t_ipp_backend_as_filter() {
    [ -n "$EVE_PORT" ] || return 1
    local before
    before=$(find "$W/eve" -type f | wc -l)
    # shellcheck disable=SC2034 # used through $SB
    local -a as_filter=("${REAL_BACKEND_SB[@]:0:${#REAL_BACKEND_SB[@]}-1}" filter)
    SB=as_filter
    status sandboxed "$IPP" "" application/pdf application/pdf \
        "ipp://localhost:$EVE_PORT/ipp/print" <"$DOCS/document-a4.pdf" 2>"$W/ipp.err"
    cat "$W/ipp.err"
    expect [ $rc = 6 ]
    grep -q '^ERROR: cannot connect to localhost:[0-9]*: Operation not permitted$' "$W/ipp.err"
    expect [ "$(find "$W/eve" -type f | wc -l)" = "$before" ]
}

t_nothing_left() {
    refute grep -q blatt-tmp /proc/self/mounts
    expect [ -z "$(ls -A "$JOB")" ]
}

check "blatt-exec rejects bad command lines without running the program" t_bad_options
check "the program runs as nobody, no capabilities, no_new_privs, seccomp" t_identity
check "limits are set and the cwd is the private tmpfs" t_limits_and_cwd
check "bl_sandbox_argv builds a command line blatt-exec runs" t_sandbox_argv
check "control: evil-net connects without a sandbox" t_net_control
check "evil-net: socket() denied (EPERM) for TCP and AF_UNIX" t_net_filter
check "evil-net: the network namespace alone makes 127.0.0.1 unreachable" t_net_namespace_alone
check "evil-write: nothing written outside TMPDIR, TMPDIR private" t_write
check "evil-cpu: SIGXCPU after 2 s of CPU" t_cpu
check "evil-mem: ENOMEM below 512 MiB" t_mem
check "evil-fsize: SIGXFSZ, or EFBIG at 64 MiB" t_fsize
check "evil-ptrace: its parent cannot be traced" t_ptrace_parent
check "control: same-uid victim is traceable without seccomp" t_ptrace_victim_control
check "evil-ptrace: same-uid victim cannot be traced" t_ptrace_victim
check "evil-ptrace: process_vm_readv kills the process (SIGSYS)" t_process_vm
check "evil-ptrace: /proc/PID/mem of a same-uid victim" t_proc_mem_victim \
    "every job runs as the same uid: blattd should use one uid per job"
check "evil-setuid: root cannot be regained" t_setuid
check "evil-ns: no user namespace, mount kills (SIGSYS)" t_namespaces
check "evil-ns: x32 and i386 system calls kill (SIGSYS)" t_other_abis
check "pdfcheck: same page count in the sandbox" t_pdfcheck
check "pdftoraster + rastercheck: same pages and same raster in the sandbox" t_pdftoraster
check "jpegtopdf works in the sandbox" t_jpegtopdf
check "ipp backend reaches ippeveprinter under --seccomp backend" t_ipp_backend
check "ipp backend cannot connect under --seccomp filter" t_ipp_backend_as_filter
check "no tmpfs left mounted, job directory empty" t_nothing_left

echo "1..$n"
[ $failed -eq 0 ]
