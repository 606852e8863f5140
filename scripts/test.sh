#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (with the install
# check), then the AddressSanitizer+UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for preset in release asan; do
  echo "== tests: $preset"
  cmake --workflow --preset "$preset"
done
