#!/usr/bin/env bash
# The floor of a set-based bulk import on PostgreSQL: 1,000,000 rows COPYed into a staging
# table, then one INSERT ... SELECT per table of ours (product, import_key, pricing,
# availability, outbox) in one transaction, against `\copy` of the same file into one plain
# table. Run with and without our foreign keys, to see what they cost. Then the least any
# import must do under the contract: the contract's three tables (tb_product, tb_pricing,
# tb_availability, with their foreign keys) and nothing else, 10,000 rows per transaction.
# No dataflow code runs: this is what any bulk path in the database would pay at least.
#   cargo build --release && bash scripts/import_floor.sh [ROWS]
set -euo pipefail
rows=${1:-1000000}
pg=postgres://postgres@127.0.0.1:5432
bin="$(dirname "$0")/../target/release/dataflow"
tmp=$(mktemp -d)
python3 - "$rows" "$tmp/rows.csv" <<'PY'
import csv, sys
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    for i in range(int(sys.argv[1])):
        w.writerow([f"Produto {i}", f'linha, {i} com "aspas"', f"Cat {i % 7}",
                    f"{i % 1000}.{i % 100:02d}", "BRL", i, f"sha256:{i:032x}"])
PY
cat > "$tmp/load.sql" <<SQL
\timing on
CREATE TABLE ref (name text, description text, category text, amount numeric, currency text, quantity int, key text);
\copy ref FROM '$tmp/rows.csv' CSV
BEGIN;
CREATE TEMP TABLE stage (name text, description text, category text, amount text, currency text, quantity int, key text) ON COMMIT DROP;
\copy stage FROM '$tmp/rows.csv' CSV
CREATE TEMP TABLE ids ON COMMIT DROP AS SELECT nextval('tb_product_id_seq') AS id, s.* FROM stage s;
INSERT INTO tb_product (id, name, description, category, created_by) SELECT id, name, description, category, 'vert' FROM ids;
INSERT INTO import_key (key, product_id) SELECT key, id FROM ids;
INSERT INTO tb_pricing (product_id, ammount, currency) SELECT id, CAST(amount AS NUMERIC), currency FROM ids;
INSERT INTO tb_availability (product_id, quantity, "timestamp") SELECT id, quantity, now() FROM ids;
INSERT INTO outbox (product_id, msg_key, payload, created_at, destination) SELECT id, CAST(id AS TEXT), '{"id":' || id || ',"name":' || to_json(name) || '}', now(), 'x' FROM ids;
COMMIT;
SQL
for variant in with_fk without_fk; do
  db="import_floor_$variant"
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  DATAFLOW_DATA_DIR="$tmp/data" DATABASE_URL="$pg/$db" "$bin" migrate >/dev/null
  if [ "$variant" = without_fk ]; then
    psql -qAt "$pg/$db" -c "SELECT 'ALTER TABLE '||conrelid::regclass||' DROP CONSTRAINT '||quote_ident(conname)||';' FROM pg_constraint WHERE contype='f'" | psql -q "$pg/$db"
  fi
  echo "== $variant"
  psql "$pg/$db" -f "$tmp/load.sql" | grep -E '^Time' | paste -sd' '
  psql -q "$pg/postgres" -c "DROP DATABASE $db WITH (FORCE)"
done

# The contract's tables alone: no import key, no outbox, no validation, no publishing.
python3 - "$tmp/rows.csv" > "$tmp/contract.sql" <<'PY'
import sys
print(r"\timing on")
print(f"CREATE TABLE ref (name text, description text, category text, amount numeric, currency text, quantity int, key text);")
print(rf"\copy ref FROM '{sys.argv[1]}' CSV")
print("CREATE TABLE stage (name text, description text, category text, amount text, currency text, quantity int, key text);")
print(rf"\copy stage FROM '{sys.argv[1]}' CSV")
print("CREATE TABLE ids AS SELECT nextval('tb_product_id_seq') AS id, row_number() OVER () AS n, s.* FROM stage s;")
print("CREATE INDEX ON ids (n);")
print(r"\echo contract")
rows = sum(1 for _ in open(sys.argv[1], "rb"))
for lo in range(0, rows, 10000):
    w = f"FROM ids WHERE n > {lo} AND n <= {lo + 10000}"
    print("BEGIN;")
    print(f"INSERT INTO tb_product (id, name, description, category, created_by) SELECT id, name, description, category, 'vert' {w};")
    print(f"INSERT INTO tb_pricing (product_id, ammount, currency) SELECT id, CAST(amount AS NUMERIC), currency {w};")
    print(f'INSERT INTO tb_availability (product_id, quantity, "timestamp") SELECT id, quantity, now() {w};')
    print("COMMIT;")
PY
db=import_floor_contract
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
DATAFLOW_DATA_DIR="$tmp/data" DATABASE_URL="$pg/$db" "$bin" migrate >/dev/null
echo "== contract tables only, 10,000 rows per transaction (ms)"
psql "$pg/$db" -f "$tmp/contract.sql" > "$tmp/contract.out"
python3 - "$tmp/contract.out" <<'PY'
import sys
ms, part = [], None
for line in open(sys.argv[1]):
    if line.startswith("contract"):
        part = []
    elif line.startswith("Time: "):
        (ms if part is None else part).append(float(line.split()[1]))
ref = ms[1]  # \timing's second figure: the \copy into ref (after its CREATE TABLE)
print(f"\\copy {ref:.0f} ms; staging and ids {sum(ms[2:]):.0f} ms; "
      f"the three tables {sum(part):.0f} ms = {sum(part) / ref:.1f}x \\copy")
PY
psql -q "$pg/postgres" -c "DROP DATABASE $db WITH (FORCE)"
rm -rf "$tmp"
