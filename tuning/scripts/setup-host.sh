#!/usr/bin/env bash
# Every host setting the pipeline assumes, in order: boot arguments, IRQs off the pinned
# cores, governor, THP off, hugepages, busy polling, and (with --interface) the NIC. Each step
# is idempotent; --dry-run is passed on, so nothing changes. Check the result with
# `peregrine tune check`.
#
#   setup-host.sh --cores 2-3 [--hugepages 512] [--interface eth0] [--dry-run]
here="$(dirname "$0")"
. "$here/lib.sh"
parse_common "$@"
CORES=""; HUGEPAGES=0; IFACE=""
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --cores) CORES="${2:-}"; shift 2 ;;
        --hugepages) HUGEPAGES="${2:-}"; shift 2 ;;
        --interface) IFACE="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[ -n "$CORES" ] || die "--cores LIST is required"
flag=(); [ "$DRY_RUN" = 1 ] && flag=(--dry-run)
step() { say "== $1"; shift; bash "$@" "${flag[@]+"${flag[@]}"}"; }
step "boot arguments" "$here/boot-args.sh" --cores "$CORES" --tsc
step "IRQ affinity" "$here/irq-affinity.sh" --away-from "$CORES"
step "CPU governor" "$here/cpu-governor.sh" --cores "$CORES"
step "transparent hugepages" "$here/thp.sh"
[ "$HUGEPAGES" -gt 0 ] && step "hugepages" "$here/hugepages.sh" --count "$HUGEPAGES"
step "busy polling" "$here/busy-poll.sh"
[ -n "$IFACE" ] && step "NIC" "$here/nic.sh" --interface "$IFACE"
say "== done; verify with: peregrine tune check"
