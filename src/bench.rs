//! `dataflow bench`: measured figures for BENCHMARKS.md, on whatever database and broker the
//! configuration names (embedded defaults unless told otherwise).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::domain::{Position, ProductDraft};
use crate::service::Service;
use crate::store::{Order, ProductQuery};

fn draft(i: usize) -> ProductDraft {
    ProductDraft {
        name: format!("Bench product {i}"),
        description: "Produto de benchmark".into(),
        category: if i.is_multiple_of(2) {
            "Vestuário".into()
        } else {
            "Calçados".into()
        },
        amount: format!("{}.{:02}", i % 1000, i % 100),
        currency: "BRL".into(),
        quantity: (i % 500).to_string(),
    }
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

async fn registrations(
    svc: &Service,
    count: usize,
    concurrency: usize,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < count {
                svc.register(&draft(i)).await.map_err(|e| e.to_string())?;
                i += concurrency;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed())
}

async fn wait_published(svc: &Service) -> Duration {
    let start = Instant::now();
    while svc.status().await.pending.unwrap_or(0) > 0 && start.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

pub async fn run(settings: Settings, count: usize, seed: i64) -> ExitCode {
    let backend = format!("{:?}", settings.database)
        .split('(')
        .next()
        .unwrap_or_default()
        .to_string();
    let start = Instant::now();
    let svc = match Service::start(settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dataflow: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "database {backend}, kafka {} (embedded: {})",
        svc.kafka().bootstrap,
        svc.kafka().embedded
    );
    println!(
        "service start (connect, migrate, user, broker, relay): {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    if seed > 0 {
        let t = Instant::now();
        if let Err(e) = svc.store().seed_products(seed).await {
            eprintln!("dataflow: seeding failed: {e}");
            return ExitCode::from(1);
        }
        println!(
            "seeded {seed} products in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    for concurrency in [1, 16] {
        match registrations(&svc, count, concurrency).await {
            Ok(d) => println!(
                "register {count} products, {concurrency} concurrent, each waiting for its ack: {:.0}/s ({:.2} ms each)",
                per_sec(count, d),
                d.as_secs_f64() * 1e3 / count as f64 * concurrency as f64
            ),
            Err(e) => {
                eprintln!("dataflow: registration failed: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "outbox drained {:.1} ms after the last registration",
        wait_published(&svc).await.as_secs_f64() * 1e3
    );
    let total = svc.count_products(None).await.unwrap_or(0);
    let t = Instant::now();
    let page = svc
        .products(&ProductQuery {
            order: Order::Descending,
            cursor: None,
            limit: 50,
            filter: None,
        })
        .await;
    println!(
        "newest page of 50 of {total} products: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    if let Some(last) = page.ok().and_then(|p| p.last().map(|p| p.id)) {
        let t = Instant::now();
        let q = ProductQuery {
            order: Order::Descending,
            cursor: Some(last / 2),
            limit: 50,
            filter: None,
        };
        let _ = svc.products(&q).await;
        println!(
            "a page of 50 from the middle, by key: {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        follow_pages(&svc, last / 2).await;
    }
    let t = Instant::now();
    let _ = svc.count_products(None).await;
    println!(
        "count of all {total} products: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let q = ProductQuery {
        order: Order::Descending,
        cursor: None,
        limit: 50,
        filter: Some("calç".into()),
    };
    let _ = svc.products(&q).await;
    println!(
        "newest page of 50 matching a filter: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let _ = svc.count_products(Some("calç")).await;
    println!(
        "filtered count over {total} products: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    consumer_route(&svc).await;
    logins(&svc).await;
    svc.shutdown().await;
    ExitCode::SUCCESS
}

/// product/all with `cursor`: a page from the middle in commit order, and the page a follower
/// asks for at the end (nothing new), to set beside the pages by key above.
async fn follow_pages(svc: &Service, middle: i64) {
    let Ok(first) = svc.follow(Position::START, 1, None).await else {
        return;
    };
    let writer = first.first().map_or(0, |(_, at)| at.writer);
    let t = Instant::now();
    let page = svc
        .follow(Position { writer, id: middle }, 50, None)
        .await
        .unwrap_or_default();
    println!(
        "a page of 50 from the middle, by commit position (cursor): {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let Ok(end) = svc.follow_start().await else {
        return;
    };
    let end = page.last().map_or(end, |(_, at)| (*at).max(end));
    let t = Instant::now();
    let _ = svc
        .follow(
            Position {
                id: i64::MAX,
                ..end
            },
            50,
            None,
        )
        .await;
    println!(
        "a follower's page at the end (nothing new), by cursor: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}

/// The consumer route's use case: a first call (creates the group's reader), a call with
/// 1,000 messages waiting, an empty call.
async fn consumer_route(svc: &Service) {
    let timed = |max: usize| async move {
        let t = Instant::now();
        let c = svc.consume(max).await.map_err(|e| e.to_string())?;
        let n = c.messages.len();
        c.commit().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((n, t.elapsed().as_secs_f64() * 1e3))
    };
    let report = |what: &str, r: Result<(usize, f64), String>| match r {
        Ok((n, ms)) => println!("consumer route, {what}: {n} messages in {ms:.1} ms"),
        Err(e) => println!("consumer route, {what}: failed: {e}"),
    };
    report("first call (starts the reader)", timed(1).await);
    report("1,000 waiting", timed(1000).await);
    // Drain the rest, then an empty call.
    while timed(10_000).await.is_ok_and(|(n, _)| n > 0) {}
    report("nothing new", timed(1000).await);
}

/// Logins of a known user with a wrong password against an unknown user: the same work, so
/// the same time (medians of 20, one at a time).
async fn logins(svc: &Service) {
    let user = svc.settings().username_api.clone();
    let median = |name: String| async move {
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let _ = svc.login(&name, "wrong password").await;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let known = median(user).await;
    let unknown = median("nobody-by-this-name".into()).await;
    println!(
        "login, wrong password: known user {known:.2} ms, unknown user {unknown:.2} ms (medians of 20)"
    );
}
