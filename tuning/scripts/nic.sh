#!/usr/bin/env bash
# NIC settings for order entry and the feed: RX/TX rings at their maximum and interrupt
# coalescing off (adaptive off, rx-usecs 0), through ethtool. With a fixture root, the ring
# report is read from ROOT/ethtool/IFACE.rings and nothing is run.
#
#   nic.sh --interface eth0 [--rx-usecs 0] [--dry-run]
. "$(dirname "$0")/lib.sh"
parse_common "$@"
IFACE=""; RX_USECS=0
set -- "${ARGS[@]+"${ARGS[@]}"}"
while [ $# -gt 0 ]; do
    case "$1" in
        --interface) IFACE="${2:-}"; shift 2 ;;
        --rx-usecs) RX_USECS="${2:-}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[ -n "$IFACE" ] || die "--interface IFACE is required"
[ -e "$ROOT/sys/class/net/$IFACE" ] || die "no interface $IFACE"
if [ -n "$ROOT" ]; then
    rings="$(cat "$ROOT/ethtool/$IFACE.rings" 2>/dev/null || true)"
elif command -v ethtool > /dev/null; then
    rings="$(ethtool -g "$IFACE" 2>/dev/null || true)"
else
    rings=""; say "skip    ethtool not installed"
fi
# The four numbers: maximum RX, TX, then current RX, TX.
read -r rx_max tx_max rx tx <<< "$(printf '%s\n' "$rings" | awk -F: '
    /Pre-set maximums/ {s = 1} /Current hardware settings/ {s = 2}
    s && $1 ~ /^(RX|TX)$/ {gsub(/[ \t]/, "", $2); v[s, $1] = $2}
    END {print v[1, "RX"], v[1, "TX"], v[2, "RX"], v[2, "TX"]}')"
if [[ "${rx_max:-}" =~ ^[0-9]+$ && "${tx_max:-}" =~ ^[0-9]+$ ]]; then
    if [ "$rx" = "$rx_max" ] && [ "$tx" = "$tx_max" ]; then
        say "ok      $IFACE rings rx $rx tx $tx (maximum)"
    else
        run_cmd ethtool -G "$IFACE" rx "$rx_max" tx "$tx_max"
    fi
else
    say "skip    $IFACE ring sizes not reported by the driver"
fi
run_cmd ethtool -C "$IFACE" adaptive-rx off rx-usecs "$RX_USECS"
done_summary
