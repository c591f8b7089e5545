//! The account on disk, so that `backroom dev` can be killed (even with `kill -9`) and started
//! again without losing the simulated Stripe account. The whole account is one JSON file,
//! rewritten atomically (a temporary file in the same directory, fsync, rename, fsync of the
//! directory) before a change, or anything read after it, is answered. Changes made while a
//! write is under way are saved together by the next write (see `StripeSim::persist`), so a
//! burst of changes costs a few writes, not one each.
//!
//! Saved: sessions with their line items, charges, disputes, events (with whether a webhook
//! delivery succeeded), idempotent results, webhook endpoints created through the API, shipping
//! rates, promotion codes, balance transactions, the clock's offset and the account's creation
//! time. The tax and fee rates are not saved: the configuration sets them at every start.
//! Not saved: the request log, delivery attempts and webhooks still being delivered; an event
//! whose webhook was in flight stays listed in `/v1/events`, which is what catch-up reads.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::state::{EventRecord, IdempotentResult, SessionRecord, State};

/// The file's format; another number is refused rather than misread.
const FORMAT: i64 = 1;

/// An account read back from disk.
pub(crate) struct Saved {
    pub state: State,
    /// Seconds added to the machine's clock.
    pub clock_offset: i64,
    /// When the account was first made (the webhook endpoint's `created`).
    pub started_at: i64,
    /// The simulator's clock when the file was written; the clock never goes back before it.
    pub saved_at: i64,
}

/// Why a state file could not be used.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The file could not be read at all.
    Io(io::Error),
    /// The file was read but is not a state this simulator wrote.
    Corrupt(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "it could not be read: {e}"),
            LoadError::Corrupt(why) => write!(f, "it is not a Stripe simulator state: {why}"),
        }
    }
}

/// Reads the account saved at `path`; `Ok(None)` when there is no file yet.
pub(crate) fn load(path: &Path) -> Result<Option<Saved>, LoadError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e)),
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| LoadError::Corrupt(format!("invalid JSON: {e}")))?;
    from_json(&value).map(Some).map_err(LoadError::Corrupt)
}

/// Moves an unusable state file aside to `<name>.corrupt`, so that the next save does not
/// destroy what might explain it. Returns where it went.
pub(crate) fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".corrupt");
    let aside = path.with_file_name(name);
    fs::rename(path, &aside)?;
    Ok(aside)
}

/// The account as the bytes of its file, serialized from borrowed parts (no copy of the
/// account is made, which matters since this runs with the account locked).
pub(crate) fn encode(state: &State, clock_offset: i64, started_at: i64, now: i64) -> io::Result<Vec<u8>> {
    serde_json::to_vec(&OnDisk {
        format: FORMAT,
        saved_at: now,
        clock_offset,
        started_at,
        sessions: state
            .sessions
            .iter()
            .map(|s| SessionRef {
                object: &s.object,
                line_items: &s.line_items,
                charge_id: s.charge_id.as_deref(),
            })
            .collect(),
        charges: &state.charges,
        disputes: &state.disputes,
        events: state
            .events
            .iter()
            .map(|e| EventRef {
                event: &e.event,
                for_endpoint: e.for_endpoint,
                delivered: e.delivered,
            })
            .collect(),
        idempotency: state
            .idempotency
            .iter()
            .map(|(key, r)| {
                (
                    key.as_str(),
                    IdempotentRef {
                        fingerprint: &r.fingerprint,
                        status: r.status,
                        body: &r.body,
                        created: r.created,
                    },
                )
            })
            .collect(),
        webhook_endpoints: &state.webhook_endpoints,
        shipping_rates: &state.shipping_rates,
        promotion_codes: &state.promotion_codes,
        balance_transactions: &state.balance_transactions,
    })
    .map_err(io::Error::other)
}

/// The file's layout.
#[derive(Serialize)]
struct OnDisk<'a> {
    format: i64,
    saved_at: i64,
    clock_offset: i64,
    started_at: i64,
    sessions: Vec<SessionRef<'a>>,
    charges: &'a [Value],
    disputes: &'a [Value],
    events: Vec<EventRef<'a>>,
    idempotency: std::collections::BTreeMap<&'a str, IdempotentRef<'a>>,
    webhook_endpoints: &'a [Value],
    shipping_rates: &'a [Value],
    promotion_codes: &'a [Value],
    balance_transactions: &'a [Value],
}

#[derive(Serialize)]
struct SessionRef<'a> {
    object: &'a Value,
    line_items: &'a [Value],
    charge_id: Option<&'a str>,
}

#[derive(Serialize)]
struct EventRef<'a> {
    event: &'a Value,
    for_endpoint: bool,
    delivered: bool,
}

#[derive(Serialize)]
struct IdempotentRef<'a> {
    fingerprint: &'a Value,
    status: u16,
    body: &'a Value,
    created: i64,
}

/// Writes bytes from [`encode`] to `path` atomically: a reader (or a restart after a crash at
/// any point) sees either the previous file or this one, whole.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the state file path has no file name"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself is made durable by syncing the directory (Unix; elsewhere opening a
    // directory fails, and the rename is all there is).
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a saved account, checking everything the simulator later relies on (objects with ids,
/// a paid session's charge being stored), so that a damaged file is refused here rather than
/// panicking in a later call.
fn from_json(v: &Value) -> Result<Saved, String> {
    let format = int(v, "format")?;
    if format != FORMAT {
        return Err(format!("format {format}, this simulator reads format {FORMAT}"));
    }
    let charges = objects(array(v, "charges")?, "charges")?;
    let disputes = objects(array(v, "disputes")?, "disputes")?;
    let mut sessions = Vec::new();
    for (i, s) in array(v, "sessions")?.iter().enumerate() {
        let what = format!("sessions[{i}]");
        let object = object_with_id(field(s, "object")?, &what)?;
        let line_items = array(s, "line_items")?
            .iter()
            .map(|l| {
                l.is_object()
                    .then(|| l.clone())
                    .ok_or_else(|| format!("{what}.line_items holds a non-object"))
            })
            .collect::<Result<_, _>>()?;
        let charge_id = match field(s, "charge_id")? {
            Value::Null => None,
            Value::String(id) if charges.iter().any(|c| c["id"] == *id) => Some(id.clone()),
            other => return Err(format!("{what}.charge_id {other} names no stored charge")),
        };
        sessions.push(SessionRecord {
            object,
            line_items,
            charge_id,
        });
    }
    let mut events = Vec::new();
    for (i, e) in array(v, "events")?.iter().enumerate() {
        events.push(EventRecord {
            event: object_with_id(field(e, "event")?, &format!("events[{i}]"))?,
            for_endpoint: boolean(e, "for_endpoint")?,
            delivered: boolean(e, "delivered")?,
        });
    }
    let mut idempotency = HashMap::new();
    let stored = field(v, "idempotency")?
        .as_object()
        .ok_or("idempotency is not an object")?;
    for (key, r) in stored {
        let status =
            u16::try_from(int(r, "status")?).map_err(|_| format!("idempotency[{key}].status is not a status"))?;
        idempotency.insert(
            key.clone(),
            IdempotentResult {
                fingerprint: field(r, "fingerprint")?.clone(),
                status,
                body: field(r, "body")?.clone(),
                created: int(r, "created")?,
            },
        );
    }
    // Files written before endpoints could be created have none.
    let webhook_endpoints = match v.get("webhook_endpoints") {
        None => Vec::new(),
        Some(_) => objects(array(v, "webhook_endpoints")?, "webhook_endpoints")?,
    };
    // Files written before these objects existed have none.
    let optional = |key: &str| match v.get(key) {
        None => Ok(Vec::new()),
        Some(_) => objects(array(v, key)?, key),
    };
    let shipping_rates = optional("shipping_rates")?;
    let promotion_codes = optional("promotion_codes")?;
    let balance_transactions = optional("balance_transactions")?;
    Ok(Saved {
        state: State {
            shipping_rates,
            promotion_codes,
            balance_transactions,
            pricing: Default::default(),
            sessions,
            charges,
            disputes,
            events,
            idempotency,
            webhook_endpoints,
            requests: Vec::new(),
            deliveries: Vec::new(),
        },
        clock_offset: int(v, "clock_offset")?,
        started_at: int(v, "started_at")?,
        saved_at: int(v, "saved_at")?,
    })
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("{key} is missing"))
}

fn int(v: &Value, key: &str) -> Result<i64, String> {
    field(v, key)?
        .as_i64()
        .ok_or_else(|| format!("{key} is not an integer"))
}

fn boolean(v: &Value, key: &str) -> Result<bool, String> {
    field(v, key)?
        .as_bool()
        .ok_or_else(|| format!("{key} is not a boolean"))
}

fn array<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| format!("{key} is not an array"))
}

fn object_with_id(v: &Value, what: &str) -> Result<Value, String> {
    if v.is_object() && v["id"].is_string() {
        Ok(v.clone())
    } else {
        Err(format!("{what} is not an object with an id"))
    }
}

fn objects(items: &[Value], what: &str) -> Result<Vec<Value>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| object_with_id(v, &format!("{what}[{i}]")))
        .collect()
}
