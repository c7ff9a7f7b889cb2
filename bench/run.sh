#!/usr/bin/env bash
# The benchmark suite in one command: builds `peregrine` and `bench-suite`, runs every part
# beside its peer, writes the report.
#
#   bench/run.sh [--smoke | --short | --full] [--out DIR]
#
# --smoke  every part with tiny sizes, dev profile (CI: < 60 s after the build); exits 1 when
#          a part breaks (equal-work checks, node/load processes), never on a timing.
# --short  the default: release build, a few minutes on 2 cores; report in docs/bench/.
# --full   release build, the README's sizes (the 10 M resting-order point needs ~7 GiB of memory).
#
# CARGO_TARGET_DIR is honoured (default: target/). The smoke report goes to a temp dir unless
# --out is given, so CI does not rewrite docs/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="--short"
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke|--short|--full) mode="$1" ;;
        --out) out="$2"; shift ;;
        *) echo "usage: bench/run.sh [--smoke|--short|--full] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
target="${CARGO_TARGET_DIR:-target}"
if [ "$mode" = "--smoke" ]; then
    profile_flag=""
    profile_dir="debug"
    out="${out:-$(mktemp -d)/bench-smoke}"
else
    profile_flag="--release"
    profile_dir="release"
    out="${out:-docs/bench}"
fi
cargo build $profile_flag -p peregrine-tools --bin peregrine
cargo build $profile_flag -p peregrine-bench --bin bench-suite
exec "$target/$profile_dir/bench-suite" "$mode" --out "$out" \
    --peregrine "$target/$profile_dir/peregrine"
