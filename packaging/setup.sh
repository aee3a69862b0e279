#!/usr/bin/env bash
# Kestrel developer set-up: one script behind the README's two commands.
#
#   bash packaging/setup.sh run    # create .venv, install Kestrel + starter model, open the app
#   bash packaging/setup.sh test   # same environment plus test extras, then the whole test suite
#   bash packaging/setup.sh check  # same environment plus test extras, then ruff, mypy and import-linter
#
# llama-cpp-python is compiled from source with CMAKE_ARGS="-DGGML_NATIVE=OFF" (a native
# build emits AMX kernels that die with SIGILL on some VMs) and --no-cache-dir (pip's
# wheel cache ignores CMAKE_ARGS and could hand back a native build). The build takes
# 8+ minutes on 2 cores, so the wheel is kept in a cache outside the checkout, keyed by
# llama-cpp-python version, Python version and the build flags:
#   ${KESTREL_WHEEL_CACHE:-~/.cache/kestrel/wheels}/llama-cpp-python-<ver>/<cpXY>-<flags>/
set -euo pipefail

mode="${1:-}"
case "$mode" in
  run|test|check|install) shift ;;
  *) echo "usage: bash packaging/setup.sh run|test|check|install [args...]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

LLAMA_VERSION="0.3.36"
CMAKE_ARGS_DEFAULT="-DGGML_NATIVE=OFF"
export CMAKE_ARGS="${KESTREL_CMAKE_ARGS:-$CMAKE_ARGS_DEFAULT}"
venv="${KESTREL_VENV:-$root/.venv}"

find_python() {
  local candidate
  for candidate in "${KESTREL_PYTHON:-}" python3.12 python3.13; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  # pyenv installs versions that are not on PATH until selected
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

python_bin="$(find_python)" || {
  echo "Kestrel needs Python 3.12 or newer (PySide6 on 3.11 aborts the process)." >&2
  echo "Install python3.12 and run this again." >&2
  exit 1
}

# Qt needs a few system libraries, even offscreen. Install them when we can (root + apt).
need_libs=""
for lib in libxkbcommon.so.0 libxkbcommon-x11.so.0 libEGL.so.1 libGL.so.1 libfontconfig.so.1 libxcb-cursor.so.0 libdbus-1.so.3; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need_libs=yes
done
# Xvfb and xdotool let the tests drive a real window from outside (skipped when absent).
if [ "$mode" = test ] || [ "$mode" = check ]; then
  command -v Xvfb >/dev/null 2>&1 && command -v xdotool >/dev/null 2>&1 || need_libs=yes
fi
if [ -n "$need_libs" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> installing the system libraries Qt needs (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 \
    libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 \
    libxcb-image0 fonts-noto-cjk xvfb xdotool >/dev/null
elif [ -n "$need_libs" ]; then
  echo "warning: Qt system libraries may be missing (libxcb-cursor0, libEGL, libxkbcommon); install them with your package manager" >&2
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating $venv with $python_bin"
  "$python_bin" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip >/dev/null

pytag="$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
flags_key="$(printf '%s' "$CMAKE_ARGS" | tr -c 'A-Za-z0-9_.=-' '_' | sed 's/^-*//; s/=/-/g')"
cache_root="${KESTREL_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel/wheels}"
wheel_dir="$cache_root/llama-cpp-python-$LLAMA_VERSION/$pytag-${flags_key:-default}"

installed="$("$py" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)"
stamp="$venv/.llama-cpp-build"
if [ "$installed" != "$LLAMA_VERSION" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wheel_dir" ]; then
  wheel="$(ls "$wheel_dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$wheel" ]; then
    echo "==> building llama-cpp-python $LLAMA_VERSION with CMAKE_ARGS='$CMAKE_ARGS' (8+ minutes, once)"
    tmp="$(mktemp -d)"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
      "${pip[@]}" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
      -w "$tmp" "llama-cpp-python==$LLAMA_VERSION"
    mkdir -p "$wheel_dir"
    mv "$tmp"/llama_cpp_python-*.whl "$wheel_dir/"
    rm -rf "$tmp"
    wheel="$(ls "$wheel_dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n1)"
  else
    echo "==> reusing cached llama-cpp-python wheel: $wheel"
  fi
  "${pip[@]}" install --no-cache-dir --force-reinstall --no-deps "$wheel"
  "${pip[@]}" install numpy typing-extensions diskcache jinja2
  echo "$wheel_dir" > "$stamp"
fi

extras="starter"
{ [ "$mode" = "test" ] || [ "$mode" = "check" ]; } && extras="starter,test"
echo "==> installing Kestrel ($extras)"
"${pip[@]}" install -e ".[${extras}]"

case "$mode" in
  run)
    echo "==> starting Kestrel"
    exec "$venv/bin/kestrel" gui "$@"
    ;;
  test)
    # llama-server and ggml-rpc-server from the same llama.cpp, for the remote-engine tests (built once, cached)
    KESTREL_VENV="$venv" KESTREL_LLAMA_VERSION="$LLAMA_VERSION" bash "$root/packaging/build_llama_tools.sh"
    echo "==> running the test suite"
    exec "$py" -m pytest "$@"
    ;;
  check)
    echo "==> static checks: ruff, mypy (strict on the Qt-free packages), import-linter"
    "$venv/bin/ruff" check .
    "$venv/bin/mypy"
    "$venv/bin/lint-imports"
    ;;
  install)
    echo "Kestrel is installed in $venv (run: $venv/bin/kestrel)"
    ;;
esac
