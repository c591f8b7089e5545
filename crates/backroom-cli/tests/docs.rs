//! The owner's documents against what they name: every `backroom` verb docs/deploy.md and
//! docs/operations.md tell the owner to run exists (its `--help` answers), and
//! infra/samconfig.toml.example parses and holds what infra/deploy.sh reads from it. The rest of
//! docs/deploy.md's command blocks reach AWS, Stripe or Printful; infra/rehearse-local.sh
//! rehearses the stack they deploy.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

const DOCS: [&str; 2] = ["docs/deploy.md", "docs/operations.md"];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backroom"))
        .args(args)
        .current_dir(workspace())
        .env_remove("DATABASE_URL")
        .env_remove("DSQL_ENDPOINT")
        .output()
        .expect("running backroom")
}

/// A `backroom` command a document names: its first words (the verb and what may be a
/// sub-verb), and where it is named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    words: Vec<String>,
    at: String,
}

/// The words that follow `backroom` at the start of `code`, while they look like verbs.
fn verb_words(code: &str) -> Option<Vec<String>> {
    let rest = code.trim().strip_prefix("backroom ")?;
    let words: Vec<String> = rest
        .split_whitespace()
        .take_while(|w| {
            w.starts_with(|c: char| c.is_ascii_lowercase()) && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .take(2)
        .map(str::to_string)
        .collect();
    (!words.is_empty()).then_some(words)
}

/// Every `backroom ...` a Markdown text names: the lines of fenced blocks that run it, and the
/// inline code spans that start with it.
fn named_commands(path: &str, text: &str) -> Vec<Named> {
    let mut found = vec![];
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        let at = format!("{path}:{}", n + 1);
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let codes: Vec<&str> = if fenced {
            vec![line]
        } else {
            line.split('`').skip(1).step_by(2).collect()
        };
        for code in codes {
            if let Some(words) = verb_words(code) {
                found.push(Named { words, at: at.clone() });
            }
        }
    }
    found
}

/// The sub-commands a `--help` text lists under `Commands:` (none for a leaf).
fn commands_in_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_string)
        .collect()
}

fn help(words: &[&str]) -> Result<String, String> {
    let mut args = words.to_vec();
    args.push("--help");
    let out = run(&args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`backroom {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What is wrong with the commands named: a verb or sub-verb the CLI lacks, or a `--help`
/// that does not answer.
fn problems(named: &[Named]) -> Vec<String> {
    let verbs = match help(&[]) {
        Ok(h) => commands_in_help(&h),
        Err(e) => return vec![e],
    };
    let mut problems = vec![];
    for n in named {
        let verb = n.words[0].as_str();
        if !verbs.contains(verb) {
            problems.push(format!(
                "{}: `backroom {verb}`: the CLI has no verb {verb:?} (it has {verbs:?})",
                n.at
            ));
            continue;
        }
        let subs = match help(&[verb]) {
            Ok(h) => commands_in_help(&h),
            Err(e) => {
                problems.push(format!("{}: {e}", n.at));
                continue;
            }
        };
        // A second word is a sub-verb only where the verb has sub-verbs; else it is an argument.
        if let Some(sub) = n.words.get(1).filter(|_| !subs.is_empty()) {
            if !subs.contains(sub) {
                problems.push(format!(
                    "{}: `backroom {verb} {sub}`: {verb} has no sub-verb {sub:?} (it has {subs:?})",
                    n.at
                ));
            } else if let Err(e) = help(&[verb, sub]) {
                problems.push(format!("{}: {e}", n.at));
            }
        }
    }
    problems
}

#[test]
fn every_backroom_verb_the_owner_docs_name_exists() {
    let mut named = vec![];
    for doc in DOCS {
        let text = std::fs::read_to_string(workspace().join(doc)).unwrap();
        named.extend(named_commands(doc, &text));
    }
    let distinct: BTreeSet<&[String]> = named.iter().map(|n| n.words.as_slice()).collect();
    assert!(
        distinct.len() >= 10,
        "the docs name only {distinct:?}: is the extraction broken?"
    );
    let problems = problems(&named);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_verb_the_cli_lacks_is_reported_with_where_it_is_named() {
    let doc = "Release it:\n\n```sh\nbackroom orders releese <id>\n```\n\nthen `backroom refund <id>`, and `backroom status`.\n";
    let named = named_commands("doc.md", doc);
    assert_eq!(
        named.iter().map(|n| n.words.join(" ")).collect::<Vec<_>>(),
        ["orders releese", "refund", "status"]
    );
    let problems = problems(&named);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("doc.md:4: `backroom orders releese`"),
        "{problems:?}"
    );
    assert!(problems[1].starts_with("doc.md:7: `backroom refund`"), "{problems:?}");
}

#[test]
fn prose_and_other_commands_are_not_taken_for_verbs() {
    let doc = "backroom is built with `cargo`; the `backroom` command, `backroom-cli`,\n\
               ```sh\naws sns publish --subject \"backroom test\" --stack-name backroom \\\n  --query x\n```\n\
               `backroom catalog sync catalog.toml` and `backroom orders show <id>`\n";
    let named: Vec<String> = named_commands("doc.md", doc)
        .iter()
        .map(|n| n.words.join(" "))
        .collect();
    assert_eq!(named, ["catalog sync", "orders show"]);
}

/// infra/deploy.sh's own reading of samconfig.toml (its `samconfig` function, sourced) for one
/// section and key, in a directory holding the example as samconfig.toml.
fn deploy_sh_reads(dir: &std::path::Path, section: &str, key: &str) -> String {
    let script = format!(
        "set -euo pipefail; . '{}'; cd '{}'; config_env={section}; samconfig {key}",
        workspace().join("infra/deploy.sh").display(),
        dir.display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "deploy.sh cannot read {key} of [{section}]: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_samconfig_example_parses_and_holds_what_deploy_sh_reads() {
    let path = workspace().join("infra/samconfig.toml.example");
    let text = std::fs::read_to_string(&path).unwrap();
    let config: toml::Table = toml::from_str(&text).expect("infra/samconfig.toml.example is not valid TOML");
    let sections: Vec<&String> = config.keys().filter(|k| *k != "version").collect();
    assert!(
        sections.iter().any(|s| *s == "default"),
        "no [default.*] section: {sections:?}"
    );

    let dir = std::env::temp_dir().join(format!("backroom-samconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&path, dir.join("samconfig.toml")).unwrap();
    for section in sections {
        // deploy.sh reads these two (deploy first, then global); `sam deploy` the rest.
        for key in ["stack_name", "region"] {
            let value = deploy_sh_reads(&dir, section, key);
            assert!(!value.is_empty(), "deploy.sh finds no {key} in [{section}]");
        }
        let deploy = config[section.as_str()]["deploy"]["parameters"]
            .as_table()
            .unwrap_or_else(|| panic!("no [{section}.deploy.parameters]"));
        for key in ["capabilities", "parameter_overrides", "resolve_s3"] {
            assert!(deploy.contains_key(key), "[{section}.deploy.parameters] lacks {key}");
        }
        let overrides = deploy["parameter_overrides"].as_str().unwrap();
        for parameter in ["StorefrontOrigin=", "OpsEmail="] {
            assert!(
                overrides.contains(parameter),
                "[{section}] parameter_overrides lacks the required {parameter}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_deploy_script_explains_itself_without_touching_anything() {
    let out = Command::new(workspace().join("infra/deploy.sh"))
        .arg("--help")
        .env_remove("CI")
        .output()
        .expect("running infra/deploy.sh --help");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for flag in [
        "--config-env",
        "--skip-bootstrap",
        "--allow-dirty",
        "--delete-failed-stack",
    ] {
        assert!(text.contains(flag), "infra/deploy.sh --help does not explain {flag}");
    }
}
