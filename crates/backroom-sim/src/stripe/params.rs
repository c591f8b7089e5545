//! Stripe's request parameters: form bodies and query strings in bracket notation
//! (`line_items[0][price_data][currency]=eur`, `expand[]=line_items`, `created[gte]=1`), decoded
//! into JSON so that handlers read them as a tree, plus the readers that turn a bad value into
//! the error Stripe would give.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::ApiError;

/// A parameter tree: strings at the leaves, objects for `[name]`, arrays for `[0]` and `[]`.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    Seq(Vec<Node>),
}

/// Decodes `application/x-www-form-urlencoded` input (a body or a query string).
pub fn parse(input: &[u8]) -> Result<Value, ApiError> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(input) {
        let segments = split_key(&key).ok_or_else(|| {
            ApiError::invalid(
                format!("Invalid parameter name {key:?}: brackets must be balanced, as in a[b][0]."),
                &key,
            )
        })?;
        let (first, rest) = segments.split_first().expect("split_key returns at least one segment");
        let mut slot = root.remove(*first);
        insert(&mut slot, rest, value.into_owned())
            .map_err(|()| ApiError::invalid(format!("Conflicting values for parameter {key:?}."), &key))?;
        root.insert((*first).to_string(), slot.expect("insert always fills the slot"));
    }
    Ok(Value::Object(root.into_iter().map(|(k, v)| (k, to_json(v))).collect()))
}

/// `a[b][0][]` → `["a", "b", "0", ""]`; `None` when brackets do not balance.
fn split_key(key: &str) -> Option<Vec<&str>> {
    let (base, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if base.is_empty() {
        return None;
    }
    let mut segments = vec![base];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return None;
        }
        segments.push(segment);
        rest = &inner[close + 1..];
    }
    Some(segments)
}

fn insert(slot: &mut Option<Node>, path: &[&str], value: String) -> Result<(), ()> {
    let Some((segment, rest)) = path.split_first() else {
        return match slot {
            None => {
                *slot = Some(Node::Leaf(value));
                Ok(())
            }
            Some(_) => Err(()),
        };
    };
    if segment.is_empty() {
        // `name[]=…` appends; each occurrence is a new element.
        let node = slot.get_or_insert_with(|| Node::Seq(Vec::new()));
        let Node::Seq(items) = node else { return Err(()) };
        let mut element = None;
        insert(&mut element, rest, value)?;
        items.push(element.expect("filled"));
        return Ok(());
    }
    let node = slot.get_or_insert_with(|| Node::Map(BTreeMap::new()));
    let Node::Map(map) = node else { return Err(()) };
    let mut child = map.remove(*segment);
    let result = insert(&mut child, rest, value);
    if let Some(child) = child {
        map.insert((*segment).to_string(), child);
    }
    result
}

fn to_json(node: Node) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::Seq(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Node::Map(map) => {
            // An object whose keys are all indices is an array, in index order.
            let all_indices = !map.is_empty()
                && map
                    .keys()
                    .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
            if all_indices {
                let mut indexed: Vec<(u64, Node)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse::<u64>().unwrap_or(u64::MAX), v))
                    .collect();
                indexed.sort_by_key(|(i, _)| *i);
                Value::Array(indexed.into_iter().map(|(_, v)| to_json(v)).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, to_json(v))).collect())
            }
        }
    }
}

/// Typed, error-reporting access to one level of a parameter tree. `prefix` is how Stripe
/// names the level in errors, for example `line_items[0]`.
pub struct Params<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Params<'a> {
    pub fn root(value: &'a Value) -> Params<'a> {
        let map = value.as_object().unwrap_or(&EMPTY);
        Params {
            map,
            prefix: String::new(),
        }
    }

    /// The full name of a parameter at this level, as Stripe writes it in `param`.
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    /// Refuses parameters the simulator does not know, as Stripe refuses ones it does not know.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => {
                let name = self.name(k);
                Err(ApiError::new(
                    400,
                    "parameter_unknown",
                    format!("Received unknown parameter: {name}"),
                    Some(&name),
                ))
            }
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid string: {} must be a single value.", self.name(key)),
                &self.name(key),
            )),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.str(key)?.ok_or_else(|| ApiError::missing(&self.name(key)))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(s) = self.str(key)? else { return Ok(None) };
        s.parse::<i64>().map(Some).map_err(|_| {
            ApiError::new(
                400,
                "parameter_invalid_integer",
                format!("Invalid integer: {s}"),
                Some(&self.name(key)),
            )
        })
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.str(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(format!("Invalid boolean: {other}"), &self.name(key))),
        }
    }

    pub fn object(&self, key: &str) -> Result<Option<Params<'a>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params {
                map,
                prefix: self.name(key),
            })),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid object: {} must be a hash.", self.name(key)),
                &self.name(key),
            )),
        }
    }

    /// An array of objects: `key[0][a]=…&key[1][a]=…`.
    pub fn objects(&self, key: &str) -> Result<Vec<Params<'a>>, ApiError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Params {
                        map,
                        prefix: format!("{}[{i}]", self.name(key)),
                    }),
                    _ => Err(ApiError::invalid(
                        format!("Invalid object: {}[{i}] must be a hash.", self.name(key)),
                        &self.name(key),
                    )),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid array: {} must be an array.", self.name(key)),
                &self.name(key),
            )),
        }
    }

    /// An array of strings: `key[]=a&key[]=b` or `key[0]=a`; a single `key=a` counts as one.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::invalid(
                            format!("Invalid array: {} must hold strings.", self.name(key)),
                            &self.name(key),
                        )
                    })
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid array: {} must be an array.", self.name(key)),
                &self.name(key),
            )),
        }
    }

    /// A string-to-string hash such as `metadata`.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let Some(level) = self.object(key)? else {
            return Ok(BTreeMap::new());
        };
        level
            .map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ApiError::invalid(
                    format!("Invalid value for {}: must be a string.", level.name(k)),
                    &level.name(k),
                )),
            })
            .collect()
    }
}

/// A `created` filter: `created=T` or `created[gt|gte|lt|lte]=T`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeFilter {
    pub eq: Option<i64>,
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl RangeFilter {
    pub fn read(params: &Params<'_>, key: &str) -> Result<RangeFilter, ApiError> {
        if let Ok(Some(eq)) = params.int(key) {
            return Ok(RangeFilter {
                eq: Some(eq),
                ..RangeFilter::default()
            });
        }
        let Some(range) = params.object(key)? else {
            // A plain value that is not an integer: let `int` say so.
            params.int(key)?;
            return Ok(RangeFilter::default());
        };
        range.only(&["gt", "gte", "lt", "lte"])?;
        Ok(RangeFilter {
            eq: None,
            gt: range.int("gt")?,
            gte: range.int("gte")?,
            lt: range.int("lt")?,
            lte: range.int("lte")?,
        })
    }

    pub fn contains(&self, t: i64) -> bool {
        self.eq.is_none_or(|v| t == v)
            && self.gt.is_none_or(|v| t > v)
            && self.gte.is_none_or(|v| t >= v)
            && self.lt.is_none_or(|v| t < v)
            && self.lte.is_none_or(|v| t <= v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bracket_notation_decodes_into_objects_and_arrays() {
        let body = "mode=payment&line_items[0][price_data][currency]=eur&line_items[0][quantity]=2\
            &line_items[1][quantity]=1&line_items[10][quantity]=3&metadata[order_id]=o%2D1\
            &expand[]=line_items&expand[]=x&types[0]=a.b&created[gte]=5&name=Caf%C3%A9+Mug";
        let v = parse(body.as_bytes()).unwrap();
        assert_eq!(
            v,
            json!({
                "mode": "payment",
                "line_items": [{"price_data": {"currency": "eur"}, "quantity": "2"}, {"quantity": "1"}, {"quantity": "3"}],
                "metadata": {"order_id": "o-1"},
                "expand": ["line_items", "x"],
                "types": ["a.b"],
                "created": {"gte": "5"},
                "name": "Café Mug",
            })
        );
    }

    #[test]
    fn conflicting_or_unbalanced_keys_are_refused() {
        for bad in [
            "a=1&a[b]=2",
            "a[b]=1&a=2",
            "a=1&a=2",
            "a[b=1",
            "[a]=1",
            "a[b]]=1",
            "a[]=1&a[x]=2",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(parse(b"").unwrap(), json!({}));
    }

    #[test]
    fn range_filters_read_both_forms() {
        let v = parse(b"created[gte]=10&created[lt]=20&other=5").unwrap();
        let p = Params::root(&v);
        let r = RangeFilter::read(&p, "created").unwrap();
        assert!(!r.contains(9) && r.contains(10) && r.contains(19) && !r.contains(20));
        let exact = RangeFilter::read(&p, "other").unwrap();
        assert!(exact.contains(5) && !exact.contains(6));
        assert!(RangeFilter::read(&Params::root(&parse(b"created[soon]=1").unwrap()), "created").is_err());
        assert!(RangeFilter::read(&Params::root(&parse(b"created=abc").unwrap()), "created").is_err());
    }
}
