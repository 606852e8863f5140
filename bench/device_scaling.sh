#!/usr/bin/env bash
# Thread scaling on a larger machine in one prepared run: builds the release
# preset (the shim and bench_scaling only, in build/device_release), runs the harness's sweep
# (bench/harness/scaling.py: 1, 2, 4, ... nproc and 2 x nproc threads, nproc
# detected) under every allocator installed, then bench_scaling (the
# allocator-bound loop through the C API). Nothing is downloaded or
# installed: peers whose library is missing are left out, and without
# Google Benchmark only the sweep runs.
#
#   bash bench/device_scaling.sh
#
# Results: scaling.md, scaling.csv, bench_scaling.json, lscpu.txt and the
# log, in $OUT when set, else build/device_scaling/. Settings from the
# environment: REPS (default 3), MODE (quick, or full: 1 s windows, about
# 4x longer), ONLY (allocators, e.g. uvmalloc,mimalloc). On 16 CPUs a quick
# run takes about 6 minutes with all five allocators: each sweep is 60
# points of 0.25 s plus set-up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/build/device_scaling}
reps=${REPS:-3}
mode=${MODE:-quick}
mkdir -p "$out"
exec > >(tee -a "$out/device_scaling.log") 2>&1
cd "$root"
t0=$(date +%s)
jobs=$(nproc)

echo "== machine: $(nproc) CPUs usable, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
lscpu >"$out/lscpu.txt" 2>&1 || true
for tool in cmake gcc g++ python3; do
  command -v "$tool" >/dev/null || { echo "device_scaling: $tool not found" >&2; exit 1; }
done

echo "== build (release preset, -j$jobs)"
# Its own build directory, so that the -D settings below do not stick to a
# build/release that runs the tests.
build=$root/build/device_release
bench=ON
configure() {
  if command -v ninja >/dev/null; then
    cmake --preset release -B "$build" -DUVM_BUILD_TESTS=OFF -DUVM_BUILD_BENCH="$bench" \
      >"$out/configure.log" 2>&1
  else  # the preset's generator is Ninja; the same build type with make
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUVM_BUILD_TESTS=OFF \
      -DUVM_BUILD_BENCH="$bench" >"$out/configure.log" 2>&1
  fi
}
if ! configure; then
  echo "device_scaling: configure failed with benchmarks on; again without (Google Benchmark missing?)"
  bench=OFF
  configure || { tail -30 "$out/configure.log"; exit 1; }
fi
targets=(uvmalloc_preload)
[ "$bench" = ON ] && targets+=(bench_scaling)
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 1; }
echo "   built ${targets[*]} in $(( $(date +%s) - t0 )) s"

echo "== thread scaling ($mode, $reps repetitions)"
python3 bench/harness/scaling.py --build-dir "$build" --no-build --mode "$mode" --reps "$reps" \
  --skip-missing ${ONLY:+--only "$ONLY"} --out "$out" \
  --command "REPS=$reps MODE=$mode${ONLY:+ ONLY=$ONLY} bash bench/device_scaling.sh"

if [ "$bench" = ON ]; then
  echo "== bench_scaling"
  "$build/bench/bench_scaling" --benchmark_out="$out/bench_scaling.json" --benchmark_out_format=json
fi
echo "== done in $(( $(date +%s) - t0 )) s; results in $out"
