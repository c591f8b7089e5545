//! Lenient readers for JSON values. Printful's own documents disagree with themselves about
//! types (`shipped_at` is declared a string with an integer example, `tracking_number` a string
//! with the example `0`, costs are strings in orders and numbers in estimates), so every field
//! is read by what it can mean rather than by the type it happens to have.

use serde_json::Value;

/// An integer from a number (integral) or a string of digits.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            // Whole floats such as `12.0` are accepted; anything with a fraction is not an id.
            n.as_f64()
                .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// A non-negative integer that fits in `u32`, from a number or a string.
pub(crate) fn uint(v: &Value) -> Option<u32> {
    int(v).and_then(|i| u32::try_from(i).ok())
}

/// Text from a string, a number or a boolean; `None` for null, arrays and objects.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text that means something: `None` for a missing, null or empty value.
pub(crate) fn non_empty(v: &Value) -> Option<String> {
    text(v).filter(|s| !s.trim().is_empty())
}

/// A boolean from `true`/`false`, `1`/`0` or their string forms.
pub(crate) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A Unix time in seconds from an integer, a string of digits, or an RFC 3339 / ISO 8601 date
/// and time (v2 sends `occurred_at` as `2023-04-04T12:36:42Z`).
pub(crate) fn unix_time(v: &Value) -> Option<i64> {
    if let Some(i) = int(v) {
        return Some(i);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    // Some Printful payloads use a space instead of the `T` and no offset; such times are UTC.
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_come_from_numbers_and_strings() {
        assert_eq!(int(&json!(12)), Some(12));
        assert_eq!(int(&json!("12")), Some(12));
        assert_eq!(int(&json!(" 12 ")), Some(12));
        assert_eq!(int(&json!(12.0)), Some(12));
        assert_eq!(int(&json!(12.5)), None);
        assert_eq!(int(&json!("twelve")), None);
        assert_eq!(int(&json!(null)), None);
        assert_eq!(uint(&json!(-1)), None);
    }

    #[test]
    fn text_and_booleans_are_read_by_meaning() {
        assert_eq!(text(&json!(0)), Some("0".into()));
        assert_eq!(non_empty(&json!("")), None);
        assert_eq!(non_empty(&json!(null)), None);
        assert_eq!(boolean(&json!(1)), Some(true));
        assert_eq!(boolean(&json!("false")), Some(false));
        assert_eq!(boolean(&json!({})), None);
    }

    #[test]
    fn times_come_from_integers_strings_and_dates() {
        assert_eq!(unix_time(&json!(1588716060)), Some(1588716060));
        assert_eq!(unix_time(&json!("1588716060")), Some(1588716060));
        assert_eq!(unix_time(&json!("2023-04-04T12:36:42Z")), Some(1680611802));
        assert_eq!(unix_time(&json!("2023-04-04 12:36:42")), Some(1680611802));
        assert_eq!(unix_time(&json!("soon")), None);
    }
}
