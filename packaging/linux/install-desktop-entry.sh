#!/bin/sh
# Put Kestrel in this user's application menu (no root needed). Shipped inside the Linux
# bundle, beside the `kestrel` executable; run it once after unpacking the tarball.
#
#   ./install-desktop-entry.sh           menu entry + icons (+ ~/.local/bin/kestrel when free)
#   ./install-desktop-entry.sh --remove  take them away again
#
# Moving the Kestrel folder later? Run it again from the new place.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"
bin="$HOME/.local/bin"

if [ "${1:-}" = "--remove" ]; then
  rm -f "$apps/kestrel.desktop"
  for size in 16 24 32 48 64 128 256 512; do rm -f "$icons/${size}x${size}/apps/kestrel.png"; done
  rm -f "$icons/scalable/apps/kestrel.svg"
  if [ -L "$bin/kestrel" ] && [ "$(readlink "$bin/kestrel")" = "$here/kestrel" ]; then rm -f "$bin/kestrel"; fi
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" 2>/dev/null || true
  echo "Kestrel's menu entry was removed (the Kestrel folder itself was left alone)."
  exit 0
fi

case "$here" in
  *'"'*|*'`'*|*'$'*|*'\'*)
    echo "install-desktop-entry.sh: move Kestrel to a folder whose path has no \" \` \$ or \\ characters first" >&2
    exit 1 ;;
esac
[ -x "$here/kestrel" ] || { echo "install-desktop-entry.sh: $here/kestrel not found" >&2; exit 1; }

mkdir -p "$apps" "$icons/scalable/apps"
for size in 16 24 32 48 64 128 256 512; do
  src="$here/_internal/resources/icons/kestrel-$size.png"
  if [ -f "$src" ]; then
    mkdir -p "$icons/${size}x${size}/apps"
    cp "$src" "$icons/${size}x${size}/apps/kestrel.png"
  fi
done
cp "$here/kestrel.svg" "$icons/scalable/apps/kestrel.svg"

# Exec gets the absolute, double-quoted path (spaces are fine; the characters that would
# need escaping were refused above).
KESTREL_EXE="$here/kestrel" awk '
  /^Exec=/ { print "Exec=\"" ENVIRON["KESTREL_EXE"] "\""; next }
  /^TryExec=/ { next }
  { print }
' "$here/kestrel.desktop" > "$apps/kestrel.desktop.tmp"
mv "$apps/kestrel.desktop.tmp" "$apps/kestrel.desktop"
chmod 644 "$apps/kestrel.desktop"

if [ ! -e "$bin/kestrel" ] || { [ -L "$bin/kestrel" ] && [ ! -e "$(readlink "$bin/kestrel")" ]; }; then
  mkdir -p "$bin"
  ln -sf "$here/kestrel" "$bin/kestrel"
  linked=" and $bin/kestrel"
else
  linked=""
fi

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" 2>/dev/null || true
echo "Kestrel is in your application menu now ($apps/kestrel.desktop$linked)."
