#!/usr/bin/env bash
# uvmalloc-run itself: usage errors, --lib, --conf (merged with
# UVMALLOC_CONF), --stats, and that it is executable in the build tree.
# Usage: uvmalloc_run.sh SHIM RUN ALLOC_PROBE
source "$(dirname "$0")/common.sh"
probe=$1
rc=0
sh "$RUN" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: no program: exit $rc, expected 2" >&2; exit 1; }
rc=0
sh "$RUN" --bogus -- true >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: unknown option: exit $rc, expected 2" >&2; exit 1; }
rc=0
sh "$RUN" --lib "$tmp/none.so" -- true >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: missing --lib: exit $rc, expected 2" >&2; exit 1; }

# A 512 KiB block goes to uvmalloc by default, not with threshold:1M.
uvm default "$probe" 512K 4M
check_allocs default 2
sh "$RUN" --lib "$SHIM" --conf threshold:1M --stats -- "$probe" 512K 4M 2>"$tmp/conf.err" >/dev/null
check_allocs conf 1
n=$(sed -n 's/.*(allocs \([0-9]*\),.*/\1/p' "$tmp/conf.err" | tail -n 1)
[ "$n" -eq 1 ] || { echo "FAIL: --conf threshold:1M: $n allocations, expected 1" >&2; exit 1; }
UVMALLOC_CONF=threshold:8M uvm env "$probe" 512K 4M 16M
n=$(sed -n 's/.*(allocs \([0-9]*\),.*/\1/p' "$tmp/env.err" | tail -n 1)
[ "$n" -eq 1 ] || { echo "FAIL: UVMALLOC_CONF=threshold:8M: $n allocations, expected 1" >&2; exit 1; }
# Without --stats nothing is printed.
sh "$RUN" --lib "$SHIM" -- "$probe" 4M 2>"$tmp/quiet.err" >/dev/null
[ ! -s "$tmp/quiet.err" ] || { echo "FAIL: output without --stats" >&2; cat "$tmp/quiet.err" >&2; exit 1; }

# --footprint: one line, the process's footprint with its memfd share.
sh "$RUN" --lib "$SHIM" --footprint -- "$probe" 4M 2>"$tmp/fp.err" >/dev/null
grep -Eq '^uvmalloc: footprint [0-9.]+ MiB \(RssAnon [0-9.]+ \+ RssFile [0-9.]+ \+ memfd [0-9.]+ MiB\)$' "$tmp/fp.err" ||
  { echo "FAIL: --footprint printed:" >&2; cat "$tmp/fp.err" >&2; exit 1; }
[ "$(wc -l <"$tmp/fp.err")" -eq 1 ] || { echo "FAIL: --footprint printed more than one line" >&2; exit 1; }

# Runnable as is from the build tree (fixed in 56c627d: it was configured
# from the mode-644 .in and was not executable).
[ -x "$RUN" ] || { echo "FAIL: $RUN is not executable" >&2; exit 1; }
"$RUN" --lib "$SHIM" -- "$probe" 4M >/dev/null
echo "uvmalloc-run: ok"
