#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds a consumer with
# find_package(uvmalloc) and another with pkg-config, each in C and in C++
# (with the compiler's default standard), and runs them.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
cmake -S "$src/tests/install/consumer" -B "$tmp/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/consumer"
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/cxx_consumer"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -Werror -o "$tmp/pc-consumer" "$src/tests/install/consumer/main.c" $(pkg-config --cflags --libs uvmalloc)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"
# C++ with no standard flag of its own: uvmalloc-cxx adds the one the header needs.
# shellcheck disable=SC2046
c++ -o "$tmp/pc-cxx-consumer" "$src/tests/install/consumer/main.cc" $(pkg-config --cflags --libs uvmalloc-cxx)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-cxx-consumer"
echo "install: find_package and pkg-config consumers, C and C++, built and ran"
