#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan+UBSan) and runs it for a
# bounded time (default 60 s; FUZZ_SECONDS=3600 for a longer run) over the
# corpus in fuzz/corpus. New inputs go to a scratch copy, not the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${FUZZ_SECONDS:-60}
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DUVM_SANITIZE=address,undefined,fuzzer-no-link -DUVM_FUZZ=ON \
  -DUVM_BUILD_TESTS=OFF -DUVM_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz --target fuzz_vmalloc >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/* "$work"/
./build/fuzz/fuzz/fuzz_vmalloc -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 "$work" 2>&1 | tail -n 12
echo "fuzz: $seconds s without a crash"
