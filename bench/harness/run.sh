#!/usr/bin/env bash
# Comparative benchmark: every workload under glibc, jemalloc, mimalloc,
# tcmalloc (Debian's, LD_PRELOADed), uvmalloc's LD_PRELOAD shim, and the
# shim chained with mimalloc and with jemalloc.
#
#   bench/harness/run.sh [--quick|--full] [--build-dir DIR] [--idle LIST] [--scaling]
#
# 1. scripts/setup.sh (Debian packages, gnuplot-nox included)
# 2. without --build-dir: cmake --preset release && cmake --build --preset
#    release (shim: build/release/preload/libuvmalloc_preload.so); with it:
#    brings DIR's uvmalloc_preload target up to date
# 3. compiles bench/harness/workloads/*.c with gcc -O2, *.cc with g++ -O2 (no
#    allocator linked)
# 4. generates the real programs' inputs (bench/harness/gen.py, fixed seeds)
# 5. runs everything (bench/harness/driver.py) and writes bench/results/
#    results.md, results.csv and results.png
# Quick (default): 3 repetitions, about 2 to 2.5 minutes on 2 cores. Full: 7
# repetitions and larger sizes, about 20 minutes, plus the idle footprint of
# the last repetition (--idle, default 1,10 in full mode: 11 s per workload
# and allocator, about 15 minutes more; --idle '' skips it, --idle 1 in quick
# mode adds about 1.5 minutes).
# --scaling: steps 4 and 5 become the thread-scaling sweep instead
# (bench/harness/scaling.py: bench/results/scaling.md and scaling.csv);
# quick is 3 repetitions, about 2.5 minutes on 2 cores, full 5, about 9.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

mode=quick
build=""
scaling=0
idle=""
idle_set=0
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    --build-dir) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --build-dir=*) build=${1#--build-dir=}; shift ;;
    --idle) [ $# -ge 2 ] || usage; idle=$2; idle_set=1; shift 2 ;;
    --idle=*) idle=${1#--idle=}; idle_set=1; shift ;;
    --scaling) scaling=1; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
cmdline="bench/harness/run.sh --$mode${build:+ --build-dir $build}"
idle_args=()
if [ "$idle_set" = 1 ]; then idle_args=(--idle "$idle"); cmdline+=" --idle '$idle'"; fi
if [ "$scaling" = 1 ]; then cmdline+=" --scaling"; fi
t0=$(date +%s)

echo "== setup"
bash "$root/scripts/setup.sh"

echo "== build"
if [ -z "$build" ]; then
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release >/dev/null)
  build="$root/build/release"
else
  build=$(cd "$build" && pwd)
  cmake --build "$build" --target uvmalloc_preload >/dev/null
fi
shim="$build/preload/libuvmalloc_preload.so"
[ -f "$shim" ] || { echo "run.sh: $shim not found" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/uvm-harness.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/data"

echo "== workloads (gcc/g++ -O2)"
gcc -O2 -std=gnu11 -Wall -Wextra -pthread -o "$work/bin/spawn" "$here/spawn.c"
for src in "$here"/workloads/*.c; do
  name=$(basename "$src" .c)
  gcc -O2 -std=gnu11 -Wall -Wextra -pthread -o "$work/bin/$name" "$src" -lm
done
for src in "$here"/workloads/*.cc; do
  name=$(basename "$src" .cc)
  g++ -O2 -std=c++20 -Wall -Wextra -pthread -o "$work/bin/$name" "$src"
done

if [ "$scaling" = 1 ]; then
  echo "== thread scaling ($mode)"
  python3 "$here/scaling.py" --mode "$mode" --build-dir "$build" --no-build --bin "$work/bin/thread_scaling" \
    --out "$root/bench/results" --command "$cmdline"
  echo "== done in $(( $(date +%s) - t0 )) s"
  exit 0
fi

echo "== inputs ($mode)"
python3 "$here/gen.py" "$mode" "$work/data"

echo "== runs"
python3 "$here/driver.py" --mode "$mode" --shim "$shim" --build-dir "$build" --bin "$work/bin" \
  --spawn "$work/bin/spawn" --data "$work/data" --work "$work" --out "$root/bench/results" --repo "$root" --command "$cmdline" \
  "${idle_args[@]}"

echo "== done in $(( $(date +%s) - t0 )) s"
