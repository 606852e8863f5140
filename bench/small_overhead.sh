#!/usr/bin/env bash
# The shim's cost on small requests (issue 14): runs bench_small plainly
# (glibc) and with the shim preloaded, alternating, REPS times each (default
# 5), and prints per benchmark the median ns per item of each side and their
# ratio (shim / glibc; 1.00 = no cost).
#
#   bash bench/small_overhead.sh [BUILD_DIR] [REPS]     # default build/release, 5
#
# SMALL_NEXT=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 compares a chain with
# that allocator alone instead (the shim first, as uvmalloc-run --small does).
set -euo pipefail
build=${1:-build/release}
reps=${2:-5}
bin="$build/bench/bench_small"
shim="$(realpath "$build/preload/libuvmalloc_preload.so")"
for f in "$bin" "$shim"; do
  [ -e "$f" ] || { echo "small_overhead: $f not found (build $build first)" >&2; exit 1; }
done
next=${SMALL_NEXT:-}
base_name=glibc
if [ -n "$next" ]; then base_name=$(basename "$next"); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for r in $(seq 1 "$reps"); do
  # The order alternates, so that neither side always runs first.
  for side in $([ $((r % 2)) = 1 ] && echo "base shim" || echo "shim base"); do
    pre=$next
    if [ "$side" = shim ]; then pre="$shim${next:+:$next}"; fi
    LD_PRELOAD="$pre" "$bin" --benchmark_min_time=0.5 --benchmark_format=json \
      >"$work/$side.$r.json" 2>/dev/null
  done
done
python3 - "$work" "$reps" "$base_name" <<'EOF'
import glob, json, os, statistics, sys
work, reps, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ns = {}  # (side, benchmark) -> [ns per item]
for path in glob.glob(os.path.join(work, "*.json")):
    side = os.path.basename(path).split(".")[0]
    for b in json.load(open(path))["benchmarks"]:
        ns.setdefault((side, b["name"]), []).append(1e9 / b["items_per_second"])
names = sorted({n for _, n in ns}, key=lambda n: n.replace("/", "~"))
print(f"{reps} alternating runs each, median ns per item; ratio = shim / {base}")
print(f"{'benchmark':<44} {base:>14} {'shim':>10} {'ratio':>7}")
for n in names:
    a, b = statistics.median(ns[("base", n)]), statistics.median(ns[("shim", n)])
    print(f"{n:<44} {a:14.2f} {b:10.2f} {b / a:7.3f}")
EOF
