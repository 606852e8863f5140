#!/usr/bin/env bash
# fork() from CPython with a large bytearray live (fork_child.py): parent and
# child overwrite it concurrently, each must see only its own writes, and the
# child's snapshot must be the pre-fork content.
source "$(dirname "$0")/common.sh"
py=$(python_bin)
"$py" "$here/fork_child.py" >"$tmp/ref"
uvm fork "$py" "$here/fork_child.py" >"$tmp/out"
cat "$tmp/out"
same_file "$tmp/ref" "$tmp/out" "fork report"
grep -qx 'fork: ok' "$tmp/out" || exit 1
check_allocs fork 4
echo "python fork: ok"
