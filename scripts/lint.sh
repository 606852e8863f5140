#!/usr/bin/env bash
# clang-format over every C and C++ file git tracks, and clang-tidy (the
# checks in .clang-tidy) over the library and the shim, the code that ships.
# Needs the compile commands of a configured build (default build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
mapfile -t all < <(git ls-files '*.c' '*.cc' '*.h' '*.hpp')
echo "== clang-format: ${#all[@]} files"
clang-format --dry-run --Werror "${all[@]}"
mapfile -t src < <(git ls-files 'lib/*.cc' 'preload/*.cc')
echo "== clang-tidy: ${#src[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! printf '%s\n' "${src[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet >"$log" 2>&1; then
  grep -v 'warnings\? generated\.$' "$log" || true
  echo "clang-tidy: not clean (checks in .clang-tidy)"
  exit 1
fi
echo "== lint clean"
