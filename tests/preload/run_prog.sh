#!/usr/bin/env bash
# run_prog.sh SHIM RUN MIN_ALLOCS PROGRAM [ARGS...]: runs a test program under
# the shim with --stats; it must exit 0 and uvmalloc must have served at
# least MIN_ALLOCS allocations. With MIN_ALLOCS prefixed by "=0/", also no
# area may be live at exit (everything the program allocated was freed).
source "$(dirname "$0")/common.sh"
min=$1
shift
uvm prog "$@"
check_allocs prog "${min#=0/}"
if [ "$min" != "${min#=0/}" ]; then
  live=$(sed -n 's/^  areas *\([0-9]*\) (allocs.*/\1/p' "$tmp/prog.err" | tail -n 1)
  [ "$live" = 0 ] || {
    echo "FAIL: $live uvmalloc areas still live at exit" >&2
    exit 1
  }
fi
