#!/usr/bin/env bash
# uvmalloc-run --small: builds the chain for each known allocator and for a
# library's path (test_chain.cc checks where every block came from), keeps
# the caller's LD_PRELOAD after it, and refuses what it does not know.
# Usage: chain_run.sh SHIM RUN TEST_CHAIN
source "$(dirname "$0")/common.sh"
prog=$1
for name in jemalloc mimalloc tcmalloc; do
  sh "$RUN" --lib "$SHIM" --small="$name" -- "$prog" "$name" >"$tmp/$name.out" 2>&1 || {
    echo "FAIL: uvmalloc-run --small=$name:" >&2
    tail -n 20 "$tmp/$name.out" >&2
    exit 1
  }
  tail -n 1 "$tmp/$name.out"
done

# What it sets: the shim, the allocator, then what the caller had.
mi=$(sh "$RUN" --lib "$SHIM" --small mimalloc -- sh -c 'echo "$LD_PRELOAD"' | tr ':' '\n' | sed -n 2p)
[ -f "$mi" ] || { echo "FAIL: --small mimalloc put '$mi' second in LD_PRELOAD" >&2; exit 1; }
got=$(LD_PRELOAD=/nonexistent/extra.so sh "$RUN" --lib "$SHIM" --small "$mi" -- \
  sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
[ "$got" = "$SHIM:$mi:/nonexistent/extra.so" ] || { echo "FAIL: LD_PRELOAD=$got" >&2; exit 1; }
sh "$RUN" --lib "$SHIM" --small "$mi" -- "$prog" mimalloc | tail -n 1

rc=0
sh "$RUN" --lib "$SHIM" --small=ptmalloc -- true 2>"$tmp/bad.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'small takes jemalloc, mimalloc, tcmalloc' "$tmp/bad.err" ||
  { echo "FAIL: --small=ptmalloc: exit $rc" >&2; cat "$tmp/bad.err" >&2; exit 1; }
rc=0
sh "$RUN" --lib "$SHIM" --small="$tmp/none.so" -- true 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: --small with a missing library: exit $rc" >&2; exit 1; }
echo "uvmalloc-run --small: ok"
