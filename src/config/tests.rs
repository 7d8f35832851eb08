use std::path::PathBuf;

use super::*;

fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let paths = Paths::under(PathBuf::from("/data"), PathBuf::from("/config"));
    Settings::from_layers(&Layers::from_pairs(pairs.iter().copied()), paths)
}

#[test]
fn defaults_are_embedded() {
    let s = settings(&[]).unwrap();
    assert_eq!(
        s.database,
        DatabaseTarget::Sqlite(PathBuf::from("/data/dataflow.sqlite3"))
    );
    assert_eq!(s.kafka, KafkaTarget::Embedded);
    assert_eq!(s.topic, "produtos-persistidos");
    assert_eq!(s.consumer_group, "consumer-group");
    assert_eq!(s.timezone, chrono_tz::UTC);
    assert_eq!(s.bind.to_string(), "127.0.0.1:8001");
    assert_eq!(s.partitions, 3);
}

#[test]
fn database_parts_build_a_postgres_url() {
    let s = settings(&[("DATABASE_HOST", "db:5433"), ("DATABASE_PASSWORD", "p@ss")]).unwrap();
    assert_eq!(
        s.database,
        DatabaseTarget::Postgres("postgres://vert:p%40ss@db:5433/vert_db".into())
    );
}

#[test]
fn database_url_overrides_parts() {
    let s = settings(&[
        ("DATABASE_URL", "postgres://a@h/x"),
        ("DATABASE_HOST", "other"),
    ])
    .unwrap();
    assert_eq!(
        s.database,
        DatabaseTarget::Postgres("postgres://a@h/x".into())
    );
}

#[test]
fn bad_values_name_the_variable() {
    let e = settings(&[("TIMEZONE", "Mars/Base")]).unwrap_err();
    assert_eq!(e.var, "TIMEZONE");
    assert!(
        e.to_string()
            .starts_with("TIMEZONE: unknown time zone 'Mars/Base'")
    );
    let e = settings(&[("DATABASE_URL", "not a url")]).unwrap_err();
    assert_eq!(e.var, "DATABASE_URL");
    let e = settings(&[("DATABASE_HOST", "db:99999")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "DATABASE_HOST: port 99999 in 'db:99999' is out of range 1-65535"
    );
    let e = settings(&[("KAFKA_HOST", "k1:9092,k2:0")]).unwrap_err();
    assert_eq!(e.var, "KAFKA_HOST");
    let e = settings(&[("TOPIC_PARTITIONS", "0")]).unwrap_err();
    assert_eq!(e.var, "TOPIC_PARTITIONS");
}

#[test]
fn prd_binds_everywhere_on_80() {
    let safe = [
        ("PASSWORD_API", "s3cret-pw"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("KAFKA_HOST", "k:9092"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = safe.to_vec();
        v.extend_from_slice(extra);
        settings(&v)
    };
    assert_eq!(
        with(&[("ENVIRON", "prd")]).unwrap().bind.to_string(),
        "0.0.0.0:80"
    );
    assert_eq!(
        with(&[("ENVIRON", "prod"), ("BIND", "127.0.0.1:9")])
            .unwrap()
            .bind
            .to_string(),
        "127.0.0.1:9"
    );
    // A host name is resolved once, at start; a bad one names BIND and the rule.
    assert_eq!(
        with(&[("BIND", "localhost:18560")])
            .unwrap()
            .bind
            .to_string(),
        "127.0.0.1:18560"
    );
    for bad in [
        "localhost",
        "localhost:http",
        ":80",
        "no-such-host.invalid:80",
    ] {
        let e = with(&[("BIND", bad)]).unwrap_err();
        assert_eq!(e.var, "BIND", "{bad}");
        assert!(e.to_string().contains(bad), "{bad}: {e}");
    }
}

#[test]
fn later_layers_win() {
    let mut l = Layers::default();
    l.merge(
        Source::ConfigFile,
        [("topic_products".to_string(), "a".to_string())],
    );
    l.merge(
        Source::DotEnv,
        [("TOPIC_PRODUCTS".to_string(), "b".to_string())],
    );
    assert_eq!(l.get("TOPIC_PRODUCTS"), Some("b"));
    assert_eq!(l.source("TOPIC_PRODUCTS"), Source::DotEnv);
    l.merge(
        Source::Flag,
        [("TOPIC_PRODUCTS".to_string(), "c".to_string())],
    );
    assert_eq!(l.get("TOPIC_PRODUCTS"), Some("c"));
}

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
}

#[test]
fn production_refuses_unsafe_defaults() {
    let prd = |extra: &[(&str, &str)]| {
        let mut v = vec![("ENVIRON", "prd")];
        v.extend_from_slice(extra);
        settings(&v)
    };
    let secret = "0123456789abcdef0123456789abcdef";
    let e = prd(&[("JWT_SECRET", secret), ("KAFKA_HOST", "k:9092")]).unwrap_err();
    assert_eq!(e.var, "PASSWORD_API");
    let e = prd(&[("PASSWORD_API", "s3cret-pw"), ("KAFKA_HOST", "k:9092")]).unwrap_err();
    assert_eq!(e.var, "JWT_SECRET");
    let e = prd(&[
        ("PASSWORD_API", "s3cret-pw"),
        ("JWT_SECRET", "short"),
        ("KAFKA_HOST", "k:9092"),
    ])
    .unwrap_err();
    assert_eq!(e.var, "JWT_SECRET");
    let e = prd(&[("PASSWORD_API", "s3cret-pw"), ("JWT_SECRET", secret)]).unwrap_err();
    assert_eq!(e.var, "KAFKA_HOST");
    let ok = prd(&[
        ("PASSWORD_API", "s3cret-pw"),
        ("JWT_SECRET", secret),
        ("KAFKA_HOST", "k:9092"),
    ])
    .unwrap();
    // Secrets never show in Debug output.
    let shown = format!("{ok:?}");
    assert!(
        !shown.contains("s3cret-pw") && !shown.contains(secret),
        "{shown}"
    );
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a/b");
    let paths = Paths::under(data.clone(), data.clone());
    paths.ensure_data_dir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    paths.ensure_data_dir().unwrap();
    assert_eq!(mode(&data), 0o700, "an existing one is tightened");
}
