#!/usr/bin/env bash
# Transparent hugepages off (enabled and defrag = never): khugepaged compaction can stall a
# pinned stage. Not persistent across reboots: add transparent_hugepage=never to the boot
# arguments for that.
#
#   thp.sh [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
[ "${#ARGS[@]}" = 0 ] || die "unknown argument ${ARGS[0]}"
set_file /sys/kernel/mm/transparent_hugepage/enabled never
set_file /sys/kernel/mm/transparent_hugepage/defrag never
done_summary
