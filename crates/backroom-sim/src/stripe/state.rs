//! The simulator's account: sessions, charges, disputes, events and stored idempotent results,
//! and the operations that change them. Everything here is synchronous and runs under one lock,
//! so every operation is atomic, as Stripe's are per object; webhooks are sent after the lock is
//! released (see `deliver.rs`).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::error::SimError;
use super::ids::new_id;
use super::objects::{self, Address, Buyer, Cause, NewSession, ShippingOption};
use super::{Delivery, RecordedRequest};

#[derive(Default)]
pub(crate) struct State {
    /// In creation order, which is also `created` order: the simulator's clock only moves forward.
    pub sessions: Vec<SessionRecord>,
    pub charges: Vec<Value>,
    pub disputes: Vec<Value>,
    pub events: Vec<EventRecord>,
    pub idempotency: HashMap<String, IdempotentResult>,
    /// Webhook endpoints created through the API, in creation order, as the API shows them
    /// (without the secret, which only the create answer carries). They are listed beside the
    /// configured endpoint; webhooks still go only to the configured URL.
    pub webhook_endpoints: Vec<Value>,
    pub requests: Vec<RecordedRequest>,
    pub deliveries: Vec<Delivery>,
    /// Shipping rates, from the configuration, `POST /v1/shipping_rates`, the control route or
    /// a session's `shipping_rate_data`, in creation order.
    pub shipping_rates: Vec<Value>,
    /// Promotion codes, with their coupon embedded in `promotion.coupon`.
    pub promotion_codes: Vec<Value>,
    /// One per succeeded charge.
    pub balance_transactions: Vec<Value>,
    /// Tax and fee rates; not saved in the state file (the configuration sets them at start).
    pub pricing: Pricing,
}

/// The account's tax rate for `automatic_tax` and Stripe's processing fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pricing {
    /// Tax rate in basis points (1900 = 19 %), applied when a session has automatic tax.
    pub tax_rate_bps: u32,
    /// Percentage part of the fee per charge, in basis points (150 = 1.5 %).
    pub fee_bps: u32,
    /// Fixed part of the fee per charge, in the charge's minor units.
    pub fee_fixed: i64,
}

impl Default for Pricing {
    /// No tax; the fee of European cards on Stripe's standard pricing: 1.5 % + 25.
    fn default() -> Self {
        Pricing {
            tax_rate_bps: 0,
            fee_bps: 150,
            fee_fixed: 25,
        }
    }
}

impl Pricing {
    /// Stripe's fee for a charge of `amount`: the percentage rounded half up, plus the fixed part.
    pub fn fee(&self, amount: i64) -> i64 {
        percent_of(amount, i64::from(self.fee_bps)).saturating_add(self.fee_fixed)
    }
}

/// `amount × bps / 10 000`, rounded half up (amounts are never negative here).
pub(crate) fn percent_of(amount: i64, bps: i64) -> i64 {
    let exact = i128::from(amount) * i128::from(bps);
    i64::try_from((exact + 5_000).div_euclid(10_000)).unwrap_or(i64::MAX)
}

/// Stripe's balance transactions become available this long after the charge.
const AVAILABLE_AFTER_SECS: i64 = 7 * 24 * 3600;

pub(crate) struct SessionRecord {
    /// The session as the API returns it, without `line_items` (an expansion).
    pub object: Value,
    pub line_items: Vec<Value>,
    pub charge_id: Option<String>,
}

pub(crate) struct EventRecord {
    pub event: Value,
    /// Whether the webhook endpoint subscribes to this event's type.
    pub for_endpoint: bool,
    /// Whether at least one delivery got a 2xx.
    pub delivered: bool,
}

/// A stored answer to a POST with an `Idempotency-Key`, replayed for the same parameters.
pub(crate) struct IdempotentResult {
    pub fingerprint: Value,
    pub status: u16,
    pub body: Value,
    pub created: i64,
}

/// The circumstances of a change: when, why, and whether its webhooks are sent.
pub(crate) struct Change {
    pub now: i64,
    pub cause: Cause,
    /// False simulates a lost webhook: the event is recorded and listed, never sent.
    pub deliver: bool,
    /// Whether a webhook endpoint is configured at all.
    pub endpoint: bool,
}

/// How the buyer pays on the hosted page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// A card: the session completes paid.
    Card,
    /// A delayed method (SEPA, ACH): completed and unpaid, then settled one way or the other.
    Delayed { succeeds: bool },
}

/// What the pay page's form may say about the buyer; anything missing gets a plausible default.
#[derive(Clone, Debug, Default)]
pub(crate) struct BuyerInput {
    pub email: Option<String>,
    pub name: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    /// The shipping rate the buyer picks among the session's options; the first when `None`.
    pub shipping_rate: Option<String>,
    /// A promotion code the buyer enters (case-insensitive, as on Stripe).
    pub promotion_code: Option<String>,
}

/// What the buyer owes, worked out when they pay.
struct Priced {
    shipping: Option<ShippingOption>,
    shipping_tax: i64,
    /// `(promotion code id, coupon id)`.
    promotion: Option<(String, String)>,
    line_discounts: Vec<i64>,
    line_taxes: Vec<i64>,
    discount: i64,
    tax: i64,
    total: i64,
}

/// Events to send as webhooks once the lock is released.
pub(crate) type Outbox = Vec<Value>;

impl State {
    pub fn session(&self, id: &str) -> Option<&SessionRecord> {
        self.sessions.iter().find(|s| s.object["id"] == id)
    }

    fn session_mut(&mut self, id: &str) -> Result<&mut SessionRecord, SimError> {
        self.sessions
            .iter_mut()
            .find(|s| s.object["id"] == id)
            .ok_or_else(|| SimError::NotFound {
                object: "checkout.session",
                id: id.to_string(),
            })
    }

    pub fn charge(&self, id: &str) -> Option<&Value> {
        self.charges.iter().find(|c| c["id"] == id)
    }

    fn charge_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.charges.iter_mut().find(|c| c["id"] == id)
    }

    pub fn dispute(&self, id: &str) -> Option<&Value> {
        self.disputes.iter().find(|d| d["id"] == id)
    }

    pub fn event(&self, id: &str) -> Option<&Value> {
        self.events.iter().map(|e| &e.event).find(|e| e["id"] == id)
    }

    /// Records an event and returns it for sending when it is meant for the endpoint.
    pub(crate) fn emit(
        &mut self,
        change: &Change,
        event_type: &str,
        object: Value,
        previous: Option<Value>,
        out: &mut Outbox,
    ) {
        let for_endpoint = change.endpoint && backroom_core::StripeEventKind::NAMES.contains(&event_type);
        let will_send = for_endpoint && change.deliver;
        let id = new_id("evt_", 24);
        let event = objects::event(
            &id,
            change.now,
            event_type,
            object,
            previous,
            &change.cause,
            u32::from(will_send),
        );
        if will_send {
            out.push(event.clone());
        }
        self.events.push(EventRecord {
            event,
            for_endpoint,
            delivered: false,
        });
    }

    pub fn shipping_rate(&self, id: &str) -> Option<&Value> {
        self.shipping_rates.iter().find(|r| r["id"] == id)
    }

    pub fn promotion_code(&self, id: &str) -> Option<&Value> {
        self.promotion_codes.iter().find(|p| p["id"] == id)
    }

    /// A balance transaction, `available` once its `available_on` has passed.
    pub fn balance_transaction(&self, id: &str, now: i64) -> Option<Value> {
        let mut txn = self.balance_transactions.iter().find(|t| t["id"] == id)?.clone();
        if txn["available_on"].as_i64().is_some_and(|t| t <= now) {
            txn["status"] = json!("available");
        }
        Some(txn)
    }

    /// Stores a shipping rate, replacing one with the same id (a configured rate on restart).
    pub fn put_shipping_rate(&mut self, rate: Value) {
        match self.shipping_rates.iter_mut().find(|r| r["id"] == rate["id"]) {
            Some(existing) => *existing = rate,
            None => self.shipping_rates.push(rate),
        }
    }

    /// Stores a promotion code, replacing one with the same id or code.
    pub fn put_promotion_code(&mut self, promo: Value) {
        let same = |p: &Value| {
            p["id"] == promo["id"]
                || p["code"]
                    .as_str()
                    .zip(promo["code"].as_str())
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        };
        match self.promotion_codes.iter_mut().find(|p| same(p)) {
            Some(existing) => *existing = promo,
            None => self.promotion_codes.push(promo),
        }
    }

    /// Books a succeeded charge: its balance transaction, with Stripe's fee.
    fn book(&mut self, charge: &mut Value, now: i64) {
        let id = new_id("txn_", 24);
        let fee = self.pricing.fee(charge["amount"].as_i64().unwrap_or(0));
        let txn = objects::balance_transaction(&id, now, charge, fee, now + AVAILABLE_AFTER_SECS);
        charge["balance_transaction"] = json!(id);
        self.balance_transactions.push(txn);
    }

    /// The totals of a session paid with the buyer's choices: the shipping option, the
    /// promotion code's discount spread over the lines in proportion to their amounts, and
    /// tax per line (after its discount) and on shipping, each rounded half up.
    fn price(&self, record: &SessionRecord, input: &BuyerInput) -> Result<Priced, SimError> {
        let session = &record.object;
        let options: Vec<ShippingOption> = session["shipping_options"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| {
                        Some(ShippingOption {
                            rate: o["shipping_rate"].as_str()?.to_string(),
                            amount: o["shipping_amount"].as_i64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let wanted = input.shipping_rate.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let shipping = match wanted {
            None => options.first().cloned(),
            Some(rate) => Some(options.iter().find(|o| o.rate == rate).cloned().ok_or_else(|| {
                let offered: Vec<&str> = options.iter().map(|o| o.rate.as_str()).collect();
                SimError::InvalidRequest(if offered.is_empty() {
                    format!("this session offers no shipping options, so shipping rate {rate} cannot be chosen")
                } else {
                    format!(
                        "shipping rate {rate} is not one of this session's options ({})",
                        offered.join(", ")
                    )
                })
            })?),
        };
        let currency = session["currency"].as_str().unwrap_or_default();
        let subtotals: Vec<i64> = record
            .line_items
            .iter()
            .map(|l| l["amount_subtotal"].as_i64().unwrap_or(0))
            .collect();
        let subtotal: i64 = subtotals.iter().sum();
        let code = input.promotion_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let (promotion, discount) = match code {
            None => (None, 0),
            Some(code) => {
                if session["allow_promotion_codes"] != true {
                    return Err(SimError::InvalidRequest(format!(
                        "this session was not created with allow_promotion_codes=true, so code {code:?} cannot be applied"
                    )));
                }
                let promo = self
                    .promotion_codes
                    .iter()
                    .find(|p| p["active"] == true && p["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(code)))
                    .ok_or_else(|| SimError::InvalidRequest(format!("This code is invalid: {code:?}.")))?;
                let coupon = &promo["promotion"]["coupon"];
                let discount = if let Some(percent) = coupon["percent_off"].as_f64() {
                    percent_of(subtotal, (percent * 100.0).round() as i64)
                } else {
                    let amount = coupon["amount_off"].as_i64().unwrap_or(0);
                    if coupon["currency"].as_str() != Some(currency) {
                        return Err(SimError::InvalidRequest(format!(
                            "This code is invalid: {code:?} takes {} off, and this session is in {currency}.",
                            coupon["currency"].as_str().unwrap_or("another currency")
                        )));
                    }
                    amount.min(subtotal)
                };
                let ids = (
                    promo["id"].as_str().unwrap_or_default().to_string(),
                    coupon["id"].as_str().unwrap_or_default().to_string(),
                );
                (Some(ids), discount)
            }
        };
        let line_discounts = spread(discount, &subtotals);
        let tax_bps = if session["automatic_tax"]["enabled"] == true {
            i64::from(self.pricing.tax_rate_bps)
        } else {
            0
        };
        let line_taxes: Vec<i64> = subtotals
            .iter()
            .zip(&line_discounts)
            .map(|(s, d)| percent_of(s - d, tax_bps))
            .collect();
        let shipping_amount = shipping.as_ref().map_or(0, |o| o.amount);
        let shipping_tax = percent_of(shipping_amount, tax_bps);
        let tax = line_taxes.iter().sum::<i64>() + shipping_tax;
        let total = subtotal - discount + shipping_amount + tax;
        if total <= 0 {
            return Err(SimError::InvalidRequest(format!(
                "the total after the discount is {total}; the simulator does not model sessions that need no payment"
            )));
        }
        Ok(Priced {
            shipping,
            shipping_tax,
            promotion,
            line_discounts,
            line_taxes,
            discount,
            tax,
            total,
        })
    }

    pub fn create_session(&mut self, new: &NewSession, now: i64, public_base: &str) -> Value {
        let id = new_id("cs_test_a1", 56);
        let url = format!("{}/sim/stripe/checkout/{id}", public_base.trim_end_matches('/'));
        let object = objects::session(&id, now, new, &url);
        let line_items = new
            .lines
            .iter()
            .map(|l| objects::line_item(l, &new.currency, now))
            .collect();
        self.sessions.push(SessionRecord {
            object: object.clone(),
            line_items,
            charge_id: None,
        });
        object
    }

    /// The buyer pays: a PaymentIntent id and a Charge are made, the session is completed with
    /// the buyer's email and shipping address, and the events Stripe sends follow.
    pub fn complete(
        &mut self,
        id: &str,
        how: Completion,
        input: &BuyerInput,
        change: &Change,
    ) -> Result<Outbox, SimError> {
        let priced = {
            let record = self.session(id).ok_or_else(|| SimError::NotFound {
                object: "checkout.session",
                id: id.to_string(),
            })?;
            require_open(&record.object, "paid")?;
            self.price(record, input)?
        };
        let record = self.session_mut(id)?;
        let session = &record.object;
        let amount = priced.total;
        let currency = session["currency"].as_str().unwrap_or("eur").to_string();
        let allowed: Vec<String> = session["shipping_address_collection"]["allowed_countries"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let buyer = buyer(input, session["customer_email"].as_str(), &allowed);
        if !allowed.is_empty() && !allowed.contains(&buyer.address.country) {
            // Stripe's page offers only the allowed countries; a form that sends another is refused.
            return Err(SimError::InvalidRequest(format!(
                "this session ships to {} only, not to {}",
                allowed.join(", "),
                buyer.address.country
            )));
        }
        let payment_intent = new_id("pi_3", 24);
        let charge_id = new_id("ch_3", 24);
        let status = match how {
            Completion::Card => "succeeded",
            Completion::Delayed { .. } => "pending",
        };
        let mut charge = objects::charge(
            &charge_id,
            change.now,
            amount,
            &currency,
            &payment_intent,
            &buyer,
            status,
        );

        let s = &mut record.object;
        s["status"] = json!("complete");
        s["url"] = Value::Null;
        s["payment_status"] = json!(if how == Completion::Card { "paid" } else { "unpaid" });
        s["payment_intent"] = json!(payment_intent);
        s["customer_details"] = json!({
            "address": buyer.address.json(),
            "business_name": null,
            "email": buyer.email,
            "individual_name": null,
            "name": buyer.address.name,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [],
        });
        s["collected_information"] = json!({
            "business_name": null,
            "individual_name": null,
            "shipping_details": if allowed.is_empty() {
                Value::Null
            } else {
                json!({ "address": buyer.address.json(), "name": buyer.address.name })
            },
        });
        s["amount_total"] = json!(priced.total);
        s["total_details"] = json!({
            "amount_discount": priced.discount,
            "amount_shipping": priced.shipping.as_ref().map_or(0, |o| o.amount),
            "amount_tax": priced.tax,
        });
        if let Some(option) = &priced.shipping {
            s["shipping_cost"] = objects::shipping_cost(option, priced.shipping_tax);
        }
        if s["automatic_tax"]["enabled"] == true {
            s["automatic_tax"]["status"] = json!("complete");
        }
        if let Some((promo, coupon)) = &priced.promotion {
            s["discounts"] = json!([{ "coupon": coupon, "promotion_code": promo }]);
        }
        for ((line, discount), tax) in record
            .line_items
            .iter_mut()
            .zip(&priced.line_discounts)
            .zip(&priced.line_taxes)
        {
            let subtotal = line["amount_subtotal"].as_i64().unwrap_or(0);
            line["amount_discount"] = json!(discount);
            line["amount_tax"] = json!(tax);
            line["amount_total"] = json!(subtotal - discount + tax);
        }
        record.charge_id = Some(charge_id.clone());
        let session_snapshot = record.object.clone();
        if let Some((promo, _)) = &priced.promotion
            && let Some(p) = self.promotion_codes.iter_mut().find(|p| p["id"] == promo.as_str())
        {
            let redeemed = p["times_redeemed"].as_i64().unwrap_or(0) + 1;
            p["times_redeemed"] = json!(redeemed);
            p["promotion"]["coupon"]["times_redeemed"] = json!(redeemed);
        }
        if how == Completion::Card {
            self.book(&mut charge, change.now);
        }
        self.charges.push(charge.clone());

        let mut out = Outbox::new();
        if how == Completion::Card {
            self.emit(change, "charge.succeeded", charge, None, &mut out);
        }
        self.emit(change, "checkout.session.completed", session_snapshot, None, &mut out);
        if let Completion::Delayed { succeeds } = how {
            self.settle_delayed(id, &charge_id, succeeds, change, &mut out)?;
        }
        Ok(out)
    }

    /// The delayed payment's outcome, as the bank reports it later.
    fn settle_delayed(
        &mut self,
        id: &str,
        charge_id: &str,
        succeeds: bool,
        change: &Change,
        out: &mut Outbox,
    ) -> Result<(), SimError> {
        let mut charge = self.charge(charge_id).cloned().ok_or_else(|| SimError::NotFound {
            object: "charge",
            id: charge_id.to_string(),
        })?;
        if succeeds {
            let amount = charge["amount"].clone();
            charge["status"] = json!("succeeded");
            charge["paid"] = json!(true);
            charge["captured"] = json!(true);
            charge["amount_captured"] = amount;
            self.book(&mut charge, change.now);
        } else {
            charge["status"] = json!("failed");
            charge["failure_code"] = json!("insufficient_funds");
            charge["failure_message"] = json!("The customer's account has insufficient funds to cover this payment.");
        }
        *self.charge_mut(charge_id).expect("read above") = charge.clone();
        let record = self.session_mut(id)?;
        if succeeds {
            record.object["payment_status"] = json!("paid");
        }
        let session = record.object.clone();
        if succeeds {
            self.emit(change, "charge.succeeded", charge, None, out);
            self.emit(change, "checkout.session.async_payment_succeeded", session, None, out);
        } else {
            self.emit(change, "charge.failed", charge, None, out);
            self.emit(change, "checkout.session.async_payment_failed", session, None, out);
        }
        Ok(())
    }

    pub fn expire(&mut self, id: &str, change: &Change) -> Result<(Value, Outbox), SimError> {
        let record = self.session_mut(id)?;
        require_open(&record.object, "expired")?;
        record.object["status"] = json!("expired");
        record.object["url"] = Value::Null;
        let session = record.object.clone();
        let mut out = Outbox::new();
        self.emit(change, "checkout.session.expired", session.clone(), None, &mut out);
        Ok((session, out))
    }

    /// Expires every open session whose `expires_at` has passed, as Stripe does on its own.
    pub fn expire_due(&mut self, change: &Change) -> Outbox {
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| {
                s.object["status"] == "open" && s.object["expires_at"].as_i64().is_some_and(|t| t <= change.now)
            })
            .filter_map(|s| s.object["id"].as_str().map(str::to_string))
            .collect();
        let mut out = Outbox::new();
        for id in due {
            if let Ok((_, events)) = self.expire(&id, change) {
                out.extend(events);
            }
        }
        out
    }

    /// Refunds part or (with `None`) the rest of the session's charge.
    pub fn refund(&mut self, id: &str, amount: Option<i64>, change: &Change) -> Result<(Value, Outbox), SimError> {
        let charge_id = self.paid_charge(id)?;
        let charge = self.charge_mut(&charge_id).expect("paid_charge checked it");
        let total = charge["amount"].as_i64().unwrap_or(0);
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let remaining = total - refunded;
        if remaining <= 0 {
            return Err(SimError::InvalidState(format!(
                "charge {charge_id} of session {id} is already fully refunded"
            )));
        }
        let amount = amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(SimError::InvalidRequest(format!(
                "refund amount {amount} must be between 1 and {remaining}, the part of charge {charge_id} not yet refunded"
            )));
        }
        let previous = json!({ "amount_refunded": refunded, "refunded": false });
        charge["amount_refunded"] = json!(refunded + amount);
        charge["refunded"] = json!(refunded + amount == total);
        let charge = charge.clone();
        let mut out = Outbox::new();
        self.emit(change, "charge.refunded", charge.clone(), Some(previous), &mut out);
        Ok((charge, out))
    }

    /// The buyer's bank disputes the session's charge.
    pub fn dispute_charge(&mut self, id: &str, change: &Change) -> Result<(Value, Outbox), SimError> {
        let charge_id = self.paid_charge(id)?;
        let charge = self.charge_mut(&charge_id).expect("paid_charge checked it");
        if charge["disputed"] == true {
            return Err(SimError::InvalidState(format!(
                "charge {charge_id} of session {id} is already disputed"
            )));
        }
        charge["disputed"] = json!(true);
        let dispute = objects::dispute(&new_id("dp_", 24), change.now, charge);
        self.disputes.push(dispute.clone());
        let mut out = Outbox::new();
        self.emit(change, "charge.dispute.created", dispute.clone(), None, &mut out);
        Ok((dispute, out))
    }

    /// The id of the session's succeeded charge, or why there is none.
    fn paid_charge(&self, id: &str) -> Result<String, SimError> {
        let record = self.session(id).ok_or_else(|| SimError::NotFound {
            object: "checkout.session",
            id: id.to_string(),
        })?;
        let charge_id = record
            .charge_id
            .clone()
            .ok_or_else(|| SimError::InvalidState(format!("checkout session {id} has not been paid")))?;
        let charge = self.charge(&charge_id).expect("a session's charge is stored with it");
        if charge["status"] != "succeeded" {
            return Err(SimError::InvalidState(format!(
                "charge {charge_id} of session {id} is {}, not succeeded",
                charge["status"].as_str().unwrap_or("unknown")
            )));
        }
        Ok(charge_id)
    }
}

/// `total` spread over `weights` in proportion, in whole units: each share rounded down, the
/// units left over going to the largest remainders (the earliest among equals).
fn spread(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total == 0 || sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let product = i128::from(total) * i128::from(*w);
            (i64::try_from(product / sum).unwrap_or(0), product % sum)
        })
        .collect();
    let mut shares: Vec<i64> = exact.iter().map(|(share, _)| *share).collect();
    let mut left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

fn require_open(session: &Value, action: &str) -> Result<(), SimError> {
    let status = session["status"].as_str().unwrap_or("unknown");
    if status == "open" {
        return Ok(());
    }
    Err(SimError::InvalidState(format!(
        "Only Checkout Sessions with a status in [\"open\"] can be {action}. This Checkout Session has a status of \"{status}\"."
    )))
}

/// The buyer as the form gave it, filled in with a plausible address in a country the session
/// ships to.
fn buyer(input: &BuyerInput, prefilled_email: Option<&str>, allowed_countries: &[String]) -> Buyer {
    let pick = |given: &Option<String>, default: &str| {
        given
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let default_country = if allowed_countries.is_empty() || allowed_countries.iter().any(|c| c == "DE") {
        "DE"
    } else {
        allowed_countries[0].as_str()
    };
    let email = input
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .or(prefilled_email)
        .unwrap_or("buyer@example.com")
        .trim()
        .to_string();
    Buyer {
        email,
        address: Address {
            name: pick(&input.name, "Ada Lovelace"),
            line1: pick(&input.line1, "Invalidenstraße 117"),
            line2: input.line2.clone().filter(|s| !s.trim().is_empty()),
            city: pick(&input.city, "Berlin"),
            state: input.state.clone().filter(|s| !s.trim().is_empty()),
            postal_code: pick(&input.postal_code, "10115"),
            country: pick(&input.country, default_country).to_ascii_uppercase(),
        },
    }
}

#[cfg(test)]
mod money_tests {
    use super::*;

    #[test]
    fn percentages_round_half_up() {
        assert_eq!(percent_of(1000, 1900), 190);
        assert_eq!(percent_of(5, 1000), 1); // 0.5 → 1
        assert_eq!(percent_of(4, 1000), 0); // 0.4 → 0
        assert_eq!(percent_of(333, 1500), 50); // 49.95 → 50
        assert_eq!(Pricing::default().fee(10_000), 175);
        assert_eq!(Pricing::default().fee(4_533), 93); // 67.995 → 68, + 25
    }

    #[test]
    fn a_discount_is_spread_over_the_lines_in_proportion() {
        assert_eq!(spread(100, &[2500, 2000]), vec![56, 44]);
        assert_eq!(spread(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(spread(0, &[5, 5]), vec![0, 0]);
        assert_eq!(spread(7, &[0, 10]), vec![0, 7]);
        let shares = spread(4501, &[2500, 2000, 1]);
        assert_eq!(shares.iter().sum::<i64>(), 4501);
    }
}
