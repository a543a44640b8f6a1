#!/bin/bash
# doclog.sh: the document log against damage and mix-ups, through the real daemon. Regression
# tests of what an attack on it found: a deleted segment made blattd reuse its number, so a
# job whose document was lost printed another user's document; a stray entry in the log's
# directory stopped blattd from starting; one damaged document made `blatt key rotate` fail
# for ever (and blattd refuse to start); Cancel-Jobs stopped after 1024 jobs but said ok.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
bl_init doclog

bl_held_daemon
ok $? "blattd runs"

ref() { sqlite3 "$DB" "SELECT doc_seg || ':' || doc_off || ':' || doc_len FROM jobs WHERE id = $1"; }
msg() { sqlite3 "$DB" "SELECT message FROM jobs WHERE id = $1"; }

a=$(bl_submit_held alice SECRET-ALICE-ONE)
b=$(bl_submit_held alice SECRET-ALICE-TWO)
[ -n "$a" ] && [ -n "$b" ]
ok $? "alice has two held jobs ($a, $b)"
seg=$(ref "$a" | cut -d: -f1)
[ "${seg:-0}" -gt 0 ]
ok $? "their documents are in the document log (segment $seg)"

# 1. A segment disappears while blattd is stopped, and a stray directory takes a segment name.
bl_stop_blattd
rm "$W/state/doclog/$(printf %08d "$seg").seg"
mkdir "$W/state/doclog/00000777.seg"
bl_start_blattd "$CONF" "$port"
ok $? "blattd starts although a segment is gone and a directory has a segment's name"
like "$(cat "$W/blattd.log")" "not a usable segment: left alone" "the stray entry is named in the log"
is "$(bl_job_state "$port" held "$a")" aborted "alice's first job is aborted at start"
like "$(msg "$a")" "its document was lost" "and its message says why"
is "$(bl_job_state "$port" held "$b")" aborted "so is her second one"

# 2. bob's new document never takes the place that alice's jobs named.
c=$(bl_submit_held bob SECRET-BOB)
bseg=$(ref "$c" | cut -d: -f1)
[ "${bseg:-0}" -gt 777 ]
ok $? "bob's document goes to a segment numbered above every one before ($bseg)"
bl_release_held "$c" bob
bl_wait_job "$port" held "$c" completed 30
ok $? "bob's job prints"
grep -a -q SECRET-BOB "$W/out/job-$c.pdf" 2>/dev/null
ok $? "with bob's document"

# 3. A job pointed at another job's document (a mix-up in the database) does not print it:
# every document is bound to its own job.
d=$(bl_submit_held carol SECRET-CAROL)
e=$(bl_submit_held dave SECRET-DAVE)
bl_stop_blattd
IFS=: read -r es eo el <<<"$(ref "$e")"
sqlite3 "$DB" "UPDATE jobs SET doc_seg = $es, doc_off = $eo, doc_len = $el WHERE id = $d"
bl_start_blattd "$CONF" "$port"
bl_release_held "$d" carol
bl_wait_job "$port" held "$d" aborted 30
ok $? "carol's job, pointed at dave's document, is aborted"
like "$(cat "$W/blattd.log")" "not this job's document" "the log says the document belongs to another job"
! grep -a -l SECRET-DAVE "$W"/out/* >/dev/null 2>&1
ok $? "dave's document was not printed for carol"
bl_release_held "$e" dave
bl_wait_job "$port" held "$e" completed 30
ok $? "dave's own job still prints"

# 4. A damaged document does not block key rotation (nor, after it, blattd's start).
f=$(bl_submit_held erin SECRET-ERIN)
g=$(bl_submit_held erin SECRET-ERIN-TWO)
bl_stop_blattd
IFS=: read -r fs fo fl <<<"$(ref "$f")"
printf 'XXXXXXXXXXXXXXXX' | dd of="$W/state/doclog/$(printf %08d "$fs").seg" bs=1 \
    seek=$((fo + 30)) conv=notrunc status=none
out=$("$BLATT" -c "$CONF" key rotate 2>&1)
ok $? "blatt key rotate finishes although one document is damaged ($out)"
like "$out" "1 unreadable" "and counts it as unreadable"
bl_start_blattd "$CONF" "$port"
ok $? "blattd starts after the rotation"
bl_release_held "$g" erin
bl_wait_job "$port" held "$g" completed 30
ok $? "the intact document prints under the new key"

# 5. A document that cannot be read just now (here: no permission) is not lost: its job waits
# and prints once it can be read (regression: it was aborted for good, its key left intact).
h=$(bl_submit_held frank SECRET-FRANK)
IFS=: read -r hs _ _ <<<"$(ref "$h")"
hseg="$W/state/doclog/$(printf %08d "$hs").seg"
chmod 000 "$hseg"
bl_release_held "$h" frank
bl_wait_for 10 grep -q "job $h: the spooled document cannot be read now" "$W/blattd.log"
ok $? "frank's released job cannot read its document and says it will try again"
is "$(bl_job_state "$port" held "$h")" pending "it stays pending"
chmod 600 "$hseg"
bl_wait_job "$port" held "$h" completed 30
ok $? "and prints once its document can be read again"

# 6. A stray segment file with the highest number does not take the numbers away.
bl_stop_blattd
: >"$W/state/doclog/99999999.seg"
bl_start_blattd "$CONF" "$port"
i=$(bl_submit_held grace SECRET-GRACE)
[ -n "$i" ]
ok $? "after an empty 99999999.seg, jobs are still taken"
bl_release_held "$i" grace
bl_wait_job "$port" held "$i" completed 30
ok $? "and print"

# 7. Key rotation never throws away a document it could not open just now: with a segment it
# may not write (immutable), it stops and keeps the old key; afterwards it finishes.
k=$(bl_submit_held heidi SECRET-HEIDI)
bl_stop_blattd
IFS=: read -r ks _ _ <<<"$(ref "$k")"
kseg="$W/state/doclog/$(printf %08d "$ks").seg"
if chattr +i "$kseg" 2>/dev/null; then
    out=$("$BLATT" -c "$CONF" key rotate 2>&1)
    ok $((!$?)) "key rotate stops when a segment cannot be opened for writing"
    like "$out" "1 failed" "and says so"
    chattr -i "$kseg"
    out=$("$BLATT" -c "$CONF" key rotate 2>&1)
    ok $? "run again, it finishes ($out)"
else
    skip "chattr +i is not supported here" 3
fi
# An empty kek.next (a crash between creating and writing it) does not block the rotation.
: >"$W/state/kek.next"
chmod 600 "$W/state/kek.next"
out=$("$BLATT" -c "$CONF" key rotate 2>&1)
ok $? "an empty kek.next left by a crash is replaced ($out)"
bl_start_blattd "$CONF" "$port"
ok $? "blattd starts"
bl_release_held "$k" heidi
bl_wait_job "$port" held "$k" completed 30
ok $? "heidi's document prints after both rotations"

# 8. Cancel-Jobs reaches every job, not the first 1024.
"$top_builddir/tests/bench/ippload" -c 4 -n 1100 -o print -f "$BL_DOCS/onepage-a4.pdf" \
    "ipp://127.0.0.1:$port/ipp/print/held" >/dev/null
ok $? "1100 more held jobs"
ipptool -T 30 "ipp://127.0.0.1:$port/ipp/print/held" "$top_srcdir/tests/ipp/cancel-jobs.test" \
    >"$W/cancel-jobs.out" 2>&1
ok $? "Cancel-Jobs as an operator"
left=$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE state < 7")
is "$left" 0 "no job is left unfinished"
bl_done
