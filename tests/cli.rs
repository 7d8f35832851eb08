//! The binary as a user runs it: settings errors, `config`, and `serve`'s start line and
//! graceful shutdown on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn dataflow(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    c.env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", data);
    c
}

#[test]
fn bad_settings_stop_with_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "TIMEZONE",
            "Mars/Olympus",
            "TIMEZONE: unknown time zone 'Mars/Olympus'",
        ),
        (
            "DATABASE_URL",
            "postgres://u:secret@host:notaport/db",
            "DATABASE_URL: cannot parse",
        ),
        (
            "DATABASE_HOST",
            "db:70000",
            "DATABASE_HOST: port 70000 in 'db:70000' is out of range 1-65535",
        ),
        (
            "KAFKA_HOST",
            "k:0",
            "KAFKA_HOST: port 0 in 'k:0' is out of range 1-65535",
        ),
        (
            "KAFKA_PROPERTY_NOT_A_THING",
            "1",
            "KAFKA_PROPERTY_NOT_A_THING (not.a.thing): Client config error: No such configuration property",
        ),
        (
            "ENVIRON",
            "prd",
            "PASSWORD_API: the default password is refused in production",
        ),
    ];
    for (var, value, want) in cases {
        for sub in ["serve", "migrate", "tui"] {
            let out = dataflow(dir.path())
                .arg(sub)
                .env(var, value)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{var}={value} {sub}");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("secret"), "passwords never printed: {err}");
        }
    }
}

/// `.env` is read from the working directory: a line that does not parse is named by the
/// file's path and its line number, not blamed on DATAFLOW_CONFIG_DIR.
#[test]
fn a_malformed_dotenv_is_named_by_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join(".env"),
        "TOPIC_PRODUCTS=fine\n# a comment\nTHIS LINE IS NOT NAME=VALUE\n",
    )
    .unwrap();
    for sub in ["serve", "config"] {
        let out = dataflow(dir.path())
            .current_dir(cwd.path())
            .arg(sub)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        let path = cwd.path().canonicalize().unwrap().join(".env");
        let want = format!("dataflow: .env: {} line 3: ", path.display());
        assert!(err.starts_with(&want), "{sub}: {err}");
        assert!(!err.contains("DATAFLOW_CONFIG_DIR"), "{err}");
    }
}

#[test]
fn config_shows_sources_and_paths_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dataflow(dir.path())
        .arg("config")
        .env("PASSWORD_API", "hunter2-hunter2")
        .env("JWT_SECRET", "s3cr3t-s3cr3t")
        .env("KAFKA_PROPERTY_SASL_PASSWORD", "kafkapw")
        .env("kafka_property_Security_Protocol", "sasl_ssl")
        .arg("--database-url")
        .arg("postgres://vert:topsecret@db:5432/vert_db")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("hunter2")
            && !text.contains("s3cr3t")
            && !text.contains("topsecret")
            && !text.contains("kafkapw"),
        "{text}"
    );
    assert!(
        text.contains("kafka property sasl.password = *** (environment)")
            && text.contains("kafka property security.protocol = sasl_ssl (environment)"),
        "{text}"
    );
    assert!(
        text.contains("postgres://vert:***@db:5432/vert_db") && text.contains("(flag)"),
        "{text}"
    );
    assert!(text.contains("(environment)"));
    for want in [
        "data dir",
        "config file",
        "log dir",
        &dir.path().display().to_string(),
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}

#[test]
fn serve_prints_its_addresses_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let common::server::Served {
        mut child,
        port,
        line,
        ..
    } = common::server::spawn_serve(dir.path(), &[], None);
    assert!(
        line.starts_with(&format!(
            "dataflow listening on http://127.0.0.1:{port} kafka 127.0.0.1:"
        )),
        "{line}"
    );
    assert!(line.trim_end().ends_with("(embedded)"), "{line}");
    let addr = std::fs::read_to_string(dir.path().join("broker.addr")).unwrap();
    assert!(
        line.contains(addr.lines().next().unwrap()),
        "the embedded broker is findable by `dataflow tail`"
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    assert!(
        resp.ends_with(r#"{"message":"Welcome to Vert API"}"#),
        "{resp}"
    );

    // Another process reads the embedded broker while serve runs: `dataflow tail` finds it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let base = format!("http://127.0.0.1:{port}");
        let (status, answer) = common::login_and_register(&base).await;
        assert_eq!(status, 200, "{answer}");
    });
    let out = dataflow(dir.path())
        .args(["tail", "--from-beginning", "--limit", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["key"].as_str(), line["value"]["name"].as_str()),
        (Some("1"), Some("Blusa"))
    );
    // `--since` on the embedded broker (no offsets-for-times there: searched by reading).
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for (since, lines) in [
        ("15m", 1),
        ("1d", 1),
        (hour_ago.as_str(), 1),
        ("2999-01-01T00:00:00Z", 0),
    ] {
        let out = dataflow(dir.path())
            .args(["tail", "--since", since])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "--since {since}: {err}");
        let got = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(got, lines, "--since {since}: {err}");
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit 0 after a graceful shutdown: {code:?}");
    assert!(
        !dir.path().join("broker.addr").exists(),
        "the broker address is removed at exit"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no longer accepting"
    );
}

/// A database that fed a real cluster (an event published to it or waiting for it) refuses
/// an embedded broker: one line naming KAFKA_HOST and the way out, exit 2. A cluster only
/// named (a start with KAFKA_HOST, a reroute that moved nothing) does not count; `outbox
/// retire` is the way out.
#[test]
fn embedded_broker_on_a_real_pipelines_database_exits_2() {
    const REAL: &str = "kafka:kafka:9092/produtos-persistidos";
    let dir = tempfile::tempdir().unwrap();
    let file = common::one_product_csv(dir.path());
    let import = || {
        dataflow(dir.path())
            .args(["import", file.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = dataflow(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = dataflow::config::DatabaseTarget::Sqlite(dir.path().join("dataflow.sqlite3"));
    rt.block_on(async {
        let store = dataflow::store::Store::connect(&target).await.unwrap();
        store.register_destination(REAL, "kafka").await.unwrap();
        store.close().await;
    });
    let out = import();
    assert_eq!(out.status.code(), Some(0), "only named, never fed: {out:?}");
    let out = dataflow(dir.path())
        .args([
            "outbox",
            "reroute",
            "--from",
            "embedded:produtos-persistidos",
        ])
        .args(["--to", "kafka:elsewhere:1/t"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("moved 0 pending events"), "{out:?}");
    assert_eq!(
        import().status.code(),
        Some(0),
        "a reroute of nothing ties nothing"
    );

    // One event published to the cluster: now the database feeds it.
    rt.block_on(async {
        let store = dataflow::store::Store::connect(&target).await.unwrap();
        if let dataflow::store::Store::Sqlite(pool) = &store {
            sqlx::query(
                "UPDATE outbox SET destination = $1 WHERE id = (SELECT MIN(id) FROM outbox)",
            )
            .bind(REAL)
            .execute(pool)
            .await
            .unwrap();
        }
        store.close().await;
    });
    let out = dataflow(dir.path())
        .arg("serve")
        .env("BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("dataflow: "))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("dataflow: KAFKA_HOST: not set, but this database feeds")
            && lines[0].contains("dataflow outbox retire --destination"),
        "{err}"
    );
    // The default command (the TUI) is refused the same way: it ends, says why, exit 2.
    let tui =
        common::tmux::Tmux::start_tui("refused", &dir.path().display().to_string(), "", 100, 30);
    let screen = tui.wait_for("EXITED");
    tui.run(&["kill-server"]);
    assert!(screen.contains("EXITED 2"), "{screen}");
    assert!(
        screen.contains("dataflow: KAFKA_HOST: not set, but this database feeds"),
        "{screen}"
    );
    let out = dataflow(dir.path())
        .args(["outbox", "retire", "--destination", REAL])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        import().status.code(),
        Some(0),
        "retired: the embedded broker may run"
    );
}

#[test]
fn schema_prints_the_published_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dataflow(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["properties"]["value"]["required"][0], "id",
        "the message value's schema"
    );
}

/// `dataflow user ...` as an operator runs it: passwords from stdin, one line per problem,
/// exit 2 for bad input, the last admin kept.
#[test]
fn user_commands_manage_users_and_roles() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = dataflow(dir.path());
        c.arg("user").args(args);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(
        &["add", "maria", "--role", "editor", "--password-stdin"],
        Some("a long secret\n"),
    );
    assert_eq!((code, out.as_str()), (0, "added maria (editor)\n"), "{err}");
    assert!(!out.contains("a long secret") && !err.contains("a long secret"));
    let (code, _, err) = run(
        &["add", "maria", "--role", "viewer", "--password-stdin"],
        Some("a long secret\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("user maria already exists"), "{err}");
    let (code, _, err) = run(
        &["add", "bia", "--role", "viewer", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "dataflow: password: must be at least 8 characters (got 5)\n"
    );
    let (code, _, err) = run(&["add", "bia", "--role", "viewer"], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("--password-stdin"),
        "no terminal to ask at: {err}"
    );
    let (code, _, err) = run(
        &["add", "bia", "--role", "root", "--password-stdin"],
        Some("a long secret\n"),
    );
    assert_eq!(code, 2, "clap refuses the role: {err}");

    assert_eq!(run(&["role", "maria", "viewer"], None).0, 0);
    assert_eq!(run(&["disable", "maria"], None).0, 0);
    let (code, out, _) = run(&["list"], None);
    assert_eq!(code, 0);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["maria", "viewer", "disabled"],
            vec!["vert", "admin", "enabled"]
        ]
    );
    assert_eq!(run(&["enable", "maria"], None).0, 0);
    let (code, _, err) = run(
        &["passwd", "maria", "--password-stdin"],
        Some("the new secret\n"),
    );
    assert_eq!(code, 0, "{err}");

    // The API user: its password is rotated like anyone's; it is the last admin.
    let (code, _, err) = run(
        &["passwd", "vert", "--password-stdin"],
        Some("whatever long\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["role", "vert", "editor"], None);
    assert_eq!(code, 1);
    assert!(err.contains("last enabled admin"), "{err}");
    let (code, _, err) = run(&["disable", "nobody"], None);
    assert_eq!((code, err.as_str()), (1, "dataflow: no user nobody\n"));
}

/// Completion scripts and the manual page come from the same definition as the commands, and
/// need no settings (a broken DATABASE_URL does not stop them).
#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_dataflow()"),
        ("zsh", "#compdef dataflow"),
        ("fish", "complete -c dataflow"),
    ] {
        let out = dataflow(dir.path())
            .env("DATABASE_URL", "nonsense://")
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("password-stdin"),
            "{shell} completes subcommands' flags"
        );
    }
    let out = dataflow(dir.path()).arg("man").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH dataflow"),
        "{text}"
    );
    assert!(
        text.contains("completions") && text.contains("user"),
        "{text}"
    );
}

/// DATAFLOW_DATA_DIR set in `.env` or in config.toml is the data directory in effect: the
/// database is created there, and `dataflow config` shows that directory.
#[test]
fn the_data_dir_from_dotenv_or_config_toml_is_in_effect() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let cfg = home.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .env_remove("DATABASE_URL")
            .env_remove("KAFKA_HOST")
            .env_remove("DATAFLOW_DATA_DIR")
            .env("DATAFLOW_CONFIG_DIR", &cfg)
            .current_dir(cwd.path())
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {err}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let from_dotenv = home.path().join("fromdotenv");
    std::fs::write(
        cwd.path().join(".env"),
        format!("DATAFLOW_DATA_DIR={}\n", from_dotenv.display()),
    )
    .unwrap();
    run(&["migrate"]);
    assert!(
        from_dotenv.join("dataflow.sqlite3").exists(),
        "the database under .env's dir"
    );
    let shown = run(&["config"]);
    let line = shown
        .lines()
        .find(|l| l.starts_with("data dir"))
        .unwrap_or_default();
    assert!(line.contains(&from_dotenv.display().to_string()), "{shown}");

    std::fs::remove_file(cwd.path().join(".env")).unwrap();
    let from_config = home.path().join("fromconfig");
    std::fs::write(
        cfg.join("config.toml"),
        format!("dataflow_data_dir = \"{}\"\n", from_config.display()),
    )
    .unwrap();
    run(&["migrate"]);
    assert!(
        from_config.join("dataflow.sqlite3").exists(),
        "the database under config.toml's dir"
    );
}

/// README's table of exit codes: a database that does not answer is 3 (retry later), not 2
/// (usage), for every command that needs it.
#[test]
fn a_database_that_does_not_answer_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::one_product_csv(dir.path());
    let file = file.to_str().unwrap();
    for args in [
        vec!["import", file],
        vec!["export"],
        vec!["serve", "--bind", "127.0.0.1:0"],
        vec!["migrate"],
        vec!["status"],
        vec!["outbox"],
    ] {
        let out = dataflow(dir.path())
            .args(&args)
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
}
