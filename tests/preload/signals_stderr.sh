#!/usr/bin/env bash
# signals_stderr.sh SHIM RUN PROGRAM: uvmalloc's fault report under the shim
# (compat.sh compares stdout only): printed once when a fault in the vmalloc
# space is about to end the process, never when the program's own handler
# takes the signal, nor for a signal sent rather than a fault.
source "$(dirname "$0")/common.sh"
prog=$1
# expect CASE STATUS PATTERN: runs `PROGRAM CASE direct` under the shim; its
# exit status must be STATUS and its stderr must match PATTERN ('' for none).
expect() {
  local case=$1 want=$2 pattern=$3 rc=0 err="$tmp/$1.err"
  sh "$RUN" --lib "$SHIM" -- "$prog" "$case" direct >/dev/null 2>"$err" </dev/null || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $case: exit status $rc, expected $want" >&2
    cat "$err" >&2
    exit 1
  fi
  if [ -z "$pattern" ]; then
    if grep -q '^uvmalloc: SIGSEGV' "$err"; then
      echo "FAIL: $case: a fault report where none is due:" >&2
      cat "$err" >&2
      exit 1
    fi
  elif [ "$(grep -c -- "$pattern" "$err")" -ne 1 ]; then
    echo "FAIL: $case: stderr does not say '$pattern' once:" >&2
    cat "$err" >&2
    exit 1
  fi
  echo "  $case: status $rc, ${pattern:-no report}"
}
expect fix_own_page 0 ''
expect early_fix_own_page 0 ''
expect raise_siginfo 0 ''
expect raise_dfl 139 ''
expect kill_dfl 139 ''
expect ign_raise 0 ''
expect own_page_dfl 139 'bytes into the live area .* on a page its protection forbids'
expect ign_fault 139 'bytes into the live area'
expect overflow_dfl 139 'overflow into the guard page, 0 bytes past the end'
