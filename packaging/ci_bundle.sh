#!/usr/bin/env bash
# CI step for the installer bundle: build it and run its smoke test only when what goes into
# it changed since the last passing run on this machine.
#
#   bash packaging/ci_bundle.sh               (called by .ci/run after the test suite)
#   bash packaging/ci_bundle.sh --print-hash  (the inputs' hash, nothing else)
#
# The inputs are hashed: packaging/, pyproject.toml, app/, resources/, models/catalog.json,
# the llama.cpp build flags and the Python version. A passing run stores the hash in
# ${KESTREL_BUNDLE_STAMP:-~/.cache/kestrel/bundle-stamp}; the next run with the same hash
# skips the 2-3 minutes of build and test. KESTREL_BUNDLE_SMOKE=always forces a run,
# =never skips it (say, on a machine without Xvfb).
#
# The bundle is built in the venv the test suite just made (.venv, KESTREL_BUILD_VENV to
# change), so llama-cpp-python and Qt are not installed twice, and is tested through pytest
# (tests/packaging/test_bundle.py) so CI reads a normal pytest summary.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${KESTREL_BUNDLE_SMOKE:-auto}"
stamp="${KESTREL_BUNDLE_STAMP:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel/bundle-stamp}"
export KESTREL_BUILD_VENV="${KESTREL_BUILD_VENV:-$root/.venv}"

if [ "$mode" = never ]; then
  echo "bundle smoke test: skipped (KESTREL_BUNDLE_SMOKE=never)"
  exit 0
fi
if [ "$(uname -s)" != Linux ]; then
  echo "bundle smoke test: Linux only; skipped"
  exit 0
fi

inputs_hash() {
  {
    find packaging app resources models/catalog.json pyproject.toml -type f \
      ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    echo "cmake=${KESTREL_CMAKE_ARGS:-default}"
    "$KESTREL_BUILD_VENV/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null || echo "python=?"
    uname -m
  } | sha256sum | cut -d' ' -f1
}

current="$(inputs_hash)"
if [ "${1:-}" = "--print-hash" ]; then echo "$current"; exit 0; fi
if [ "$mode" != always ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$current" ]; then
  echo "bundle smoke test: skipped, its inputs are unchanged since the last passing run ($stamp)"
  exit 0
fi

started=$(date +%s)
bash packaging/build_linux.sh --no-archive
echo "==> bundle built in $(( $(date +%s) - started )) s"
test_py="${KESTREL_TEST_PYTHON:-$root/.venv/bin/python}"
if "$test_py" -c 'import pytest' 2>/dev/null; then
  KESTREL_BUNDLE_DIR="$root/dist/Kestrel" "$test_py" -m pytest -m bundle \
    tests/packaging/test_bundle.py -p no:cacheprovider -s -q
else  # no test venv: the same checks without pytest (prints "N passed, N failed")
  "$KESTREL_BUILD_VENV/bin/python" packaging/smoke_test.py "$root/dist/Kestrel" \
    --screenshot "$root/build/smoke/kestrel-window.png" --json-out "$root/build/smoke/results.json"
fi
mkdir -p "$(dirname "$stamp")"
echo "$current" > "$stamp"
echo "==> bundle smoke test passed in $(( $(date +%s) - started )) s; stamp $stamp updated"
