#!/usr/bin/env bash
# Boot arguments for the pinned cores: isolcpus, nohz_full, rcu_nocbs (and, with --tsc,
# clocksource=tsc tsc=reliable), set in GRUB_CMDLINE_LINUX of /etc/default/grub. Takes effect
# after update-grub and a reboot. Idempotent; --dry-run prints the new line only.
#
#   boot-args.sh --cores 2-3 [--tsc] [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
CORES=""; TSC=0
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --cores) CORES="${2:-}"; shift 2 ;;
        --tsc) TSC=1; shift ;;
        *) die "unknown argument $1" ;;
    esac
done
[ -n "$CORES" ] || die "--cores LIST is required"
expand_cpu_list "$CORES" > /dev/null

GRUB="/etc/default/grub"
want=("isolcpus=$CORES" "nohz_full=$CORES" "rcu_nocbs=$CORES")
[ "$TSC" = 1 ] && want+=("clocksource=tsc" "tsc=reliable")
if [ ! -e "$ROOT$GRUB" ]; then
    say "skip    $GRUB absent (not a GRUB host): add to the boot loader's kernel line: ${want[*]}"
    done_summary
    exit 0
fi
current="$(sed -n 's/^GRUB_CMDLINE_LINUX="\(.*\)"$/\1/p' "$ROOT$GRUB" | head -n 1)"
new=""
for word in $current; do
    keep=1
    for w in "${want[@]}"; do [ "${word%%=*}" = "${w%%=*}" ] && keep=0; done
    [ "$keep" = 1 ] && new="$new $word"
done
for w in "${want[@]}"; do new="$new $w"; done
new="${new# }"
if [ "$new" = "$current" ]; then
    say "ok      $GRUB GRUB_CMDLINE_LINUX=\"$current\""
elif [ "$DRY_RUN" = 1 ]; then
    say "would   $GRUB GRUB_CMDLINE_LINUX: \"$current\" -> \"$new\""
else
    if grep -q '^GRUB_CMDLINE_LINUX=' "$ROOT$GRUB"; then
        escaped="$(printf '%s' "$new" | sed 's/[&|\\]/\\&/g')"
        sed -i "s|^GRUB_CMDLINE_LINUX=.*|GRUB_CMDLINE_LINUX=\"$escaped\"|" "$ROOT$GRUB"
    else
        printf 'GRUB_CMDLINE_LINUX="%s"\n' "$new" >> "$ROOT$GRUB"
    fi
    say "changed $GRUB GRUB_CMDLINE_LINUX: \"$current\" -> \"$new\""
    CHANGED=$((CHANGED + 1))
    run_cmd update-grub
    say "note    reboot for the new boot arguments to take effect"
fi
done_summary
