#!/usr/bin/env bash
# Socket busy polling: net.core.busy_poll and net.core.busy_read (µs, default 50), now and in
# /etc/sysctl.d/60-peregrine.conf for the next boot.
#
#   busy-poll.sh [--usecs 50] [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
USECS=50
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --usecs) USECS="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ "$USECS" =~ ^[0-9]+$ ]] || die "--usecs N must be a number"
set_file /proc/sys/net/core/busy_poll "$USECS"
set_file /proc/sys/net/core/busy_read "$USECS"
conf=/etc/sysctl.d/60-peregrine.conf
want="$(printf 'net.core.busy_poll = %s\nnet.core.busy_read = %s' "$USECS" "$USECS")"
if [ -d "$ROOT/etc/sysctl.d" ]; then
    if [ "$(cat "$ROOT$conf" 2>/dev/null || true)" = "$want" ]; then
        say "ok      $conf"
    elif [ "$DRY_RUN" = 1 ]; then
        say "would   write $conf"
    else
        printf '%s\n' "$want" > "$ROOT$conf"
        say "changed $conf"
        CHANGED=$((CHANGED + 1))
    fi
else
    say "skip    $conf (no /etc/sysctl.d)"
fi
done_summary
