#!/bin/bash
# authz.sh: the authorisation matrix. Every IPP operation blattd implements, as each role
# (anonymous, user, other user, operator, admin, auditor), on a job of the requester and on
# somebody else's, over a TLS listener that takes Basic only; each cell of
# tests/authz-matrix.txt is one check: the real status, what happened to the job, which jobs
# Get-Jobs shows, and that job names reach their owner only. Denials are in the audit chain.
# Licensed under the Apache License, Version 2.0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz/common.sh"
bl_init authz

MATRIX=${AUTHZ_MATRIX:-$top_srcdir/tests/authz-matrix.txt}
port=$(bl_port)
authz_conf "$W/blattd.conf" "$port"
bl_start_blattd "$W/blattd.conf" "$port"
ok $? "blattd runs with a Basic-only TLS listener, a UserFile and a policy"
authz_client "$port"

# The listq fixtures: one held job of each authenticated role, never changed by any cell.
declare -A FIXTURE=()
for role in user other operator admin auditor; do
    new_job "${SUBJ[$role]}" listq held
    FIXTURE[${SUBJ[$role]}]=$NEWID
done
is "${#FIXTURE[@]}" 5 "one job of each role waits on listq"

# The job kind an operation needs to show its effect (see new_job).
kind_of()
{
    case $1 in
    Send-Document) echo openheld ;;
    Close-Job | Hold-Job | Set-Job-Attributes) echo open ;;
    *) echo held ;;
    esac
}

# check_names WHO OP: job names in $R belong to WHO's jobs only, and WHO's jobs in a Get-Jobs
# or Get-Job-Attributes reply carry theirs. Prints what is wrong.
check_names()
{
    local who=$1 op=$2 id name
    while read -r id name _; do
        [ -n "${OWNER[$id]+x}" ] || continue
        if [ "$name" != - ] && { [ -z "$who" ] || [ "${OWNER[$id]}" != "$who" ]; }; then
            echo "job $id of '${OWNER[$id]}' shows its name '$name' to '$who'"
        elif [ "$name" != - ] && [ "$name" != "${JNAME[$id]}" ]; then
            echo "job $id has name '$name', not '${JNAME[$id]}'"
        elif [ "$name" = - ] && [ -n "$who" ] && [ "${OWNER[$id]}" = "$who" ] &&
            [[ $op == Get-Job* ]]; then
            echo "job $id of '$who' comes without its name"
        fi
    done < <(jobs_of_reply)
}

# check_jobs WHO SCOPE QUEUE: the jobs of a Get-Jobs reply are WHO's own or everybody's.
check_jobs()
{
    local who=$1 scope=$2 queue=$3 got want id f
    got=$(jobs_of_reply | cut -d' ' -f1 | sort -n | tr '\n' ' ')
    if [ "$queue" = listq ]; then
        if [ "$scope" = own ]; then
            want="${FIXTURE[$who]} "
        else
            want=$(printf '%s\n' "${FIXTURE[@]}" | sort -n | tr '\n' ' ')
        fi
        [ "$got" = "$want" ] || echo "Get-Jobs returned jobs '$got', not '$want'"
        return
    fi
    for id in $got; do
        [ "$scope" = own ] && [ "${OWNER[$id]-?}" != "$who" ] &&
            echo "job $id of '${OWNER[$id]-?}' is listed for '$who'"
    done
    for f in "${FIXTURE[@]}"; do
        [ "$scope" = own ] && [ "${OWNER[$f]}" != "$who" ] && continue
        [[ " $got " == *" $f "* ]] || echo "job $f of '${OWNER[$f]}' is missing"
    done
}

# check_after WHO CHECK ID OP: the CHECK column. Prints what is wrong.
check_after()
{
    local who=$1 check=$2 id=$3 op=$4 got newid
    case $check in
    -) ;;
    state=* | docs=*)
        got=$(job_attr "$id" "${check%%=*}")
        [[ "|${check#*=}|" == *"|$got|"* ]] || echo "job $id: ${check%%=*} is '$got', not ${check#*=}"
        ;;
    name=yes | name=no)
        got=$(jobs_of_reply | awk -v id="$id" '$1 == id { print $2 }')
        [ "$check" = name=yes ] && [ "$got" != "${JNAME[$id]}" ] && echo "job-name is '$got'"
        [ "$check" = name=no ] && [ "$got" != - ] && echo "job-name '$got' is shown"
        ;;
    printers=*)
        [ "$(val printers)" = "${check#*=}" ] || echo "$(val printers) printers, not ${check#*=}"
        ;;
    owner)
        newid=$(val job)
        newid=${newid%%,*}
        got=$([ -n "$newid" ] && job_attr "$newid" user)
        [ "$got" = "${who:-anonymous}" ] || echo "job-originating-user-name is '$got'"
        ;;
    jobs=*) ;;
    *) echo "unknown check $check" ;;
    esac
}

# run_cell OPERATION ROLE TARGET QUEUE EXPECT CHECK [ATTRS...]: one cell, one TAP line.
run_cell()
{
    local op=$1 role=$2 target=$3 queue=$4 expect=$5 check=$6
    shift 6
    local who=${SUBJ[$role]:-} owner='' id='' words=() problems got
    case $target in
    own) owner=$who ;;
    other) owner=alice && [ "$who" = alice ] && owner=bob ;;
    esac
    if [ -n "$owner" ] && [ "$op" = Get-Job-Attributes ]; then
        id=${FIXTURE[$owner]}
    elif [ -n "$owner" ]; then
        new_job "$owner" "$queue" "$(kind_of "$op")"
        id=$NEWID
    fi
    [ -n "$id" ] && words+=("job-id=$id")
    CELL_NAME="secret-${who:-anon}-$((++job_seq))"
    case $op in
    Print-Job)
        words+=("job-name=$CELL_NAME" document-format=application/pdf "@file=$DOC"
            job.job-hold-until=indefinite)
        ;;
    Create-Job | Validate-Job) words+=("job-name=$CELL_NAME" document-format=application/pdf) ;;
    Send-Document) words+=(last-document=true document-format=application/pdf "@file=$DOC") ;;
    Set-Job-Attributes) words+=(job.job-hold-until=indefinite) ;;
    Get-Jobs) words+=(requested-attributes=job-id,job-name,job-state,job-originating-user-name) ;;
    esac
    # Attributes of the matrix go before words' job.* ones (groups keep their order).
    ipp "$(cred "$who")" "$op" "$(resource "$queue")" "$@" "${words[@]}"
    got=$(status)
    if [ "$check" = owner ] && [ "$got" = successful-ok ]; then
        id=$(val job)
        id=${id%%,*}
        [ -n "$id" ] && OWNER[$id]=$who JNAME[$id]=$CELL_NAME JQUEUE[$id]=$queue
    fi
    problems=$(
        [ "$got" = "$expect" ] || echo "status $got, not $expect ($(val msg))"
        [ "$got" = http-401 ] && [[ $(val www) != Basic* ]] && echo "challenge '$(val www)'"
        check_names "$who" "$op"
        [[ $check == jobs=* ]] && [ "$got" = successful-ok ] &&
            check_jobs "$who" "${check#jobs=}" "$queue"
        { [ "$got" = "$expect" ] || [ "$check" != owner ]; } &&
            check_after "$who" "$check" "$id" "$op"
    )
    local what="$op by $role"
    [ "$target" != - ] && what+=" on $target job $id"
    [ "$check" != - ] && expect+=", $check"
    ok "$([ -z "$problems" ] && echo 0 || echo 1)" "$what ($queue): $expect"
    [ -z "$problems" ] || printf '%s\n' "$problems" | sed 's/^/#   /'
}

start=$SECONDS
cells=0
while read -r op role target queue expect check rest; do
    case $op in '' | '#'*) continue ;; esac
    # shellcheck disable=SC2086 # ATTRS are words
    run_cell "$op" "$role" "$target" "$queue" "$expect" "$check" $rest
    cells=$((cells + 1))
done <"$MATRIX"
ok $((cells < 150)) "the matrix has $cells cells"
diag "$cells cells in $((SECONDS - start)) s"

# Regression: job-ids was ignored, so an operator's Cancel-Jobs of one job canceled every job
# on the queue, and Get-Jobs of some jobs listed them all (PWG 5100.11; job-ids-supported is
# true).
new_job alice bulk held
j1=$NEWID
new_job bob bulk held
j2=$NEWID
new_job alice bulk held
j3=$NEWID
ipp "$(cred otto)" Cancel-Jobs /ipp/print/bulk "job-ids=$j2"
is "$(status) $(job_attr "$j1" state) $(job_attr "$j2" state) $(job_attr "$j3" state)" \
    "successful-ok held canceled held" "Cancel-Jobs job-ids=$j2 by the operator cancels that job only"
new_job bob bulk held
j4=$NEWID
ipp "$(cred alice)" Cancel-My-Jobs /ipp/print/bulk "job-ids=$j1,$j4"
is "$(status) $(job_attr "$j1" state) $(job_attr "$j4" state)" \
    "client-error-not-authorized held held" \
    "Cancel-My-Jobs of her job and bob's: refused as a whole, both stay"
ipp "$(cred alice)" Cancel-Jobs /ipp/print/bulk "job-ids=$j1,99999"
is "$(status) $(job_attr "$j1" state)" "client-error-not-possible held" \
    "Cancel-Jobs of her job and a missing one: not-possible, nothing canceled"
ipp "$(cred alice)" Purge-Jobs /ipp/print/bulk "job-ids=$j1"
is "$(status) $(job_attr "$j1" state) $(job_attr "$j3" state)" "successful-ok canceled held" \
    "Purge-Jobs job-ids=$j1 by alice: that job only"
ipp "$(cred alice)" Get-Jobs /ipp/print/bulk "job-ids=$j1,$j2,$j3" requested-attributes=job-id,job-name
is "$(jobs_of_reply | cut -d' ' -f1-2 | tr '\n' ' ')" "$j1 ${JNAME[$j1]} $j3 ${JNAME[$j3]} " \
    "Get-Jobs job-ids by alice: the listed jobs that are hers, in any state"
ipp "$(cred audrey)" Get-Jobs /ipp/print/bulk "job-ids=$j2,$j3" requested-attributes=job-id,job-name
is "$(jobs_of_reply | cut -d' ' -f1-2 | tr '\n' ' ')" "$j2 - $j3 - " \
    "Get-Jobs job-ids by the auditor: both, without names"

# Regression: a status-message set after an attribute was reported unsupported made a second
# operation group, and libcups refused the whole reply ("Invalid group tag").
ipp "$(cred alice)" Print-Job /ipp/print/office job-name=x document-format=text/x-unknown \
    "@file=$DOC"
is "$(status)" client-error-document-format-not-supported \
    "an unsupported document-format: a reply libcups reads"
ipp "$(cred alice)" Get-Jobs /ipp/print/office job-ids=0
is "$(status)" client-error-attributes-or-values-not-supported "a bad job-ids: a reply libcups reads"

# Every refused cell is in the audit chain: a denial record per operation and subject.
"$BLATT" -c "$W/blattd.conf" audit export --format jsonl >"$W/audit.jsonl" 2>&1
ok $? "blatt audit export"
missing=$(grep -v '^#' "$MATRIX" | awk '$5 == "client-error-not-authorized" { print $1, $2 }' |
    sort -u | while read -r op role; do
    grep -q "\"action\":\"$op\".*\"result\":\"denied: .*\"subject\":\"${SUBJ[$role]}\"" \
        "$W/audit.jsonl" || echo "$op/$role"
done)
is "$missing" "" "every kind of denial is audited with the subject that was refused"

kill -0 "$BLATTD_PID"
ok $? "blattd is still running"
bl_done
