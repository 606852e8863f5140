#!/usr/bin/env bash
# chain_inert.sh SHIM RUN LIB NAME PROGRAM: the other order,
# LD_PRELOAD=LIB:SHIM, where LIB's malloc is the program's. PROGRAM NAME
# inert (test_chain.cc) must pass with every block LIB's, and the shim must
# have said once, on stderr, that it is inactive and why.
# chain_inert.sh SHIM RUN program PROGRAM: the same for a program with a
# malloc of its own (test_own_malloc.c), with the shim alone preloaded.
source "$(dirname "$0")/common.sh"
lib=$1 name=$2 prog=${3:-}
rc=0
if [ "$lib" = program ]; then
  prog=$name
  LD_PRELOAD="$SHIM" "$prog" 2>"$tmp/err" || rc=$?
  want="uvmalloc: inactive: the program defines malloc itself, so every allocation goes to its allocator"
else
  LD_PRELOAD="$lib:$SHIM" "$prog" "$name" inert 2>"$tmp/err" || rc=$?
  want="uvmalloc: inactive: $lib comes before libuvmalloc_preload.so in LD_PRELOAD, so every allocation goes to it; put the shim first (LD_PRELOAD=libuvmalloc_preload.so:$lib, as uvmalloc-run --small does)"
fi
if [ "$rc" -ne 0 ]; then
  echo "FAIL: $prog exited $rc; its stderr:" >&2
  tail -n 40 "$tmp/err" >&2
  exit 1
fi
n=$(grep -cxF "$want" "$tmp/err" || true)
[ "$n" -eq 1 ] || {
  echo "FAIL: expected the line once on stderr, got it $n times:" >&2
  echo "  $want" >&2
  cat "$tmp/err" >&2
  exit 1
}
echo "inert ($lib): ok"
