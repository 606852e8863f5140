#!/usr/bin/env bash
# sqlite3 builds a table of a million rows with an index under the shim (a
# 256 MiB page cache, the index sorter): PRAGMA integrity_check is ok, the
# checksum queries give the same answers as without the shim, and the
# database files are byte-identical.
source "$(dirname "$0")/common.sh"
need sqlite3 cmp sha256sum
cat >"$tmp/build.sql" <<'SQL'
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-262144;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, pad BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
INSERT INTO t SELECT x, (x * 7919) % 1000003,
  printf('row-%08x-%d', (x * 2654435761) % 4294967296, x % 977),
  substr(replace(hex(zeroblob(100)), '0', char(65 + x % 26)), 1, x % 151) FROM c;
CREATE INDEX t_name ON t(name, k);
SQL
cat >"$tmp/check.sql" <<'SQL'
PRAGMA cache_size=-65536;
PRAGMA integrity_check;
SELECT count(*), sum(k), sum(length(name)), sum(length(pad)), max(name), min(name) FROM t;
SELECT sum(id * (k % 13)) FROM t WHERE k BETWEEN 1000 AND 900000;
SELECT group_concat(id, ',') FROM
  (SELECT id FROM t INDEXED BY t_name ORDER BY name, k LIMIT 40 OFFSET 500000);
SELECT k % 97, count(*), sum(id) FROM t GROUP BY k % 97 ORDER BY 1 LIMIT 5;
SQL
sqlite3 "$tmp/ref.db" <"$tmp/build.sql" >/dev/null
sqlite3 "$tmp/ref.db" <"$tmp/check.sql" >"$tmp/ref.out"
uvm build sqlite3 "$tmp/uvm.db" <"$tmp/build.sql" >/dev/null
uvm check sqlite3 "$tmp/uvm.db" <"$tmp/check.sql" >"$tmp/uvm.out"
head -n 1 "$tmp/uvm.out" | grep -qx ok || {
  echo "FAIL: integrity_check: $(head -n 3 "$tmp/uvm.out")" >&2
  exit 1
}
same_file "$tmp/ref.out" "$tmp/uvm.out" "query results"
same_file "$tmp/ref.db" "$tmp/uvm.db" "database file"
check_allocs build
check_allocs check
echo "sqlite: ok"
