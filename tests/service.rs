//! Service tests, one body per behaviour, each run on SQLite and on PostgreSQL.

mod common;

use common::blusa;
use dataflow::domain::{ProductDraft, PublishState};
use dataflow::service::{Service, ServiceError};
use dataflow::store::{Order, ProductQuery};

async fn registers_and_reads_back(svc: Service) {
    let r = svc.register(&blusa()).await.expect("registers");
    let p = r.product;
    assert!(p.id > 0);
    assert_eq!(
        (p.name.as_str(), p.category.as_str()),
        ("Blusa", "Vestuário")
    );
    assert_eq!(p.amount.to_string(), "59.99");
    assert_eq!((p.currency.as_str(), p.quantity), ("BRL", 50));
    assert!(
        matches!(p.publish, PublishState::Published { .. }),
        "healthy broker acks in time: {:?}",
        p.publish
    );
    let stored = svc.product(p.id).await.unwrap().expect("stored");
    assert_eq!(stored, p, "what register returns is what a read returns");
    let all = svc
        .products(&ProductQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all, vec![p]);
}
both_backends!(registers_and_reads_back, registers_and_reads_back);

async fn unicode_round_trips(svc: Service) {
    let draft = ProductDraft {
        name: "Café ☕ 漢字 e\u{301} 👩‍👩‍👧".into(),
        description: "linha 1\nlinha 2\t'aspas' \"duplas\" \\ %_".into(),
        category: "Ünïcødé".into(),
        ..blusa()
    };
    let id = svc.register(&draft).await.unwrap().product.id;
    let p = svc.product(id).await.unwrap().unwrap();
    assert_eq!(
        (p.name, p.description, p.category),
        (draft.name, draft.description, draft.category)
    );
}
both_backends!(unicode_round_trips, unicode_round_trips);

fn with(f: impl FnOnce(&mut ProductDraft)) -> ProductDraft {
    let mut d = blusa();
    f(&mut d);
    d
}

async fn accepts_every_edge(svc: Service) {
    let edges = [
        with(|d| d.name = "n".repeat(200)),
        with(|d| d.name = "x".into()),
        with(|d| d.description = String::new()),
        with(|d| d.description = "d".repeat(2000)),
        with(|d| d.category = "c".repeat(100)),
        with(|d| d.amount = "0".into()),
        with(|d| d.amount = "999999999999.99".into()),
        with(|d| d.currency = "XAU".into()),
        with(|d| d.quantity = "0".into()),
        with(|d| d.quantity = "2147483647".into()),
    ];
    for d in &edges {
        let p = svc
            .register(d)
            .await
            .unwrap_or_else(|e| panic!("{d:?} should pass: {e}"))
            .product;
        let back = svc.product(p.id).await.unwrap().unwrap();
        assert_eq!(
            back.amount.to_string(),
            d.amount
                .parse::<dataflow::domain::Amount>()
                .unwrap()
                .to_string()
        );
        assert_eq!(back.quantity.to_string(), d.quantity);
    }
    assert_eq!(svc.count_products(None).await.unwrap(), edges.len() as i64);
}
both_backends!(accepts_every_edge, accepts_every_edge);

async fn rejects_every_edge_naming_the_field(svc: Service) {
    let saved = svc.register(&blusa()).await.unwrap().product;
    let cases: Vec<(ProductDraft, &str)> = vec![
        (with(|d| d.name = "n".repeat(201)), "name"),
        (with(|d| d.name = String::new()), "name"),
        (with(|d| d.name = " \t ".into()), "name"),
        (with(|d| d.description = "d".repeat(2001)), "description"),
        (with(|d| d.category = String::new()), "category"),
        (with(|d| d.category = "c".repeat(101)), "category"),
        (with(|d| d.amount = "-0.01".into()), "pricing.ammount"),
        (
            with(|d| d.amount = "1000000000000".into()),
            "pricing.ammount",
        ),
        (with(|d| d.amount = "1.001".into()), "pricing.ammount"),
        (with(|d| d.amount = "NaN".into()), "pricing.ammount"),
        (with(|d| d.amount = "inf".into()), "pricing.ammount"),
        (with(|d| d.currency = "brl".into()), "pricing.currency"),
        (with(|d| d.currency = "XXY".into()), "pricing.currency"),
        (with(|d| d.quantity = "-1".into()), "availability.quantity"),
        (
            with(|d| d.quantity = "2147483648".into()),
            "availability.quantity",
        ),
        (with(|d| d.quantity = "1.5".into()), "availability.quantity"),
    ];
    for (draft, field) in cases {
        match svc.register(&draft).await {
            Err(ServiceError::Invalid(errs)) => {
                assert_eq!(errs.0.len(), 1, "{draft:?}: {errs}");
                assert_eq!(errs.0[0].field, field);
                assert!(!errs.0[0].message.is_empty());
            }
            other => panic!("{draft:?} should be rejected on {field}, got {other:?}"),
        }
    }
    assert_eq!(
        svc.count_products(None).await.unwrap(),
        1,
        "nothing saved, nothing lost"
    );
    assert_eq!(svc.product(saved.id).await.unwrap().unwrap(), saved);
}
both_backends!(
    rejects_every_edge_naming_the_field,
    rejects_every_edge_naming_the_field
);

/// A failure at the last statement of the transaction (a trigger on the outbox) leaves no
/// product, pricing or availability row behind.
async fn failed_transaction_leaves_no_partial_rows(svc: Service) {
    let store = svc.store();
    let trigger = if store.backend() == "postgres" {
        "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION boom();"
    } else {
        "CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'boom'); END;"
    };
    store.execute_script(trigger).await.unwrap();
    let err = svc
        .register(&blusa())
        .await
        .expect_err("the trigger aborts the transaction");
    assert!(matches!(err, ServiceError::Database(_)), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver's error is kept as the source"
    );
    for table in ["tb_product", "tb_pricing", "tb_availability", "outbox"] {
        let n: i64 = match store {
            dataflow::store::Store::Sqlite(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
            dataflow::store::Store::Postgres(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(n, 0, "{table} must be empty after a rollback");
    }
    store
        .execute_script("DROP TRIGGER outbox_boom ON outbox")
        .await
        .ok();
    store.execute_script("DROP TRIGGER outbox_boom").await.ok();
    assert!(
        svc.register(&blusa()).await.is_ok(),
        "works again once the fault is gone"
    );
}
both_backends!(
    failed_transaction_leaves_no_partial_rows,
    failed_transaction_leaves_no_partial_rows
);

async fn login_right_wrong_unknown(svc: Service) {
    assert!(svc.login("vert", "vert").await.unwrap());
    assert!(!svc.login("vert", "wrong").await.unwrap());
    assert!(!svc.login("nobody", "vert").await.unwrap());
    assert!(!svc.login("", "").await.unwrap());
    // The stored hash is argon2id, never the password.
    let hash = svc.store().user_hash("vert").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}
both_backends!(login_right_wrong_unknown, login_right_wrong_unknown);

async fn lists_by_key_with_filter(svc: Service) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let d = with(|d| {
            d.name = format!("Item {i}");
            d.category = if i % 2 == 0 {
                "Calçados".into()
            } else {
                "Vestuário".into()
            };
        });
        ids.push(svc.register(&d).await.unwrap().product.id);
    }
    let page = |order, cursor, filter: Option<&str>| ProductQuery {
        order,
        cursor,
        limit: 3,
        filter: filter.map(Into::into),
    };
    let first = svc
        .products(&page(Order::Descending, None, None))
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ids[6], ids[5], ids[4]]
    );
    let second = svc
        .products(&page(Order::Descending, Some(ids[4]), None))
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ids[3], ids[2], ids[1]]
    );
    let asc = svc
        .products(&page(Order::Ascending, Some(ids[4]), None))
        .await
        .unwrap();
    assert_eq!(
        asc.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ids[5], ids[6]]
    );
    let shoes = svc
        .products(&ProductQuery {
            limit: 100,
            filter: Some("CALÇ".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Non-ASCII letters fold on both back ends (SQLite's own lower() folds ASCII only).
    let shoes_ascii = svc
        .products(&ProductQuery {
            limit: 100,
            filter: Some("calç".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(shoes_ascii.len(), 4);
    assert_eq!(shoes.len(), 4, "CALÇ finds Calçados");
    assert_eq!(svc.count_products(Some("VESTUÁRIO")).await.unwrap(), 3);
    assert_eq!(svc.count_products(Some("ários")).await.unwrap(), 0);
    assert_eq!(
        svc.count_products(Some(".*")).await.unwrap(),
        0,
        "not a pattern"
    );
    let one = svc
        .products(&ProductQuery {
            limit: 100,
            filter: Some("item 3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(svc.count_products(Some("calç")).await.unwrap(), 4);
    assert_eq!(
        svc.count_products(Some("%")).await.unwrap(),
        0,
        "wildcards are literal"
    );
    assert_eq!(svc.count_products(None).await.unwrap(), 7);
}
both_backends!(lists_by_key_with_filter, lists_by_key_with_filter);

async fn money_is_exact(svc: Service) {
    let a = svc
        .register(&with(|d| d.amount = "0.1".into()))
        .await
        .unwrap()
        .product;
    let b = svc
        .register(&with(|d| d.amount = "0.2".into()))
        .await
        .unwrap()
        .product;
    let sum = dataflow::domain::Amount::from_cents(a.amount.cents() + b.amount.cents()).unwrap();
    assert_eq!(sum.to_string(), "0.30");
    let back = svc.product(a.id).await.unwrap().unwrap();
    assert_eq!(back.amount.to_string(), "0.10");
}
both_backends!(money_is_exact, money_is_exact);

/// PASSWORD_API creates the API user and never rewrites it: a process started with another
/// password (or the default, as a laptop's TUI would) neither changes nor weakens it, and
/// the first-run hint shows only while the stored password is the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_api_never_rewrites_a_stored_password() {
    for backend in [common::Backend::Sqlite, common::Backend::Postgres] {
        let db = common::TestDb::new(backend).await;
        let svc = Service::start(db.settings(&[("PASSWORD_API", "first-secret")]))
            .await
            .unwrap();
        assert!(svc.login("vert", "first-secret").await.unwrap());
        assert_eq!(svc.default_login(), None);
        svc.shutdown().await;
        for other in [&[("PASSWORD_API", "second-secret")][..], &[]] {
            let svc = Service::start(db.settings(other)).await.unwrap();
            assert!(
                svc.login("vert", "first-secret").await.unwrap(),
                "{other:?}"
            );
            assert!(!svc.login("vert", "second-secret").await.unwrap());
            assert!(!svc.login("vert", "vert").await.unwrap(), "never weakened");
            assert_eq!(svc.default_login(), None, "no first-run hint: {other:?}");
            svc.shutdown().await;
        }
        db.drop_db().await;
        let db = common::TestDb::new(backend).await;
        let svc = Service::start(db.settings(&[])).await.unwrap();
        assert_eq!(svc.default_login(), Some("vert"), "a real first run");
        svc.shutdown().await;
        db.drop_db().await;
    }
}

/// A filter with a control character (pasted, say) neither errors on PostgreSQL, which refuses
/// NUL in text, nor misses: no stored text holds one, so it is dropped.
async fn filters_with_control_characters(svc: Service) {
    svc.register(&blusa()).await.unwrap();
    let q = ProductQuery {
        limit: 10,
        filter: Some("Blu\u{0}sa".into()),
        ..Default::default()
    };
    assert_eq!(svc.products(&q).await.unwrap().len(), 1);
    assert_eq!(svc.count_products(Some("Blu\u{0}sa")).await.unwrap(), 1);
    assert_eq!(
        svc.count_products(Some("\u{0}")).await.unwrap(),
        1,
        "no filter left"
    );
}
both_backends!(
    filters_with_control_characters,
    filters_with_control_characters
);
