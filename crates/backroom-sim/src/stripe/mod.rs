//! A stateful, in-memory Stripe: the Checkout Session, Event, Charge, Dispute and Webhook
//! Endpoint APIs backroom uses, a hosted pay page, and signed webhooks with Stripe's retry
//! behaviour. `backroom dev` mounts [`StripeSim::router`] under `/sim/stripe`; tests start it
//! alone with [`StripeSim::serve_loopback`].
//!
//! Fidelity is checked by the tests in `tests/stripe.rs`, which read every payload through
//! backroom-stripe's client (and so through async-stripe's types) and verify every webhook with
//! backroom-stripe's verifier.
//!
//! Webhook endpoints: [`StripeSimConfig::webhook_url`] is listed as an endpoint with every
//! handled event type, and is where webhooks go. Endpoints created or updated through
//! `POST /v1/webhook_endpoints[/{id}]` are stored and listed beside it (so that
//! `backroom setup webhooks` can be run against the simulator), but receive no webhooks.
//!
//! Money, as Stripe models it (amounts in minor units):
//! - Shipping: `shipping_options[N][shipping_rate]` names a rate the account has (an unknown
//!   id is 400 `resource_missing`); `shipping_options[N][shipping_rate_data]` (`type=fixed_amount`,
//!   `display_name`, `fixed_amount[amount|currency]`, `delivery_estimate[minimum|maximum][unit|value]`,
//!   `tax_behavior`, `tax_code`, `metadata`) makes one with a new `shr_` id. At most 5 options,
//!   amounts at least 0, each in the session's currency. Rates come from
//!   [`StripeSimConfig::shipping_rates`] (ids of your choosing), [`StripeSim::define_shipping_rate`],
//!   `POST /control/shipping_rates` (the same form plus `id`) or `POST /v1/shipping_rates`, and
//!   are served by `GET /v1/shipping_rates/{id}`. An open session is priced with its first
//!   option, as Stripe preselects it; the buyer may pick another when paying.
//! - Promotion codes: with `allow_promotion_codes=true` the buyer may enter a code (matched
//!   case-insensitively). Codes come from [`StripeSimConfig::promotion_codes`],
//!   [`StripeSim::define_promotion_code`] or `POST /control/promotion_codes` (`code`,
//!   `percent_off` or `amount_off` + `currency`, optional `id`, `active=false`), and are served
//!   by `GET /v1/promotion_codes/{id}[?expand[]=promotion.coupon]`. The discount (a percentage
//!   of the subtotal rounded half up, or the amount, at most the subtotal) applies to the items
//!   only, spread over the lines in proportion to their amounts (leftover units to the largest
//!   remainders); the session's `discounts` name the coupon and the promotion code.
//! - Tax: with `automatic_tax[enabled]=true`, an exclusive tax at [`StripeSimConfig::tax_rate_bps`]
//!   (or `POST /control/pricing` `tax_rate_bps=…`, [`StripeSim::set_tax_rate_bps`]) is computed
//!   when the buyer pays, per line on its amount after discount and on shipping, each rounded
//!   half up; `automatic_tax.status` goes from `requires_location_inputs` to `complete`.
//! - Paying (`POST /checkout/{id}/pay` with form fields `shipping_rate` and `promotion_code`, or
//!   [`StripeSim::pay_with`]) sets `amount_total` = subtotal − discount + shipping + tax,
//!   `total_details` {amount_discount, amount_shipping, amount_tax}, `shipping_cost`
//!   {amount_subtotal, amount_tax, amount_total, shipping_rate} and the line items'
//!   `amount_discount`, `amount_tax` and `amount_total`. A total of 0 is refused: sessions that
//!   need no payment are not modelled.
//! - Fees: each succeeded charge has a `balance_transaction` (`GET /v1/balance_transactions/{id}`,
//!   or `GET /v1/charges/{id}?expand[]=balance_transaction`) of `type: charge` whose `fee` is
//!   [`StripeSimConfig::fee_bps`] of the amount rounded half up plus [`StripeSimConfig::fee_fixed`]
//!   (150 bp + 25 by default, Stripe's European card price; `POST /control/pricing`
//!   `fee_bps=…&fee_fixed=…`, [`StripeSim::set_fee`]), one `stripe_fee` in `fee_details`,
//!   `net` = amount − fee, `pending` until `available_on`, 7 days after the charge. Refunds and
//!   disputes make no balance transactions.
//!
//! Disputes (`POST /payments/{session_id}/dispute` or [`StripeSim::dispute`] opens one, with
//! `evidence_details.due_by` 7 days later):
//! - `GET /v1/disputes/{id}`; `GET /v1/disputes?charge=&payment_intent=&created=` newest first,
//!   with Stripe's cursors (`limit`, `starting_after`, `ending_before`).
//! - `POST /v1/disputes/{id}` with `evidence[...]` (the text fields; file fields name uploads the
//!   simulator does not have, so they are refused as `resource_missing`; 20,000 characters a
//!   field, 150,000 in all), `metadata[...]` and `submit` (`true` when left out, as on Stripe):
//!   `submit=false` stages the evidence; `submit=true` raises `evidence_details.submission_count`
//!   and moves `needs_response` to `under_review`. Once under review, closed, or past `due_by`
//!   (`evidence_details.past_due`), the dispute refuses any update with a 400. Each change is a
//!   `charge.dispute.updated` event.
//! - `POST /disputes/{id}/resolve?outcome=won|lost` (or [`StripeSim::resolve_dispute`]): the
//!   bank decides, with `charge.dispute.closed`.
//!
//! With [`StripeSimConfig::state_file`] the account survives restarts: a change, and anything
//! read after it, is answered only once it is on disk (see `persist.rs`).

mod api;
mod control;
mod deliver;
mod disputes;
mod error;
mod ids;
mod objects;
mod params;
mod persist;
mod state;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::watch;

pub use error::SimError;
pub use objects::CouponOff;

use objects::{Cause, NewLine, NewSession};
use state::{BuyerInput, Change, Completion, Outbox, Pricing, State};

/// What the buyer chooses on the pay page besides the address: `None` picks the first
/// shipping option and no promotion code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayChoices {
    /// One of the session's `shipping_options[].shipping_rate`.
    pub shipping_rate: Option<String>,
    /// A promotion code (the session must allow promotion codes).
    pub promotion_code: Option<String>,
}

/// How the simulator behaves. [`Default`] suits `backroom dev`: no webhook endpoint until one is
/// set, a single delivery per event, five attempts.
#[derive(Clone, Debug)]
pub struct StripeSimConfig {
    /// The origin browsers and clients use, for example `http://127.0.0.1:3000`; session URLs
    /// are `{public_base}/sim/stripe/checkout/{id}`.
    pub public_base: String,
    /// Where webhooks go; `None` means no endpoint is registered (events are still listed).
    pub webhook_url: Option<String>,
    /// The endpoint's signing secret (`whsec_…`), as `STRIPE_WEBHOOK_SECRETS` would hold it.
    pub webhook_secret: String,
    /// Extra copies of each webhook, to exercise de-duplication. Stripe does send duplicates.
    pub duplicate_deliveries: u32,
    /// Wait before the first attempt of each copy.
    pub delivery_delay: Duration,
    /// Attempts per copy, including the first; a non-2xx answer or a connection failure
    /// is retried after `retry_backoff`, doubling each time.
    pub max_delivery_attempts: u32,
    /// The wait before the first retry. Stripe waits hours; the simulator defaults to 500 ms.
    pub retry_backoff: Duration,
    /// Where the account is kept between runs; `None` (the default) keeps it in memory only.
    /// When set, [`StripeSim::new`] loads the file if it exists (an unreadable or corrupt file
    /// is reported on stderr, moved aside to `<name>.corrupt`, and the account starts empty),
    /// and every change (a session created, paid, expired, refunded or disputed, an event, an
    /// idempotent result, a clock advance, a webhook delivered) rewrites the file atomically
    /// before it is answered. The request log and delivery attempts are not kept, nor webhooks
    /// still being delivered: their events stay listed in `/v1/events`.
    pub state_file: Option<PathBuf>,
    /// Shipping rates the account has from the start, under the ids given, for
    /// `shipping_options[N][shipping_rate]` (for example the ids in `STRIPE_SHIPPING_RATES`).
    /// More can be made with `POST /v1/shipping_rates`, `POST /control/shipping_rates` or
    /// [`StripeSim::define_shipping_rate`]; an id the account does not have is refused as
    /// Stripe refuses it (400 `resource_missing`).
    pub shipping_rates: Vec<ShippingRateSpec>,
    /// Promotion codes the account has from the start (see [`StripeSim::define_promotion_code`]).
    pub promotion_codes: Vec<PromotionCodeSpec>,
    /// The tax rate of `automatic_tax`, in basis points (1900 = 19 %); 0 by default.
    pub tax_rate_bps: u32,
    /// The percentage part of Stripe's fee on each charge, in basis points; 150 by default.
    pub fee_bps: u32,
    /// The fixed part of Stripe's fee on each charge, in the charge's minor units; 25 by default.
    pub fee_fixed: i64,
}

/// A fixed-amount shipping rate, as `POST /v1/shipping_rates` would make it, under a chosen id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingRateSpec {
    /// The rate's id, for example `shr_standard`.
    pub id: String,
    pub display_name: String,
    /// `fixed_amount[amount]`, in minor units, at least 0.
    pub amount: i64,
    /// `fixed_amount[currency]`, for example `eur`.
    pub currency: String,
    /// `delivery_estimate[minimum]`, as `(unit, value)`: unit one of `business_day`, `day`,
    /// `hour`, `week`, `month`.
    pub minimum: Option<(String, i64)>,
    /// `delivery_estimate[maximum]`, as `(unit, value)`.
    pub maximum: Option<(String, i64)>,
}

/// A promotion code and the coupon behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct PromotionCodeSpec {
    /// The `promo_…` id; generated when `None`.
    pub id: Option<String>,
    /// What the buyer types; matched case-insensitively, as on Stripe.
    pub code: String,
    pub off: CouponOff,
}

impl Default for StripeSimConfig {
    fn default() -> Self {
        StripeSimConfig {
            public_base: "http://127.0.0.1:3000".into(),
            webhook_url: None,
            webhook_secret: "whsec_backroom_sim".into(),
            duplicate_deliveries: 0,
            delivery_delay: Duration::ZERO,
            max_delivery_attempts: 5,
            retry_backoff: Duration::from_millis(500),
            state_file: None,
            shipping_rates: Vec::new(),
            promotion_codes: Vec::new(),
            tax_rate_bps: 0,
            fee_bps: 150,
            fee_fixed: 25,
        }
    }
}

/// One attempt to deliver one copy of a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// 0 for the delivery itself, 1.. for the configured duplicates.
    pub copy: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The endpoint's HTTP status; `None` when no answer came (connection refused, timeout).
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One API request as the simulator received it, for tests that check what a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Relative to `/sim/stripe`, for example `/v1/checkout/sessions`.
    pub path: String,
    pub query: Option<String>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
}

/// The simulator. Cheap to clone: clones share one account.
#[derive(Clone)]
pub struct StripeSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: StripeSimConfig,
    webhook_url: Mutex<Option<String>>,
    state: Mutex<State>,
    /// Seconds added to the machine's clock, moved forward by [`StripeSim::advance_clock`].
    clock_offset: AtomicI64,
    /// Webhook copies still being delivered.
    in_flight: watch::Sender<usize>,
    http: OnceLock<crate::sender::HttpClient>,
    sweeper_started: AtomicBool,
    started_at: i64,
    /// Changes made in memory so far, counted with the state locked.
    changes: AtomicU64,
    /// How many of those changes are on disk. Held while the state file is written, so that
    /// writes happen one at a time and in order; changes made meanwhile wait for the next one.
    saved: Mutex<u64>,
    /// State files written, for tests.
    saves: AtomicU64,
    /// API calls still to answer with a 500 (nothing carried out), as Stripe now and then does.
    fail_next: AtomicU64,
    /// API calls answered with a fault so far.
    faults: AtomicU64,
}

impl std::fmt::Debug for StripeSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSim")
            .field("public_base", &self.inner.config.public_base)
            .finish_non_exhaustive()
    }
}

impl StripeSim {
    /// A simulator with the account saved in `config.state_file`, if any, else an empty one.
    pub fn new(config: StripeSimConfig) -> StripeSim {
        let webhook_url = Mutex::new(config.webhook_url.clone());
        let saved = config.state_file.as_deref().and_then(load_state);
        let (mut state, clock_offset, started_at) = match saved {
            Some(saved) => {
                // The offset is kept, so the simulator's time is still the machine's plus the
                // same advance; should the machine's clock have gone back since, the offset
                // grows so that the simulator's time never goes back before the last save.
                let offset = saved.clock_offset.max(saved.saved_at.saturating_sub(system_now()));
                (saved.state, offset, saved.started_at)
            }
            None => (State::default(), 0, system_now()),
        };
        state.pricing = Pricing {
            tax_rate_bps: config.tax_rate_bps,
            fee_bps: config.fee_bps,
            fee_fixed: config.fee_fixed,
        };
        let now = system_now() + clock_offset;
        for spec in &config.shipping_rates {
            match control::shipping_rate_from_spec(spec, now) {
                Ok(rate) => state.put_shipping_rate(rate),
                Err(e) => panic!(
                    "StripeSimConfig::shipping_rates: {:?} is not a valid shipping rate: {}",
                    spec.id, e.message
                ),
            }
        }
        for spec in &config.promotion_codes {
            match control::promotion_code_from_spec(spec, now) {
                Ok(promo) => state.put_promotion_code(promo),
                Err(e) => panic!(
                    "StripeSimConfig::promotion_codes: {:?} is not a valid promotion code: {}",
                    spec.code, e.message
                ),
            }
        }
        StripeSim {
            inner: Arc::new(Inner {
                config,
                webhook_url,
                state: Mutex::new(state),
                clock_offset: AtomicI64::new(clock_offset),
                in_flight: watch::Sender::new(0),
                http: OnceLock::new(),
                sweeper_started: AtomicBool::new(false),
                started_at,
                changes: AtomicU64::new(0),
                saved: Mutex::new(0),
                saves: AtomicU64::new(0),
                fail_next: AtomicU64::new(0),
                faults: AtomicU64::new(0),
            }),
        }
    }

    /// The routes, without the `/sim/stripe` prefix: nest this under `"/sim/stripe"`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/checkout/{id}", get(control::page))
            .route("/checkout/{id}/pay", post(control::pay))
            .route("/checkout/{id}/expire", post(control::expire))
            .route("/payments/{id}/refund", post(control::refund))
            .route("/payments/{id}/dispute", post(control::dispute))
            .route("/disputes/{id}/resolve", post(control::resolve_dispute))
            .route("/control/shipping_rates", post(control::create_shipping_rate))
            .route("/control/promotion_codes", post(control::create_promotion_code))
            .route("/control/pricing", post(control::set_pricing))
            .fallback(api::handle)
            .with_state(self.clone())
    }

    /// Starts a simulator alone on `127.0.0.1` at a free port, with `public_base` set to that
    /// origin, and returns it with its API base (`http://127.0.0.1:PORT/sim/stripe`) for
    /// `StripeSettings::api_base`.
    ///
    /// # Panics
    /// When no loopback port can be bound, which leaves a test nothing to do.
    pub async fn serve_loopback(mut config: StripeSimConfig) -> (StripeSim, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Stripe simulator could not bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("a bound socket has an address");
        config.public_base = format!("http://{addr}");
        let sim = StripeSim::new(config);
        let app = Router::new().nest("/sim/stripe", sim.router());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the Stripe simulator stopped serving");
            }
        });
        (sim, format!("http://{addr}/sim/stripe"))
    }

    /// The next `n` API calls (not the pay page or control routes) answer 500 with Stripe's
    /// `api_error` body and carry nothing out, as Stripe's rare server errors do.
    pub fn fail_next(&self, n: u64) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// API calls answered with an injected 500 so far.
    pub fn faults_injected(&self) -> u64 {
        self.inner.faults.load(Ordering::SeqCst)
    }

    /// Takes one injected fault, if one is armed.
    pub(crate) fn take_fault(&self) -> bool {
        let taken = self
            .inner
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if taken {
            self.inner.faults.fetch_add(1, Ordering::SeqCst);
        }
        taken
    }

    pub fn set_webhook_url(&self, url: Option<String>) {
        *self.inner.webhook_url.lock().expect("webhook url lock") = url;
    }

    /// A key the simulator accepts: any `sk_…` or `rk_…` key works.
    pub fn api_key_hint(&self) -> &'static str {
        "sk_test_sim"
    }

    /// The endpoint's signing secret, for the receiving side's `WebhookVerifier`.
    pub fn webhook_secret(&self) -> &str {
        &self.inner.config.webhook_secret
    }

    /// The simulator's time in Unix seconds: the machine's clock plus any advance.
    pub fn now(&self) -> i64 {
        system_now() + self.inner.clock_offset.load(Ordering::SeqCst)
    }

    /// Moves the simulator's clock forward, for `created` filters and session expiry without
    /// waiting. Sessions whose `expires_at` has passed expire on the next call. Webhook
    /// signatures keep using the machine's clock, since receivers check them against theirs.
    pub fn advance_clock(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        {
            let state = self.lock();
            self.inner.clock_offset.fetch_add(secs, Ordering::SeqCst);
            self.changed(&state);
        }
        // A failure is reported by `persist`; the advance stands in memory either way.
        let _ = self.persist();
    }

    /// The buyer pays by card: `checkout.session.completed` with `payment_status: paid`.
    /// With `deliver: false` the event is listed but its webhook is lost.
    pub async fn pay(&self, session_id: &str, deliver: bool) -> Result<(), SimError> {
        self.complete(session_id, Completion::Card, &BuyerInput::default(), deliver)
    }

    /// The buyer pays by card with the given choices of shipping rate and promotion code.
    pub async fn pay_with(&self, session_id: &str, choices: &PayChoices, deliver: bool) -> Result<(), SimError> {
        let input = BuyerInput {
            shipping_rate: choices.shipping_rate.clone(),
            promotion_code: choices.promotion_code.clone(),
            ..BuyerInput::default()
        };
        self.complete(session_id, Completion::Card, &input, deliver)
    }

    /// Adds (or replaces, by id) a shipping rate; answers with it as the API shows it.
    pub fn define_shipping_rate(&self, spec: &ShippingRateSpec) -> Result<Value, SimError> {
        let rate =
            control::shipping_rate_from_spec(spec, self.now()).map_err(|e| SimError::InvalidRequest(e.message))?;
        self.mutate(|st| {
            st.put_shipping_rate(rate.clone());
            Ok(rate)
        })
    }

    /// Adds (or replaces, by id or code) a promotion code; answers with it, coupon expanded.
    pub fn define_promotion_code(&self, spec: &PromotionCodeSpec) -> Result<Value, SimError> {
        let promo =
            control::promotion_code_from_spec(spec, self.now()).map_err(|e| SimError::InvalidRequest(e.message))?;
        self.mutate(|st| {
            st.put_promotion_code(promo.clone());
            Ok(promo)
        })
    }

    /// Sets the tax rate of `automatic_tax`, in basis points, for sessions paid from now on.
    pub fn set_tax_rate_bps(&self, bps: u32) {
        self.with_state(|st| st.pricing.tax_rate_bps = bps);
    }

    /// Sets Stripe's fee for charges that succeed from now on: `bps` basis points plus `fixed`.
    pub fn set_fee(&self, bps: u32, fixed: i64) {
        self.with_state(|st| {
            st.pricing.fee_bps = bps;
            st.pricing.fee_fixed = fixed;
        });
    }

    /// A balance transaction as the API would return it.
    pub fn balance_transaction(&self, id: &str) -> Option<Value> {
        let now = self.now();
        self.with_state(|st| st.balance_transaction(id, now))
    }

    /// The buyer pays by a delayed method: `checkout.session.completed` with
    /// `payment_status: unpaid`, then `checkout.session.async_payment_succeeded` or `_failed`.
    pub async fn pay_async(&self, session_id: &str, succeed: bool, deliver: bool) -> Result<(), SimError> {
        self.complete(
            session_id,
            Completion::Delayed { succeeds: succeed },
            &BuyerInput::default(),
            deliver,
        )
    }

    /// The session expires unpaid: `checkout.session.expired`.
    pub async fn expire(&self, session_id: &str, deliver: bool) -> Result<(), SimError> {
        self.expire_due();
        let change = self.change(Cause::default(), deliver);
        let (_, out) = self.mutate(|st| st.expire(session_id, &change))?;
        self.send(out);
        Ok(())
    }

    /// Refunds the session's charge, fully when `amount` is `None`: `charge.refunded`.
    pub async fn refund(&self, session_id: &str, amount: Option<i64>, deliver: bool) -> Result<(), SimError> {
        self.expire_due();
        let change = self.change(Cause::default(), deliver);
        let (_, out) = self.mutate(|st| st.refund(session_id, amount, &change))?;
        self.send(out);
        Ok(())
    }

    /// The buyer's bank disputes the session's charge: `charge.dispute.created`.
    pub async fn dispute(&self, session_id: &str, deliver: bool) -> Result<(), SimError> {
        self.expire_due();
        let change = self.change(Cause::default(), deliver);
        let (_, out) = self.mutate(|st| st.dispute_charge(session_id, &change))?;
        self.send(out);
        Ok(())
    }

    /// The bank decides a dispute (`dp_…`): `won` or `lost` (`warning_closed` for an inquiry),
    /// with `charge.dispute.closed`. Refused for a dispute already closed.
    pub async fn resolve_dispute(&self, dispute_id: &str, won: bool, deliver: bool) -> Result<(), SimError> {
        self.expire_due();
        let change = self.change(Cause::default(), deliver);
        let (_, out) = self
            .mutate(|st| st.resolve_dispute(dispute_id, won, &change))
            .map_err(|e| SimError::InvalidState(e.message))?;
        self.send(out);
        Ok(())
    }

    /// Every dispute as the API would return it, oldest first.
    pub fn disputes(&self) -> Vec<Value> {
        let now = self.now();
        self.with_state(|st| st.disputes.iter().map(|d| disputes::view(d, now)).collect())
    }

    /// A session made "outside backroom" (no `client_reference_id`, no metadata), as if
    /// someone else used the account's key, and paid at once. Returns its id.
    pub async fn create_foreign_session(&self, amount: i64, currency: &str, deliver: bool) -> Result<String, SimError> {
        if amount <= 0 {
            return Err(SimError::InvalidRequest(format!(
                "a foreign session needs a positive amount, not {amount}"
            )));
        }
        let now = self.now();
        let new = NewSession {
            lines: vec![NewLine {
                name: "Something not sold by this shop".into(),
                unit_amount: amount,
                quantity: 1,
            }],
            currency: currency.to_ascii_lowercase(),
            client_reference_id: None,
            metadata: Default::default(),
            payment_intent_metadata: Default::default(),
            customer_email: None,
            success_url: None,
            cancel_url: None,
            allowed_countries: vec![],
            shipping_options: vec![],
            allow_promotion_codes: false,
            automatic_tax: false,
            expires_at: now + 24 * 3600,
        };
        let public_base = self.inner.config.public_base.clone();
        let session = self.mutate(|st| Ok::<_, SimError>(st.create_session(&new, now, &public_base)))?;
        let id = session["id"].as_str().expect("sessions have ids").to_string();
        self.pay(&id, deliver).await?;
        Ok(id)
    }

    /// Delivers an event's webhook again, as the dashboard's "Resend" does (and as Stripe does
    /// on its own when it sends an event more than once): a freshly signed delivery of the same
    /// body, retried like any other. Tests use it to hand a receiver duplicates, or events in an
    /// order of their choosing after creating them with `deliver: false`.
    pub fn resend(&self, event_id: &str) -> Result<(), SimError> {
        let event = self
            .with_state(|st| {
                st.events
                    .iter()
                    .find(|e| e.event["id"] == event_id)
                    .map(|e| e.event.clone())
            })
            .ok_or_else(|| SimError::NotFound {
                object: "event",
                id: event_id.to_string(),
            })?;
        if let Some(url) = self.webhook_url() {
            deliver::spawn(self, &url, event);
        }
        Ok(())
    }

    /// A session as the API would return it (without line items), for assertions.
    pub fn session(&self, session_id: &str) -> Option<Value> {
        self.with_state(|st| st.session(session_id).map(|s| s.object.clone()))
    }

    /// Every event, oldest first, including those whose webhooks were lost.
    pub fn events(&self) -> Vec<Value> {
        self.with_state(|st| st.events.iter().map(|e| e.event.clone()).collect())
    }

    /// Every delivery attempt so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.with_state(|st| st.deliveries.clone())
    }

    /// Every API request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with_state(|st| st.requests.clone())
    }

    /// Waits until every webhook started so far has been delivered or has used up its attempts.
    pub async fn settle(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.lock())
    }

    /// Runs a change and, when it succeeds, saves the account before returning.
    fn mutate<T, E>(&self, f: impl FnOnce(&mut State) -> Result<T, E>) -> Result<T, E> {
        let result = {
            let mut state = self.lock();
            let result = f(&mut state);
            if result.is_ok() {
                self.changed(&state);
            }
            result
        };
        if result.is_ok() {
            // A failure is reported by `persist`; the change stands in memory either way, and
            // the API answers 500 until a save succeeds (see `api::handle`).
            let _ = self.persist();
        }
        result
    }

    /// Counts a change. Called with the state locked (the guard is asked for to make sure), so
    /// that the count follows the order of the changes; the change is on disk once a later
    /// [`persist`](Self::persist) has returned `Ok`.
    fn changed(&self, _locked: &State) {
        self.inner.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes every change counted so far durable: writes the state file unless a write that
    /// began after the last change has already done so. Writes are one at a time; a caller that
    /// finds one under way waits for it, and then often has nothing left to write, so a burst
    /// of changes is saved by a few writes (group commit). Called without the state locked.
    /// A failure is printed on stderr; the changes stay counted as unsaved, so the next call
    /// writes again.
    fn persist(&self) -> Result<(), String> {
        let Some(path) = &self.inner.config.state_file else {
            return Ok(());
        };
        let wanted = self.inner.changes.load(Ordering::SeqCst);
        let mut saved = self.inner.saved.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *saved >= wanted {
            return Ok(());
        }
        let (bytes, covers) = {
            let state = self.lock();
            let offset = self.inner.clock_offset.load(Ordering::SeqCst);
            let bytes = persist::encode(&state, offset, self.inner.started_at, system_now() + offset);
            (bytes, self.inner.changes.load(Ordering::SeqCst))
        };
        match bytes.and_then(|bytes| persist::write(path, &bytes)) {
            Ok(()) => {
                *saved = covers;
                self.inner.saves.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                let message = format!(
                    "the Stripe simulator could not save its account to {}: {e}",
                    path.display()
                );
                eprintln!("backroom-sim: {message}");
                Err(message)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as consistent as the operation got;
        // the simulator keeps serving rather than failing every later test call.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn webhook_url(&self) -> Option<String> {
        self.inner.webhook_url.lock().expect("webhook url lock").clone()
    }

    fn change(&self, cause: Cause, deliver: bool) -> Change {
        Change {
            now: self.now(),
            cause,
            deliver,
            endpoint: self.webhook_url().is_some(),
        }
    }

    fn complete(&self, session_id: &str, how: Completion, input: &BuyerInput, deliver: bool) -> Result<(), SimError> {
        // A session whose time has passed is expired first, so that it cannot be paid late.
        self.expire_due();
        let change = self.change(Cause::default(), deliver);
        let out = self.mutate(|st| st.complete(session_id, how, input, &change))?;
        self.send(out);
        Ok(())
    }

    /// Expires sessions past `expires_at` and sends their webhooks. Runs before every request
    /// and control call and, once a request has started it, every second in the background.
    fn expire_due(&self) {
        let change = self.change(Cause::default(), true);
        let (out, expired) = {
            let mut state = self.lock();
            let events = state.events.len();
            let out = state.expire_due(&change);
            // Every expiry records an event, so no new event means nothing changed.
            let expired = state.events.len() != events;
            if expired {
                self.changed(&state);
            }
            (out, expired)
        };
        if expired {
            let _ = self.persist();
        }
        self.send(out);
    }

    fn ensure_sweeper(&self) {
        if self.inner.sweeper_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                StripeSim { inner }.expire_due();
            }
        });
    }

    /// Starts delivering the given events' webhooks on spawned tasks.
    fn send(&self, events: Outbox) {
        let Some(url) = self.webhook_url() else { return };
        for event in events {
            deliver::spawn(self, &url, event);
        }
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The account saved at `path`, or `None` to start empty: when there is no file yet, or when
/// it cannot be used, which is reported on stderr (a corrupt file is moved aside first, so
/// that the next save does not overwrite it).
fn load_state(path: &std::path::Path) -> Option<persist::Saved> {
    match persist::load(path) {
        Ok(saved) => saved,
        Err(e) => {
            let aside = match &e {
                persist::LoadError::Corrupt(_) => match persist::move_aside(path) {
                    Ok(aside) => format!("; it was moved to {}", aside.display()),
                    Err(err) => format!("; it could not be moved aside ({err}) and will be overwritten"),
                },
                persist::LoadError::Io(_) => String::new(),
            };
            eprintln!(
                "backroom-sim: error: the Stripe simulator's state file {} is unusable, so the simulated account starts empty: {e}{aside}",
                path.display()
            );
            None
        }
    }
}

impl crate::sender::Delivers for StripeSim {
    fn in_flight(&self) -> &watch::Sender<usize> {
        &self.inner.in_flight
    }
}
