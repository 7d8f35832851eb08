//! Bulk rows for benchmarks (`dataflow bench --seed N`): products with pricing and
//! availability, generated inside the database so millions take seconds. Never used by the
//! application itself; seeded products have no outbox event.

use super::{Result, Store, on_pool};

const SEED_PG: &str = "WITH p AS (
    INSERT INTO tb_product (name, description, category)
    SELECT 'Seeded product ' || g, 'generated for benchmarks',
           CASE WHEN g % 2 = 0 THEN 'Vestuário' ELSE 'Calçados' END
    FROM generate_series(1, $1) g RETURNING id
  ), pr AS (
    INSERT INTO tb_pricing (product_id, ammount, currency) SELECT id, (id % 100000) / 100.0, 'BRL' FROM p
  )
  INSERT INTO tb_availability (product_id, quantity, \"timestamp\") SELECT id, id % 500, now() FROM p";

const SEED_SQLITE: [&str; 3] = [
    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1)
     INSERT INTO tb_product (name, description, category)
     SELECT 'Seeded product ' || n, 'generated for benchmarks',
            CASE WHEN n % 2 = 0 THEN 'Vestuário' ELSE 'Calçados' END FROM g",
    "INSERT INTO tb_pricing (product_id, ammount, currency)
     SELECT id, printf('%d.%02d', (id % 100000) / 100, id % 100), 'BRL' FROM tb_product WHERE id > $1",
    "INSERT INTO tb_availability (product_id, quantity, \"timestamp\")
     SELECT id, id % 500, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM tb_product WHERE id > $1",
];

impl Store {
    pub async fn seed_products(&self, n: i64) -> Result<()> {
        match self {
            Store::Postgres(pool) => {
                sqlx::query(SEED_PG).bind(n).execute(pool).await?;
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM tb_product")
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(SEED_SQLITE[0])
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(SEED_SQLITE[1])
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(SEED_SQLITE[2])
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        on_pool!(self, |pool, pg| {
            sqlx::query("ANALYZE").execute(pool).await?;
        });
        Ok(())
    }
}
