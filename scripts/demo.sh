#!/usr/bin/env bash
# Sets up, builds and runs the main job: the uvmalloc demo and a short
# benchmark run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
./build/release/tools/uvm-demo
./build/release/bench/bench_vmap --benchmark_min_time=0.05 --benchmark_filter='BM_AllocFree'
