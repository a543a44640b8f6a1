# common.sh: what the authorisation tests (tests/authz.sh, tests/authz-cve.sh) share: test
# users in a UserFile, the policy that gives them roles, blattd with a listener that takes Basic
# only (over TLS), and the ippreq client as a co-process. Sourced after tests/lib.sh.
# Licensed under the Apache License, Version 2.0.

IPPREQ="$top_builddir/tests/authz/ippreq"
if [ ! -x "$IPPREQ" ]; then
    echo "Bail out! $IPPREQ is not built"
    exit 1
fi
DOC="$BL_DOCS/onepage-a4.pdf"

# Role -> subject. Every user is in @staff; carol is in no group. Alice differs from alice only
# in case and is somebody else.
declare -A SUBJ=([user]=alice [other]=bob [operator]=otto [admin]=ada [auditor]=audrey)
AUTHZ_USERS="alice bob otto ada audrey Alice carol"

# What the tests know about every job they made: owner subject ("" = anonymous), name, queue.
declare -A OWNER=() JNAME=() JQUEUE=()
NEWID=
job_seq=0

# authz_users FILE: a UserFile with password pw-NAME for each test user (hashed in parallel).
authz_users()
{
    local u
    mkdir -p "$W/hash"
    for u in $AUTHZ_USERS; do
        printf 'pw-%s\n' "$u" | "$BLATT" hash-password >"$W/hash/$u" &
    done
    wait
    for u in $AUTHZ_USERS; do
        case $u in carol) printf '%s:%s:\n' "$u" "$(cat "$W/hash/$u")" ;;
        *) printf '%s:%s:staff\n' "$u" "$(cat "$W/hash/$u")" ;;
        esac
    done >"$1"
}

# authz_conf FILE PORT [EXTRA-LINES]: blattd.conf with a Basic-only listener on PORT, the
# UserFile and the policy, and the five test queues (file printers; open holds its jobs).
authz_conf()
{
    mkdir -p "$W/out"
    authz_users "$W/users"
    cat >"$W/policy.conf" <<EOF
Admin ada
Operator otto
Auditor audrey
<Queue office>
  Allow @staff
</Queue>
<Queue open>
  Anonymous Yes
</Queue>
<Queue restricted>
  Allow alice
</Queue>
<Queue listq>
  Allow @staff
</Queue>
<Queue bulk>
  Allow @staff
</Queue>
EOF
    cat >"$1" <<EOF
Policy $W/policy.conf
UserFile $W/users
Listen 127.0.0.1:$2 basic
LocalSocket $W/blattd.sock
StateDir $W/state
SandboxUIDBase $BL_UID_BASE
LogLevel debug
LogFile $W/blattd.log
AccessLog $W/access.log
ServerName localhost
DataDir $top_srcdir/etc
FilterDir $top_builddir/drivers/filter
BackendDir $top_builddir/drivers/backend
HelperDir $top_builddir/drivers
DefaultPrinter office
${3:-}
EOF
    local q
    for q in office open restricted listq bulk; do
        printf '<Printer %s>\n  DeviceURI file://%s/out\n' "$q" "$W"
        [ "$q" = open ] && printf '  ReleaseMode hold\n'
        printf '</Printer>\n'
    done >>"$1"
}

# authz_client PORT [-p]: ippreq as a co-process talking to 127.0.0.1:PORT (TLS; -p: plain
# HTTP), on descriptors 7 (requests) and 8 (results).
authz_client()
{
    local opt=()
    [ "${2:-}" = -p ] && opt=(-p)
    coproc REQ { exec "$IPPREQ" "${opt[@]}" 127.0.0.1 "$1" 2>>"$W/ippreq.log"; }
    bl_pids+=($REQ_PID)
    # Plain descriptors: bash closes a co-process's own in subshells ($(...)).
    exec 7>&"${REQ[1]}" 8<&"${REQ[0]}"
}

# ipp CRED OPERATION RESOURCE [WORDS...]: one request; its result line is in $R.
ipp()
{
    printf '%s\n' "$*" >&7
    if ! IFS= read -r -t 30 R <&8; then
        R="http=0 ipp=none error=no-answer"
    fi
    printf '%s\n  -> %s\n' "$*" "$R" >>"$W/requests.log"
}

# val KEY: the first KEY=VALUE field of $R.
val()
{
    local w
    for w in $R; do
        case $w in "$1="*)
            printf '%s' "${w#*=}"
            return
            ;;
        esac
    done
}

# status: http-401 for an HTTP challenge, else the IPP status keyword of $R.
status()
{
    if [ "$(val http)" = 401 ]; then
        echo http-401
    elif [ "$(val http)" = 200 ]; then
        val ipp
    else
        echo "http-$(val http)"
    fi
}

# jobs_of_reply: one line per job of $R: ID NAME-OR-DASH USER-OR-DASH STATE-OR-DASH DOCS-OR-DASH
jobs_of_reply()
{
    local w f id name user state docs
    for w in $R; do
        case $w in job=*) ;; *) continue ;; esac
        id=${w#job=}
        id=${id%%,*}
        name=- user=- state=- docs=-
        IFS=, read -ra f <<<"${w#job=}"
        for w in "${f[@]:1}"; do
            case $w in
            name=*) name=${w#name=} ;;
            user=*) user=${w#user=} ;;
            state=*) state=${w#state=} ;;
            docs=*) docs=${w#docs=} ;;
            esac
        done
        echo "$id $name $user $state $docs"
    done
}

# cred SUBJECT-OR-ROLE: the ippreq credentials (anon for "", anonymous and "-").
cred()
{
    local s=$1
    case $s in user | other | operator | admin | auditor) s=${SUBJ[$s]} ;; esac
    case $s in "" | anonymous | -) echo anon ;; *) echo "basic:$s:pw-$s" ;; esac
}

# resource QUEUE: the HTTP path of a queue, of the system (system) or of the server (server).
resource()
{
    case $1 in
    system) echo /ipp/system ;;
    server) echo / ;;
    *) echo "/ipp/print/$1" ;;
    esac
}

# new_job SUBJECT QUEUE KIND: a job of SUBJECT (anonymous: "") on QUEUE; the id in $NEWID (empty
# when refused). KIND held: Print-Job held with its document; open: Create-Job, no document
# (pending); openheld: Create-Job with job-hold-until=indefinite (held once its document came).
new_job()
{
    local who=$1 q=$2 kind=$3 name="secret-${1:-anon}-$((++job_seq))"
    case $kind in
    held)
        ipp "$(cred "$who")" Print-Job "$(resource "$q")" "job-name=$name" \
            document-format=application/pdf "@file=$DOC" job.job-hold-until=indefinite
        ;;
    open) ipp "$(cred "$who")" Create-Job "$(resource "$q")" "job-name=$name" ;;
    openheld)
        ipp "$(cred "$who")" Create-Job "$(resource "$q")" "job-name=$name" \
            job.job-hold-until=indefinite
        ;;
    esac
    NEWID=$(val job)
    NEWID=${NEWID%%,*}
    if [ -n "$NEWID" ]; then
        OWNER[$NEWID]=$who
        JNAME[$NEWID]=$name
        JQUEUE[$NEWID]=$q
    else
        diag "new_job $who $q $kind: $R"
    fi
}

# job_attr ID KEY: state, docs, name or user of a job as its owner (an admin for anonymous
# jobs) reads it. Leaves $R alone.
job_attr()
{
    local keep=$R who=${OWNER[$1]:-} line
    [ -z "$who" ] && who=ada
    ipp "$(cred "$who")" Get-Job-Attributes "$(resource "${JQUEUE[$1]:-office}")" "job-id=$1" \
        requested-attributes=job-id,job-state,number-of-documents,job-name,job-originating-user-name
    line=$(jobs_of_reply | head -1)
    R=$keep
    set -- $line "$2"
    case $6 in
    name) echo "$2" ;;
    user) echo "$3" ;;
    state) echo "$4" ;;
    docs) echo "$5" ;;
    esac
}
