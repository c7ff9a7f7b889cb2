#!/usr/bin/env bash
# Keeps IRQs off the pinned cores: every /proc/irq/N/smp_affinity_list is set to the online
# cores minus --away-from. Stop irqbalance first (it would move them back): the script does it
# with systemctl when irqbalance is active. IRQs the kernel refuses to move are reported as refused.
#
#   irq-affinity.sh --away-from 2-3 [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
AWAY=""
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --away-from) AWAY="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[ -n "$AWAY" ] || die "--away-from LIST is required"
online="$(cat "$ROOT/sys/devices/system/cpu/online" 2>/dev/null)" || die "cannot read online CPUs"
away=" $(expand_cpu_list "$AWAY")"
allowed=()
for cpu in $(expand_cpu_list "$online"); do
    [[ "$away" == *" $cpu "* ]] || allowed+=("$cpu")
done
[ "${#allowed[@]}" -gt 0 ] || die "no online core left for IRQs"
list="$(IFS=,; printf '%s' "${allowed[*]}")"
if [ -z "$ROOT" ] && command -v systemctl > /dev/null && systemctl is-active --quiet irqbalance 2>/dev/null; then
    run_cmd systemctl stop irqbalance
    run_cmd systemctl disable irqbalance
fi
for dir in "$ROOT"/proc/irq/[0-9]*; do
    [ -e "$dir/smp_affinity_list" ] || continue
    irq="${dir##*/}"
    TOLERATE_REFUSALS=1 set_file "/proc/irq/$irq/smp_affinity_list" "$list"
done
done_summary
