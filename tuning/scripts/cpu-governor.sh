#!/usr/bin/env bash
# CPU frequency governor of the given cores (default: performance). On hosts without cpufreq
# (most VMs) there is nothing to set, and the script says so.
#
#   cpu-governor.sh --cores 2-3 [--governor performance] [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
CORES=""; GOVERNOR="performance"
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --cores) CORES="${2:-}"; shift 2 ;;
        --governor) GOVERNOR="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[ -n "$CORES" ] || die "--cores LIST is required"
for cpu in $(expand_cpu_list "$CORES"); do
    set_file "/sys/devices/system/cpu/cpu$cpu/cpufreq/scaling_governor" "$GOVERNOR"
done
done_summary
