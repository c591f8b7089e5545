//! The EMF lines must be valid Embedded Metric Format: checked here against the rules of the
//! specification, on the parsed JSON.

use backroom_aws::emf::{Metric, NAMESPACE, STACK_DIMENSION, line};
use serde_json::Value;

/// Validates a document against the EMF specification's rules; returns what is wrong.
fn emf_problems(doc: &Value) -> Vec<String> {
    let mut problems = vec![];
    let Some(aws) = doc.get("_aws").and_then(Value::as_object) else {
        return vec!["no _aws object".into()];
    };
    if aws.get("Timestamp").and_then(Value::as_i64).is_none_or(|t| t <= 0) {
        problems.push("_aws.Timestamp must be a positive integer of milliseconds".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return vec!["_aws.CloudWatchMetrics must be an array".into()];
    };
    for d in directives {
        let namespace = d.get("Namespace").and_then(Value::as_str).unwrap_or_default();
        if namespace.is_empty() || namespace.len() > 1024 {
            problems.push("Namespace must be 1 to 1024 characters".into());
        }
        match d.get("Dimensions").and_then(Value::as_array) {
            None => problems.push("Dimensions must be an array of dimension sets".into()),
            Some(sets) => {
                for set in sets {
                    match set.as_array() {
                        Some(keys) if keys.len() <= 30 => {
                            for k in keys {
                                if !k.as_str().is_some_and(|k| doc.get(k).is_some_and(Value::is_string)) {
                                    problems.push(format!("dimension {k} must name a string member"));
                                }
                            }
                        }
                        _ => problems.push("a dimension set is an array of at most 30 keys".into()),
                    }
                }
            }
        }
        let Some(metrics) = d.get("Metrics").and_then(Value::as_array) else {
            problems.push("Metrics must be an array".into());
            continue;
        };
        if metrics.len() > 100 {
            problems.push("at most 100 metrics per directive".into());
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() || name.len() > 1024 {
                problems.push("a metric needs a Name of 1 to 1024 characters".into());
            }
            if let Some(unit) = m.get("Unit")
                && unit != "Count"
                && unit != "None"
                && unit != "Milliseconds"
                && unit != "Seconds"
            {
                problems.push(format!("unexpected unit {unit}"));
            }
            if !doc
                .get(name)
                .is_some_and(|v| v.is_number() || v.as_array().is_some_and(|a| a.iter().all(Value::is_number)))
            {
                problems.push(format!("the member {name} must hold a number"));
            }
        }
    }
    problems
}

#[test]
fn every_metric_line_is_valid_emf() {
    let values: Vec<(Metric, f64)> = Metric::ALL.iter().map(|m| (*m, 1.0)).collect();
    for n in 1..=values.len() {
        let text = line("backroom-live", &values[..n], 1_700_000_000_123);
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(emf_problems(&doc), Vec::<String>::new(), "{text}");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(doc[Metric::OrdersPaid.name()], 1.0);
    }
    let doc: Value = serde_json::from_str(&line("backroom", &[(Metric::StuckOrders, 3.0)], 5)).unwrap();
    assert_eq!(doc["StuckOrders"], 3.0);
    assert_eq!(doc["_aws"]["Timestamp"], 5);
}

#[test]
fn the_checker_catches_broken_documents() {
    let broken: Value = serde_json::json!({"_aws": {"Timestamp": "now", "CloudWatchMetrics": [{"Namespace": "", "Dimensions": [["Function"]], "Metrics": [{"Name": "OrdersPaid"}]}]}});
    assert_eq!(emf_problems(&broken).len(), 4, "{:?}", emf_problems(&broken));
}

#[test]
fn there_are_at_most_ten_metrics_with_distinct_names() {
    let names: std::collections::HashSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(names.len(), Metric::ALL.len());
    assert!(Metric::ALL.len() <= 10);
}

#[test]
fn every_metric_carries_its_stack_as_the_one_dimension() {
    // Two stacks in one account (test and live) must have separate metrics, or each would fire
    // the other's alarms.
    for stack in ["backroom", "backroom-live"] {
        let doc: Value = serde_json::from_str(&line(stack, &[(Metric::OrdersPaid, 1.0)], 5)).unwrap();
        assert_eq!(emf_problems(&doc), Vec::<String>::new());
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[STACK_DIMENSION]])
        );
        assert_eq!(doc[STACK_DIMENSION], stack);
    }
    // Whatever the environment holds, the line stays one valid JSON document.
    let odd = "a\"b\\c\nd";
    let doc: Value = serde_json::from_str(&line(odd, &[(Metric::OrdersPaid, 1.0)], 5)).unwrap();
    assert_eq!(doc[STACK_DIMENSION], odd);
    assert_eq!(emf_problems(&doc), Vec::<String>::new());
}
