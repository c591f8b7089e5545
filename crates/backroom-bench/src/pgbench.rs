//! A pgbench script made from the statements the worker really issued: PostgreSQL logs them
//! (`log_statement = 'all'`) while the worker processes one event, and each logged statement is
//! replayed with its logged parameters, except that the order becomes a random one of the
//! database (`:oid`) and the values that must be new each time (the event id, fresh row ids)
//! become fresh values drawn in the script's one extra statement.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A statement as PostgreSQL logged it, with its parameters (`None` for NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub sql: String,
    pub params: Vec<Option<String>>,
}

/// The statements in a server log excerpt, in order: `LOG:  statement: …` (simple protocol)
/// and `LOG:  execute <name>: …` (extended), each with the `DETAIL:  parameters: …` line that
/// follows it.
pub fn parse_log(text: &str) -> Vec<Logged> {
    let mut out: Vec<Logged> = vec![];
    for line in text.lines() {
        if let Some((_, sql)) = line.split_once("LOG:  statement: ") {
            out.push(Logged {
                sql: sql.trim().to_string(),
                params: vec![],
            });
        } else if let Some((_, rest)) = line.split_once("LOG:  execute ") {
            if let Some((_, sql)) = rest.split_once(": ") {
                out.push(Logged {
                    sql: sql.trim().to_string(),
                    params: vec![],
                });
            }
        } else if let Some((_, params)) = line.split_once("DETAIL:  parameters: ")
            && let Some(last) = out.last_mut()
        {
            last.params = parse_params(params);
        }
    }
    out
}

/// `$1 = 'a', $2 = NULL, $3 = 'it''s'` → `[Some("a"), None, Some("it's")]`.
pub fn parse_params(text: &str) -> Vec<Option<String>> {
    let mut params = BTreeMap::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let Ok(n) = chars[start..j].iter().collect::<String>().parse::<usize>() else {
            i = j.max(i + 1);
            continue;
        };
        // " = "
        j += 3;
        if j + 4 <= chars.len() && chars[j..j + 4].iter().collect::<String>() == "NULL" {
            params.insert(n, None);
            i = j + 4;
            continue;
        }
        if j < chars.len() && chars[j] == '\'' {
            let mut value = String::new();
            let mut k = j + 1;
            while k < chars.len() {
                if chars[k] == '\'' {
                    if k + 1 < chars.len() && chars[k + 1] == '\'' {
                        value.push('\'');
                        k += 2;
                        continue;
                    }
                    break;
                }
                value.push(chars[k]);
                k += 1;
            }
            params.insert(n, Some(value));
            i = k + 1;
        } else {
            i = j;
        }
    }
    let max = params.keys().max().copied().unwrap_or(0);
    (1..=max).map(|n| params.get(&n).cloned().flatten()).collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A SQL literal. pgbench reads `:name` as a variable even inside quotes, so a value with a
/// colon is written as an escape string with the colon as `\x3a`.
fn literal(v: &str) -> String {
    let quoted = v.replace('\'', "''");
    if v.contains(':') || v.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\").replace(':', "\\x3a"))
    } else {
        format!("'{quoted}'")
    }
}

/// The pgbench script replaying `statements` for a random order of `bench_targets` (a table of
/// `(n, id)` rows, `n` from 1 to `:norders`).
pub fn script(statements: &[Logged], order_id: &str, event_id: &str) -> String {
    // Every distinct uuid other than the order's is a fresh row id in the original run.
    let mut fresh: Vec<String> = vec![];
    for s in statements {
        for v in s.params.iter().flatten() {
            if is_uuid(v) && v != order_id && !fresh.contains(v) {
                fresh.push(v.clone());
            }
        }
    }
    let mut out = String::from("\\set n random(1, :norders)\n");
    let mut draw = String::from("SELECT id AS oid, 'evt_bench_' || gen_random_uuid() AS eid");
    for (i, _) in fresh.iter().enumerate() {
        let _ = write!(draw, ", gen_random_uuid() AS u{}", i + 1);
    }
    draw.push_str(" FROM bench_targets WHERE n = :n \\gset\n");
    out.push_str(&draw);
    for s in statements {
        let mut sql = s.sql.clone();
        // Highest first, so that $1 does not eat the start of $10.
        for (index, value) in s.params.iter().enumerate().rev() {
            let n = index + 1;
            let replacement = match value {
                None => "NULL".to_string(),
                Some(v) if v == order_id => ":oid".to_string(),
                Some(v) if *v == format!("{{{order_id}}}") => "ARRAY[:oid]::uuid[]".to_string(),
                Some(v) if v == event_id => ":eid".to_string(),
                Some(v) => match fresh.iter().position(|f| f == v) {
                    Some(i) => format!(":u{}", i + 1),
                    None => literal(v),
                },
            };
            sql = sql.replace(&format!("${n}"), &replacement);
        }
        out.push_str(&sql);
        out.push_str(";\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "0194f1c2-7a3b-7c4d-8e5f-6a7b8c9d0e1f";
    const ROW: &str = "11111111-2222-4333-8444-555555555555";

    #[test]
    fn parameters_are_read_with_nulls_and_quotes() {
        assert_eq!(
            parse_params("$1 = 'stripe', $2 = NULL, $3 = '{\"name\": \"O''Brien, J\"}', $10 = 'x'"),
            vec![
                Some("stripe".into()),
                None,
                Some("{\"name\": \"O'Brien, J\"}".into()),
                None,
                None,
                None,
                None,
                None,
                None,
                Some("x".into())
            ]
        );
    }

    #[test]
    fn a_logged_event_becomes_a_script_for_a_random_order() {
        let log = format!(
            "2026-11-23 22:00:00.001 UTC [42] LOG:  execute <unnamed>: SELECT 1 FROM inbox_events WHERE source = $1 AND event_id = $2\n\
             2026-11-23 22:00:00.001 UTC [42] DETAIL:  parameters: $1 = 'stripe', $2 = 'evt_123'\n\
             2026-11-23 22:00:00.002 UTC [42] LOG:  statement: START TRANSACTION ISOLATION LEVEL REPEATABLE READ\n\
             2026-11-23 22:00:00.003 UTC [42] LOG:  execute <unnamed>: INSERT INTO order_timeline (id, order_id, detail, cause) VALUES ($1, $2, $3, $4)\n\
             2026-11-23 22:00:00.003 UTC [42] DETAIL:  parameters: $1 = '{ROW}', $2 = '{OID}', $3 = 'it''s paid', $4 = 'stripe_event:evt_1'\n\
             2026-11-23 22:00:00.004 UTC [42] LOG:  execute <unnamed>: SELECT * FROM order_items WHERE order_id = ANY($1)\n\
             2026-11-23 22:00:00.004 UTC [42] DETAIL:  parameters: $1 = '{{{OID}}}'\n\
             2026-11-23 22:00:00.005 UTC [42] LOG:  statement: COMMIT\n\
             2026-11-23 22:00:00.006 UTC [7] LOG:  checkpoint starting: time\n"
        );
        let statements = parse_log(&log);
        assert_eq!(statements.len(), 5, "{statements:?}");
        assert_eq!(statements[1].sql, "START TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        let script = script(&statements, OID, "evt_123");
        assert_eq!(
            script,
            "\\set n random(1, :norders)\n\
             SELECT id AS oid, 'evt_bench_' || gen_random_uuid() AS eid, gen_random_uuid() AS u1 FROM bench_targets WHERE n = :n \\gset\n\
             SELECT 1 FROM inbox_events WHERE source = 'stripe' AND event_id = :eid;\n\
             START TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n\
             INSERT INTO order_timeline (id, order_id, detail, cause) VALUES (:u1, :oid, 'it''s paid', E'stripe_event\\x3aevt_1');\n\
             SELECT * FROM order_items WHERE order_id = ANY(ARRAY[:oid]::uuid[]);\n\
             COMMIT;\n"
        );
    }
}
