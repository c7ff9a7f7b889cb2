#!/usr/bin/env bash
# Creates the Python venv the FIX interoperability test (tools/tests/node_fix_quickfix.rs) runs
# QuickFIX from, and puts the FIX44 data dictionary next to it. Idempotent and quiet: with
# everything in place it returns at once. Prints the cache directory on its last line.
# Cache dir: ${PEREGRINE_CACHE:-$HOME/.cache/peregrine} (quickfix-venv/, wheels/, FIX44.xml).
#
# Two ways to get QuickFIX (the C++ engine with its Python bindings):
# - default: the prebuilt manylinux wheel of `quickfix-ssl` 1.15.1.post4 from PyPI (QuickFIX
#   1.15.1 compiled with SSL support; it ships FIX44.xml). Seconds to install.
# - PEREGRINE_QUICKFIX_SOURCE=1: build `quickfix` 1.16.0 from its source distribution once and
#   cache the wheel. Its SWIG wrapper takes from ~15 minutes (idle 2 cores) to an hour (loaded).
set -euo pipefail
QUICKFIX_VERSION=1.16.0
QUICKFIX_BINARY="quickfix-ssl==1.15.1.post4"
cache="${PEREGRINE_CACHE:-$HOME/.cache/peregrine}"
venv="$cache/quickfix-venv"
wheels="$cache/wheels"
dictionary="$cache/FIX44.xml"
mkdir -p "$cache" "$wheels"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import quickfix" 2>/dev/null \
        && [ -s "$dictionary" ]; then
    echo "$cache"
    exit 0
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel >/dev/null
if [ "${PEREGRINE_QUICKFIX_SOURCE:-0}" != "1" ]; then
    "$venv/bin/python" -m pip install --quiet --only-binary :all: "$QUICKFIX_BINARY" >/dev/null
    "$venv/bin/python" -c "import quickfix"
    cp "$venv/share/quickfix/FIX44.xml" "$dictionary"
    echo "$cache"
    exit 0
fi
if ! ls "$wheels"/quickfix-"$QUICKFIX_VERSION"-*.whl >/dev/null 2>&1; then
    echo "building the quickfix $QUICKFIX_VERSION wheel once (several minutes)" >&2
    "$venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$wheels" \
        "quickfix==$QUICKFIX_VERSION" >/dev/null
fi
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" \
    "quickfix==$QUICKFIX_VERSION" >/dev/null
"$venv/bin/python" -c "import quickfix"
if [ ! -s "$dictionary" ]; then
    sources=$(mktemp -d)
    trap 'rm -rf "$sources"' EXIT
    "$venv/bin/python" -m pip download --quiet --no-deps --no-binary :all: \
        -d "$sources" "quickfix==$QUICKFIX_VERSION" >/dev/null
    tar -xzf "$sources"/quickfix-"$QUICKFIX_VERSION".tar.gz -C "$sources"
    found=$(find "$sources" -name FIX44.xml | head -n 1)
    [ -n "$found" ] || { echo "FIX44.xml not found in the quickfix sources" >&2; exit 1; }
    cp "$found" "$dictionary"
fi
echo "$cache"
