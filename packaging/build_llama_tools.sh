#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-server, ggml-rpc-server, llama-bench) from the llama.cpp
# vendored in the llama-cpp-python sdist Kestrel installs, so the remote-engine tests drive the
# same llama.cpp as the local engine (issue 12: two rpc-servers behind llama-server --rpc).
#
#   bash packaging/build_llama_tools.sh          # build once (10+ minutes on 2 cores), then reuse
#   bash packaging/build_llama_tools.sh --where  # print the cache folder only, build nothing
#
# Flags: the wheel's (CMAKE_ARGS from setup.sh, default -DGGML_NATIVE=OFF: a native build emits
# AMX kernels that die with SIGILL on some VMs) plus the RPC backend, static linking (the cached
# binaries need nothing from the build tree), no curl/openssl and no web UI download (offline).
# The binaries are cached outside the checkout, keyed by llama-cpp-python version, the flags
# (Python-independent: no cpXY) and the machine, like setup.sh keys the wheel:
#   ${KESTREL_TOOLS_CACHE:-~/.cache/kestrel/tools}/llama.cpp-<ver>/<os>-<arch>-<flags>/
# The version is $KESTREL_LLAMA_VERSION, else the one installed in the venv, else setup.sh's pin.
# Prints the folder holding the tools on its last line.
set -euo pipefail

where_only=""
case "${1:-}" in
  --where) where_only=yes ;;
  "") ;;
  *) echo "usage: bash packaging/build_llama_tools.sh [--where]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KESTREL_VENV:-$root/.venv}"

version="${KESTREL_LLAMA_VERSION:-}"
if [ -z "$version" ] && [ -x "$venv/bin/python" ]; then
  version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)"
fi
if [ -z "$version" ]; then
  version="$(sed -n 's/^LLAMA_VERSION="\([^"]*\)"$/\1/p' "$root/packaging/setup.sh")"
fi
[ -n "$version" ] || { echo "cannot tell which llama-cpp-python version to build the tools from" >&2; exit 1; }

base_args="${CMAKE_ARGS:-${KESTREL_CMAKE_ARGS:--DGGML_NATIVE=OFF}}"
tool_args="-DGGML_RPC=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF"
flags_key="$(printf '%s' "$base_args $tool_args" | tr -c 'A-Za-z0-9_.=-' '_' | sed 's/^-*//; s/=/-/g')"
machine="$(uname -s | tr 'A-Z' 'a-z')-$(uname -m)"
cache_root="${KESTREL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel/tools}"
tools_dir="$cache_root/llama.cpp-$version/$machine-$flags_key"
targets=(llama-server ggml-rpc-server llama-bench)

if [ -n "$where_only" ]; then
  echo "$tools_dir"; exit 0
fi

complete() {
  local t
  [ -f "$tools_dir/build-info.txt" ] || return 1
  for t in "${targets[@]}"; do [ -x "$tools_dir/$t" ] || return 1; done
}

if complete; then
  echo "==> reusing cached llama.cpp tools (llama-cpp-python $version)"
  echo "$tools_dir"; exit 0
fi

for tool in cmake c++; do
  command -v "$tool" >/dev/null 2>&1 || { echo "building the llama.cpp tools needs $tool" >&2; exit 1; }
done
py="$venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"

tmp="$(mktemp -d)"
staging=""
trap 'rm -rf "$tmp" ${staging:+"$staging"}' EXIT
echo "==> downloading the llama-cpp-python $version sdist (vendored llama.cpp)"
"$py" -m pip --disable-pip-version-check --quiet download --no-deps --no-binary :all: \
  "llama-cpp-python==$version" -d "$tmp/dl"
tar -xzf "$tmp/dl/llama_cpp_python-$version.tar.gz" -C "$tmp"
src="$tmp/llama_cpp_python-$version/vendor/llama.cpp"
[ -f "$src/CMakeLists.txt" ] || { echo "the sdist has no vendor/llama.cpp" >&2; exit 1; }

jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
echo "==> building ${targets[*]} with '$base_args $tool_args' (-j$jobs; 10+ minutes on 2 cores, once)"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# shellcheck disable=SC2086  # the flag strings are lists of cmake arguments
cmake -S "$src" -B "$tmp/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  $base_args $tool_args >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log" >&2; exit 1; }
cmake --build "$tmp/build" --config Release -j "$jobs" --target "${targets[@]}"

staging="$cache_root/llama.cpp-$version/.staging-$$"
rm -rf "$staging"; mkdir -p "$staging"
for t in "${targets[@]}"; do cp "$tmp/build/bin/$t" "$staging/"; done
{
  echo "llama-cpp-python $version (sdist vendor/llama.cpp)"
  echo "cmake flags: -DCMAKE_BUILD_TYPE=Release $base_args $tool_args"
  echo "machine: $machine"
  "$staging/llama-server" --version 2>&1 | head -n 4 || true
} >"$staging/build-info.txt"
# another run may have finished meanwhile: keep its tools rather than fail or remove them
complete || rm -rf "$tools_dir"
if ! mv -T "$staging" "$tools_dir" 2>/dev/null; then
  complete || { echo "could not put the llama.cpp tools in $tools_dir" >&2; exit 1; }
fi
echo "==> llama.cpp tools ready"
echo "$tools_dir"
