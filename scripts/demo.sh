#!/usr/bin/env bash
# Sets up, builds and runs the main job: the uvmalloc demo, the examples of
# what only remapping can do, an unmodified program under the LD_PRELOAD shim,
# and a short benchmark of the vmap_area trees.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
b=build/release
echo "== demo: mixed large allocations through the C API"
$b/tools/uvm-demo
echo
echo "== examples"
$b/examples/example_grow_buffer
$b/examples/example_ring_buffer
$b/examples/example_share_with_child
echo
echo "== an unmodified program under the shim: python3 growing a bytearray"
$b/uvmalloc-run --stats -- python3 -c '
b = bytearray()
for i in range(256):
    b += bytes([i % 251]) * (1 << 20)
print("python3: grew a bytearray to", len(b) >> 20, "MiB; checksum", sum(b[:: 1 << 16]))
' 2>&1 | head -14
echo
echo "== benchmark: alloc+free with 1K..1M live areas in the trees"
$b/bench/bench_vmap --benchmark_min_time=0.05 --benchmark_filter='BM_AllocFree/'
