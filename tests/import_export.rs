//! Import and export on both back ends: valid rows, every rejection reason, quoting, re-runs
//! that add nothing, external ids, the rejects file, JSON Lines, a 100k-row file, and an
//! export imported into an empty database giving the same products.

mod common;

use std::path::{Path, PathBuf};

use dataflow::service::{Counts, ExportFormat, ImportEvent, ImportOptions, Service};
use dataflow::store::ProductQuery;

/// Runs an import; returns its counts and the `line N: FIELD: reason` lines.
async fn import(svc: &Service, path: &Path, rejects: Option<PathBuf>) -> (Counts, Vec<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let opts = ImportOptions {
        path: path.to_path_buf(),
        format: None,
        by: Some("importer".into()),
        rejects,
        actor: None,
    };
    let svc2 = svc.clone();
    let task = tokio::spawn(async move { svc2.import(&opts, tx).await });
    let mut lines = Vec::new();
    while let Some(e) = rx.recv().await {
        if let ImportEvent::Rejected { line, problem } = e {
            lines.push(problem.at(line));
        }
    }
    (task.await.unwrap().expect("import runs"), lines)
}

fn counts(c: Counts) -> (u64, u64, u64) {
    (c.imported, c.duplicates, c.rejected)
}

const CSV: &str = "name,description,category,ammount,currency,quantity
Blusa,\"Blusa com touca, azul\",Vestuário,59.99,BRL,50
\"Calça \"\"jeans\"\"\",\"linha 1
linha 2\",Vestuário,120,BRL,3
,sem nome,X,1,BRL,1
Meia,ok,Vestuário,-1,brl,x
Boné,ok,Acessórios,1.999,BRL,1
Tênis,ok,Calçados,10,BRL
Blusa,\"Blusa com touca, azul\",Vestuário,59.990,BRL,50
";

async fn csv_rows_rules_quoting_and_reruns(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("products.csv");
    std::fs::write(&path, CSV).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let (c, lines) = import(&svc, &path, Some(rejects.clone())).await;
    assert_eq!(counts(c), (2, 1, 4), "{lines:?}");
    assert_eq!(
        lines,
        [
            "line 5: name: is required",
            "line 6: ammount: must be >= 0",
            "line 6: currency: must be an ISO 4217 code of 3 upper-case letters, e.g. BRL",
            "line 6: quantity: must be a whole number from 0 to 2147483647",
            "line 7: ammount: must have at most 2 decimals",
            "line 8: row: has 5 fields, the header has 6",
        ]
    );
    // The rejects file is an importable CSV with the same header and the bad rows as written.
    let back = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(
        back,
        "name,description,category,ammount,currency,quantity
,sem nome,X,1,BRL,1
Meia,ok,Vestuário,-1,brl,x
Boné,ok,Acessórios,1.999,BRL,1
Tênis,ok,Calçados,10,BRL
"
    );
    let all = svc
        .products(&ProductQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<_> = all
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.description.as_str(),
                p.amount.to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Blusa", "Blusa com touca, azul", "59.99".to_string()),
            ("Calça \"jeans\"", "linha 1\nlinha 2", "120.00".to_string()),
        ]
    );
    assert_eq!(all[0].revision.created_by.as_deref(), Some("importer"));
    // Every imported product reaches the topic like any registration.
    assert_eq!(common::drain_pending(&svc).await, 0);
    assert_eq!(common::read_at_least(&svc, 2).await.len(), 2);

    // Running it again adds nothing.
    let (c, _) = import(&svc, &path, None).await;
    assert_eq!(counts(c), (0, 3, 4));
    assert_eq!(svc.count_products(None).await.unwrap(), 2);
}
both_backends!(
    csv_rows_rules_quoting_and_reruns,
    csv_rows_rules_quoting_and_reruns
);

/// The description column is optional (an empty description, as the API allows); a row of
/// one field says "1 field".
async fn csv_without_description(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.csv");
    std::fs::write(
        &path,
        "name,category,amount,currency,quantity\nMesa,Casa,10,BRL,1\nx\n",
    )
    .unwrap();
    let (c, lines) = import(&svc, &path, None).await;
    assert_eq!(counts(c), (1, 0, 1), "{lines:?}");
    assert_eq!(lines, ["line 3: row: has 1 field, the header has 5"]);
    let all = svc
        .products(&ProductQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (all[0].name.as_str(), all[0].description.as_str()),
        ("Mesa", "")
    );
}
both_backends!(csv_without_description, csv_without_description);

async fn external_ids_and_json_lines(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ext.csv");
    // Same content, other ids: two products. Same id, other content: a duplicate.
    std::fs::write(
        &csv,
        "external_id,name,description,category,amount,currency,quantity
A-1,Blusa,,Vestuário,10,BRL,1
A-2,Blusa,,Vestuário,10,BRL,1
A-1,Outra,,Vestuário,99,BRL,9
",
    )
    .unwrap();
    let (c, _) = import(&svc, &csv, None).await;
    assert_eq!(counts(c), (2, 1, 0));

    let jsonl = dir.path().join("p.jsonl");
    std::fs::write(
        &jsonl,
        r#"{"name": "Meia", "description": "", "category": "Vestuário", "pricing": {"ammount": 9.9, "currency": "BRL"}, "availability": {"quantity": 5}}

{"name": "Luva", "description": "", "category": "Vestuário", "pricing": {"amount": "9.9", "currency": "BRL"}, "availability": {"quantity": 5}}
not json
{"name": "Meia", "description": "", "category": "Vestuário", "pricing": {"ammount": 9.90, "currency": "BRL"}, "availability": {"quantity": 5}}
"#,
    )
    .unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let (c, lines) = import(&svc, &jsonl, Some(rejects.clone())).await;
    assert_eq!(counts(c), (1, 1, 2), "{lines:?}");
    assert_eq!(lines[0], "line 3: pricing.ammount: must be a number");
    assert!(
        lines[1].starts_with("line 4: line: is not JSON"),
        "{lines:?}"
    );
    let back = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(back.lines().count(), 2);
    assert!(back.lines().nth(1) == Some("not json"));
}
both_backends!(external_ids_and_json_lines, external_ids_and_json_lines);

/// Hostile files: a line that is not UTF-8 and an endless line are rejected rows (the rest
/// imports); an unclosed CSV quote that would swallow the file stops the import with a reason.
async fn hostile_files(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"name": "Meia", "description": "", "category": "V", "pricing": {"amount": 1, "currency": "BRL"}, "availability": {"quantity": 1}}"#;
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend(b"{\"name\": \"\xff\xfe\"}\n");
    bytes.extend(std::iter::repeat_n(b' ', 3 << 20));
    bytes.extend(b"\n");
    bytes.extend(good.replace("Meia", "Luva").as_bytes());
    let path = dir.path().join("hostile.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let (c, lines) = import(&svc, &path, Some(rejects.clone())).await;
    assert_eq!(counts(c), (2, 0, 2), "{lines:?}");
    assert_eq!(
        lines,
        [
            "line 2: line: is not UTF-8",
            "line 3: line: is longer than 1024 KiB"
        ]
    );
    assert_eq!(
        std::fs::read(&rejects).unwrap(),
        b"{\"name\": \"\xff\xfe\"}\n",
        "the bad bytes as they were"
    );

    let mut csv = String::from("name,description,category,amount,currency,quantity\n");
    csv.push_str("Bota,ok,V,1,BRL,1\n");
    csv.push_str("Unclosed,\"quote,V,1,BRL,1\n");
    for i in 0..100_000 {
        csv.push_str(&format!("Row {i},then everything,V,1,BRL,1\n"));
    }
    let path = dir.path().join("unclosed.csv");
    std::fs::write(&path, csv).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let opts = ImportOptions {
        path,
        format: None,
        by: None,
        rejects: None,
        actor: None,
    };
    let err = svc.import(&opts, tx).await.unwrap_err().to_string();
    assert!(
        err.contains("line 3") && err.contains("longer than 1 MiB (an unclosed quote?)"),
        "{err}"
    );
    assert_eq!(
        svc.count_products(None).await.unwrap(),
        3,
        "what came before is kept"
    );
}
both_backends!(hostile_files, hostile_files);

/// The same file imported twice at once: each product is added once (the duplicate key is
/// unique and commits with the product), and each added product is on the topic exactly once.
async fn two_imports_at_once_add_each_product_once(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.csv");
    let mut text = String::from("name,description,category,amount,currency,quantity\n");
    for i in 0..2_000 {
        text.push_str(&format!("Item {i},,Cat,{i}.50,BRL,{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let (a, b) = tokio::join!(import(&svc, &path, None), import(&svc, &path, None));
    let (a, b) = (counts(a.0), counts(b.0));
    assert_eq!(a.0 + b.0, 2_000, "{a:?} {b:?}");
    assert_eq!(a.1 + b.1, 2_000, "the rest are duplicates: {a:?} {b:?}");
    assert_eq!(svc.count_products(None).await.unwrap(), 2_000);
    assert_eq!(common::drain_pending(&svc).await, 0);
    let mut keys: Vec<String> = common::read_all(&svc)
        .await
        .into_iter()
        .filter_map(|m| m.key)
        .collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(
        (before, keys.len()),
        (2_000, 2_000),
        "once each on the topic"
    );
}
both_backends!(
    two_imports_at_once_add_each_product_once,
    two_imports_at_once_add_each_product_once
);

/// 100,000 rows through the write path (memory and time are measured by the benchmark, not
/// here), then exported and imported into an empty database of the other back end (so each
/// back end is a round trip's target, and a move between them is tried): the same products.
async fn big_file_and_round_trip(svc: Service) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("name,description,category,amount,currency,quantity\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "Produto {i},\"linha, {i}\",Cat {},{}.{:02},BRL,{i}\n",
            i % 7,
            i % 1000,
            i % 100
        ));
    }
    std::fs::write(&path, text).unwrap();
    let (c, lines) = import(&svc, &path, None).await;
    assert_eq!(counts(c), (100_000, 0, 0), "{lines:?}");
    assert_eq!(svc.count_products(None).await.unwrap(), 100_000);

    let export = dir.path().join("export.csv");
    let file = std::fs::File::create(&export).unwrap();
    assert_eq!(
        svc.export(
            &dataflow::service::Actor::operator(),
            "test",
            ExportFormat::Csv,
            None,
            file
        )
        .await
        .unwrap(),
        100_000
    );

    let target = match svc.store().backend() {
        "postgres" => common::Backend::Sqlite,
        _ => common::Backend::Postgres,
    };
    let other = common::TestDb::new(target).await;
    let empty = Service::start(other.settings(&[])).await.unwrap();
    let (c, _) = import(&empty, &export, None).await;
    assert_eq!(counts(c), (100_000, 0, 0));
    let (mut a, mut b) = (None, None);
    let mut order = Vec::new();
    loop {
        let q = |cursor| ProductQuery {
            cursor,
            limit: 5000,
            ..Default::default()
        };
        let left = svc.products(&q(a)).await.unwrap();
        let right = empty.products(&q(b)).await.unwrap();
        assert_eq!(left.len(), right.len());
        if left.is_empty() {
            break;
        }
        for (l, r) in left.iter().zip(&right) {
            assert_eq!(
                (
                    &l.name,
                    &l.description,
                    &l.category,
                    l.amount,
                    &l.currency,
                    l.quantity
                ),
                (
                    &r.name,
                    &r.description,
                    &r.category,
                    r.amount,
                    &r.currency,
                    r.quantity
                )
            );
        }
        order.extend(left.iter().map(|p| (p.id, p.name.clone())));
        a = left.last().map(|p| p.id);
        b = right.last().map(|p| p.id);
    }
    // Ids follow the file, also where full batches commit side by side (PostgreSQL).
    order.sort();
    let names: Vec<String> = order.into_iter().map(|(_, n)| n).collect();
    let expected: Vec<String> = (0..100_000).map(|i| format!("Produto {i}")).collect();
    assert!(names == expected, "ids do not follow the file");
    empty.shutdown().await;
    other.drop_db().await;
}
both_backends!(big_file_and_round_trip, big_file_and_round_trip);

/// The command line: summary on stdout, reasons on stderr, exit 0 / 1 / 2.
#[test]
fn cli_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("KAFKA_HOST")
            .env("DATAFLOW_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let good = common::one_product_csv(dir.path());
    let out = run(&["import", good.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 1, duplicates 0, rejected 0\n"
    );
    let bad = dir.path().join("bad.txt");
    std::fs::write(
        &bad,
        "name,description,category,amount,currency,quantity\n,,V,1,BRL,1\n",
    )
    .unwrap();
    let out = run(&["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "no format from .txt");
    let out = run(&["import", "--format", "csv", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "line 2: name: is required\n"
    );
    let out = run(&[
        "import",
        good.to_str().unwrap(),
        "--rejects",
        good.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the input is not its own rejects file"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be the file imported"));
    assert!(
        std::fs::read_to_string(&good).unwrap().contains("Blusa"),
        "left whole"
    );
    let out = run(&["import", "/nonexistent/file.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "name,category\nx,y\n").unwrap();
    let out = run(&["import", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing column 'amount'"));
    let out = run(&["export", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "Blusa");
}

/// The import's final wait is for its own events: one pending for another topic (another
/// process's to publish) neither holds it for the stall time nor is reported as its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_waits_for_its_own_events_only() {
    let db = common::TestDb::new(common::Backend::Postgres).await;
    let store = db.store().await;
    let svc = Service::start(db.settings(&[])).await.unwrap();
    let id = svc.register(&common::blusa()).await.unwrap().product.id;
    svc.shutdown().await;
    sqlx::query(
        "INSERT INTO outbox (product_id, msg_key, payload, created_at, destination)
         SELECT product_id, msg_key, payload, created_at, 'embedded:another-topic'
         FROM outbox WHERE product_id = $1",
    )
    .bind(id)
    .execute(match &store {
        dataflow::store::Store::Postgres(p) => p,
        _ => unreachable!(),
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = common::one_product_csv(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["import", file.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("not yet published"),
        "another topic's event is not this import's: {stderr}"
    );
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"
        )
        .await,
        1,
        "the other topic's event still waits, the import's was published"
    );
    db.drop_db().await;
}
