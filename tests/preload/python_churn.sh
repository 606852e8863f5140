#!/usr/bin/env bash
# CPython allocation churn (churn.py: bytearray +=, large lists, bytes of
# 128 KiB to 4 MiB) under the shim: same checksum as without it.
source "$(dirname "$0")/common.sh"
py=$(python_bin)
"$py" "$here/churn.py" >"$tmp/ref"
uvm churn "$py" "$here/churn.py" >"$tmp/out"
same_file "$tmp/ref" "$tmp/out" "churn checksum"
check_allocs churn 100
echo "python churn: ok ($(cat "$tmp/out"))"
