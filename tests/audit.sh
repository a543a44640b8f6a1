#!/bin/bash
# The audit chain and the data-subject and key commands, against the real daemon: records of
# logins, jobs, document access, start/stop and config changes; blatt audit verify names the
# first changed, deleted or reordered row; export as JSON lines; user export/erase; key
# rotation rewraps the spool; retention hashes job names and purges records; SIGHUP reloads
# the certificate. Licensed under the Apache License, Version 2.0.
. "${top_srcdir:-.}/tests/lib.sh"
bl_init audit

PORT=$(bl_port)
DB="$W/state/blatt.db"
CONF="$W/blattd.conf"
mkdir -p "$W/out"
bl_conf "$CONF" "$PORT"
cat >>"$CONF" <<EOF
<Printer virt>
  DeviceURI file://$W/out
</Printer>
<Printer held>
  DeviceURI file://$W/out
  ReleaseMode hold
</Printer>
EOF
bl_start_blattd "$CONF" "$PORT"

print_as()
{
    # print_as USER QUEUE TITLE: prints a PDF over IPP as USER (a trust listener).
    ipptool -T 10 -c -d requser="$1" -d job_name="$3" -d filename="$BL_DOCS/onepage-a4.pdf" \
        -d filetype=application/pdf "ipp://127.0.0.1:$PORT/ipp/print/$2" \
        "$top_srcdir/tests/ipp/print-file.test" 2>/dev/null | sed -n 2p
}
export_jsonl()
{
    "$BLATT" -c "$CONF" audit export --format jsonl 2>&1
}

id1=$(print_as alice virt "Alice secret report")
ok $? "alice prints a job (id $id1)"
bl_wait_job "$PORT" virt "$id1" completed
ok $? "it completes"
id2=$(print_as bob held "Bob held job")
[ -n "$id2" ]
ok $? "bob's job waits on the hold queue (id $id2)"

out=$("$BLATT" -c "$CONF" audit verify 2>&1)
ok $? "blatt audit verify: the chain is intact"
like "$out" "audit chain intact: [0-9]+ records" "it says so and counts the records"

log=$(export_jsonl)
ok $? "blatt audit export --format jsonl"
bad=$(printf '%s\n' "$log" | while IFS= read -r line; do
    printf '%s' "$line" | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null || echo bad
done)
is "$bad" "" "every exported line is a JSON object"
for action in start config-change job-create document-read job-end; do
    like "$log" "\"action\":\"$action\"" "the chain records $action"
done
like "$log" "\"object\":\"job $id1 on printer virt\"" "job-create names the job and printer"
like "$log" "\"subject\":\"alice\"" "the export resolves alice's pseudonym"
! printf '%s' "$log" | grep -q "Alice secret report"
ok $? "no job name is in the audit chain"
raw=$(sqlite3 "$DB" "SELECT group_concat(actor, ' ') FROM audit")
! printf '%s' "$raw" | grep -qw alice
ok $? "the chain itself holds pseudonyms, not user names"
since=$("$BLATT" -c "$CONF" audit export --since 2999-01-01 2>&1)
is "$since" "" "--since in the future exports nothing"
"$BLATT" -c "$CONF" audit export --format csv >/dev/null 2>&1
is $? 2 "an unknown export format is a usage error"

# Database-level protection: the chain is append-only.
sqlite3 "$DB" "UPDATE audit SET result='x' WHERE seq=1" 2>/dev/null
ok $((!$?)) "an UPDATE on the audit table is refused by the database"

# Tampering needs the triggers dropped; verify still names the row. Work on copies of the
# state with blattd's database (WAL included) so the live chain stays whole.
bl_stop_blattd
snap="$W/snap"
cp -a "$W/state" "$snap"
n=$(sqlite3 "$DB" "SELECT count(*) FROM audit")
[ "$n" -ge 6 ]
ok $? "the chain has $n records to tamper with"
tamper()
{
    # tamper SQL: a fresh copy of the state with SQL applied (triggers gone), then verify.
    rm -rf "$W/tampered" && cp -a "$snap" "$W/tampered"
    sqlite3 "$W/tampered/blatt.db" "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; $1"
    sed "s|^StateDir .*|StateDir $W/tampered|" "$CONF" >"$W/tampered.conf"
    "$BLATT" -c "$W/tampered.conf" audit verify 2>&1
}
out=$(tamper "UPDATE audit SET result='ok (edited)' WHERE seq=3")
ok $((!$?)) "a changed row fails verification"
like "$out" "BROKEN at record 3: its content does not match its hash" "and is named (3)"
out=$(tamper "DELETE FROM audit WHERE seq=4")
ok $((!$?)) "a deleted row fails verification"
like "$out" "BROKEN at record 5: records are missing before it" "the gap is named (after 4)"
out=$(tamper "UPDATE audit SET seq=-1 WHERE seq=2; UPDATE audit SET seq=2 WHERE seq=3;
              UPDATE audit SET seq=3 WHERE seq=-1")
ok $((!$?)) "two swapped rows fail verification"
like "$out" "BROKEN at record 2" "the first swapped row is named"
out=$(tamper "UPDATE audit SET actor='p-0000000000000000' WHERE seq=5")
like "$out" "BROKEN at record 5" "a changed actor is found"
out=$(tamper "UPDATE audit SET hash='$(printf '0%.0s' $(seq 64))' WHERE seq=$n")
like "$out" "BROKEN at record $n" "a rewritten hash of the last row is found"

# Data-subject requests.
out=$("$BLATT" -c "$CONF" user export alice 2>&1)
ok $? "blatt user export alice"
printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["subject"] == "alice", d
assert len(d["jobs"]) == 1 and d["jobs"][0]["name"] == "Alice secret report", d["jobs"]
assert any(r["action"] == "job-create" for r in d["audit"]), d["audit"]
'
ok $? "it lists alice's job with its name and her audit records"
out=$("$BLATT" -c "$CONF" user export Alice 2>&1)
printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d["jobs"] and not d["audit"]'
ok $? "Alice (other case) is somebody else: nothing"

bl_start_blattd "$CONF" "$PORT"
out=$("$BLATT" -c "$CONF" user erase alice 2>&1)
is $? 1 "user erase refuses while blattd runs"
like "$out" "blattd is running" "and says why"
bl_stop_blattd
out=$("$BLATT" -c "$CONF" user erase alice 2>&1)
ok $? "user erase alice with blattd stopped"
like "$out" "1 job records deleted" "one job record went"
left=$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE user='alice'")
is "$left" 0 "no job of alice is left"
out=$("$BLATT" -c "$CONF" audit verify 2>&1)
ok $? "the chain still verifies after the erasure"
log=$(export_jsonl)
! printf '%s' "$log" | grep -q '"subject":"alice"'
ok $? "alice's records no longer resolve to her"
like "$log" "\"action\":\"user-erase\"" "the erasure itself is recorded"

# Key rotation: bob's held job keeps its document through it and prints afterwards.
old=$(sha256sum "$W/state/kek" | cut -d' ' -f1)
# The one-page document is small: it is kept in the document log, not as a file.
doc_hdr() { bl_doc_header "$W/state" "$id2"; }
hdr_before=$(doc_hdr)
seg=$(sqlite3 "$DB" "SELECT doc_seg FROM jobs WHERE id = $id2")
[ -n "$hdr_before" ] && [ "$seg" -gt 0 ] && [ ! -e "$W/state/spool/$id2.bls" ]
ok $? "bob's held document is in the document log, encrypted (BLSPOOL1 header), not a file"
like "$hdr_before" "^424C53504F4F4C31" "it starts with the spool format's magic"
out=$("$BLATT" -c "$CONF" key rotate 2>&1)
ok $? "blatt key rotate"
like "$out" "1 documents rewrapped \(0 by an earlier run\), 0 unreadable \(their jobs cannot print\), 0 failed" "it rewraps the one spooled document"
new=$(sha256sum "$W/state/kek" | cut -d' ' -f1)
[ "$old" != "$new" ] && [ ! -e "$W/state/kek.next" ]
ok $? "the key-encryption key is new and kek.next is gone"
hdr_after=$(doc_hdr)
[ "$hdr_before" != "$hdr_after" ]
ok $? "the document's wrapped key changed"
like "$(export_jsonl)" "\"action\":\"key-rotate\"" "the rotation is in the audit chain"

# An interrupted rotation blocks the start until it is finished.
cp "$W/state/kek" "$W/state/kek.next"
"$BLATTD" -f -c "$CONF" >"$W/interrupted.out" 2>&1
ok $((!$?)) "blattd refuses to start after an interrupted rotation"
like "$(cat "$W/state/../blattd.log" "$W/interrupted.out" 2>/dev/null)" "key rotation was interrupted" \
    "and says what to do"
"$BLATT" -c "$CONF" key rotate >/dev/null 2>&1
ok $? "running the rotation again finishes it"

bl_start_blattd "$CONF" "$PORT"
ipptool -T 10 -d requser=bob -d job_id="$id2" "ipp://127.0.0.1:$PORT/ipp/print/held" \
    "$top_srcdir/tests/ipp/release-job.test" >/dev/null 2>&1
ok $? "bob releases his held job after the rotation"
bl_wait_job "$PORT" held "$id2" completed
ok $? "it prints: the rewrapped document decrypts"

# SIGHUP: a new certificate is served to new connections.
fp()
{
    openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
before=$(fp)
[ -n "$before" ]
ok $? "blattd serves TLS on the port"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$W/state/tls/server.key.new" -out "$W/state/tls/server.crt.new" 2>/dev/null
# blattd runs as its User by now: the files must be readable by it (as in real life).
chown --reference="$W/state" "$W/state/tls/server.key.new" "$W/state/tls/server.crt.new"
mv "$W/state/tls/server.key.new" "$W/state/tls/server.key"
mv "$W/state/tls/server.crt.new" "$W/state/tls/server.crt"
kill -HUP "$BLATTD_PID"
sleep 0.5
after=$(fp)
[ -n "$after" ] && [ "$before" != "$after" ]
ok $? "after SIGHUP new connections get the new certificate"
cp "$W/state/tls/server.crt" "$W/good.crt"
printf 'garbage\n' >"$W/state/tls/server.crt"
kill -HUP "$BLATTD_PID"
sleep 0.5
is "$(fp)" "$after" "a broken certificate on SIGHUP keeps the old one"
like "$(cat "$W/blattd.log")" "the certificate could not be loaded" "and the log says so"
cp "$W/good.crt" "$W/state/tls/server.crt"

# A configuration change between two starts is recorded.
bl_stop_blattd
echo "# changed" >>"$CONF"
bl_start_blattd "$CONF" "$PORT"
like "$(export_jsonl)" "\"result\":\"changed sha256" "a changed blattd.conf is recorded at start"
like "$(export_jsonl)" "\"action\":\"stop\"" "stops are recorded"

# Retention: names hashed after JobNameRetention, records gone after JobRetention.
bl_stop_blattd
id3=$(sqlite3 "$DB" "SELECT max(id) FROM jobs")
sqlite3 "$DB" "UPDATE jobs SET completed = completed - 8*86400 WHERE id = $id2"
bl_start_blattd "$CONF" "$PORT"
bl_wait_for 10 sh -c "sqlite3 '$DB' 'SELECT name FROM jobs WHERE id = $id2' | grep -q '^hashed-'"
name=$(sqlite3 "$DB" "SELECT name FROM jobs WHERE id = $id2")
like "$name" "^hashed-[0-9a-f]{16}$" "a job finished 8 days ago has its name hashed (7 d default)"
bl_stop_blattd
sqlite3 "$DB" "UPDATE jobs SET completed = completed - 400*86400 WHERE id = $id2"
bl_start_blattd "$CONF" "$PORT"
bl_wait_for 10 sh -c "test \"\$(sqlite3 '$DB' 'SELECT count(*) FROM jobs WHERE id = $id2')\" = 0"
is "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE id = $id2")" 0 \
    "a record older than JobRetention (400 d) is deleted"
like "$(export_jsonl)" "\"action\":\"retention\"" "retention runs are recorded"
[ -n "$id3" ]
ok $? "the newest job record is still there"
ok "$("$BLATT" -c "$CONF" audit verify >/dev/null 2>&1; echo $?)" "the chain is intact at the end"

bl_done
