#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (with the install
# check and the programs run under the shim), the AddressSanitizer +
# UndefinedBehaviorSanitizer build, the ThreadSanitizer build of the threaded
# tests, clang-format and clang-tidy (scripts/lint.sh), and a bounded
# libFuzzer run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for preset in release asan tsan; do
  echo "== tests: $preset"
  cmake --workflow --preset "$preset"
done
echo "== lint"
bash scripts/lint.sh build/release
echo "== fuzz"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash scripts/fuzz.sh
