#!/usr/bin/env bash
# Refresh the UI translations: extract every tr() string from app/ui into the .ts files,
# keeping the translations already there, then compile them to the .qm files the app loads.
#
#   bash packaging/update_translations.sh            # lupdate + lrelease for every language
#   bash packaging/update_translations.sh --release  # lrelease only (the .ts left as it is)
#   bash packaging/update_translations.sh --prune    # also drop messages no longer in the code
#
# Sources: every app/ui/**/*.py, found at run time (so new panels are picked up), and
# app/base/settings.py (setting titles, tabs and choice names, marked with QT_TRANSLATE_NOOP).
# Translations: resources/translations/kestrel_<locale>.ts (today: zh_CN), compiled to
# kestrel_<locale>.qm beside them; app/ui/application.py install_translation() loads those.
#
# New messages arrive as type="unfinished" (lupdate pre-fills one whose exact text is already
# translated elsewhere, still unfinished): translate them in Qt Linguist (pyside6-linguist) or
# in the XML, drop type="unfinished", run this again. lrelease reports "N finished and M
# unfinished"; tests/ui/test_translations.py fails while any is unfinished. Messages no longer
# in the code stay as type="vanished" (not compiled) so their translation comes back with
# them; --prune removes them.
#
# Messages without a context: lupdate files a tr() it cannot tie to a class under the empty
# context (a module-level helper such as app/ui/models/common.py tr(), or self.tr() in a class
# its parser loses track of), but at run time they are looked up under a real one (the helper's
# QCoreApplication.translate("ModelsPanel", ...), or the class name: PySide's tr() tries every
# class of the object's MRO). So that they are not left in English, each one is also compiled
# under the context(s) its call sites use at run time, worked out from the source (ast). The
# .ts keeps one copy (translate that one); a message whose context cannot be worked out is
# listed as a warning.
#
# Environment:
#   KESTREL_PYSIDE_BIN   folder holding pyside6-lupdate/pyside6-lrelease (default: .venv/bin, then PATH)
#   KESTREL_LOCALES      space-separated locales to refresh (default: "zh_CN")
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

update=yes
prune=()
for arg in "$@"; do
  case "$arg" in
    --release) update=no ;;
    --prune) prune=(-no-obsolete) ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "update_translations.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

tool() {
  local name="$1" dir="${KESTREL_PYSIDE_BIN:-$root/.venv/bin}"
  if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
  command -v "$name" 2>/dev/null || { echo "update_translations.sh: $name not found (pip install PySide6-Essentials)" >&2; exit 1; }
}
lupdate="$(tool pyside6-lupdate)"
lrelease="$(tool pyside6-lrelease)"
py="$root/.venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"

out_dir="resources/translations"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Every Python file under app/ui, sorted so the .ts does not churn between machines.
sources=()
while IFS= read -r -d '' file; do sources+=("$file"); done \
  < <(find app/ui -name '*.py' -not -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z)
sources+=("app/base/settings.py")  # setting titles, tabs and choice names (QT_TRANSLATE_NOOP markers)
sources+=("app/base/languages.py")  # language names (QT_TRANSLATE_NOOP markers)
[ "${#sources[@]}" -gt 0 ] || { echo "update_translations.sh: no sources under app/ui" >&2; exit 1; }

# Writes $2: a .ts holding each empty-context message of $1 under its run-time context(s).
runtime_contexts() {
  "$py" - "$1" "$2" <<'PY'
import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ts_path, out_path = Path(sys.argv[1]), Path(sys.argv[2])
root = Path.cwd()
trees: dict[Path, ast.Module] = {}


def parse(path: Path) -> ast.Module | None:
    if path not in trees:
        try:
            trees[path] = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError):
            return None
    return trees[path]


def module_path(name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def helper_context(path: Path, name: str, depth: int = 0) -> str | None:
    """The literal context of QCoreApplication.translate("Ctx", ...) inside helper ``name``."""
    tree = parse(path)
    if tree is None or depth > 4:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "translate" and call.args
                        and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
                    return call.args[0].value
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    target = module_path(node.module)
                    return helper_context(target, alias.name, depth + 1) if target else None
    return None


def contexts(path: Path, source: str) -> set[str]:
    """Run-time contexts of the tr() calls in ``path`` whose text is ``source``."""
    tree = parse(path)
    found: set[str] = set()
    if tree is None:
        return found

    def visit(node: ast.AST, cls: str | None) -> None:
        if isinstance(node, ast.ClassDef):
            cls = node.name
        if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == source):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "tr" and cls:
                found.add(cls)  # self.tr(): PySide tries each class name of the MRO
            elif isinstance(func, ast.Name):
                ctx = helper_context(path, func.id)
                if ctx:
                    found.add(ctx)
        for child in ast.iter_child_nodes(node):
            visit(child, cls)

    visit(tree, None)
    return found


ts = ET.parse(ts_path).getroot()
existing = {(c.findtext("name") or "", m.findtext("source")) for c in ts.iter("context") for m in c.iter("message")}
out = ET.Element("TS", version="2.1", language=ts.get("language", ""))
by_context: dict[str, ET.Element] = {}
counts: dict[str, int] = {}
for context in ts.iter("context"):
    if context.findtext("name"):
        continue
    for message in context.iter("message"):
        translation = message.find("translation")
        if translation is None or translation.get("type") in ("vanished", "obsolete"):
            continue
        source = message.findtext("source") or ""
        targets: set[str] = set()
        for location in message.iter("location"):
            targets |= contexts((ts_path.parent / location.get("filename", "")).resolve(), source)
        if not targets:
            where = ", ".join(f"{loc.get('filename')}:{loc.get('line')}" for loc in message.iter("location"))
            print(f"    warning: no run-time context found for {source!r} ({where}); it stays untranslated",
                  file=sys.stderr)
        for name in sorted(targets):
            if (name, source) in existing:
                continue
            if name not in by_context:
                by_context[name] = ET.SubElement(out, "context")
                ET.SubElement(by_context[name], "name").text = name
            copy = ET.SubElement(by_context[name], "message", {k: v for k, v in message.attrib.items()})
            ET.SubElement(copy, "source").text = source
            copy.append(translation)
            existing.add((name, source))
            counts[name] = counts.get(name, 0) + 1
if counts:
    print("    also compiled under: " + ", ".join(f"{name} ({n})" for name, n in sorted(counts.items())))
Path(out_path).write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n'
                          + ET.tostring(out, encoding="unicode") + "\n", encoding="utf-8")
PY
}

for locale in ${KESTREL_LOCALES:-zh_CN}; do
  ts="$out_dir/kestrel_${locale}.ts"
  qm="$out_dir/kestrel_${locale}.qm"
  if [ "$update" = yes ]; then
    echo "==> lupdate: ${#sources[@]} files -> $ts"
    "$lupdate" "${prune[@]}" -locations absolute -target-language "$locale" "${sources[@]}" -ts "$ts"
  fi
  [ -f "$ts" ] || { echo "update_translations.sh: $ts missing (run without --release)" >&2; exit 1; }
  echo "==> run-time contexts for messages lupdate filed without one"
  extra="$work/kestrel_${locale}_runtime.ts"
  runtime_contexts "$ts" "$extra"
  echo "==> lrelease: $ts -> $qm"
  "$lrelease" "$ts" "$extra" -qm "$qm"
done
