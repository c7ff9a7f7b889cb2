#!/usr/bin/env bash
# Runs every Peregrine test: formatting, lints, the whole workspace's tests, and short bounded
# smoke runs of the benchmarks. Installs the system packages the tests need (idempotent, quiet).
# Usage: ./test.sh            (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
# Incremental caches would double the target directory for a build that runs once; CI machines
# have bounded disk (see also the dev profile's debug setting in Cargo.toml).
export CARGO_INCREMENTAL=0

step() { printf '\n== %s ==\n' "$*"; }

install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        step "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -qq >/dev/null
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

step "disk"
# The whole run needs a few GiB for build output (target/ and the fuzz crates' target/); say so
# up front when the disk is short, so a "No space left on device" later is not a mystery.
df -h . | tail -n 1
free_kib=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "${free_kib:-0}" -lt $((4 * 1024 * 1024)) ]; then
    echo "!!! only $((free_kib / 1024)) MiB free here; this run needs about 3 GiB of build output !!!"
fi

install_packages poppler-utils tshark iproute2 verilator yosys g++ pkg-config libdpdk-dev python3-venv python3-dev

# QuickFIX (the FIX interoperability test's counterparty) builds from source once per machine
# and is cached; it builds in the background while the Rust code compiles.
quickfix_log=$(mktemp)
tools/tests/fix/setup-quickfix.sh >"$quickfix_log" 2>&1 &
quickfix_pid=$!

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "QuickFIX venv for the FIX interoperability test"
if ! wait "$quickfix_pid"; then
    cat "$quickfix_log"
    echo "cannot set up QuickFIX (tools/tests/fix/setup-quickfix.sh): the FIX test would fail" >&2
    exit 1
fi
tail -n 1 "$quickfix_log"

step "cargo test (workspace)"
results=$(mktemp)
trap 'rm -f "$results" "$quickfix_log"' EXIT
cargo test --workspace --quiet 2>&1 | tee "$results"

step "cargo test: DPDK backend (feature dpdk, Debian's libdpdk)"
cargo clippy --quiet -p peregrine-gateway --all-targets --features dpdk -- -D warnings
cargo test --quiet -p peregrine-gateway --features dpdk --test bypass_dpdk 2>&1 | tee -a "$results"
cargo clippy --quiet -p peregrine-feed -p peregrine-tools --all-targets --features dpdk -- -D warnings
cargo test --quiet -p peregrine-tools --features dpdk --test node_bypass dpdk 2>&1 | tee -a "$results"

step "cargo test: yosys synthesis of the FPGA decoder"
PEREGRINE_LONG=1 cargo test --quiet -p peregrine-fpga --test synth 2>&1 | tee -a "$results"

step "benchmark smoke runs (no timing asserted)"
cargo run --release --quiet -p peregrine-bench --bin engine-mix -- 2 200 20000
bench/run.sh --smoke

step "deterministic simulation: fixed seeds plus random ones (each seed printed)"
cargo run --quiet -p peregrine-tools -- sim --ci --steps 3000 --random 4 --budget-s 180

step "fuzzing: every cargo-fuzz target for ${FUZZ_SECONDS:=15} s"
# cargo fuzz needs a nightly toolchain; rustup fetches it from the Rust registry mirror. If that is
# impossible here, say so loudly: the stable fuzz smoke tests above still ran, the fuzzers did not.
fuzz_status="ran"
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || fuzz_status="NOT RUN: cannot install a nightly toolchain"
fi
if [ "$fuzz_status" = "ran" ] && ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --quiet >/dev/null 2>&1 || fuzz_status="NOT RUN: cannot install cargo-fuzz"
fi
if [ "$fuzz_status" = "ran" ]; then
    for crate in gateway feed; do
        for target in $(cd "$crate/fuzz" && cargo +nightly fuzz list); do
            echo "fuzz $crate/$target (${FUZZ_SECONDS} s)"
            log=$(mktemp)
            if ! (cd "$crate/fuzz" && cargo +nightly fuzz run "$target" -- \
                    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1) >"$log" 2>&1; then
                tail -n 40 "$log"
                echo "fuzz $crate/$target failed (crash or build error; artifacts in $crate/fuzz/artifacts)"
                exit 1
            fi
            grep -E '^stat::number_of_executed_units' "$log" || true
            rm -f "$log"
        done
    done
else
    echo "!!! FUZZING $fuzz_status (the fuzz smoke tests in cargo test still ran) !!!"
fi

step "summary"
du -sh "${CARGO_TARGET_DIR:-target}" gateway/fuzz/target feed/fuzz/target 2>/dev/null || true
passed=$(grep -Eo '[0-9]+ passed' "$results" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$results" | awk '{s+=$1} END {print s+0}')
echo "all: ${passed} passed, ${failed} failed"
