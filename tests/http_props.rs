//! Property tests: arbitrary JSON and strings thrown at the product route never get a 5xx
//! and never leave a partial row.

mod common;

use common::server::TestServer;
use common::{Backend, table_counts};
use dataflow::http::ThrottleRules;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Number, Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(".{0,8}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Values that land near the rules' edges as often as far from them.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,3}".prop_map(Value::String),
        ".{195,205}".prop_map(Value::String),
        "[A-Z]{3}".prop_map(Value::String),
        Just(json!("BRL")),
        any::<i64>().prop_map(|i| json!(i)),
        (0i64..3_000_000_000).prop_map(|i| json!(i)),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        (0u64..100_000, 0u32..1000)
            .prop_map(|(w, f)| serde_json::from_str(&format!("{w}.{f}")).unwrap()),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
    ]
}

/// Usually a valid value for the field, sometimes anything: so both paths get exercised.
fn mostly(valid: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![3 => valid, 1 => field_value()].boxed()
}

fn product_like() -> impl Strategy<Value = Value> {
    let text = |max: usize| {
        let re = format!(
            "[a-zA-Z0-9À-ÿ一-龥😀-🙏][a-zA-Z0-9À-ÿ一-龥😀-🙏 ,.-]{{0,{}}}",
            max - 1
        );
        proptest::string::string_regex(&re)
            .unwrap()
            .prop_map(Value::String)
    };
    (
        mostly(text(200)),
        mostly(text(50)),
        mostly(text(100)),
        mostly(
            (0u64..1_000_000_000, 0u32..100)
                .prop_map(|(w, c)| serde_json::from_str(&format!("{w}.{c:02}")).unwrap()),
        ),
        mostly(prop_oneof![
            Just(json!("BRL")),
            Just(json!("USD")),
            Just(json!("JPY"))
        ]),
        mostly((0i64..=i64::from(i32::MAX)).prop_map(|q| json!(q))),
    )
        .prop_map(|(n, d, c, a, cur, q)| {
            json!({"name": n, "description": d, "category": c,
                   "pricing": {"ammount": a, "currency": cur}, "availability": {"quantity": q}})
        })
}

enum Body {
    Json(Value),
    Raw(String),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Json(v) => write!(f, "{v}"),
            Body::Raw(s) => write!(f, "raw {s:?}"),
        }
    }
}

fn any_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => product_like().prop_map(Body::Json),
        2 => arb_json().prop_map(Body::Json),
        1 => ".{0,64}".prop_map(Body::Raw),
    ]
}

fn run(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TestServer::start(backend, ThrottleRules::default()));
    let token = rt.block_on(server.token());
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    let saved = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&any_body(), |body| {
        rt.block_on(async {
            let before = table_counts(server.svc.store()).await;
            let req = server
                .client
                .post(server.url("/api/vert/register/product"))
                .bearer_auth(&token);
            let req = match &body {
                Body::Json(v) => req.json(v),
                Body::Raw(s) => req
                    .header("content-type", "application/json")
                    .body(s.clone()),
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let answer: Value = r.json().await.unwrap_or(Value::Null);
            prop_assert!(status < 500, "{status} for {body:?}: {answer}");
            let code = status.to_string();
            prop_assert_eq!(answer["code"].as_str(), Some(code.as_str()));
            let after = table_counts(server.svc.store()).await;
            let grew = if status == 200 { 1 } else { 0 };
            saved.fetch_add(grew as usize, std::sync::atomic::Ordering::Relaxed);
            prop_assert_eq!(
                after,
                before.map(|n| n + grew),
                "rows move together, one product at a time"
            );
            Ok(())
        })
    });
    rt.block_on(server.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(saved.into_inner() > 5, "the success path was exercised too");
}

#[test]
fn product_route_never_5xx_never_partial_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn product_route_never_5xx_never_partial_postgres() {
    run(Backend::Postgres);
}
