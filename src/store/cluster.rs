//! Destinations by cluster: which spellings of KAFKA_HOST reach one cluster, the events no
//! process of this configuration serves, and moving events to another cluster on purpose.

use super::{Result, Store, on_pool};

/// Pending events of one destination.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DestinationPending {
    pub name: String,
    /// `<cluster id>/<topic>` once a relay has reached it.
    pub cluster: Option<String>,
    pub pending: i64,
}

const SET_CLUSTER: &str = "UPDATE destination SET cluster = $2 WHERE name = $1";
const UNIDENTIFIED: &str =
    "SELECT name FROM destination WHERE kind = 'kafka' AND cluster IS NULL AND name <> $1";
const PENDING_BY: &str = "SELECT d.name, d.cluster, CAST(COUNT(o.id) AS BIGINT) AS pending
  FROM destination d LEFT JOIN outbox o ON o.destination = d.name AND o.published_at IS NULL
  GROUP BY d.name, d.cluster ORDER BY d.name";
// Claims are dropped: the events start afresh at the new destination, in event order.
const REROUTE: &str = "UPDATE outbox SET destination = $2, claimed_by = NULL, claimed_until = NULL
  WHERE destination = $1 AND published_at IS NULL";

impl Store {
    /// Records that `name` reaches the cluster and topic `cluster` (`<cluster id>/<topic>`).
    pub async fn set_cluster(&self, name: &str, cluster: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(SET_CLUSTER)
                .bind(name)
                .bind(cluster)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Real-cluster destinations other than `except` whose cluster nobody has identified yet.
    pub async fn unidentified_destinations(&self, except: &str) -> Result<Vec<String>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(UNIDENTIFIED)
            .bind(except)
            .fetch_all(pool)
            .await?))
    }

    /// Every destination, and how many events wait for it.
    pub async fn pending_by_destination(&self) -> Result<Vec<DestinationPending>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(PENDING_BY)
            .fetch_all(pool)
            .await?))
    }

    /// Moves the pending events of `from` to `to`; how many moved.
    pub async fn reroute(&self, from: &str, to: &str) -> Result<u64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(REROUTE)
            .bind(from)
            .bind(to)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}

/// Splits `all` into the destinations `own` publishes (itself, and any found to be the same
/// cluster and topic) and the rest, which wait for another process or a reroute.
pub fn served_by(
    own: &str,
    all: Vec<DestinationPending>,
) -> (Vec<DestinationPending>, Vec<DestinationPending>) {
    let cluster = all
        .iter()
        .find(|d| d.name == own)
        .and_then(|d| d.cluster.clone());
    all.into_iter()
        .partition(|d| d.name == own || (d.cluster.is_some() && d.cluster == cluster))
}

#[cfg(test)]
mod tests {
    use super::{DestinationPending, served_by};

    fn d(name: &str, cluster: Option<&str>, pending: i64) -> DestinationPending {
        let (name, cluster) = (name.to_string(), cluster.map(String::from));
        DestinationPending {
            name,
            cluster,
            pending,
        }
    }

    #[test]
    fn another_spelling_of_the_cluster_is_served_and_another_cluster_is_not() {
        let all = vec![
            d("kafka:a:1/t", Some("c1/t"), 4),
            d("kafka:a:1,b:1/t", Some("c1/t"), 0),
            d("kafka:x:1/t", Some("c2/t"), 2),
            d("kafka:y:1/t", None, 1),
        ];
        let (served, elsewhere) = served_by("kafka:a:1,b:1/t", all);
        let names = |v: &[DestinationPending]| v.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&served), ["kafka:a:1/t", "kafka:a:1,b:1/t"]);
        assert_eq!(names(&elsewhere), ["kafka:x:1/t", "kafka:y:1/t"]);
        // Not identified yet: only itself.
        let (served, _) = served_by(
            "kafka:y:1/t",
            vec![d("kafka:y:1/t", None, 1), d("kafka:z:1/t", None, 3)],
        );
        assert_eq!(names(&served), ["kafka:y:1/t"]);
    }
}
