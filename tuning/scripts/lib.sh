# Shared helpers of Peregrine's host setup scripts (sourced, not run).
#
# Every script takes --dry-run (print what would change, change nothing) and is idempotent: a
# setting already in place is reported as "ok" and not written again.
#
# PEREGRINE_TUNE_ROOT (default empty, i.e. /) prefixes every file path the scripts read or
# write, so tests run them on a fixture tree. With a root set, external commands (update-grub,
# ethtool -G/-C, systemctl) are never run, only printed.

set -euo pipefail

ROOT="${PEREGRINE_TUNE_ROOT:-}"
DRY_RUN=0
CHANGED=0

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Takes --dry-run out of the arguments; the rest are left in ARGS.
parse_common() {
    ARGS=()
    for arg in "$@"; do
        case "$arg" in
            --dry-run) DRY_RUN=1 ;;
            *) ARGS+=("$arg") ;;
        esac
    done
}

# set_file PATH VALUE: writes VALUE to ROOT/PATH unless it already holds it. A sysfs selector
# file (`always [madvise] never`) counts as holding VALUE when VALUE is the bracketed word.
set_file() {
    local path="$ROOT$1" value="$2" current=""
    [ -e "$path" ] || { say "skip    $1 (absent on this host)"; return 0; }
    current="$(cat "$path" 2>/dev/null || true)"
    if [ "$current" = "$value" ] || [[ "$current" == *"[$value]"* ]]; then
        say "ok      $1 = $value"
        return 0
    fi
    if [ "$DRY_RUN" = 1 ]; then
        say "would   $1: '$current' -> '$value'"
        return 0
    fi
    if ! (printf '%s\n' "$value" > "$path") 2> /dev/null; then
        [ "${TOLERATE_REFUSALS:-0}" = 1 ] || die "cannot write $path (root needed?)"
        say "refused $1 (the kernel kept '$current')"
        return 0
    fi
    say "changed $1: '$current' -> '$value'"
    CHANGED=$((CHANGED + 1))
}

# run_cmd CMD...: runs a command that changes the host (printed only under --dry-run or a root).
run_cmd() {
    if [ "$DRY_RUN" = 1 ]; then
        say "would   run: $*"
    elif [ -n "$ROOT" ]; then
        say "skip    run: $* (fixture root)"
    else
        say "run     $*"
        "$@"
        CHANGED=$((CHANGED + 1))
    fi
}

# expand_cpu_list 0-2,5 -> "0 1 2 5"
expand_cpu_list() {
    local part first last out=()
    IFS=',' read -ra parts <<< "$1"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        if [[ "$part" == *-* ]]; then
            first="${part%-*}"; last="${part#*-}"
        else
            first="$part"; last="$part"
        fi
        [[ "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ ]] || die "bad CPU list '$1'"
        for ((cpu = first; cpu <= last; cpu++)); do out+=("$cpu"); done
    done
    printf '%s ' "${out[@]}"
}

done_summary() {
    if [ "$DRY_RUN" = 1 ]; then
        say "dry run: nothing changed"
    else
        say "$CHANGED change(s)"
    fi
}
