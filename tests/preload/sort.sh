#!/usr/bin/env bash
# GNU sort --parallel=2 -S 200M of ~150 MiB of lines under the shim (a 200 MiB
# buffer plus per-thread buffers): output identical to sort without the shim,
# and ordered by sort -c.
source "$(dirname "$0")/common.sh"
need sort python3 cmp sha256sum wc
# sort (gnulib's close_stdout) fclose()s stderr at exit, losing --stats.
python3 "$here/gen_data.py" lines $((150 << 20)) "$tmp/in"
export LC_ALL=C

sort --parallel=2 -S 200M -T "$tmp" "$tmp/in" >"$tmp/ref"
uvm sort sort --parallel=2 -S 200M -T "$tmp" "$tmp/in" >"$tmp/out"
same_file "$tmp/ref" "$tmp/out" "sorted output"
check_allocs sort
sort -c "$tmp/out" || {
  echo "FAIL: sort -c: output is not ordered" >&2
  exit 1
}
[ "$(wc -l <"$tmp/out")" -eq "$(wc -l <"$tmp/in")" ] || {
  echo "FAIL: line count changed" >&2
  exit 1
}
# And sort -c itself under the shim.
uvm check sort -c "$tmp/out"
echo "sort: ok ($(wc -l <"$tmp/out") lines)"
