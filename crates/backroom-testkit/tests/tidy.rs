//! Invariants of the code's shape that check themselves: the domain stays free of I/O crates,
//! the environment is read in one place, files inside a crate do not import each other in a
//! circle, and ARCHITECTURE.md's code map names every module. Each failure says what to change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source directories of the libraries and binaries that run in the shop (not the test
/// and benchmark tooling).
fn shipped_sources() -> Vec<PathBuf> {
    let root = workspace();
    let mut dirs = Vec::new();
    for group in ["crates", "lambdas"] {
        for e in std::fs::read_dir(root.join(group)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if matches!(name.as_str(), "backroom-testkit" | "backroom-bench") {
                continue;
            }
            let src = e.path().join("src");
            if src.is_dir() {
                dirs.push(src);
            }
        }
    }
    dirs.sort();
    dirs
}

/// The code of a file without its line comments (doc comments included), so that prose that
/// names a function does not count as a call.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_domain_depends_only_on_its_allow_list() {
    // Pure data and error crates only: no database, HTTP, AWS or runtime in backroom-core.
    const ALLOWED: &[&str] = &["anyhow", "chrono", "serde", "serde_json", "thiserror", "toml", "uuid"];
    let manifest = std::fs::read_to_string(workspace().join("crates/backroom-core/Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let deps: BTreeSet<&str> = manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let extra: Vec<&&str> = deps.iter().filter(|d| !ALLOWED.contains(d)).collect();
    assert!(
        extra.is_empty(),
        "backroom-core must stay free of I/O: {extra:?} is not in its allow-list. Put the code that \
         needs it in backroom-app or an adapter crate, or extend the list here with a reason."
    );
}

#[test]
fn the_environment_is_read_only_in_the_configuration() {
    let config = workspace().join("crates/backroom-ingest/src/config.rs");
    let mut found = Vec::new();
    for dir in shipped_sources() {
        for file in rust_files(&dir) {
            if file == config {
                continue;
            }
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for needle in ["env::var(", "env::vars(", "env::var_os(", "env::vars_os("] {
                if code.contains(needle) {
                    found.push(format!(
                        "{} ({needle})",
                        file.strip_prefix(workspace()).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "read settings in crates/backroom-ingest/src/config.rs (or through its `Vars` in backroom-app's config.rs) and pass them in: {found:#?}"
    );
}

/// The dependencies a crate's manifest names (workspace crates and external ones alike).
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps
            && let Some((name, _)) = line.split_once(['=', '.'])
            && !name.trim().is_empty()
            && !name.starts_with('#')
        {
            out.insert(name.trim().to_string());
        }
    }
    out
}

#[test]
fn the_webhook_functions_link_no_database_and_no_use_cases() {
    // They verify, classify and queue: backroom-ingest alone. Linking backroom-app would bring
    // the database driver and every use case back into the smallest, most-called functions.
    let root = workspace();
    let forbidden = ["backroom-app", "backroom-db", "tokio-postgres", "reqwest"];
    for manifest in [
        "lambdas/stripe-webhook/Cargo.toml",
        "lambdas/printful-webhook/Cargo.toml",
        "crates/backroom-ingest/Cargo.toml",
    ] {
        let deps = dependencies(&root.join(manifest));
        assert!(
            !deps.is_empty(),
            "{manifest} names no dependencies: is the reader broken?"
        );
        let bad: Vec<&&str> = forbidden.iter().filter(|f| deps.contains(**f)).collect();
        assert!(
            bad.is_empty(),
            "{manifest} depends on {bad:?}: keep the webhook path to backroom-ingest"
        );
    }
    assert!(dependencies(&root.join("lambdas/stripe-webhook/Cargo.toml")).contains("backroom-ingest"));
}

/// The top-level modules of a crate's `src` and, for each, the other top-level modules its
/// files name as `crate::<module>`.
fn module_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_stem()?.to_string_lossy().to_string();
            (p.is_dir() || p.extension().is_some_and(|x| x == "rs")).then_some(name)
        })
        .filter(|m| !matches!(m.as_str(), "lib" | "main"))
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let file = src.join(format!("{module}.rs"));
        let mut files = if file.exists() { vec![file] } else { Vec::new() };
        files.extend(rust_files(&src.join(module)));
        let mut uses = BTreeSet::new();
        for f in files {
            let code = code_of(&std::fs::read_to_string(&f).unwrap());
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != *module && modules.contains(&name) {
                    uses.insert(name);
                }
            }
            // `use crate::{a, b::c}` groups.
            for (i, _) in code.match_indices("crate::{") {
                let group = &code[i + 8..code[i..].find('}').map_or(code.len(), |j| i + j)];
                for part in group.split(',') {
                    let name = part.trim().split("::").next().unwrap_or_default().to_string();
                    if name != *module && modules.contains(&name) {
                        uses.insert(name);
                    }
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// Every circle in the graph, each as the modules on it (found from each module by a
/// depth-first walk back to it).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, path)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if next == start {
                    let mut circle = path.clone();
                    circle.sort();
                    found.insert(circle);
                } else if !path.contains(next) && path.len() < graph.len() {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found
}

#[test]
fn files_inside_a_crate_do_not_import_each_other_in_a_circle() {
    let mut all = Vec::new();
    for src in shipped_sources() {
        for circle in circles(&module_imports(&src)) {
            all.push(format!("{}: {}", src.parent().unwrap().display(), circle.join(" <-> ")));
        }
    }
    assert!(
        all.is_empty(),
        "move what both sides need into a module of its own (as process.rs holds what the worker \
         and the fulfiller share): {all:#?}"
    );
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
            .collect();
    assert_eq!(
        circles(&graph),
        BTreeSet::from([vec!["a".to_string(), "b".into(), "c".into()]])
    );
}

#[test]
fn the_code_map_names_every_module() {
    let map = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for src in shipped_sources() {
        for e in std::fs::read_dir(&src).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if matches!(name.as_str(), "lib.rs" | "main.rs") {
                continue;
            }
            let named = if p.is_dir() {
                map.contains(&format!("{name}/"))
            } else {
                map.contains(&format!("`{name}`"))
                    || map.contains(&format!("{name}`"))
                    || map.contains(&format!("/{name}"))
            };
            if !named {
                missing.push(format!("{}", p.strip_prefix(workspace()).unwrap().display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these modules; add a line that says what each is for: {missing:#?}"
    );
}
