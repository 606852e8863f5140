#!/usr/bin/env bash
# zstd -3 --long=31 -T2 round trip of ~200 MiB under the shim: the compressed
# stream must be byte-identical to the one made without the shim, the
# decompressed data identical to the input, and both runs must have put
# their large buffers in uvmalloc.
source "$(dirname "$0")/common.sh"
need zstd python3 cmp sha256sum
python3 "$here/gen_data.py" blob $((200 << 20)) "$tmp/in"

zstd -3 --long=31 -T2 -q -c "$tmp/in" >"$tmp/ref.zst"
uvm compress zstd -3 --long=31 -T2 -q -c "$tmp/in" >"$tmp/uvm.zst"
same_file "$tmp/ref.zst" "$tmp/uvm.zst" "compressed stream"
check_allocs compress

uvm decompress zstd -d --long=31 -q -c "$tmp/uvm.zst" >"$tmp/out"
same_file "$tmp/in" "$tmp/out" "decompressed data"
check_allocs decompress
echo "zstd: ok"
