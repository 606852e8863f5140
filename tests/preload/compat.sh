#!/usr/bin/env bash
# compat.sh SHIM RUN MIN_ALLOCS PROGRAM [ARGS...]: the anonymous-memory
# contract, proven both ways. Runs PROGRAM as it is and again under the shim
# and compares what a user would compare: standard output and the exit status
# (or the signal that ended it). They must be identical, and under the shim
# uvmalloc must have served at least MIN_ALLOCS allocations (so a program
# whose blocks all fell through to the next allocator cannot pass). Standard
# error is shown on failure, not compared.
source "$(dirname "$0")/common.sh"
min=$1
shift
status() { # status LABEL CMD...: stdout to $tmp/LABEL.out, status line to $tmp/LABEL.rc
  local label=$1 rc=0
  shift
  "$@" >"$tmp/$label.out" 2>"$tmp/$label.err" </dev/null || rc=$?
  if [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128))"; else echo "exit $rc"; fi >"$tmp/$label.rc"
}
status plain "$@"
status shim sh "$RUN" --lib "$SHIM" --stats -- "$@"
if ! cmp -s "$tmp/plain.out" "$tmp/shim.out" || ! cmp -s "$tmp/plain.rc" "$tmp/shim.rc"; then
  echo "FAIL: $(basename "$1") differs with the shim" >&2
  echo "--- without the shim: $(cat "$tmp/plain.rc")" >&2
  head -c 3000 "$tmp/plain.out" >&2
  echo "--- with the shim: $(cat "$tmp/shim.rc")" >&2
  head -c 3000 "$tmp/shim.out" >&2
  echo "--- stderr with the shim:" >&2
  tail -n 30 "$tmp/shim.err" >&2
  exit 1
fi
echo "  same: $(cat "$tmp/plain.rc"), $(wc -l <"$tmp/plain.out") lines of output"
# Skipped the same way both ways (the program found nothing to test here).
if [ "$(cat "$tmp/plain.rc")" = "exit 77" ]; then
  cat "$tmp/plain.out"
  exit 77
fi
# MIN 0: no stats to check, for a program ended by a signal (they print at
# exit); such a program checks for itself that uvmalloc served it.
[ "$min" -eq 0 ] || check_allocs shim "$min"
