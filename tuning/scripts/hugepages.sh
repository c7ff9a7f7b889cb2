#!/usr/bin/env bash
# Reserves at least --count 2 MiB hugepages (vm.nr_hugepages). Never lowers a larger
# reservation.
#
#   hugepages.sh --count 512 [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
COUNT=""
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --count) COUNT="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ "$COUNT" =~ ^[0-9]+$ ]] || die "--count N is required"
path=/proc/sys/vm/nr_hugepages
current="$(cat "$ROOT$path" 2>/dev/null || echo 0)"
if [ "$current" -ge "$COUNT" ]; then
    say "ok      $path = $current (>= $COUNT)"
else
    set_file "$path" "$COUNT"
fi
done_summary
