#!/usr/bin/env bash
# Installs what uvmalloc needs from Debian's packages when it is missing.
# Idempotent; prints nothing when everything is already there.
set -euo pipefail

# libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4: the small-object
# allocators of the chains (uvmalloc-run --small, tests/preload, the harness).
pkgs=(
  cmake ninja-build g++ clang libclang-rt-14-dev clang-format clang-tidy pkg-config binutils
  liburing-dev libgtest-dev googletest libbenchmark-dev
  libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
  libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4
  zstd xz-utils sqlite3 python3 git
  gnuplot-nox
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
