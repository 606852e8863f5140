# shellcheck shell=bash
# Sourced by the preload test scripts: tests/preload/<name>.sh SHIM RUN [...]
#   SHIM  path of libuvmalloc_preload.so
#   RUN   path of the uvmalloc-run script
# Gives them a scratch directory ($tmp, removed on exit), `need` for required
# commands (missing ones fail the test: scripts/setup.sh installs them), and
# `uvm` to run a command under the shim with --stats, its stderr kept in
# $tmp/<label>.err for `check_allocs`.
set -euo pipefail

[ $# -ge 2 ] || {
  echo "usage: $0 SHIM UVMALLOC_RUN [args]" >&2
  exit 2
}
SHIM=$1
RUN=$2
shift 2
[ -f "$SHIM" ] || {
  echo "no shim at $SHIM" >&2
  exit 1
}
[ -f "$RUN" ] || {
  echo "no uvmalloc-run at $RUN" >&2
  exit 1
}
# shellcheck disable=SC2034 # used by the scripts that source this file
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uvm-preload.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || {
      echo "FAIL: required command '$c' is missing (scripts/setup.sh installs it)" >&2
      exit 1
    }
  done
}

# The real interpreter, not a version-manager wrapper script (which would run
# several processes of its own under the shim).
python_bin() {
  need python3
  python3 -c 'import sys; print(sys.executable)'
}

# uvm LABEL CMD [ARGS...]: run CMD under the shim with --stats. stdin and
# stdout are the caller's; stderr goes to $tmp/LABEL.err. Through `sh`, so the
# script need not be executable.
uvm() {
  local label=$1
  shift
  local rc=0
  sh "$RUN" --lib "$SHIM" --stats -- "$@" 2>"$tmp/$label.err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: '$*' under the shim exited $rc; its stderr:" >&2
    tail -n 40 "$tmp/$label.err" >&2
    exit 1
  fi
}

# check_allocs LABEL [MIN]: the run's stats show at least MIN (default 1)
# uvmalloc allocations in one process. Fails when no stats were printed.
check_allocs() {
  local label=$1 min=${2:-1} err="$tmp/$1.err" most
  if ! grep -q '^uvmalloc stats:' "$err"; then
    echo "FAIL: $label: no uvmalloc stats on stderr" >&2
    tail -n 20 "$err" >&2
    exit 1
  fi
  most=$(sed -n 's/.*(allocs \([0-9]*\), frees [0-9]*).*/\1/p' "$err" | sort -n | tail -n 1)
  grep -E '^  (areas|reused|mapped) ' "$err" | tail -n 3 | sed "s/^/  [$label] /"
  if [ "${most:-0}" -lt "$min" ]; then
    echo "FAIL: $label: uvmalloc served $most allocations, expected at least $min" >&2
    exit 1
  fi
}

# same_file A B WHAT: byte-identical, else fail with both checksums.
same_file() {
  if ! cmp -s "$1" "$2"; then
    echo "FAIL: $3 differs:" >&2
    sha256sum "$1" "$2" >&2
    exit 1
  fi
  echo "  $3: identical ($(sha256sum <"$1" | cut -c1-16))"
}
