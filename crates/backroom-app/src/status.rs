//! `backroom status`: how the shop is doing, on one screen. The database part (orders by status,
//! stuck orders by the watchdog's deadlines, catch-up cursors, reconcile runs, recent alerts) is
//! read here; the alarms and the dead-letter queue depend on where the shop runs (CloudWatch and
//! SQS in AWS, the dev server's in-process queue locally), so the caller reads them and hands them
//! in. The JSON shape (`serde`) is stable for scripts: fields are only ever added.

use std::collections::BTreeMap;
use std::fmt::Write;

use backroom_aws::cloudwatch::{AlarmState, CloudWatchAlarms};
use backroom_core::OrderStatus;
use backroom_core::earnings::{PeriodEarnings, period};
use backroom_core::ports::{Alert, ReconcileRun};
use backroom_core::stuck::{allowed_wait, deadline};
use backroom_db::store::status::{StuckCutoffs, StuckRow};
use backroom_db::{DbError, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alerts::DIGEST_KIND;
use crate::watchdog::Deadlines;

/// Alerts raised in this window count as open.
pub const OPEN_ALERTS_DAYS: i64 = 7;
/// At most this many alerts, stuck orders and reconcile runs are listed.
const SHOWN: u32 = 10;
const RUNS_SHOWN: u32 = 3;

/// Where the shop runs, which decides where alarms and dead letters come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Aws,
    Dev,
    /// Only a database (DATABASE_URL or DSQL_ENDPOINT), neither AWS queues nor a `backroom dev`.
    Database,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlarmView {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub since: Option<DateTime<Utc>>,
}

impl From<&AlarmState> for AlarmView {
    fn from(a: &AlarmState) -> Self {
        AlarmView {
            name: a.name.clone(),
            state: a.state.as_str().to_string(),
            reason: a.reason.clone(),
            since: a.since,
        }
    }
}

/// The stack's CloudWatch alarms, or why there are none to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Alarms {
    /// `backroom dev` has no CloudWatch: nothing is faked.
    NotInDev,
    /// No stack is known (no DEAD_LETTER_QUEUE_URL and no --stack).
    NotConfigured {
        hint: String,
    },
    Cloudwatch {
        prefix: String,
        alarms: Vec<AlarmView>,
    },
    /// CloudWatch could not be read; the rest of the status still is.
    Unavailable {
        prefix: String,
        error: String,
    },
}

impl Alarms {
    /// Reads the alarms named `<prefix>…`; a failure is shown, not fatal.
    pub async fn from_cloudwatch(cw: &CloudWatchAlarms, prefix: &str) -> Alarms {
        match cw.alarms(prefix).await {
            Ok(alarms) => Alarms::Cloudwatch {
                prefix: prefix.to_string(),
                alarms: alarms.iter().map(AlarmView::from).collect(),
            },
            Err(e) => Alarms::Unavailable {
                prefix: prefix.to_string(),
                error: format!("{e:#}"),
            },
        }
    }

    /// How many alarms are firing, when known.
    pub fn firing(&self) -> Option<usize> {
        match self {
            Alarms::Cloudwatch { alarms, .. } => Some(alarms.iter().filter(|a| a.state == "ALARM").count()),
            _ => None,
        }
    }
}

/// The events' dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetters {
    /// `sqs`, `dev` or `none`.
    pub source: String,
    /// Messages waiting (SQS: ApproximateNumberOfMessages); null when unknown.
    pub depth: Option<u64>,
    pub error: Option<String>,
}

impl DeadLetters {
    pub fn known(source: &str, depth: u64) -> DeadLetters {
        DeadLetters {
            source: source.into(),
            depth: Some(depth),
            error: None,
        }
    }

    pub fn unknown(source: &str, error: impl Into<String>) -> DeadLetters {
        DeadLetters {
            source: source.into(),
            depth: None,
            error: Some(error.into()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    pub status: OrderStatus,
    pub count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StuckOrder {
    pub id: backroom_core::OrderId,
    pub number: i64,
    pub status: OrderStatus,
    /// When it entered its stage (its creation for a pending payment).
    pub waiting_since: DateTime<Utc>,
    /// When the watchdog's deadline for the stage passed.
    pub overdue_since: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatchupCursor {
    pub name: String,
    /// The provider time the job has processed up to.
    pub position_at: DateTime<Utc>,
    pub position_id: String,
    /// When the job last moved it.
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub window_days: u32,
    pub fix: bool,
    pub found: usize,
    pub repaired: usize,
    /// Discrepancies found, by kind.
    pub by_kind: BTreeMap<String, usize>,
}

impl From<&ReconcileRun> for RunSummary {
    fn from(run: &ReconcileRun) -> Self {
        let mut by_kind = BTreeMap::new();
        for d in &run.discrepancies {
            *by_kind.entry(d.kind.as_str().to_string()).or_insert(0) += 1;
        }
        RunSummary {
            started_at: run.started_at,
            finished_at: run.finished_at,
            window_days: run.window_days,
            fix: run.fix,
            found: run.discrepancies.len(),
            repaired: run.discrepancies.iter().filter(|d| d.repaired).count(),
            by_kind,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenAlerts {
    /// Alerts last raised since then count.
    pub since: DateTime<Utc>,
    pub total: i64,
    /// The newest, at most ten.
    pub newest: Vec<Alert>,
}

/// Everything `backroom status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub generated_at: DateTime<Utc>,
    pub environment: Environment,
    pub alarms: Alarms,
    pub dead_letters: DeadLetters,
    pub orders_total: i64,
    pub orders: Vec<StatusCount>,
    /// What the paid orders of the last [`EARNINGS_DAYS`] days earned, and which lost money.
    pub earnings: PeriodEarnings,
    pub stuck: Vec<StuckOrder>,
    pub catchup: Vec<CatchupCursor>,
    /// The newest runs first.
    pub reconcile_runs: Vec<RunSummary>,
    pub open_alerts: OpenAlerts,
}

/// The period `backroom status` sums earnings over.
pub const EARNINGS_DAYS: i64 = 30;

/// The watchdog's deadlines as instants: an order in a stage past its instant is stuck.
pub fn cutoffs(deadlines: &Deadlines, now: DateTime<Utc>) -> StuckCutoffs {
    let before = |s: OrderStatus| {
        allowed_wait(s, deadlines)
            .and_then(|w| now.checked_sub_signed(w))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    StuckCutoffs {
        pending_created_before: before(OrderStatus::PendingPayment),
        paid_updated_before: before(OrderStatus::Paid),
        submitted_updated_before: before(OrderStatus::Submitted),
        in_production_updated_before: before(OrderStatus::InProduction),
    }
}

fn stuck_order(row: &StuckRow, deadlines: &Deadlines) -> StuckOrder {
    let (since, overdue) =
        deadline(row.status, row.created_at, row.updated_at, deadlines).unwrap_or((row.updated_at, row.updated_at));
    StuckOrder {
        id: row.id,
        number: row.number,
        status: row.status,
        waiting_since: since,
        overdue_since: overdue,
    }
}

/// Orders stuck by the watchdog's deadlines, oldest first.
pub async fn stuck_orders(
    store: &Store,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckOrder>, DbError> {
    Ok(store
        .stuck_orders(cutoffs(deadlines, now), limit)
        .await?
        .iter()
        .map(|r| stuck_order(r, deadlines))
        .collect())
}

/// Reads the database part and puts it together with the alarms and dead letters.
pub async fn gather(
    store: &Store,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
    environment: Environment,
    alarms: Alarms,
    dead_letters: DeadLetters,
) -> Result<Status, DbError> {
    let orders: Vec<StatusCount> = store
        .order_counts()
        .await?
        .into_iter()
        .map(|(status, count)| StatusCount { status, count })
        .collect();
    let stuck = stuck_orders(store, deadlines, now, 100).await?;
    let earnings = period(
        store
            .paid_accounts_between(now - chrono::Duration::days(EARNINGS_DAYS), now)
            .await?,
    );
    let catchup = store
        .cursors()
        .await?
        .into_iter()
        .map(|c| CatchupCursor {
            name: c.name,
            position_at: c.position_at,
            position_id: c.position_id,
            updated_at: c.updated_at,
        })
        .collect();
    let runs = store.last_reconcile_runs(RUNS_SHOWN).await?;
    let since = now - chrono::Duration::days(OPEN_ALERTS_DAYS);
    let (newest, total) = store.alerts_since(since, DIGEST_KIND, SHOWN).await?;
    Ok(Status {
        generated_at: now,
        environment,
        alarms,
        dead_letters,
        orders_total: orders.iter().map(|c| c.count).sum(),
        orders,
        earnings,
        stuck,
        catchup,
        reconcile_runs: runs.iter().map(RunSummary::from).collect(),
        open_alerts: OpenAlerts { since, total, newest },
    })
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// How long ago, in the largest whole unit.
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - t;
    if d.num_days() >= 2 {
        format!("{} days ago", d.num_days())
    } else if d.num_hours() >= 2 {
        format!("{} hours ago", d.num_hours())
    } else if d.num_minutes() >= 1 {
        format!("{} min ago", d.num_minutes())
    } else {
        "just now".into()
    }
}

/// The screen: one section per line of sight, most urgent first.
pub fn render(s: &Status) -> String {
    let now = s.generated_at;
    let mut out = String::new();
    let env = match s.environment {
        Environment::Aws => "AWS",
        Environment::Dev => "backroom dev",
        Environment::Database => "database only",
    };
    let _ = writeln!(out, "backroom status at {} ({env})\n", when(now));

    let _ = write!(out, "Alarms         ");
    match &s.alarms {
        Alarms::NotInDev => {
            let _ = writeln!(out, "not in dev (CloudWatch alarms exist only in the deployed stack)");
        }
        Alarms::NotConfigured { hint } => {
            let _ = writeln!(out, "unknown: {hint}");
        }
        Alarms::Unavailable { prefix, error } => {
            let _ = writeln!(out, "could not read the {prefix}* alarms: {error}");
        }
        Alarms::Cloudwatch { prefix, alarms } if alarms.is_empty() => {
            let _ = writeln!(out, "no alarm is named {prefix}* (is the stack name right?)");
        }
        Alarms::Cloudwatch { alarms, .. } => {
            let firing = s.alarms.firing().unwrap_or(0);
            let _ = writeln!(out, "{} of {} in ALARM", firing, alarms.len());
            for a in alarms {
                let since = a.since.map(|t| format!(" since {}", when(t))).unwrap_or_default();
                let _ = writeln!(out, "  {:<18} {}{since}", a.state, a.name);
                if a.state != "OK" && !a.reason.is_empty() {
                    let _ = writeln!(out, "  {:<18} {}", "", a.reason);
                }
            }
        }
    }

    let _ = write!(out, "Dead letters   ");
    match (&s.dead_letters.depth, &s.dead_letters.error) {
        (Some(0), _) => {
            let _ = writeln!(out, "none ({})", s.dead_letters.source);
        }
        (Some(n), _) => {
            let _ = writeln!(
                out,
                "{n} message(s) failed 5 times and wait ({}): `backroom dlq list`, then `backroom dlq redrive`",
                s.dead_letters.source
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "unknown: {e}");
        }
        (None, None) => {
            let _ = writeln!(out, "unknown");
        }
    }

    let _ = write!(out, "Orders         ");
    if s.orders_total == 0 {
        let _ = writeln!(out, "none yet");
    } else {
        let parts: Vec<String> = s.orders.iter().map(|c| format!("{} {}", c.count, c.status)).collect();
        let _ = writeln!(out, "{} in all: {}", s.orders_total, parts.join(", "));
    }

    let _ = write!(out, "Earned ({EARNINGS_DAYS} d)  ");
    if s.earnings.by_currency.is_empty() {
        let _ = writeln!(out, "no paid orders");
    } else {
        let lines: Vec<String> = s.earnings.by_currency.iter().map(|c| c.sentence()).collect();
        let _ = writeln!(out, "{}", lines.join("\n               "));
        for a in s.earnings.at_a_loss.iter().take(SHOWN as usize) {
            let _ = writeln!(
                out,
                "  #{:<6} at a loss: {}  {}",
                a.number,
                a.earned.losses.join("; "),
                a.order_id
            );
        }
    }

    let _ = write!(out, "Stuck orders   ");
    if s.stuck.is_empty() {
        let _ = writeln!(out, "none");
    } else {
        let _ = writeln!(out, "{} past the watchdog's deadline", s.stuck.len());
        for o in s.stuck.iter().take(SHOWN as usize) {
            let _ = writeln!(
                out,
                "  #{:<6} {:<16} since {}, overdue since {}  {}",
                o.number,
                o.status.as_str(),
                when(o.waiting_since),
                when(o.overdue_since),
                o.id
            );
        }
        if s.stuck.len() > SHOWN as usize {
            let _ = writeln!(out, "  … and {} more", s.stuck.len() - SHOWN as usize);
        }
    }

    let _ = write!(out, "Catch-up       ");
    if s.catchup.is_empty() {
        let _ = writeln!(out, "has not run yet");
    } else {
        let _ = writeln!(out);
        for c in &s.catchup {
            if c.name == crate::catchup::PRINTFUL_CURSOR {
                // The walk over orders in flight: where the next run goes on.
                let position = if c.position_id.is_empty() {
                    "read every order in flight".to_string()
                } else {
                    format!("part way, goes on after order {}", c.position_id)
                };
                let _ = writeln!(out, "  {:<18} {position}, last run {}", c.name, ago(c.updated_at, now));
                continue;
            }
            let _ = writeln!(
                out,
                "  {:<18} caught up to {}, last moved {}",
                c.name,
                when(c.position_at),
                ago(c.updated_at, now)
            );
        }
    }

    let _ = write!(out, "Reconcile      ");
    if s.reconcile_runs.is_empty() {
        let _ = writeln!(out, "has not run yet");
    } else {
        let _ = writeln!(out);
        for r in &s.reconcile_runs {
            let kinds: Vec<String> = r.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let found = if r.found == 0 {
                "nothing to repair".to_string()
            } else {
                format!("{} found, {} repaired ({})", r.found, r.repaired, kinds.join(", "))
            };
            let _ = writeln!(
                out,
                "  {} ({}){}: {found}",
                when(r.started_at),
                ago(r.started_at, now),
                if r.fix { "" } else { ", report only" }
            );
        }
    }

    let _ = write!(out, "Alerts         ");
    let a = &s.open_alerts;
    if a.total == 0 {
        let _ = writeln!(out, "none in the last {OPEN_ALERTS_DAYS} days");
    } else {
        let _ = writeln!(
            out,
            "{} in the last {OPEN_ALERTS_DAYS} days (`backroom alerts list` for all)",
            a.total
        );
        for alert in &a.newest {
            let _ = writeln!(
                out,
                "  {}  {:<8} {:<24} {}",
                when(alert.at),
                alert.severity.as_str(),
                alert.kind,
                first_sentence(&alert.message)
            );
        }
    }
    out
}

/// The alert's first sentence, for a one-line listing.
fn first_sentence(message: &str) -> &str {
    let end = message.find(". ").map(|i| i + 1).unwrap_or(message.len());
    &message[..end]
}
