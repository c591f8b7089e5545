//! The simulator's account: sessions, charges, disputes, events and stored idempotent results,
//! and the operations that change them. Everything here is synchronous and runs under one lock,
//! so every operation is atomic, as Stripe's are per object; webhooks are sent after the lock is
//! released (see `deliver.rs`).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::error::SimError;
use super::ids::new_id;
use super::objects::{self, Address, Buyer, Cause, NewSession};
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
}

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
    fn emit(&mut self, change: &Change, event_type: &str, object: Value, previous: Option<Value>, out: &mut Outbox) {
        let for_endpoint = change.endpoint && backroom_stripe::HANDLED_EVENT_TYPES.contains(&event_type);
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
        let record = self.session_mut(id)?;
        let session = &record.object;
        require_open(session, "paid")?;
        let amount = session["amount_total"].as_i64().unwrap_or(0);
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
        let charge = objects::charge(
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
        if let Some(rate) = s["shipping_options"][0]["shipping_rate"].as_str() {
            s["shipping_cost"] =
                json!({ "amount_subtotal": 0, "amount_tax": 0, "amount_total": 0, "shipping_rate": rate, "taxes": [] });
        }
        record.charge_id = Some(charge_id.clone());
        let session_snapshot = record.object.clone();
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
        let charge = self.charge_mut(charge_id).ok_or_else(|| SimError::NotFound {
            object: "charge",
            id: charge_id.to_string(),
        })?;
        if succeeds {
            let amount = charge["amount"].clone();
            charge["status"] = json!("succeeded");
            charge["paid"] = json!(true);
            charge["captured"] = json!(true);
            charge["amount_captured"] = amount;
            charge["balance_transaction"] = json!(new_id("txn_", 24));
        } else {
            charge["status"] = json!("failed");
            charge["failure_code"] = json!("insufficient_funds");
            charge["failure_message"] = json!("The customer's account has insufficient funds to cover this payment.");
        }
        let charge = charge.clone();
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
