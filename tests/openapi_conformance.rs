//! The API document equals the behaviour: generated requests (any route, any auth, any body,
//! parameters inside and outside their documented bounds) must get a status that
//! `/openapi.json` documents for that operation, a body that matches the documented schema,
//! and a 4xx whenever a parameter breaks a documented bound.

mod common;

use common::Backend;
use common::server::TestServer;
use dataflow::http::ThrottleRules;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Auth {
    Good,
    Missing,
    Garbage,
}

#[derive(Debug, Clone)]
enum Payload {
    Json(Value),
    Raw(String),
    WrongType,
}

#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    /// The document's path template, and the path as sent.
    template: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    auth: Auth,
    payload: Option<Payload>,
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..50).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("9223372036854775808".to_string()),
        Just("10001".to_string()),
        "[a-z]{1,4}",
    ]
}

fn body() -> impl Strategy<Value = Payload> {
    let product = (any::<bool>(), -2i64..3, "[A-Za-z]{0,3}").prop_map(|(name, q, cur)| {
        json!({"name": if name { "Blusa" } else { "" }, "description": "", "category": "Roupa",
               "pricing": {"ammount": 9.5, "currency": cur}, "availability": {"quantity": q}})
    });
    prop_oneof![
        3 => product.prop_map(Payload::Json),
        1 => Just(Payload::Json(json!({"username": "vert", "password": "wrong"}))),
        1 => Just(Payload::Json(json!({"username": 5}))),
        1 => ".{0,20}".prop_map(Payload::Raw),
        1 => Just(Payload::WrongType),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    let auth =
        prop_oneof![4 => Just(Auth::Good), 1 => Just(Auth::Missing), 1 => Just(Auth::Garbage)];
    let id = prop_oneof![
        (-3i64..100).prop_map(|n| n.to_string()),
        "[a-z]{1,3}",
        Just("99999999999999999999".to_string())
    ];
    let route = prop_oneof![
        (id.clone(), body()).prop_map(|(i, b)| (
            "put",
            "/api/vert/product/{id}",
            Some(i),
            vec![],
            Some(b)
        )),
        id.clone()
            .prop_map(|i| ("delete", "/api/vert/product/{id}", Some(i), vec![], None)),
        body().prop_map(|b| ("post", "/api/vert/auth/login", None, vec![], Some(b))),
        body().prop_map(|b| ("post", "/api/vert/register/product", None, vec![], Some(b))),
        id.prop_map(|i| ("get", "/api/vert/product/{id}", Some(i), vec![], None)),
        (
            proptest::option::of(number_text()),
            proptest::option::of(number_text())
        )
            .prop_map(|(l, a)| {
                let q: Vec<(&'static str, String)> = [("limit", l), ("after", a)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
                ("get", "/api/vert/product/all", None, q, None)
            }),
        proptest::option::of(number_text()).prop_map(|m| {
            (
                "get",
                "/api/vert/kafka/consumer/product",
                None,
                m.map(|m| vec![("max", m)]).unwrap_or_default(),
                None,
            )
        }),
        Just(("get", "/healthz", None, vec![], None)),
        Just(("get", "/", None, vec![], None)),
    ];
    (route, auth).prop_map(|((method, template, id, query, payload), auth)| Call {
        method,
        template,
        path: match id {
            Some(i) => template.replace("{id}", &i),
            None => template.to_string(),
        },
        query,
        auth,
        payload,
    })
}

/// True when `raw` (a query value) breaks a bound the document states for `name`.
fn breaks_bound(op: &Value, name: &str, raw: &str) -> bool {
    let Some(params) = op["parameters"].as_array() else {
        return false;
    };
    let Some(p) = params.iter().find(|p| p["name"] == name) else {
        return false;
    };
    let Ok(n) = raw.parse::<i128>() else {
        return true; // not an integer at all
    };
    let s = &p["schema"];
    let below = s["minimum"].as_i64().is_some_and(|m| n < i128::from(m));
    let above = s["maximum"].as_i64().is_some_and(|m| n > i128::from(m));
    let outside_int64 = s["format"] == "int64" && i64::try_from(n).is_err();
    below || above || outside_int64
}

fn validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Some(obj) = root.as_object_mut() {
        obj.insert("components".into(), spec["components"].clone());
    }
    jsonschema::draft202012::new(&root).expect("the document's schemas compile")
}

#[test]
fn generated_requests_match_the_document() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TestServer::start(
        Backend::Sqlite,
        ThrottleRules {
            per_user: 1_000_000,
            per_address: 1_000_000,
            ..ThrottleRules::default()
        },
    ));
    let token = rt.block_on(server.token());
    // product/all then answers items, which must match their schema without revision fields.
    rt.block_on(async {
        for _ in 0..2 {
            server.svc.register(&common::blusa()).await.unwrap();
        }
    });
    let spec: Value = rt.block_on(async {
        server
            .client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&call(), |c| {
        rt.block_on(async {
            let op = &spec["paths"][c.template][c.method];
            prop_assert!(
                op.is_object(),
                "{} {} is in the document",
                c.method,
                c.template
            );
            for (name, _) in &c.query {
                let param = op["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == *name));
                prop_assert!(
                    param.is_some_and(|p| p["in"] == "query" && p["required"] != true),
                    "{name} is an optional query parameter of {}: {param:?}",
                    c.template
                );
            }
            let url = url::Url::parse_with_params(&server.url(&c.path), &c.query).unwrap();
            let mut req = match c.method {
                "post" => server.client.post(url),
                "put" => server.client.put(url),
                "delete" => server.client.delete(url),
                _ => server.client.get(url),
            };
            req = match c.auth {
                Auth::Good => req.bearer_auth(&token),
                Auth::Missing => req,
                Auth::Garbage => req.bearer_auth("not-a-token"),
            };
            req = match &c.payload {
                Some(Payload::Json(v)) => req.json(v),
                Some(Payload::Raw(s)) => req
                    .header("content-type", "application/json")
                    .body(s.clone()),
                Some(Payload::WrongType) => req.header("content-type", "text/plain").body("x"),
                None => req,
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = r.text().await.unwrap_or_default();
            let documented = &op["responses"][status.to_string()];
            prop_assert!(
                documented.is_object(),
                "{status} is not documented for {} {}: {text}",
                c.method,
                c.template
            );
            if let Some(schema) = documented["content"]["application/json"].get("schema") {
                prop_assert!(
                    content_type.starts_with("application/json"),
                    "{content_type}"
                );
                let body: Value = serde_json::from_str(&text).map_err(|e| {
                    TestCaseError::fail(format!("{status} body is not JSON ({e}): {text}"))
                })?;
                let v = validator(&spec, schema);
                if let Err(e) = v.validate(&body) {
                    return Err(TestCaseError::fail(format!(
                        "{status} from {} {} does not match its schema: {e}\n{body}",
                        c.method, c.template
                    )));
                }
            }
            for (name, raw) in &c.query {
                if breaks_bound(op, name, raw) {
                    prop_assert!(
                        (400..500).contains(&status),
                        "{name}={raw} breaks a documented bound but got {status}"
                    );
                }
            }
            Ok(())
        })
    });
    rt.block_on(server.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
}
