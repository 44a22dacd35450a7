# shellcheck shell=bash disable=SC2034
# Drives the consultvault CLI through API.md's "A first vault" sequence.
# Sourced by ops/e2e, ops/demo and ops/bench/ingest; defines functions and a few globals only.
#
# Set before calling:
#   CV_BIN   the consultvault binary
#   CV_DATA  the vault's data directory (passed as --data)
#   CV_LOG   optional: file that receives each command line and the CLI's stdout/stderr
#            (default: the CLI's stderr goes to ours, its stdout is dropped unless captured)
#
# Secrets never go on a command line: passphrases and codes reach the CLI through the
# environment variables API.md names, set for that one command only. Every function returns
# non-zero on failure without relying on `set -e` (e2e calls them inside `if`).

declare -gA CV_CODE=() CV_PASSPHRASE=() CV_ROLE=() CV_FINGERPRINT=()
CV_VERIFIER_KEY=""
CV_RECOVERY_PUB=""
CV_RECOVERY_FINGERPRINT=""
CV_RELAY_TOKEN=""

cv_error() { printf 'setup-vault: %s\n' "$*" >&2; }

# cv ARGS...: runs `consultvault ARGS... --data $CV_DATA` with no stdin and a time limit.
cv() {
    local status=0
    if [[ -n ${CV_LOG:-} ]]; then
        printf '+ consultvault %s\n' "$*" >>"$CV_LOG"
        timeout "${CV_TIMEOUT:-300}" "$CV_BIN" "$@" --data "$CV_DATA" </dev/null 2>>"$CV_LOG" || status=$?
    else
        timeout "${CV_TIMEOUT:-300}" "$CV_BIN" "$@" --data "$CV_DATA" </dev/null || status=$?
    fi
    return "$status"
}

# cv_quiet ARGS...: cv, with stdout sent to CV_LOG (or dropped).
cv_quiet() { cv "$@" >>"${CV_LOG:-/dev/null}"; }

# cv_last_line ARGS...: cv, printing only the last line of its stdout (API.md: a printed
# secret or key is alone on the last line). Fails if the command fails or prints nothing.
cv_last_line() {
    local out
    out=$(cv "$@") || return
    if [[ -n ${CV_LOG:-} ]]; then
        # Keep everything but the last line (it may be a secret) for debugging.
        [[ $out == *$'\n'* ]] && printf '%s\n' "${out%$'\n'*}" >>"$CV_LOG"
    fi
    out=${out##*$'\n'}
    out=${out%$'\r'}
    if [[ -z $out ]]; then
        cv_error "consultvault $1 ${2:-} printed nothing on stdout"
        return 1
    fi
    printf '%s\n' "$out"
}

# cv_init KDF: creates the vault; sets CV_VERIFIER_KEY.
cv_init() { CV_VERIFIER_KEY=$(cv_last_line init --kdf "$1"); }

# cv_recovery_key DIR SHARES THRESHOLD: writes share files to DIR; sets CV_RECOVERY_PUB and
# CV_RECOVERY_FINGERPRINT (what the municipality gives each founding supervisor).
cv_recovery_key() {
    local out
    out=$(cv recovery-key new --shares "$2" --threshold "$3" --out "$1") || return
    CV_RECOVERY_PUB=$(printf '%s\n' "$out" | tail -n 1)
    CV_RECOVERY_FINGERPRINT=$(printf '%s\n' "$out" | sed -n 's/^Fingerprint[^:]*: //p')
}

# cv_user_add USERNAME ROLE PASSPHRASE: creates the account, remembers its enrollment code
# and the passphrase the user will choose at enrollment.
cv_user_add() {
    local code
    code=$(cv_last_line user add --username "$1" --role "$2") || return
    CV_CODE[$1]=$code
    CV_ROLE[$1]=$2
    CV_PASSPHRASE[$1]=$3
}

# cv_user_enroll USERNAME: enrolls with the remembered code and passphrase; sets CV_FINGERPRINT.
cv_user_enroll() {
    local fingerprint
    fingerprint=$(
        CONSULTVAULT_ENROLL_CODE=${CV_CODE[$1]:-} CONSULTVAULT_NEW_PASSPHRASE=${CV_PASSPHRASE[$1]:-} \
            cv_last_line user enroll --username "$1"
    ) || return
    CV_FINGERPRINT[$1]=$fingerprint
}

# cv_desk_add DESK SUPERVISOR: the admin creates the desk with CV_RECOVERY_PUB; SUPERVISOR (unlocked
# with their passphrase) accepts it, typing CV_RECOVERY_FINGERPRINT, so its secrets are sealed to the
# recovery key too.
cv_desk_add() {
    cv_quiet desk add --name "$1" --supervisor "$2" --recovery-key "$CV_RECOVERY_PUB" || return
    cv_desk_accept "$1" "$2"
}

# cv_desk_accept DESK SUPERVISOR [FINGERPRINT]
cv_desk_accept() {
    CONSULTVAULT_PASSPHRASE=${CV_PASSPHRASE[$2]:-} \
        cv_quiet desk accept --name "$1" --as "$2" --recovery-fingerprint "${3:-$CV_RECOVERY_FINGERPRINT}"
}

# cv_desk_invite DESK USERNAME
cv_desk_invite() { cv_quiet desk invite --name "$1" --username "$2"; }

# cv_desk_confirm DESK USERNAME SUPERVISOR [FINGERPRINT]: SUPERVISOR (unlocked with their
# passphrase) confirms USERNAME, typing FINGERPRINT (default: the one USERNAME enrolled with).
cv_desk_confirm() {
    CONSULTVAULT_PASSPHRASE=${CV_PASSPHRASE[$3]:-} \
        cv_quiet desk confirm --name "$1" --username "$2" --as "$3" \
        --fingerprint "${4:-${CV_FINGERPRINT[$2]:-}}"
}

# cv_token_issue NAME DESK: issues a relay token for DESK; sets CV_RELAY_TOKEN.
cv_token_issue() { CV_RELAY_TOKEN=$(cv_last_line token issue --name "$1" --role relay --desk "$2"); }

# cv_setup_vault KDF RECOVERY_DIR DESK TOKEN_NAME USERNAME:ROLE:PASSPHRASE...
# The whole first-vault sequence: init, a 1-of-1 recovery key, every user added then enrolled
# (auditors first), DESK founded by the first supervisor listed, every counselor listed invited
# and confirmed by that supervisor, and a relay token for DESK. Prints progress to stderr.
cv_setup_vault() {
    local kdf=$1 recovery_dir=$2 desk=$3 token_name=$4
    shift 4
    local spec username role passphrase supervisor="" users=() ordered=()
    for spec in "$@"; do
        IFS=: read -r username role passphrase <<<"$spec"
        users+=("$username")
        if [[ $role == supervisor && -z $supervisor ]]; then supervisor=$username; fi
    done
    if [[ -z $supervisor ]]; then
        cv_error "cv_setup_vault needs a supervisor"
        return 1
    fi

    cv_error "init --kdf $kdf"
    cv_init "$kdf" || return
    cv_error "recovery-key new --shares 1 --threshold 1 --out $recovery_dir"
    cv_recovery_key "$recovery_dir" 1 1 || return
    for spec in "$@"; do
        IFS=: read -r username role passphrase <<<"$spec"
        cv_error "user add --username $username --role $role"
        cv_user_add "$username" "$role" "$passphrase" || return
    done
    for username in "${users[@]}"; do
        if [[ ${CV_ROLE[$username]} == auditor ]]; then ordered=("$username" "${ordered[@]}"); else ordered+=("$username"); fi
    done
    for username in "${ordered[@]}"; do
        cv_error "user enroll --username $username"
        cv_user_enroll "$username" || return
    done
    cv_error "desk add --name $desk --supervisor $supervisor"
    cv_desk_add "$desk" "$supervisor" || return
    for username in "${users[@]}"; do
        [[ ${CV_ROLE[$username]} == counselor ]] || continue
        cv_error "desk invite/confirm --name $desk --username $username --as $supervisor"
        cv_desk_invite "$desk" "$username" || return
        cv_desk_confirm "$desk" "$username" "$supervisor" || return
    done
    cv_error "token issue --name $token_name --role relay --desk $desk"
    cv_token_issue "$token_name" "$desk"
}

# cv_pick_port: prints a free loopback port in 18750-19749.
cv_pick_port() {
    local port i
    for i in {1..50}; do
        port=$((18750 + RANDOM % 1000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    cv_error "no free port found in 18750-19749"
    return 1
}

# cv_wait_healthy BASE_URL PID [SECONDS]: waits until GET /healthz answers 200; fails early
# if process PID exits.
cv_wait_healthy() {
    local base=$1 pid=$2 tries=$((${3:-30} * 5)) i
    for ((i = 0; i < tries; i++)); do
        if curl -fsS --max-time 2 -o /dev/null "$base/healthz" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cv_error "the server exited before answering /healthz"
            return 1
        fi
        sleep 0.2
    done
    cv_error "no answer from $base/healthz after ${3:-30} s"
    return 1
}

# cv_stop PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10). Fails if the
# process needed SIGKILL.
cv_stop() {
    local pid=$1 tries=$((${2:-10} * 10)) i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < tries; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
}
