//! Stripe objects as JSON, in the shape of API version `backroom_stripe::API_VERSION`. Every
//! field async-stripe requires is present (a missing required field makes its whole response
//! unreadable, with no field named), and optional fields Stripe always sends are present as
//! `null`, so that payloads look like the real ones to any reader.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ids::new_id;

/// One line of a session as created: inline `price_data` with `product_data.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLine {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: u64,
}

/// A session's creation parameters, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub lines: Vec<NewLine>,
    /// Lower case, as Stripe writes it.
    pub currency: String,
    pub client_reference_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// `payment_intent_data[metadata]`, validated as Stripe validates it. The simulator has no
    /// PaymentIntent object to put it on; requests() shows what the client sent.
    pub payment_intent_metadata: BTreeMap<String, String>,
    pub customer_email: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub allowed_countries: Vec<String>,
    pub shipping_rates: Vec<String>,
    pub expires_at: i64,
}

impl NewSession {
    pub fn amount_total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.unit_amount.saturating_mul(l.quantity as i64))
            .fold(0i64, i64::saturating_add)
    }
}

pub fn session(id: &str, created: i64, new: &NewSession, url: &str) -> Value {
    let amount = new.amount_total();
    json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": new.cancel_url,
        "client_reference_id": new.client_reference_id,
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": new.currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": null,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": new.customer_email,
        "discounts": [],
        "expires_at": new.expires_at,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": new.metadata,
        "mode": "payment",
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": null,
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": if new.allowed_countries.is_empty() {
            Value::Null
        } else {
            json!({ "allowed_countries": new.allowed_countries })
        },
        "shipping_cost": null,
        // The simulator knows no shipping rate amounts: every rate is free.
        "shipping_options": new.shipping_rates.iter().map(|r| json!({ "shipping_amount": 0, "shipping_rate": r })).collect::<Vec<_>>(),
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": new.success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted_page",
        "url": url,
        "wallet_options": null,
    })
}

pub fn line_item(line: &NewLine, currency: &str, created: i64) -> Value {
    let total = line.unit_amount.saturating_mul(line.quantity as i64);
    json!({
        "id": new_id("li_", 24),
        "object": "item",
        "adjustable_quantity": null,
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": currency,
        "description": line.name,
        "metadata": {},
        "price": {
            "id": new_id("price_", 24),
            "object": "price",
            "active": false,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": null,
            "product": new_id("prod_", 14),
            "recurring": null,
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "one_time",
            "unit_amount": line.unit_amount,
            "unit_amount_decimal": line.unit_amount.to_string(),
        },
        "quantity": line.quantity,
    })
}

/// Where the buyer's order goes: what the pay page's form sends, or a plausible default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    pub fn json(&self) -> Value {
        json!({
            "city": self.city,
            "country": self.country,
            "line1": self.line1,
            "line2": self.line2,
            "postal_code": self.postal_code,
            "state": self.state,
        })
    }
}

/// Who paid: the email and address the hosted page collected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buyer {
    pub email: String,
    pub address: Address,
}

/// A Charge as Stripe renders it in this API version (no embedded `refunds` list).
pub fn charge(
    id: &str,
    created: i64,
    amount: i64,
    currency: &str,
    payment_intent: &str,
    buyer: &Buyer,
    status: &str,
) -> Value {
    let (email, address) = (&buyer.email, &buyer.address);
    let succeeded = status == "succeeded";
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if succeeded { amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": if succeeded { json!(new_id("txn_", 24)) } else { Value::Null },
        "billing_details": {
            "address": address.json(),
            "email": email,
            "name": address.name,
            "phone": null,
            "tax_id": null,
        },
        "calculated_statement_descriptor": "BACKROOM SIM",
        "captured": succeeded,
        "created": created,
        "currency": currency,
        "customer": null,
        "description": null,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
        "livemode": false,
        "metadata": {},
        "on_behalf_of": null,
        "outcome": null,
        "paid": succeeded,
        "payment_intent": payment_intent,
        "payment_method": new_id("pm_", 24),
        "payment_method_details": null,
        "receipt_email": email,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": false,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

pub fn dispute(id: &str, created: i64, charge: &Value) -> Value {
    json!({
        "id": id,
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {
            "access_activity_log": null,
            "billing_address": null,
            "cancellation_policy": null,
            "cancellation_policy_disclosure": null,
            "cancellation_rebuttal": null,
            "customer_communication": null,
            "customer_email_address": null,
            "customer_name": null,
            "customer_purchase_ip": null,
            "customer_signature": null,
            "duplicate_charge_documentation": null,
            "duplicate_charge_explanation": null,
            "duplicate_charge_id": null,
            "enhanced_evidence": {},
            "product_description": null,
            "receipt": null,
            "refund_policy": null,
            "refund_policy_disclosure": null,
            "refund_refusal_explanation": null,
            "service_date": null,
            "service_documentation": null,
            "shipping_address": null,
            "shipping_carrier": null,
            "shipping_date": null,
            "shipping_documentation": null,
            "shipping_tracking_number": null,
            "uncategorized_file": null,
            "uncategorized_text": null,
        },
        "evidence_details": {
            "due_by": created + 7 * 24 * 3600,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0,
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": null,
        "reason": "fraudulent",
        "status": "needs_response",
    })
}

/// What caused an event: an API request (with its id and idempotency key) or Stripe itself
/// (a buyer on the hosted page, a timer, the card network), which Stripe shows as a null id.
#[derive(Clone, Debug, Default)]
pub struct Cause {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

pub fn event(
    id: &str,
    created: i64,
    event_type: &str,
    object: Value,
    previous_attributes: Option<Value>,
    cause: &Cause,
    pending_webhooks: u32,
) -> Value {
    let mut data = json!({ "object": object });
    if let Some(previous) = previous_attributes {
        data["previous_attributes"] = previous;
    }
    json!({
        "id": id,
        "object": "event",
        "api_version": backroom_stripe::API_VERSION,
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": pending_webhooks,
        "request": { "id": cause.request_id, "idempotency_key": cause.idempotency_key },
        "type": event_type,
    })
}

pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// An endpoint created through the API. `api_version` is `null` when none was asked for: the
/// endpoint then renders events in the account's default version, as on Stripe.
pub fn created_webhook_endpoint(
    id: &str,
    url: &str,
    enabled_events: &[String],
    api_version: Option<&str>,
    description: Option<&str>,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": null,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": false,
        "metadata": {},
        "status": "enabled",
        "url": url,
    })
}

pub fn webhook_endpoint(id: &str, url: &str, created: i64) -> Value {
    json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": backroom_stripe::API_VERSION,
        "application": null,
        "created": created,
        "description": "backroom simulator endpoint",
        "enabled_events": backroom_stripe::HANDLED_EVENT_TYPES,
        "livemode": false,
        "metadata": {},
        "status": "enabled",
        "url": url,
    })
}
