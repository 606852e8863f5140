#!/usr/bin/env bash
# --stats when the program fclose()s stderr before exiting (as GNU coreutils
# and xz do). Usage: stats_fclose.sh SHIM RUN ALLOC_PROBE
source "$(dirname "$0")/common.sh"
probe=$1
# The report of a program that leaves stderr open.
uvm open "$probe" 4M
check_allocs open 1
# The same program closing stderr first.
uvm closed "$probe" 4M --fclose-stderr
# The report goes to a copy of fd 2 taken at start (was lost before).
if ! grep -q '^uvmalloc stats:' "$tmp/closed.err"; then
  echo "FAIL: --stats report lost when the program fclose()s stderr at exit" >&2
  exit 1
fi
check_allocs closed 1
echo "stats after fclose(stderr): ok"
