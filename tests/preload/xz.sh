#!/usr/bin/env bash
# xz -9 -T1 round trip of 16 MiB under the shim (-9 allocates a 64 MiB
# dictionary and a larger match finder): the .xz must be byte-identical to
# the one made without the shim, the decompressed data identical to the
# input, and both runs must have used uvmalloc.
source "$(dirname "$0")/common.sh"
need xz python3 cmp sha256sum
# xz fclose()s stderr before exiting, which loses the --stats report.
python3 "$here/gen_data.py" blob $((16 << 20)) "$tmp/in"

xz -9 -T1 -c "$tmp/in" >"$tmp/ref.xz"
uvm compress xz -9 -T1 -c "$tmp/in" >"$tmp/uvm.xz"
same_file "$tmp/ref.xz" "$tmp/uvm.xz" "compressed stream"
check_allocs compress

uvm decompress xz -d -T1 -c "$tmp/uvm.xz" >"$tmp/out"
same_file "$tmp/in" "$tmp/out" "decompressed data"
check_allocs decompress
echo "xz: ok"
