//! The project's own migration rules, on top of AWS's dsql-lint: one statement per file, no
//! transaction control, never DDL with DML, every index named, `ASYNC` and `IF NOT EXISTS`,
//! every table `IF NOT EXISTS`, `ADD COLUMN` with a name and a type only, and a few constructs
//! DSQL refuses. A violation names the file, the line and the rule.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: [{}] {}", self.file, self.line, self.rule, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A keyword or a bare identifier, upper-cased.
    Word(String),
    /// A double-quoted identifier.
    Quoted,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Token {
    fn is(&self, word: &str) -> bool {
        matches!(&self.kind, Kind::Word(w) if w == word)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

/// Splits SQL into words and punctuation, skipping comments and string literals.
fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
        } else if c == b'\'' || c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            if c == b'"' {
                out.push(Token {
                    kind: Kind::Quoted,
                    start,
                    end: i,
                });
            }
        } else if c == b'$' && b.get(i + 1) == Some(&b'$') {
            // A dollar-quoted body: skip to the closing `$$`.
            i += 2;
            while i < b.len() && !(b[i] == b'$' && b.get(i + 1) == Some(&b'$')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(Token {
                kind: Kind::Word(sql[start..i].to_ascii_uppercase()),
                start,
                end: i,
            });
        } else {
            out.push(Token {
                kind: Kind::Punct(c as char),
                start: i,
                end: i + 1,
            });
            i += 1;
        }
    }
    out
}

fn line_of(sql: &str, offset: usize) -> usize {
    sql[..offset.min(sql.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

const DDL: &[&str] = &["CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE"];
const DML: &[&str] = &["INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "SELECT", "WITH"];
const TRANSACTION: &[&str] = &[
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "START",
    "END",
    "SAVEPOINT",
    "RELEASE",
    "ABORT",
];
const COLUMN_EXTRAS: &[&str] = &[
    "DEFAULT",
    "NOT",
    "NULL",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "REFERENCES",
    "GENERATED",
    "CONSTRAINT",
    "COLLATE",
];

/// Checks one migration file against the project's rules.
pub fn lint(file: &str, sql: &str) -> Vec<Violation> {
    let tokens = tokenize(sql);
    let mut out = vec![];
    let mut report = |offset: usize, rule: &'static str, message: String| {
        out.push(Violation {
            file: file.to_string(),
            line: line_of(sql, offset),
            rule,
            message,
        });
    };

    let statements: Vec<&[Token]> = tokens.split(|t| t.is_punct(';')).filter(|s| !s.is_empty()).collect();
    if statements.is_empty() {
        report(0, "one-statement", "the file holds no statement".into());
    }
    if let Some(second) = statements.get(1) {
        report(
            second[0].start,
            "one-statement",
            format!(
                "the file holds {} statements; DSQL runs one DDL statement per transaction, so write one per file",
                statements.len()
            ),
        );
    }
    let first_word = |s: &[Token]| match &s[0].kind {
        Kind::Word(w) => w.clone(),
        _ => String::new(),
    };
    let has_ddl = statements.iter().any(|s| DDL.contains(&first_word(s).as_str()));
    for s in &statements {
        let head = first_word(s);
        if TRANSACTION.contains(&head.as_str()) {
            report(
                s[0].start,
                "no-transaction-control",
                format!("{head} is not allowed: the runner runs each file on its own"),
            );
        }
        if has_ddl && DML.contains(&head.as_str()) {
            report(
                s[0].start,
                "no-ddl-with-dml",
                "DDL and DML never share a file (DSQL refuses them in one transaction)".into(),
            );
        }
        lint_statement(s, &mut report);
    }
    out
}

fn lint_statement(s: &[Token], report: &mut impl FnMut(usize, &'static str, String)) {
    let at = |i: usize| s.get(i);
    let word_at = |i: usize, w: &str| at(i).is_some_and(|t| t.is(w));
    for (i, t) in s.iter().enumerate() {
        let Kind::Word(w) = &t.kind else {
            if t.is_punct('[') {
                report(
                    t.start,
                    "no-arrays",
                    "array columns are not supported on DSQL; use a table or jsonb".into(),
                );
            }
            continue;
        };
        match w.as_str() {
            "SERIAL" | "BIGSERIAL" | "SMALLSERIAL" | "SERIAL4" | "SERIAL8" => report(
                t.start,
                "no-serial",
                format!("{w} does not exist on DSQL; use uuid keys"),
            ),
            "TRUNCATE" => report(t.start, "no-truncate", "TRUNCATE is not supported on DSQL".into()),
            "TEMP" | "TEMPORARY" => report(t.start, "no-temp", "temporary tables are not supported on DSQL".into()),
            "TRIGGER" | "EXTENSION" if i > 0 && s[i - 1].is("CREATE") => report(
                t.start,
                "no-unsupported-object",
                format!("CREATE {w} is not supported on DSQL"),
            ),
            "LOCK" if i == 0 => report(t.start, "no-lock", "LOCK is not supported on DSQL".into()),
            _ if w.starts_with("PG_ADVISORY") => report(
                t.start,
                "no-advisory-locks",
                "advisory locks do not exist on DSQL".into(),
            ),
            _ => {}
        }
    }
    if !s[0].is("CREATE") && !s[0].is("ALTER") {
        return;
    }
    // CREATE [UNIQUE] INDEX ASYNC IF NOT EXISTS name ON ...
    let mut i = 1;
    if word_at(i, "UNIQUE") {
        i += 1;
    }
    if s[0].is("CREATE") && word_at(i, "INDEX") {
        let index = &s[i];
        i += 1;
        if word_at(i, "ASYNC") {
            i += 1;
        } else {
            report(
                index.start,
                "index-async",
                "build every index with CREATE INDEX ASYNC".into(),
            );
            if word_at(i, "CONCURRENTLY") {
                i += 1;
            }
        }
        if word_at(i, "IF") && word_at(i + 1, "NOT") && word_at(i + 2, "EXISTS") {
            i += 3;
        } else {
            report(
                index.start,
                "create-if-not-exists",
                "write CREATE INDEX ... IF NOT EXISTS so a second run is harmless".into(),
            );
        }
        if at(i).is_none_or(|t| t.is("ON")) {
            report(
                index.start,
                "index-named",
                "every index needs a name (PostgreSQL names an unnamed ASYNC index \"async\")".into(),
            );
        }
        return;
    }
    if s[0].is("CREATE") && word_at(1, "TABLE") && !(word_at(2, "IF") && word_at(3, "NOT") && word_at(4, "EXISTS")) {
        report(
            s[1].start,
            "create-if-not-exists",
            "write CREATE TABLE IF NOT EXISTS so a second run is harmless".into(),
        );
    }
    if s[0].is("ALTER") && word_at(1, "TABLE") {
        lint_add_columns(s, report);
    }
}

/// `ADD [COLUMN] [IF NOT EXISTS] name type` and nothing more, up to the next top-level comma.
fn lint_add_columns(s: &[Token], report: &mut impl FnMut(usize, &'static str, String)) {
    let mut i = 0;
    while i < s.len() {
        if !s[i].is("ADD") || s.get(i + 1).is_some_and(|t| t.is("CONSTRAINT")) {
            i += 1;
            continue;
        }
        let add = s[i].start;
        i += 1;
        if s.get(i).is_some_and(|t| t.is("COLUMN")) {
            i += 1;
        }
        if s.get(i).is_some_and(|t| t.is("IF")) {
            i += 3;
        }
        let mut depth = 0;
        while i < s.len() {
            let t = &s[i];
            match &t.kind {
                Kind::Punct('(') => depth += 1,
                Kind::Punct(')') => depth -= 1,
                Kind::Punct(',') if depth == 0 => break,
                Kind::Word(w) if depth == 0 && COLUMN_EXTRAS.contains(&w.as_str()) => {
                    report(
                        add,
                        "add-column-plain",
                        format!("ADD COLUMN takes a name and a type only, not {w} (DSQL refuses it)"),
                    );
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// The statement with the `ASYNC` of `CREATE [UNIQUE] INDEX ASYNC` removed, for PostgreSQL.
pub fn without_async(sql: &str) -> String {
    let tokens = tokenize(sql);
    let mut cut = vec![];
    for (i, t) in tokens.iter().enumerate() {
        if t.is("ASYNC") && i > 0 && tokens[i - 1].is("INDEX") {
            let mut end = t.end;
            while sql.as_bytes().get(end).is_some_and(|b| b.is_ascii_whitespace()) {
                end += 1;
            }
            cut.push(t.start..end);
        }
    }
    let mut out = sql.to_string();
    for range in cut.into_iter().rev() {
        out.replace_range(range, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<(usize, &'static str)> {
        lint("0009_x.sql", sql).into_iter().map(|v| (v.line, v.rule)).collect()
    }

    #[test]
    fn a_good_file_passes() {
        assert_eq!(
            rules("-- a comment; with a semicolon\nCREATE TABLE IF NOT EXISTS t (a text DEFAULT 'x;y');\n"),
            []
        );
        assert_eq!(rules("CREATE UNIQUE INDEX ASYNC IF NOT EXISTS t_a ON t (a);"), []);
        assert_eq!(rules("ALTER TABLE t ADD COLUMN IF NOT EXISTS b bigint"), []);
        assert_eq!(
            rules("ALTER TABLE t ADD COLUMN c numeric(10, 2), ADD COLUMN d text"),
            []
        );
        assert_eq!(rules("INSERT INTO t (a) VALUES ('x')"), []);
    }

    #[test]
    fn each_rule_names_its_line() {
        assert_eq!(
            rules("CREATE TABLE IF NOT EXISTS a (x text);\n\nCREATE TABLE IF NOT EXISTS b (y text);"),
            [(3, "one-statement")]
        );
        assert_eq!(rules("-- nothing here\n"), [(1, "one-statement")]);
        assert_eq!(
            rules("BEGIN;\nCREATE TABLE IF NOT EXISTS a (x text);\nCOMMIT;"),
            [
                (2, "one-statement"),
                (1, "no-transaction-control"),
                (3, "no-transaction-control")
            ]
        );
        assert_eq!(
            rules("CREATE TABLE IF NOT EXISTS a (x text);\nINSERT INTO a VALUES ('1');"),
            [(2, "one-statement"), (2, "no-ddl-with-dml")]
        );
        assert_eq!(rules("\nCREATE INDEX IF NOT EXISTS i ON t (a);"), [(2, "index-async")]);
        assert_eq!(
            rules("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);"),
            [(1, "index-async")]
        );
        assert_eq!(
            rules("CREATE INDEX ASYNC ON t (a);"),
            [(1, "create-if-not-exists"), (1, "index-named")]
        );
        assert_eq!(
            rules("CREATE INDEX ASYNC IF NOT EXISTS ON t (a);"),
            [(1, "index-named")]
        );
        assert_eq!(rules("CREATE TABLE t (a text);"), [(1, "create-if-not-exists")]);
        assert_eq!(
            rules("ALTER TABLE t\n  ADD COLUMN b bigint NOT NULL;"),
            [(2, "add-column-plain")]
        );
        assert_eq!(
            rules("ALTER TABLE t ADD b text DEFAULT 'x';"),
            [(1, "add-column-plain")]
        );
        assert_eq!(rules("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"), []);
        assert_eq!(
            rules("CREATE TABLE IF NOT EXISTS t (\n id serial);"),
            [(2, "no-serial")]
        );
        assert_eq!(rules("CREATE TABLE IF NOT EXISTS t (tags text[]);"), [(1, "no-arrays")]);
        assert_eq!(rules("TRUNCATE t;"), [(1, "no-truncate")]);
        assert_eq!(rules("SELECT pg_advisory_lock(1);"), [(1, "no-advisory-locks")]);
        assert_eq!(
            rules("CREATE EXTENSION IF NOT EXISTS pgcrypto;"),
            [(1, "no-unsupported-object")]
        );
    }

    #[test]
    fn violations_read_as_file_line_rule() {
        let v = &lint("0007_bad.sql", "\n\nCREATE INDEX ASYNC IF NOT EXISTS ON t (a);")[0];
        assert_eq!(
            v.to_string(),
            "0007_bad.sql:3: [index-named] every index needs a name (PostgreSQL names an unnamed ASYNC index \"async\")"
        );
    }

    #[test]
    fn async_is_removed_only_after_index() {
        assert_eq!(
            without_async("CREATE INDEX ASYNC IF NOT EXISTS async_thing ON t (a)"),
            "CREATE INDEX IF NOT EXISTS async_thing ON t (a)"
        );
        assert_eq!(
            without_async("create unique index async i on t (a)"),
            "create unique index i on t (a)"
        );
        assert_eq!(
            without_async("CREATE TABLE t (async text)"),
            "CREATE TABLE t (async text)"
        );
    }
}
