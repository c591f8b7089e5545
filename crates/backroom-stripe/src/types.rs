//! The shapes backroom reads from and sends to Stripe, in the shop's own types. They hold only
//! what the use cases need, so an API-version bump in async-stripe changes the mapping in
//! `client.rs` and nothing else.

use backroom_core::{Cents, Currency, Email, OrderId, ShippingAddress};
use serde::{Deserialize, Serialize};

/// What `POST /checkout` asks Stripe to charge for one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub order_id: OrderId,
    pub lines: Vec<CheckoutLine>,
    pub customer_email: Option<Email>,
    pub success_url: String,
    pub cancel_url: String,
    /// ISO 3166-1 alpha-2 codes; empty means no shipping address is collected.
    pub shipping_countries: Vec<String>,
    pub shipping_rate_ids: Vec<String>,
    /// Inline `shipping_rate_data` options, offered after the pre-created rates.
    pub shipping_options: Vec<backroom_core::ShippingOption>,
    /// `automatic_tax[enabled]`: Stripe Tax computes the tax from the buyer's address.
    pub automatic_tax: bool,
    /// `allow_promotion_codes`: the payment page takes the codes made at Stripe.
    pub allow_promotion_codes: bool,
    /// Unix seconds; Stripe accepts 30 minutes to 24 hours after creation.
    pub expires_at: i64,
}

/// Stripe's processing fee for a payment, from its charge's balance transaction, in the
/// account's settlement currency (which can differ from the charge's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    pub amount: Cents,
    pub currency: Currency,
}

/// One priced line of a checkout, sent as inline `price_data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutLine {
    pub name: String,
    pub unit_amount: Cents,
    pub currency: Currency,
    pub quantity: u32,
}

/// The hosted checkout page Stripe made for an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedSession {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

impl PaymentStatus {
    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Unpaid => "unpaid",
            PaymentStatus::NoPaymentRequired => "no_payment_required",
        }
    }

    /// Whether the money is in: Stripe's fulfilment guide ships for `paid` and
    /// `no_payment_required`, never for `unpaid` (a delayed method still pending).
    pub fn is_settled(self) -> bool {
        matches!(self, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired)
    }
}

/// A Checkout Session as read back from Stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    /// `client_reference_id`, else `metadata.order_id`; `None` when neither is one of our order
    /// ids, which means the session was not made by backroom.
    pub order_id: Option<OrderId>,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    pub amount_total: Option<Cents>,
    /// `amount_subtotal`, `total_details` (discount, shipping, tax) and `amount_total`.
    pub charged: Option<backroom_core::order::Charged>,
    pub currency: Option<Currency>,
    /// `customer_details.email` (what the buyer typed), else the prefilled `customer_email`.
    pub customer_email: Option<String>,
    /// `collected_information.shipping_details` (API 2025-03-31 and later).
    pub shipping: Option<ShippingAddress>,
    pub payment_intent: Option<String>,
    pub created: i64,
    pub expires_at: i64,
    pub livemode: bool,
    /// Every line item when read with `checkout_session`; empty from `list_checkout_sessions`.
    pub line_items: Vec<SessionLineItem>,
}

/// One line of a session as Stripe priced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLineItem {
    pub description: String,
    pub quantity: u64,
    /// After discounts and taxes, for the whole quantity.
    pub amount_total: Cents,
    pub currency: Currency,
}

/// The parts of an Event that catch-up needs to find and order work; the object itself is
/// always re-read from the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    /// `data.object.id`: the session, charge or dispute the event is about.
    pub object_id: String,
    pub livemode: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub enabled: bool,
    pub enabled_events: Vec<String>,
    pub api_version: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub id: String,
    pub payment_intent: Option<String>,
    pub amount: Cents,
    pub amount_refunded: Cents,
    /// True once the whole amount is refunded.
    pub refunded: bool,
    pub currency: Currency,
    pub created: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispute {
    pub id: String,
    pub charge: String,
    pub payment_intent: Option<String>,
    pub amount: Cents,
    pub currency: Currency,
    /// Stripe's words, for example `fraudulent` or `product_not_received`.
    pub reason: String,
    /// Stripe's words, for example `needs_response`, `won` or `lost`.
    pub status: String,
    pub created: i64,
    /// The evidence staged or submitted so far (`evidence`).
    pub evidence: Evidence,
    /// `evidence_details.due_by`: Unix seconds by which evidence must be submitted; `None` when
    /// no response is possible.
    pub due_by: Option<i64>,
    /// `evidence_details.submission_count`: how many times evidence was submitted (Stripe takes
    /// one submission).
    pub submission_count: u64,
    /// `evidence_details.has_evidence`.
    pub has_evidence: bool,
    /// `evidence_details.past_due`: `due_by` passed before evidence was submitted.
    pub past_due: bool,
}

/// Dispute statuses that are final: the bank has decided, or the inquiry was closed.
const CLOSED_DISPUTE_STATUSES: [&str; 4] = ["won", "lost", "warning_closed", "prevented"];

impl Dispute {
    /// Not yet decided: waiting for a response or under review.
    pub fn is_open(&self) -> bool {
        !CLOSED_DISPUTE_STATUSES.contains(&self.status.as_str())
    }

    /// Evidence can still be staged and submitted (`needs_response` or
    /// `warning_needs_response`).
    pub fn needs_response(&self) -> bool {
        matches!(self.status.as_str(), "needs_response" | "warning_needs_response")
    }
}

/// A dispute's evidence, with Stripe's field names (`evidence[...]` of `POST /v1/disputes/{id}`).
/// Text fields are free text, as Stripe takes them (`shipping_date` in "a clear human-readable
/// format", `shipping_address` as one text); the file fields hold ids of file uploads
/// (`file_…`). When drafting, a `None` field is not sent and keeps what Stripe has; `Some("")`
/// clears it. `Debug` names only the fields that are set, so that a customer's name, email or
/// address never reaches a log line by way of `{:?}`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub access_activity_log: Option<String>,
    pub billing_address: Option<String>,
    pub cancellation_policy: Option<String>,
    pub cancellation_policy_disclosure: Option<String>,
    pub cancellation_rebuttal: Option<String>,
    pub customer_communication: Option<String>,
    pub customer_email_address: Option<String>,
    pub customer_name: Option<String>,
    pub customer_purchase_ip: Option<String>,
    pub customer_signature: Option<String>,
    pub duplicate_charge_documentation: Option<String>,
    pub duplicate_charge_explanation: Option<String>,
    pub duplicate_charge_id: Option<String>,
    pub product_description: Option<String>,
    pub receipt: Option<String>,
    pub refund_policy: Option<String>,
    pub refund_policy_disclosure: Option<String>,
    pub refund_refusal_explanation: Option<String>,
    pub service_date: Option<String>,
    pub service_documentation: Option<String>,
    pub shipping_address: Option<String>,
    pub shipping_carrier: Option<String>,
    pub shipping_date: Option<String>,
    pub shipping_documentation: Option<String>,
    pub shipping_tracking_number: Option<String>,
    pub uncategorized_file: Option<String>,
    pub uncategorized_text: Option<String>,
}

impl Evidence {
    /// Every field with its Stripe name, in Stripe's (alphabetical) order.
    pub fn fields(&self) -> [(&'static str, &Option<String>); 27] {
        [
            ("access_activity_log", &self.access_activity_log),
            ("billing_address", &self.billing_address),
            ("cancellation_policy", &self.cancellation_policy),
            ("cancellation_policy_disclosure", &self.cancellation_policy_disclosure),
            ("cancellation_rebuttal", &self.cancellation_rebuttal),
            ("customer_communication", &self.customer_communication),
            ("customer_email_address", &self.customer_email_address),
            ("customer_name", &self.customer_name),
            ("customer_purchase_ip", &self.customer_purchase_ip),
            ("customer_signature", &self.customer_signature),
            ("duplicate_charge_documentation", &self.duplicate_charge_documentation),
            ("duplicate_charge_explanation", &self.duplicate_charge_explanation),
            ("duplicate_charge_id", &self.duplicate_charge_id),
            ("product_description", &self.product_description),
            ("receipt", &self.receipt),
            ("refund_policy", &self.refund_policy),
            ("refund_policy_disclosure", &self.refund_policy_disclosure),
            ("refund_refusal_explanation", &self.refund_refusal_explanation),
            ("service_date", &self.service_date),
            ("service_documentation", &self.service_documentation),
            ("shipping_address", &self.shipping_address),
            ("shipping_carrier", &self.shipping_carrier),
            ("shipping_date", &self.shipping_date),
            ("shipping_documentation", &self.shipping_documentation),
            ("shipping_tracking_number", &self.shipping_tracking_number),
            ("uncategorized_file", &self.uncategorized_file),
            ("uncategorized_text", &self.uncategorized_text),
        ]
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: Vec<&str> = self
            .fields()
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(name, _)| *name)
            .collect();
        f.debug_struct("Evidence").field("set", &set).finish_non_exhaustive()
    }
}
