//! What ships beside the code: the Dockerfile copies every file the build reads, and no file
//! of the repository gives a secret that production would accept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first quoted argument of every `name!(` call in `text`.
fn macro_args<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.match_indices(name)
        .filter_map(|(i, _)| {
            let rest = &text[i + name.len()..];
            let start = rest.find('"')? + 1;
            let len = rest[start..].find('"')?;
            Some(&rest[start..start + len])
        })
        .collect()
}

/// Top-level entries of the repository that the build stage copies.
fn copied_by_dockerfile() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut copied = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        let Some(args) = line.strip_prefix("COPY ") else {
            continue;
        };
        if args.starts_with("--from") {
            continue;
        }
        let parts: Vec<&str> = args.split_whitespace().collect();
        for src in &parts[..parts.len().saturating_sub(1)] {
            copied.insert(src.trim_end_matches('/').to_string());
        }
    }
    copied
}

/// Every file the crate reads at compile time, relative to the repository: the manifest,
/// the sources, `include_str!`/`include_bytes!` targets, `sqlx::migrate!` folders, build.rs.
fn read_at_compile_time() -> BTreeSet<String> {
    let root = root();
    let mut read: BTreeSet<String> = ["Cargo.toml", "Cargo.lock", "src"].map(String::from).into();
    if root.join("build.rs").exists() {
        read.insert("build.rs".into());
    }
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for arg in macro_args(&text, "include_str!")
            .into_iter()
            .chain(macro_args(&text, "include_bytes!"))
        {
            // Relative to the file that includes it.
            let target = file.parent().unwrap().join(arg);
            let target = std::fs::canonicalize(&target)
                .unwrap_or_else(|e| panic!("{}: {arg}: {e}", file.display()));
            let rel = target.strip_prefix(root.canonicalize().unwrap()).unwrap();
            read.insert(rel.display().to_string());
        }
        for arg in macro_args(&text, "migrate!") {
            read.insert(arg.to_string()); // relative to the manifest
        }
    }
    read
}

#[test]
fn the_dockerfile_copies_every_file_the_build_reads() {
    let copied = copied_by_dockerfile();
    let missing: Vec<String> = read_at_compile_time()
        .into_iter()
        .filter(|path| {
            !copied
                .iter()
                .any(|c| path == c || path.starts_with(&format!("{c}/")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the Dockerfile's build stage does not copy {missing:?} (it copies {copied:?})"
    );
}

/// Values given to a secret variable anywhere in the repository's own files.
fn secrets_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for var in ["JWT_SECRET", "PASSWORD_API"] {
        for (i, _) in text.match_indices(var) {
            let rest = &text[i + var.len()..];
            let value = if let Some(v) = rest.strip_prefix(":-") {
                v.split('}').next() // ${VAR:-default}
            } else if let Some(v) = rest.strip_prefix('=') {
                v.split_whitespace().next() // VAR=value in a shell line
            } else if let Some(v) = rest.strip_prefix(": ") {
                v.lines().next().filter(|v| !v.starts_with('$')) // YAML
            } else {
                None
            };
            if let Some(v) = value.map(|v| v.trim_matches(['"', '\'', ',']))
                && v.len() >= 8
                && !v.starts_with('$')
                && !v.starts_with('<')
            {
                found.push(v.to_string());
            }
        }
    }
    found
}

#[test]
fn no_secret_in_the_repository_passes_production_rules() {
    let root = root();
    let mut files = vec![
        root.join("docker-compose.yml"),
        root.join("README.md"),
        root.join("Dockerfile"),
    ];
    for entry in std::fs::read_dir(root.join("scripts")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut seen = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for secret in secrets_in(&text) {
            assert!(
                dataflow::config::PUBLISHED_SECRETS.contains(&secret.as_str()),
                "{}: {secret:?} is a secret printed in the repository; add it to PUBLISHED_SECRETS",
                file.display()
            );
            seen.push(secret);
        }
    }
    assert!(
        seen.iter().any(|s| s.starts_with("bench-secret")),
        "the scan finds the scripts' secret: {seen:?}"
    );
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    for var in ["JWT_SECRET", "PASSWORD_API"] {
        assert!(
            compose.contains(&format!("{var}: ${{{var}:?")),
            "docker-compose.yml must refuse to start without {var} (${{{var}:?...}})"
        );
    }
}
