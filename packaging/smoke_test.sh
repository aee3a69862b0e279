#!/usr/bin/env bash
# Build (or reuse) the Linux bundle and run it as a user would meet it: empty HOME, no network.
#
#   bash packaging/smoke_test.sh            # build dist/Kestrel (folder only), then test it
#   bash packaging/smoke_test.sh --reuse    # test the dist/Kestrel already there (build if missing)
#
# The checks live in packaging/smoke_test.py (standard library only): every library resolves,
# `kestrel chat --json --max-tokens 16 "Hello"` answers from the bundled starter model
# (printing "first start to first token: X s"), and `kestrel` alone opens a window under Xvfb
# that answers a typed message, is screenshotted (build/smoke/kestrel-window.png), quits on
# Ctrl+Q with status 0 and leaves the message and reply in the history database.
# Results: build/smoke/results.json.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
reuse=no
for arg in "$@"; do
  case "$arg" in
    --reuse) reuse=yes ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "smoke_test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

bundle="${KESTREL_BUNDLE_DIR:-$root/dist/Kestrel}"
if [ "$reuse" = yes ] && [ -x "$bundle/kestrel" ]; then
  echo "==> reusing $bundle"
else
  build_started=$(date +%s)
  bash packaging/build_linux.sh --no-archive
  echo "==> build took $(( $(date +%s) - build_started )) s"
fi

# Any Python 3.10+ runs the checks; prefer the project's.
py=""
for candidate in "${KESTREL_BUILD_VENV:-$root/build/bundle-venv}/bin/python" "$root/.venv/bin/python" python3; do
  if command -v "$candidate" >/dev/null 2>&1; then py="$candidate"; break; fi
done
[ -n "$py" ] || { echo "smoke_test.sh: no python3 found" >&2; exit 1; }

run_started=$(date +%s)
set +e
"$py" packaging/smoke_test.py "$bundle" --screenshot "$root/build/smoke/kestrel-window.png" \
  --json-out "$root/build/smoke/results.json"
status=$?
set -e
echo "==> smoke test took $(( $(date +%s) - run_started )) s (bundle: $(du -sm "$bundle" | cut -f1) MiB)"
exit $status
