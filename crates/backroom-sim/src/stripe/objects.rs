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
    /// The shipping options, resolved to rates (at most 5, in the session's currency).
    pub shipping_options: Vec<ShippingOption>,
    /// `allow_promotion_codes=true`: the buyer may enter a promotion code on the page.
    pub allow_promotion_codes: bool,
    /// `automatic_tax[enabled]=true`: tax is computed when the buyer pays.
    pub automatic_tax: bool,
    pub expires_at: i64,
}

/// One of a session's shipping options: a shipping rate's id and its amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingOption {
    pub rate: String,
    pub amount: i64,
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
    let subtotal = new.amount_total();
    // Stripe preselects the first shipping option, and the open session's totals include it.
    let shipping = new.shipping_options.first();
    let shipping_amount = shipping.map_or(0, |o| o.amount);
    let amount = subtotal.saturating_add(shipping_amount);
    json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": if new.allow_promotion_codes { json!(true) } else { Value::Null },
        "amount_subtotal": subtotal,
        "amount_total": amount,
        "automatic_tax": if new.automatic_tax {
            // No address yet: Stripe computes tax once the buyer gives one.
            json!({ "enabled": true, "liability": { "type": "self" }, "provider": "stripe", "status": "requires_location_inputs" })
        } else {
            json!({ "enabled": false, "liability": null, "provider": null, "status": null })
        },
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
        "shipping_cost": shipping.map(|o| shipping_cost(o, 0)),
        "shipping_options": new.shipping_options.iter().map(|o| json!({ "shipping_amount": o.amount, "shipping_rate": o.rate })).collect::<Vec<_>>(),
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": new.success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": shipping_amount, "amount_tax": 0 },
        "ui_mode": "hosted_page",
        "url": url,
        "wallet_options": null,
    })
}

/// A session's `shipping_cost` for the chosen option and the tax on it.
pub fn shipping_cost(option: &ShippingOption, tax: i64) -> Value {
    json!({
        "amount_subtotal": option.amount,
        "amount_tax": tax,
        "amount_total": option.amount.saturating_add(tax),
        "shipping_rate": option.rate,
        "taxes": [],
    })
}

/// A shipping rate's definition, validated: what `shipping_rate_data`, `POST /v1/shipping_rates`,
/// the control route and [`ShippingRateSpec`](super::ShippingRateSpec) describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewShippingRate {
    pub display_name: String,
    pub amount: i64,
    /// Lower case.
    pub currency: String,
    /// `(unit, value)` of the minimum and maximum, each optional.
    pub minimum: Option<(String, i64)>,
    pub maximum: Option<(String, i64)>,
    pub tax_behavior: Option<String>,
    pub tax_code: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

pub fn shipping_rate(id: &str, created: i64, new: &NewShippingRate) -> Value {
    let bound = |b: &Option<(String, i64)>| b.as_ref().map(|(unit, value)| json!({ "unit": unit, "value": value }));
    let estimate = if new.minimum.is_none() && new.maximum.is_none() {
        Value::Null
    } else {
        json!({ "maximum": bound(&new.maximum), "minimum": bound(&new.minimum) })
    };
    json!({
        "id": id,
        "object": "shipping_rate",
        "active": true,
        "created": created,
        "delivery_estimate": estimate,
        "display_name": new.display_name,
        "fixed_amount": { "amount": new.amount, "currency": new.currency },
        "livemode": false,
        "metadata": new.metadata,
        "tax_behavior": new.tax_behavior.as_deref().unwrap_or("unspecified"),
        "tax_code": new.tax_code,
        "type": "fixed_amount",
    })
}

/// A coupon's discount: a percentage (up to two decimals) or a fixed amount in one currency.
#[derive(Clone, Debug, PartialEq)]
pub enum CouponOff {
    Percent(f64),
    Amount { amount: i64, currency: String },
}

pub fn coupon(id: &str, created: i64, off: &CouponOff, name: Option<&str>) -> Value {
    let (percent_off, amount_off, currency) = match off {
        CouponOff::Percent(p) => (json!(p), Value::Null, Value::Null),
        CouponOff::Amount { amount, currency } => (Value::Null, json!(amount), json!(currency)),
    };
    json!({
        "id": id,
        "object": "coupon",
        "amount_off": amount_off,
        "applies_to": null,
        "created": created,
        "currency": currency,
        "currency_options": null,
        "duration": "once",
        "duration_in_months": null,
        "livemode": false,
        "max_redemptions": null,
        "metadata": {},
        "name": name,
        "percent_off": percent_off,
        "redeem_by": null,
        "times_redeemed": 0,
        "valid": true,
    })
}

/// A promotion code with its coupon embedded (as `expand[]=promotion.coupon` shows it).
pub fn promotion_code(id: &str, code: &str, created: i64, coupon: Value) -> Value {
    json!({
        "id": id,
        "object": "promotion_code",
        "active": true,
        "code": code,
        "created": created,
        "customer": null,
        "customer_account": null,
        "expires_at": null,
        "livemode": false,
        "max_redemptions": null,
        "metadata": {},
        "promotion": { "coupon": coupon, "type": "coupon" },
        "restrictions": {
            "first_time_transaction": false,
            "minimum_amount": null,
            "minimum_amount_currency": null,
        },
        "times_redeemed": 0,
    })
}

/// The balance transaction of a succeeded charge: Stripe's fee taken from the amount.
pub fn balance_transaction(id: &str, created: i64, charge: &Value, fee: i64, available_on: i64) -> Value {
    let amount = charge["amount"].as_i64().unwrap_or(0);
    json!({
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": charge["currency"],
        "description": null,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": [{
            "amount": fee,
            "application": null,
            "currency": charge["currency"],
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }],
        "net": amount - fee,
        "reporting_category": "charge",
        "source": charge["id"],
        "status": "pending",
        "type": "charge",
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
        // Set by the account when the charge succeeds, with its balance transaction.
        "balance_transaction": null,
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
        "enabled_events": backroom_core::StripeEventKind::NAMES,
        "livemode": false,
        "metadata": {},
        "status": "enabled",
        "url": url,
    })
}
