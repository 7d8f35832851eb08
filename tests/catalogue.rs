//! Catalogue changes through the service, each run on SQLite and on PostgreSQL: edit, delete,
//! stale versions, and a product's events on the topic in version order under concurrent edits.

mod common;

use std::collections::BTreeMap;

use common::{blusa, drain_pending, read_at_least};
use dataflow::domain::{HEADER_EVENT, HEADER_VERSION, ProductDraft, ProductMessage};
use dataflow::service::{Edit, Service, ServiceError};
use dataflow::store::ProductQuery;

fn edit(id: i64, expected: Option<i64>) -> Edit<'static> {
    Edit {
        id,
        expected,
        by: Some("ana"),
        origin: None,
    }
}

fn priced(amount: &str, quantity: &str) -> ProductDraft {
    ProductDraft {
        name: "Blusa azul".into(),
        amount: amount.into(),
        quantity: quantity.into(),
        ..blusa()
    }
}

async fn events_of(store: &dataflow::store::Store, id: i64) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM outbox WHERE product_id = {id}");
    common::scalar(store, &sql).await
}

async fn edits_and_deletes(svc: Service) {
    let created = svc.register_as("bia", &blusa()).await.unwrap().product;
    assert_eq!(created.revision.version, 1);
    assert_eq!(created.revision.created_by.as_deref(), Some("bia"));
    assert_eq!(created.revision.updated_by, None);

    let updated = svc
        .update(edit(created.id, Some(1)), &priced("64.90", "7"))
        .await
        .expect("updates");
    assert_eq!(updated.revision.version, 2);
    assert_eq!(
        (updated.name.as_str(), updated.amount.to_string().as_str()),
        ("Blusa azul", "64.90")
    );
    assert_eq!(updated.quantity, 7);
    assert_eq!(updated.revision.created_by.as_deref(), Some("bia"));
    assert_eq!(updated.revision.updated_by.as_deref(), Some("ana"));
    assert!(updated.revision.updated_at.is_some());
    assert_eq!(
        updated.timestamp, created.timestamp,
        "the creation time stays"
    );
    let mut read = svc.product(created.id).await.unwrap().expect("still there");
    read.publish = updated.publish;
    assert_eq!(read, updated, "what update returns is what a read returns");

    // An invalid body changes nothing, field by field.
    let bad = svc
        .update(edit(created.id, Some(2)), &priced("-1", "x"))
        .await
        .unwrap_err();
    match bad {
        ServiceError::Invalid(errs) => {
            let fields: Vec<_> = errs.0.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["pricing.ammount", "availability.quantity"]);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }

    let deleted = svc
        .delete(edit(created.id, Some(2)))
        .await
        .expect("deletes");
    assert_eq!(deleted.revision.version, 3);
    assert_eq!(svc.product(created.id).await.unwrap(), None);
    let listed = svc
        .products(&ProductQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(listed.iter().all(|p| p.id != created.id));
    assert_eq!(svc.count_products(None).await.unwrap(), 0);
    for again in [
        svc.update(edit(created.id, None), &blusa()).await.err(),
        svc.delete(edit(created.id, None)).await.err(),
    ] {
        assert!(
            matches!(again, Some(ServiceError::NotFound(_))),
            "{again:?}"
        );
    }
    assert!(matches!(
        svc.update(edit(987_654, None), &blusa()).await,
        Err(ServiceError::NotFound(987_654))
    ));

    // On the topic: created, updated, deleted (a tombstone), versions 1, 2, 3.
    assert_eq!(drain_pending(&svc).await, 0);
    let key = created.id.to_string();
    let mine: Vec<_> = read_at_least(&svc, 3)
        .await
        .into_iter()
        .filter(|m| m.key.as_deref() == Some(key.as_str()))
        .collect();
    let seen: Vec<_> = mine
        .iter()
        .map(|m| (m.header(HEADER_EVENT), m.header(HEADER_VERSION)))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("created"), Some("1")),
            (Some("updated"), Some("2")),
            (Some("deleted"), Some("3")),
        ]
    );
    let value: ProductMessage = serde_json::from_slice(mine[1].bytes()).unwrap();
    assert_eq!(
        value,
        ProductMessage::of(&updated),
        "an update carries the full new state"
    );
    assert_eq!(mine[2].payload, None, "a delete is a tombstone");
}
both_backends!(edits_and_deletes, edits_and_deletes);

async fn stale_version_writes_nothing(svc: Service) {
    let id = svc.register(&blusa()).await.unwrap().product.id;
    svc.update(edit(id, Some(1)), &priced("10.00", "1"))
        .await
        .unwrap();
    let before = svc.product(id).await.unwrap().unwrap();
    let events = events_of(svc.store(), id).await;
    for result in [
        svc.update(edit(id, Some(1)), &priced("99.00", "9")).await,
        svc.delete(edit(id, Some(1))).await,
    ] {
        match result {
            Err(ServiceError::Stale {
                current, expected, ..
            }) => assert_eq!((current, expected), (2, 1)),
            other => panic!("expected Stale, got {other:?}"),
        }
    }
    let after = svc.product(id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.revision.version,
            after.amount.to_string(),
            after.quantity
        ),
        (
            before.revision.version,
            before.amount.to_string(),
            before.quantity
        )
    );
    assert_eq!(events_of(svc.store(), id).await, events, "no event either");
}
both_backends!(stale_version_writes_nothing, stale_version_writes_nothing);

/// Many writers edit the same products at once, without If-Match: every edit gets its own
/// version, and each product's events reach the topic in version order, the last one equal to
/// the database's state.
async fn concurrent_edits_keep_per_key_order(svc: Service) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(svc.register(&blusa()).await.unwrap().product.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (svc, ids) = (svc.clone(), ids.clone());
        tasks.spawn(async move {
            for round in 0..5 {
                for id in &ids {
                    let q = (w * 100 + round).to_string();
                    svc.update(edit(*id, None), &priced("1.00", &q))
                        .await
                        .expect("update");
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(drain_pending(&svc).await, 0);
    let per_product = 1 + 8 * 5;
    let all = read_at_least(&svc, ids.len() * per_product).await;
    let mut versions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut last: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for m in &all {
        let key = m.key.clone().unwrap();
        let v: i64 = m.header(HEADER_VERSION).unwrap().parse().unwrap();
        versions.entry(key.clone()).or_default().push(v);
        last.insert(key, m.bytes().to_vec());
    }
    for id in &ids {
        let seen = &versions[&id.to_string()];
        let want: Vec<i64> = (1..=per_product as i64).collect();
        assert_eq!(seen, &want, "product {id}: every version once, in order");
        let p = svc.product(*id).await.unwrap().unwrap();
        assert_eq!(p.revision.version, per_product as i64);
        let on_topic: ProductMessage = serde_json::from_slice(&last[&id.to_string()]).unwrap();
        assert_eq!(
            on_topic,
            ProductMessage::of(&p),
            "the topic's last value is the row"
        );
    }
}
both_backends!(
    concurrent_edits_keep_per_key_order,
    concurrent_edits_keep_per_key_order
);

/// Two services on one database (two relays, one embedded broker: the second joins the
/// first's) edit the same products at once; each product's events still reach the topic once
/// each and in version order, whichever relay publishes them.
async fn two_relays_keep_per_key_order(backend: common::Backend) {
    let db = common::TestDb::new(backend).await;
    let a = Service::start(db.settings(&[])).await.unwrap();
    let b = Service::start(db.settings(&[])).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(a.register(&blusa()).await.unwrap().product.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (w, svc) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        let ids = ids.clone();
        tasks.spawn(async move {
            for round in 0..6 {
                for id in &ids {
                    let q = (w * 100 + round).to_string();
                    svc.update(edit(*id, None), &priced("2.00", &q))
                        .await
                        .unwrap();
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(drain_pending(&a).await, 0);
    let per_product = 1 + 4 * 6;
    let all = read_at_least(&a, ids.len() * per_product).await;
    for id in &ids {
        let key = id.to_string();
        let seen: Vec<i64> = all
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_str()))
            .map(|m| m.header(HEADER_VERSION).unwrap().parse().unwrap())
            .collect();
        let want: Vec<i64> = (1..=per_product as i64).collect();
        assert_eq!(seen, want, "product {id}");
    }
    b.shutdown().await;
    a.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_per_key_order_sqlite() {
    two_relays_keep_per_key_order(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_per_key_order_postgres() {
    two_relays_keep_per_key_order(common::Backend::Postgres).await;
}
