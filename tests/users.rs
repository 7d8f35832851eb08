//! Users and roles over HTTP, on both back ends: what each role may do on every route, the
//! admin routes, revocation seen by a second replica, the last admin kept under concurrent
//! demotions, and the rules for names and passwords.

mod common;

use std::time::{Duration, Instant};

use common::server::TestServer;
use common::{Backend, TestDb};
use dataflow::domain::Role;
use dataflow::http::ThrottleRules;
use dataflow::service::{Service, ServiceError};
use reqwest::Method;
use serde_json::{Value, json};

fn product() -> Value {
    json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 5}})
}

async fn call(
    s: &TestServer,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.client.request(m, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn add(s: &TestServer, name: &str, role: Role) {
    dataflow::service::add_user(
        s.svc.store(),
        &dataflow::service::Actor::operator(),
        name,
        "a long secret",
        role,
    )
    .await
    .unwrap();
}

async fn roles_on_every_route(backend: Backend) {
    let s = TestServer::start(backend, ThrottleRules::default()).await;
    add(&s, "vera", Role::Viewer).await;
    add(&s, "edu", Role::Editor).await;
    let admin = s.token().await;
    let viewer = s.token_of("vera", "a long secret").await;
    let editor = s.token_of("edu", "a long secret").await;

    // An editor writes; what they write carries their name.
    let (st, v) = call(
        &s,
        Method::POST,
        "/api/vert/register/product",
        &editor,
        Some(product()),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["result"]["id"].as_i64().unwrap();
    let one = format!("/api/vert/product/{id}");
    let (st, v) = call(&s, Method::GET, &one, &viewer, None).await;
    assert_eq!(
        (st, v["result"]["created_by"].as_str()),
        (200, Some("edu")),
        "{v}"
    );

    // A viewer reads, and every write answers 403 naming the role it needs.
    assert_eq!(
        call(&s, Method::GET, "/api/vert/product/all", &viewer, None)
            .await
            .0,
        200
    );
    let writes = [
        (
            Method::POST,
            "/api/vert/register/product".to_string(),
            Some(product()),
        ),
        (Method::PUT, one.clone(), Some(product())),
        (Method::DELETE, one.clone(), None),
        (
            Method::GET,
            "/api/vert/kafka/consumer/product".to_string(),
            None,
        ),
    ];
    for (m, path, body) in writes.iter().cloned() {
        let (st, v) = call(&s, m.clone(), &path, &viewer, body).await;
        assert_eq!(st, 403, "{m} {path}: {v}");
        assert_eq!(v["code"], "403");
        assert_eq!(
            v["message"], "This route needs the editor role; you are a viewer",
            "{m} {path}"
        );
    }
    assert_eq!(
        s.svc.count_products(None).await.unwrap(),
        1,
        "nothing written by the viewer"
    );

    // Users are the admin's: 403 for the others, naming admin.
    for t in [&viewer, &editor] {
        for (m, path) in [
            (Method::GET, "/api/vert/users"),
            (Method::POST, "/api/vert/users"),
            (Method::GET, "/api/vert/users/vera"),
            (Method::PATCH, "/api/vert/users/vera"),
        ] {
            let body = (m != Method::GET).then(|| json!({"role": "admin"}));
            let (st, v) = call(&s, m.clone(), path, t, body).await;
            assert_eq!(st, 403, "{m} {path}: {v}");
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("needs the admin role"),
                "{v}"
            );
        }
    }
    // The editor's other writes.
    let (st, v) = call(&s, Method::PUT, &one, &editor, Some(product())).await;
    assert_eq!(
        (st, v["result"]["updated_by"].as_str()),
        (200, Some("edu")),
        "{v}"
    );
    assert_eq!(
        call(
            &s,
            Method::GET,
            "/api/vert/kafka/consumer/product",
            &editor,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(call(&s, Method::DELETE, &one, &editor, None).await.0, 200);

    // The admin's routes.
    let (st, v) = call(&s, Method::GET, "/api/vert/users", &admin, None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["result"],
        json!([{"username": "edu", "role": "editor", "disabled": false},
               {"username": "vera", "role": "viewer", "disabled": false},
               {"username": "vert", "role": "admin", "disabled": false}])
    );
    let new = json!({"username": "ana", "password": "another secret", "role": "editor"});
    let (st, v) = call(
        &s,
        Method::POST,
        "/api/vert/users",
        &admin,
        Some(new.clone()),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (201, Some("201")), "{v}");
    assert_eq!(
        call(&s, Method::POST, "/api/vert/users", &admin, Some(new))
            .await
            .0,
        409
    );
    let (st, v) = call(
        &s,
        Method::PATCH,
        "/api/vert/users/ana",
        &admin,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(
        (st, v["result"]["role"].as_str()),
        (200, Some("viewer")),
        "{v}"
    );
    let (st, v) = call(&s, Method::GET, "/api/vert/users/ana", &admin, None).await;
    assert_eq!(
        (st, v["result"]["role"].as_str()),
        (200, Some("viewer")),
        "{v}"
    );
    assert_eq!(
        call(&s, Method::GET, "/api/vert/users/nobody", &admin, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            &s,
            Method::PATCH,
            "/api/vert/users/nobody",
            &admin,
            Some(json!({"role": "viewer"}))
        )
        .await
        .0,
        404
    );
    // Bad input names the field and the rule; nothing is written.
    let bad = json!({"username": "a\u{0}b", "password": "short", "role": "root"});
    let (st, v) = call(&s, Method::POST, "/api/vert/users", &admin, Some(bad)).await;
    assert_eq!(st, 422, "{v}");
    let fields: Vec<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["username", "password", "role"],
        "every failing field: {v}"
    );
    let bad = json!({"username": "a\u{0}b", "password": "long enough", "role": "viewer"});
    let (st, v) = call(&s, Method::POST, "/api/vert/users", &admin, Some(bad)).await;
    assert_eq!(
        (st, v["result"][0]["field"].as_str()),
        (422, Some("username")),
        "{v}"
    );
    let bad = json!({"username": "bia", "password": "short", "role": "viewer"});
    let (st, v) = call(&s, Method::POST, "/api/vert/users", &admin, Some(bad)).await;
    assert_eq!(
        (st, v["result"][0]["field"].as_str()),
        (422, Some("password")),
        "{v}"
    );
    assert!(
        v["result"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at least 8"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        Method::PATCH,
        "/api/vert/users/ana",
        &admin,
        Some(json!({"disabled": "yes"})),
    )
    .await;
    assert_eq!(
        (st, v["result"][0]["field"].as_str()),
        (422, Some("disabled")),
        "{v}"
    );
    // The last admin stays one.
    for change in [json!({"role": "editor"}), json!({"disabled": true})] {
        let (st, v) = call(
            &s,
            Method::PATCH,
            "/api/vert/users/vert",
            &admin,
            Some(change),
        )
        .await;
        assert_eq!(st, 409, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("last enabled admin"),
            "{v}"
        );
    }
    assert_eq!(
        dataflow::service::list_users(s.svc.store())
            .await
            .unwrap()
            .len(),
        4
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_on_every_route_sqlite() {
    roles_on_every_route(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_on_every_route_postgres() {
    roles_on_every_route(Backend::Postgres).await;
}

/// Polls `probe` until it gives `want` or a generous bound passes (the other replica's cache
/// holds a user for a second).
async fn until(want: u16, mut probe: impl AsyncFnMut() -> u16) -> u16 {
    let start = Instant::now();
    loop {
        let got = probe().await;
        if got == want || start.elapsed() > Duration::from_secs(10) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A password change, a role change and a disable made through one replica apply to tokens
/// used on another, without a new login (and a new password logs in there at once).
async fn revocation_on_another_replica(backend: Backend) {
    let a = TestServer::start(backend, ThrottleRules::default()).await;
    let b = a.beside().await;
    add(&a, "edu", Role::Editor).await;
    let admin = a.token().await;
    let on_b = b.token_of("edu", "a long secret").await;
    let register = |t: String| {
        let b = &b;
        async move {
            call(
                b,
                Method::POST,
                "/api/vert/register/product",
                &t,
                Some(product()),
            )
            .await
            .0
        }
    };
    assert_eq!(register(on_b.clone()).await, 200);

    // Role: editor -> viewer on A; B refuses the same token's write.
    let patch = |body: Value| call(&a, Method::PATCH, "/api/vert/users/edu", &admin, Some(body));
    assert_eq!(patch(json!({"role": "viewer"})).await.0, 200);
    assert_eq!(until(403, async || register(on_b.clone()).await).await, 403);
    assert_eq!(
        call(&b, Method::GET, "/api/vert/product/all", &on_b, None)
            .await
            .0,
        200,
        "still a viewer"
    );
    assert_eq!(patch(json!({"role": "editor"})).await.0, 200);
    assert_eq!(until(200, async || register(on_b.clone()).await).await, 200);

    // Password: the old token stops working on B; the new password logs in on B.
    assert_eq!(patch(json!({"password": "the new secret"})).await.0, 200);
    assert_eq!(until(401, async || register(on_b.clone()).await).await, 401);
    let (st, v) = call(&b, Method::GET, "/api/vert/product/all", &on_b, None).await;
    assert_eq!(st, 401);
    assert!(v["message"].as_str().unwrap().contains("revoked"), "{v}");
    let fresh = b.token_of("edu", "the new secret").await;
    assert_eq!(register(fresh.clone()).await, 200);

    // Disable: the fresh token stops, and the right password no longer logs in (403).
    assert_eq!(patch(json!({"disabled": true})).await.0, 200);
    assert_eq!(
        until(401, async || register(fresh.clone()).await).await,
        401
    );
    let r = b
        .client
        .post(b.url("/api/vert/auth/login"))
        .json(&json!({"username": "edu", "password": "the new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(patch(json!({"disabled": false})).await.0, 200);
    let again = b.token_of("edu", "the new secret").await;
    assert_eq!(register(again).await, 200);
    assert_eq!(register(fresh).await, 401, "a revoked token stays revoked");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_another_replica_sqlite() {
    revocation_on_another_replica(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_another_replica_postgres() {
    revocation_on_another_replica(Backend::Postgres).await;
}

/// Two admins demote each other at the same moment, from two services: one of them stays an
/// admin every time (without the table lock, both succeeded on PostgreSQL).
async fn the_last_admin_stays(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = Service::start(db.settings(&[])).await.unwrap();
    let b = Service::start(db.settings(&[])).await.unwrap();
    dataflow::service::add_user(
        a.store(),
        &dataflow::service::Actor::operator(),
        "ana",
        "a long secret",
        Role::Admin,
    )
    .await
    .unwrap();
    for round in 0..20 {
        let op = dataflow::service::Actor::operator();
        let (x, y) = tokio::join!(
            dataflow::service::set_role(a.store(), &op, "vert", Role::Viewer),
            dataflow::service::set_role(b.store(), &op, "ana", Role::Viewer),
        );
        let refused = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(ServiceError::UserConflict(_))))
            .count();
        assert_eq!(
            refused, 1,
            "round {round}: exactly one demotion refused: {x:?} {y:?}"
        );
        let admins = dataflow::service::list_users(a.store())
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .count();
        assert_eq!(admins, 1, "round {round}");
        for name in ["vert", "ana"] {
            dataflow::service::set_role(
                a.store(),
                &dataflow::service::Actor::operator(),
                name,
                Role::Admin,
            )
            .await
            .unwrap();
        }
    }
    // Disabling follows the same rule.
    dataflow::service::set_disabled(
        a.store(),
        &dataflow::service::Actor::operator(),
        "ana",
        true,
    )
    .await
    .unwrap();
    assert!(matches!(
        dataflow::service::set_disabled(
            a.store(),
            &dataflow::service::Actor::operator(),
            "vert",
            true
        )
        .await,
        Err(ServiceError::UserConflict(_))
    ));
    a.shutdown().await;
    b.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_stays_sqlite() {
    the_last_admin_stays(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_stays_postgres() {
    the_last_admin_stays(Backend::Postgres).await;
}
