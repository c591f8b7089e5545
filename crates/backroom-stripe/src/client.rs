//! The Stripe calls backroom makes, through async-stripe's typed requests, mapped into the
//! shop's own types. Every call has a timeout; the only write carries an idempotency key derived
//! from the order id, so a retried `POST /checkout` never makes a second session. Every HTTP
//! request is counted ([`StripeClient::calls`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backroom_core::{Cents, Currency, OrderId, ShippingAddress};
use secrecy::{ExposeSecret, SecretString};
use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionShippingAddressCollection, CreateCheckoutSessionShippingAddressCollectionAllowedCountries,
    CreateCheckoutSessionShippingOptions, CreateCheckoutSessionShippingOptionsShippingRateData,
    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimate,
    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximum,
    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximumUnit,
    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimum,
    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimumUnit,
    CreateCheckoutSessionShippingOptionsShippingRateDataFixedAmount,
    CreateCheckoutSessionShippingOptionsShippingRateDataType, ListCheckoutSession, ListLineItemsCheckoutSession,
    ProductData, RetrieveCheckoutSession,
};
use stripe_core::charge::{ListCharge, RetrieveCharge};
use stripe_core::dispute::{ListDispute, RetrieveDispute, UpdateDispute, UpdateDisputeEvidence};
use stripe_core::event::ListEvent;
use stripe_misc::webhook_endpoint::{
    CreateWebhookEndpoint, CreateWebhookEndpointEnabledEvents, ListWebhookEndpoint, UpdateWebhookEndpoint,
    UpdateWebhookEndpointEnabledEvents,
};
use stripe_types::{Expandable, RangeQueryTs};

use crate::error::StripeError;
use crate::types::{
    Charge, CheckoutRequest, CheckoutSession, CreatedSession, Dispute, EventSummary, Evidence, Fee, PaymentStatus,
    SessionLineItem, SessionStatus, WebhookEndpoint,
};

/// Stripe's largest page size; fewer round trips for catch-up and the reconciler.
const PAGE_SIZE: i64 = 100;

/// How backroom reaches Stripe. Built once per cold start from the typed configuration.
#[derive(Clone, Debug)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    /// `STRIPE_API_BASE`: where the API lives when it is not api.stripe.com, for example the
    /// simulator at `http://127.0.0.1:4242/sim/stripe` (without the trailing `/v1`).
    pub api_base: Option<String>,
    /// The limit for each HTTP attempt, including reading the body.
    pub timeout: Duration,
}

/// A Stripe API client. Cheap to clone: clones share the connection settings and the count of
/// requests sent.
#[derive(Clone)]
pub struct StripeClient {
    inner: Transport,
    livemode: bool,
}

/// async-stripe's client behind the one way this crate sends a request, [`Transport::send`],
/// which counts it. async-stripe's `Client` is not reachable otherwise, so no call can bypass
/// the count.
#[derive(Clone)]
struct Transport {
    client: stripe::Client,
    /// HTTP requests sent, shared by every clone.
    calls: Arc<AtomicU64>,
}

impl Transport {
    /// Sends one request in exactly one HTTP attempt: the strategy is `Once`, or `Idempotent`
    /// with `key`, and async-stripe makes a single attempt for both (the caller decides to retry
    /// from `StripeError::is_retryable`). So one `send` is one HTTP request, and counting here
    /// counts every request, including a caller's retries, each of which is another `send`.
    async fn send<R>(&self, req: R, key: Option<IdempotencyKey>, call: &str) -> Result<R::Output, StripeError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let strategy = match key {
            Some(key) => RequestStrategy::Idempotent(key),
            None => RequestStrategy::Once,
        };
        let custom = req.customize().request_strategy(strategy);
        self.calls.fetch_add(1, Ordering::Relaxed);
        custom
            .send(&self.client)
            .await
            .map_err(|e| StripeError::from_client(e, call))
    }
}

/// One Stripe list read to its end, page by page (`starting_after` the previous page's last
/// object), each page mapped as it arrives.
struct Pages<'a, Req, Id> {
    call: &'a str,
    /// The request for the page after the given object id (from the start when `None`).
    request: Req,
    /// The id of a listed object, for the next page's `starting_after`.
    id: Id,
}

impl Transport {
    /// Every object of a list after `after` (from the start when `None`), each kept when `keep`
    /// maps it to `Some`. Reading stops when Stripe says there is no more or a page is empty.
    async fn list_all<R, T, U>(
        &self,
        pages: Pages<'_, impl Fn(Option<String>) -> R, impl Fn(&T) -> String>,
        mut after: Option<String>,
        mut keep: impl FnMut(T) -> Result<Option<U>, StripeError>,
    ) -> Result<Vec<U>, StripeError>
    where
        R: StripeRequest<Output = stripe_types::List<T>>,
        stripe_types::List<T>: miniserde::Deserialize,
    {
        let mut out = Vec::new();
        loop {
            let page = self.send((pages.request)(after.take()), None, pages.call).await?;
            let last = page.data.last().map(&pages.id);
            for object in page.data {
                out.extend(keep(object)?);
            }
            match last {
                Some(last) if page.has_more => after = Some(last),
                _ => return Ok(out),
            }
        }
    }
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The inner client marks its key header as sensitive; printing only the mode and the
        // count keeps this type's Debug output free of anything secret by construction.
        f.debug_struct("StripeClient")
            .field("livemode", &self.livemode)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    pub fn new(settings: StripeSettings) -> Result<StripeClient, StripeError> {
        let key = settings.secret_key.expose_secret();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            return Err(StripeError::Transport(
                "STRIPE_SECRET_KEY is not a Stripe secret or restricted key (it must start with sk_ or rk_)".into(),
            ));
        }
        let livemode = key.starts_with("sk_live_") || key.starts_with("rk_live_");
        let mut builder = stripe::ClientBuilder::new(key).timeout(settings.timeout);
        if let Some(base) = settings.api_base {
            builder = builder.url(normalise_api_base(&base)?);
        }
        let client = builder
            .build()
            .map_err(|e| StripeError::from_client(e, "building the Stripe client"))?;
        Ok(StripeClient {
            inner: Transport {
                client,
                calls: Arc::new(AtomicU64::new(0)),
            },
            livemode,
        })
    }

    /// How many HTTP requests this client and all its clones have sent to Stripe so far: one per
    /// call, plus one per extra page of a list (and of a session's line items). A request counts
    /// once it is sent, whatever the answer, including a timeout or a refused connection; an id
    /// refused before sending (see `check_id`) does not count. async-stripe never retries on its
    /// own here, so a caller's retry is one more request and counts as one.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// True for live keys (`sk_live_`, `rk_live_`): webhooks and objects must then say
    /// `livemode: true` as well.
    pub fn livemode(&self) -> bool {
        self.livemode
    }

    /// Creates the hosted payment page for an order. Sent with the idempotency key
    /// `checkout-session-{order_id}`, so a retry after a timeout returns the same session, and
    /// the same order with other lines is refused by Stripe (400 `idempotency_error`).
    #[tracing::instrument(skip_all, fields(order_id = %req.order_id))]
    pub async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CreatedSession, StripeError> {
        const CALL: &str = "POST /v1/checkout/sessions";
        let order_id = req.order_id.to_string();
        let key = IdempotencyKey::new(idempotency_key(req.order_id))
            .map_err(|e| StripeError::Transport(format!("{CALL}: {e}")))?;
        let session = self.inner.send(build_create_request(req), Some(key), CALL).await?;
        let url = session.url.clone().ok_or_else(|| {
            StripeError::Parse(format!(
                "{CALL}: session {} for order {order_id} has no url",
                session.id
            ))
        })?;
        Ok(CreatedSession {
            id: session.id.to_string(),
            url,
            expires_at: session.expires_at,
        })
    }

    /// Reads one session with every line item: `expand[]=line_items` gives the first page, and
    /// `GET /v1/checkout/sessions/{id}/line_items` the rest when Stripe says there is more.
    #[tracing::instrument(skip(self))]
    pub async fn checkout_session(&self, id: &str) -> Result<CheckoutSession, StripeError> {
        check_id(id, "checkout.session")?;
        let call = format!("GET /v1/checkout/sessions/{id}");
        let retrieve = RetrieveCheckoutSession::new(id).expand(vec!["line_items".to_string()]);
        let mut raw = self.inner.send(retrieve, None, &call).await?;
        let mut items = Vec::new();
        let mut has_more = false;
        if let Some(list) = raw.line_items.take() {
            has_more = list.has_more;
            items = list.data;
        }
        if has_more && let Some(last) = items.last().map(|i| i.id.to_string()) {
            let call = format!("GET /v1/checkout/sessions/{id}/line_items");
            let pages = Pages {
                call: &call,
                request: |after: Option<String>| {
                    let list = ListLineItemsCheckoutSession::new(id).limit(PAGE_SIZE);
                    match after {
                        Some(after) => list.starting_after(after),
                        None => list,
                    }
                },
                id: |i: &stripe_shared::CheckoutSessionItem| i.id.to_string(),
            };
            items.extend(self.inner.list_all(pages, Some(last), |i| Ok(Some(i))).await?);
        }
        let mut session = map_session(raw)?;
        session.line_items = items
            .into_iter()
            .map(|i| map_line_item(i, id))
            .collect::<Result<_, _>>()?;
        Ok(session)
    }

    /// Every event of the given types (all types when empty) created at or after
    /// `created_gte`, oldest first. Stripe keeps events for 30 days.
    #[tracing::instrument(skip(self))]
    pub async fn list_events(
        &self,
        types: &[&str],
        created_gte: Option<i64>,
    ) -> Result<Vec<EventSummary>, StripeError> {
        let pages = Pages {
            call: "GET /v1/events",
            request: |after: Option<String>| {
                let mut req = ListEvent::new().limit(PAGE_SIZE);
                if !types.is_empty() {
                    req = req.types(types.iter().map(|t| t.to_string()).collect::<Vec<_>>());
                }
                if let Some(gte) = created_gte {
                    req = req.created(RangeQueryTs::gte(gte));
                }
                if let Some(after) = after {
                    req = req.starting_after(after);
                }
                req
            },
            id: |e: &stripe_shared::Event| e.id.to_string(),
        };
        let mut out = self.inner.list_all(pages, None, |e| map_event(e).map(Some)).await?;
        // Stripe lists newest first; catch-up replays in the order things happened.
        out.reverse();
        Ok(out)
    }

    /// Every session with the given status created at or after `created_gte`, newest first, as
    /// Stripe lists them. `line_items` is empty here; read one session for its lines.
    #[tracing::instrument(skip(self))]
    pub async fn list_checkout_sessions(
        &self,
        status: Option<SessionStatus>,
        created_gte: Option<i64>,
    ) -> Result<Vec<CheckoutSession>, StripeError> {
        let pages = Pages {
            call: "GET /v1/checkout/sessions",
            request: |after: Option<String>| {
                let mut req = ListCheckoutSession::new().limit(PAGE_SIZE);
                if let Some(status) = status {
                    req = req.status(match status {
                        SessionStatus::Open => stripe_shared::CheckoutSessionStatus::Open,
                        SessionStatus::Complete => stripe_shared::CheckoutSessionStatus::Complete,
                        SessionStatus::Expired => stripe_shared::CheckoutSessionStatus::Expired,
                    });
                }
                if let Some(gte) = created_gte {
                    req = req.created(RangeQueryTs::gte(gte));
                }
                if let Some(after) = after {
                    req = req.starting_after(after);
                }
                req
            },
            id: |raw: &stripe_shared::CheckoutSession| raw.id.to_string(),
        };
        self.inner.list_all(pages, None, |raw| map_session(raw).map(Some)).await
    }

    /// The session that created a payment intent, with its line items; `None` when no session
    /// did (a payment made outside Checkout). This is how a refund or a dispute finds its order
    /// whatever order the events arrive in: the session names the order.
    #[tracing::instrument(skip(self))]
    pub async fn session_by_payment_intent(
        &self,
        payment_intent: &str,
    ) -> Result<Option<CheckoutSession>, StripeError> {
        check_id(payment_intent, "payment_intent")?;
        const CALL: &str = "GET /v1/checkout/sessions?payment_intent";
        let req = ListCheckoutSession::new().payment_intent(payment_intent).limit(1);
        let page = self.inner.send(req, None, CALL).await?;
        match page.data.first() {
            Some(raw) => Ok(Some(self.checkout_session(raw.id.as_str()).await?)),
            None => Ok(None),
        }
    }

    /// The account's webhook endpoints, to check at deploy time that ours exists, is enabled,
    /// listens to the events we handle and renders them in our API version.
    #[tracing::instrument(skip(self))]
    pub async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StripeError> {
        let pages = Pages {
            call: "GET /v1/webhook_endpoints",
            request: |after: Option<String>| {
                let req = ListWebhookEndpoint::new().limit(PAGE_SIZE);
                match after {
                    Some(after) => req.starting_after(after),
                    None => req,
                }
            },
            id: |e: &stripe_misc::WebhookEndpoint| e.id.to_string(),
        };
        self.inner
            .list_all(pages, None, |e| Ok(Some(map_webhook_endpoint(e))))
            .await
    }

    /// Creates a webhook endpoint that renders events in `api_version` (which cannot be changed
    /// later). Returns it with its signing secret (`whsec_…`), which Stripe shows only in this
    /// answer. Sent once without an idempotency key: after a lost answer the endpoint is found
    /// by listing, and its secret can be revealed in the Stripe dashboard.
    #[tracing::instrument(skip(self))]
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[&str],
        api_version: &str,
    ) -> Result<(WebhookEndpoint, Option<SecretString>), StripeError> {
        const CALL: &str = "POST /v1/webhook_endpoints";
        // Both parses are infallible: a value async-stripe does not list is sent as written, so
        // that Stripe's own validation names it.
        let events: Vec<CreateWebhookEndpointEnabledEvents> = events
            .iter()
            .map(|e| {
                let Ok(event) = e.parse();
                event
            })
            .collect();
        let Ok(version) = api_version.parse::<stripe_shared::ApiVersion>();
        let req = CreateWebhookEndpoint::new(events, url).api_version(version);
        let mut raw = self.inner.send(req, None, CALL).await?;
        let secret = raw.secret.take().map(SecretString::from);
        Ok((map_webhook_endpoint(raw), secret))
    }

    /// Enables or disables a webhook endpoint and sets the event types it listens to (the whole
    /// list, replacing the previous one).
    #[tracing::instrument(skip(self))]
    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        enabled: bool,
        events: &[&str],
    ) -> Result<WebhookEndpoint, StripeError> {
        check_id(id, "webhook_endpoint")?;
        let call = format!("POST /v1/webhook_endpoints/{id}");
        let events: Vec<UpdateWebhookEndpointEnabledEvents> = events
            .iter()
            .map(|e| {
                let Ok(event) = e.parse();
                event
            })
            .collect();
        let req = UpdateWebhookEndpoint::new(id).disabled(!enabled).enabled_events(events);
        let mut raw = self.inner.send(req, None, &call).await?;
        // Stripe returns the secret only at creation; should an answer ever carry it, it is
        // dropped here rather than kept in a type whose Debug output would show it.
        raw.secret = None;
        Ok(map_webhook_endpoint(raw))
    }

    #[tracing::instrument(skip(self))]
    pub async fn charge(&self, id: &str) -> Result<Charge, StripeError> {
        check_id(id, "charge")?;
        let call = format!("GET /v1/charges/{id}");
        let c = self.inner.send(RetrieveCharge::new(id), None, &call).await?;
        Ok(Charge {
            payment_intent: c.payment_intent.as_ref().map(expandable_id),
            amount: cents(c.amount, &call, "amount")?,
            amount_refunded: cents(c.amount_refunded, &call, "amount_refunded")?,
            refunded: c.refunded,
            currency: currency(&c.currency, &call)?,
            created: c.created,
            id: c.id.to_string(),
        })
    }

    /// Stripe's fee for a payment: its succeeded charge's balance transaction
    /// (`GET /v1/charges?payment_intent=…&expand[]=data.balance_transaction`). `None` while
    /// there is no succeeded charge or Stripe has not booked it yet.
    #[tracing::instrument(skip(self))]
    pub async fn payment_fee(&self, payment_intent: &str) -> Result<Option<Fee>, StripeError> {
        check_id(payment_intent, "payment_intent")?;
        let call = format!("GET /v1/charges?payment_intent={payment_intent}");
        let list = ListCharge::new()
            .payment_intent(payment_intent)
            .expand(vec!["data.balance_transaction".to_string()]);
        let page = self.inner.send(list, None, &call).await?;
        let charge = page
            .data
            .into_iter()
            .find(|c| c.status == stripe_shared::ChargeStatus::Succeeded);
        let Some(Expandable::Object(txn)) = charge.and_then(|c| c.balance_transaction) else {
            return Ok(None);
        };
        Ok(Some(Fee {
            amount: cents(txn.fee, &call, "balance_transaction.fee")?,
            currency: currency(&txn.currency, &call)?,
        }))
    }

    /// `GET /v1/disputes/{id}`, with the evidence staged or submitted so far.
    #[tracing::instrument(skip(self))]
    pub async fn dispute(&self, id: &str) -> Result<Dispute, StripeError> {
        check_id(id, "dispute")?;
        let call = format!("GET /v1/disputes/{id}");
        let d = self.inner.send(RetrieveDispute::new(id), None, &call).await?;
        map_dispute(d, &call)
    }

    /// Stages evidence on a dispute without submitting it: `POST /v1/disputes/{id}` with the
    /// given `evidence[...]` fields and `submit=false` (Stripe submits when `submit` is left out,
    /// so it is always sent). Fields left `None` keep what Stripe has. Stripe refuses this once
    /// the evidence was submitted or `due_by` has passed. Answers with the dispute as it now is.
    #[tracing::instrument(skip(self, evidence))]
    pub async fn draft_dispute_evidence(&self, id: &str, evidence: &Evidence) -> Result<Dispute, StripeError> {
        check_id(id, "dispute")?;
        let call = format!("POST /v1/disputes/{id} (draft)");
        let d = self.inner.send(build_draft_request(id, evidence), None, &call).await?;
        map_dispute(d, &call)
    }

    /// Submits the evidence staged on a dispute to the bank: `POST /v1/disputes/{id}` with
    /// `submit=true` and no evidence. Stripe takes one submission; the dispute is then
    /// `under_review` and a second submission is refused (400). Sent with the idempotency key
    /// `dispute-submit-{id}`, so a retry after a timeout gets the first answer rather than that
    /// refusal.
    #[tracing::instrument(skip(self))]
    pub async fn submit_dispute(&self, id: &str) -> Result<Dispute, StripeError> {
        check_id(id, "dispute")?;
        let call = format!("POST /v1/disputes/{id} (submit)");
        let key = IdempotencyKey::new(format!("dispute-submit-{id}"))
            .map_err(|e| StripeError::Transport(format!("{call}: {e}")))?;
        let req = UpdateDispute::new(id).submit(true);
        let d = self.inner.send(req, Some(key), &call).await?;
        map_dispute(d, &call)
    }

    /// Every dispute not yet decided ([`Dispute::is_open`]: waiting for a response or under
    /// review), newest first as Stripe lists them, from every page of `GET /v1/disputes`.
    /// Stripe's list has no status filter, so closed disputes are read and left out here.
    #[tracing::instrument(skip(self))]
    pub async fn open_disputes(&self) -> Result<Vec<Dispute>, StripeError> {
        const CALL: &str = "GET /v1/disputes";
        let pages = Pages {
            call: CALL,
            request: |after: Option<String>| {
                let req = ListDispute::new().limit(PAGE_SIZE);
                match after {
                    Some(after) => req.starting_after(after),
                    None => req,
                }
            },
            id: |d: &stripe_shared::Dispute| d.id.to_string(),
        };
        self.inner
            .list_all(pages, None, |d| {
                let dispute = map_dispute(d, CALL)?;
                Ok(dispute.is_open().then_some(dispute))
            })
            .await
    }
}

/// The idempotency key for an order's session: one order, one session.
pub fn idempotency_key(order_id: OrderId) -> String {
    format!("checkout-session-{order_id}")
}

/// async-stripe joins the base and the path as `{base}v1{path}`, so the base must end in `/`.
fn normalise_api_base(base: &str) -> Result<String, StripeError> {
    let trimmed = base.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(StripeError::Transport(format!(
            "STRIPE_API_BASE {base:?} is not an http(s) URL (expected for example http://127.0.0.1:3000/sim/stripe)"
        )));
    }
    if trimmed.ends_with("/v1") {
        return Err(StripeError::Transport(format!(
            "STRIPE_API_BASE {base:?} must not end in /v1: the client adds it"
        )));
    }
    Ok(format!("{trimmed}/"))
}

/// Ids go into URL paths; anything but Stripe's id alphabet is refused before sending, as
/// Stripe itself would answer that no such object exists.
fn check_id(id: &str, object: &str) -> Result<(), StripeError> {
    let ok = !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        return Ok(());
    }
    Err(StripeError::Api {
        status: 404,
        code: Some("resource_missing".into()),
        message: format!("No such {object}: {id:?} (not a Stripe id, so it was not sent)"),
    })
}

fn build_create_request(req: &CheckoutRequest) -> CreateCheckoutSession {
    let order_id = req.order_id.to_string();
    let metadata = HashMap::from([("order_id".to_string(), order_id.clone())]);
    let line_items: Vec<CreateCheckoutSessionLineItems> = req
        .lines
        .iter()
        .map(|line| {
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(stripe_currency(line.currency));
            price.unit_amount = Some(line.unit_amount.get());
            price.product_data = Some(ProductData::new(line.name.clone()));
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(u64::from(line.quantity));
            item
        })
        .collect();
    let mut payment_intent = CreateCheckoutSessionPaymentIntentData::new();
    payment_intent.metadata = Some(metadata.clone());

    let mut create = CreateCheckoutSession::new()
        .mode(stripe_shared::CheckoutSessionMode::Payment)
        .line_items(line_items)
        .client_reference_id(order_id)
        .metadata(metadata)
        .payment_intent_data(payment_intent)
        .success_url(req.success_url.clone())
        .cancel_url(req.cancel_url.clone())
        .expires_at(req.expires_at);
    if let Some(email) = &req.customer_email {
        create = create.customer_email(email.as_str());
    }
    if !req.shipping_countries.is_empty() {
        let countries: Vec<CreateCheckoutSessionShippingAddressCollectionAllowedCountries> = req
            .shipping_countries
            .iter()
            .map(|c| {
                // FromStr here is infallible: an unknown code becomes `Unknown(code)` and is sent
                // as written, so Stripe's own validation names it.
                let Ok(country) = c.trim().to_ascii_uppercase().parse();
                country
            })
            .collect();
        create = create.shipping_address_collection(CreateCheckoutSessionShippingAddressCollection::new(countries));
    }
    let mut options: Vec<CreateCheckoutSessionShippingOptions> = req
        .shipping_rate_ids
        .iter()
        .map(|rate| {
            let mut option = CreateCheckoutSessionShippingOptions::new();
            option.shipping_rate = Some(rate.clone());
            option
        })
        .collect();
    options.extend(req.shipping_options.iter().map(|o| {
        let mut data = CreateCheckoutSessionShippingOptionsShippingRateData::new(o.display_name.clone());
        data.type_ = Some(CreateCheckoutSessionShippingOptionsShippingRateDataType::FixedAmount);
        data.fixed_amount = Some(CreateCheckoutSessionShippingOptionsShippingRateDataFixedAmount::new(
            o.amount.amount.get(),
            stripe_currency(o.amount.currency),
        ));
        if let Some((min, max)) = o.delivery_days {
            data.delivery_estimate = Some(CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimate {
                minimum: Some(
                    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimum::new(
                        CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimumUnit::BusinessDay,
                        i64::from(min),
                    ),
                ),
                maximum: Some(
                    CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximum::new(
                        CreateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximumUnit::BusinessDay,
                        i64::from(max),
                    ),
                ),
            });
        }
        let mut option = CreateCheckoutSessionShippingOptions::new();
        option.shipping_rate_data = Some(data);
        option
    }));
    if !options.is_empty() {
        create = create.shipping_options(options);
    }
    if req.automatic_tax {
        create = create.automatic_tax(CreateCheckoutSessionAutomaticTax::new(true));
    }
    if req.allow_promotion_codes {
        create = create.allow_promotion_codes(true);
    }
    create
}

fn stripe_currency(currency: Currency) -> stripe_types::Currency {
    // Infallible: a code async-stripe does not list becomes `Unknown(code)`, sent as written.
    let Ok(c) = currency.stripe_code().parse();
    c
}

fn map_session(raw: stripe_shared::CheckoutSession) -> Result<CheckoutSession, StripeError> {
    let id = raw.id.to_string();
    let call = format!("checkout session {id}");
    let status = match raw.status {
        Some(stripe_shared::CheckoutSessionStatus::Open) => SessionStatus::Open,
        Some(stripe_shared::CheckoutSessionStatus::Complete) => SessionStatus::Complete,
        Some(stripe_shared::CheckoutSessionStatus::Expired) => SessionStatus::Expired,
        other => return Err(StripeError::Parse(format!("{call}: unknown status {other:?}"))),
    };
    let payment_status = match raw.payment_status {
        stripe_shared::CheckoutSessionPaymentStatus::Paid => PaymentStatus::Paid,
        stripe_shared::CheckoutSessionPaymentStatus::Unpaid => PaymentStatus::Unpaid,
        stripe_shared::CheckoutSessionPaymentStatus::NoPaymentRequired => PaymentStatus::NoPaymentRequired,
        other => return Err(StripeError::Parse(format!("{call}: unknown payment_status {other:?}"))),
    };
    let order_id = raw
        .client_reference_id
        .as_deref()
        .and_then(|r| OrderId::parse(r).ok())
        .or_else(|| {
            raw.metadata
                .as_ref()
                .and_then(|m| m.get("order_id"))
                .and_then(|r| OrderId::parse(r).ok())
        });
    let customer_email = raw
        .customer_details
        .as_ref()
        .and_then(|d| d.email.clone())
        .or_else(|| raw.customer_email.clone());
    let shipping = raw
        .collected_information
        .and_then(|c| c.shipping_details)
        .map(shipping_address);
    let amount_total = raw.amount_total.map(|a| cents(a, &call, "amount_total")).transpose()?;
    // What was charged, part by part: present once Stripe has computed the totals.
    let charged = match (raw.amount_subtotal, amount_total, raw.total_details.as_ref()) {
        (Some(subtotal), Some(total), details) => Some(backroom_core::order::Charged {
            subtotal: cents(subtotal, &call, "amount_subtotal")?,
            discount: cents(
                details.map_or(0, |d| d.amount_discount),
                &call,
                "total_details.amount_discount",
            )?,
            shipping: cents(
                details.and_then(|d| d.amount_shipping).unwrap_or(0),
                &call,
                "total_details.amount_shipping",
            )?,
            tax: cents(details.map_or(0, |d| d.amount_tax), &call, "total_details.amount_tax")?,
            total,
        }),
        _ => None,
    };
    Ok(CheckoutSession {
        order_id,
        status,
        payment_status,
        amount_total,
        charged,
        currency: raw.currency.as_ref().map(|c| currency(c, &call)).transpose()?,
        customer_email,
        shipping,
        payment_intent: raw.payment_intent.as_ref().map(expandable_id),
        created: raw.created,
        expires_at: raw.expires_at,
        livemode: raw.livemode,
        line_items: Vec::new(),
        id,
    })
}

/// The shop's shipping address from Stripe's `collected_information.shipping_details`: parts
/// Stripe left out become empty strings, an empty second line or state `None`. Nothing is
/// refused here; Printful judges whether it can ship there.
fn shipping_address(s: stripe_shared::PaymentPagesCheckoutSessionCheckoutAddressDetails) -> ShippingAddress {
    ShippingAddress {
        name: s.name,
        line1: s.address.line1.unwrap_or_default(),
        line2: s.address.line2.filter(|l| !l.is_empty()),
        city: s.address.city.unwrap_or_default(),
        state: s.address.state.filter(|l| !l.is_empty()),
        postal_code: s.address.postal_code.unwrap_or_default(),
        country: s.address.country.unwrap_or_default(),
    }
}

fn map_line_item(item: stripe_shared::CheckoutSessionItem, session_id: &str) -> Result<SessionLineItem, StripeError> {
    let call = format!("line item {} of checkout session {session_id}", item.id);
    let quantity = item
        .quantity
        .ok_or_else(|| StripeError::Parse(format!("{call}: no quantity")))?;
    Ok(SessionLineItem {
        description: item.description.unwrap_or_default(),
        quantity,
        amount_total: cents(item.amount_total, &call, "amount_total")?,
        currency: currency(&item.currency, &call)?,
    })
}

fn map_event(event: stripe_shared::Event) -> Result<EventSummary, StripeError> {
    let id = event.id.to_string();
    let object_id = match &event.data.object {
        miniserde::json::Value::Object(object) => match object.get("id") {
            Some(miniserde::json::Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| StripeError::Parse(format!("event {id}: data.object has no id")))?;
    Ok(EventSummary {
        event_type: event.type_.as_str().to_string(),
        created: event.created,
        livemode: event.livemode,
        object_id,
        id,
    })
}

fn map_webhook_endpoint(e: stripe_misc::WebhookEndpoint) -> WebhookEndpoint {
    WebhookEndpoint {
        id: e.id.to_string(),
        enabled: e.status == "enabled",
        url: e.url,
        enabled_events: e.enabled_events,
        api_version: e.api_version,
    }
}

fn map_dispute(d: stripe_shared::Dispute, call: &str) -> Result<Dispute, StripeError> {
    let e = &d.evidence;
    let file = |f: &Option<Expandable<stripe_shared::File>>| f.as_ref().map(expandable_id);
    let evidence = Evidence {
        access_activity_log: e.access_activity_log.clone(),
        billing_address: e.billing_address.clone(),
        cancellation_policy: file(&e.cancellation_policy),
        cancellation_policy_disclosure: e.cancellation_policy_disclosure.clone(),
        cancellation_rebuttal: e.cancellation_rebuttal.clone(),
        customer_communication: file(&e.customer_communication),
        customer_email_address: e.customer_email_address.clone(),
        customer_name: e.customer_name.clone(),
        customer_purchase_ip: e.customer_purchase_ip.clone(),
        customer_signature: file(&e.customer_signature),
        duplicate_charge_documentation: file(&e.duplicate_charge_documentation),
        duplicate_charge_explanation: e.duplicate_charge_explanation.clone(),
        duplicate_charge_id: e.duplicate_charge_id.clone(),
        product_description: e.product_description.clone(),
        receipt: file(&e.receipt),
        refund_policy: file(&e.refund_policy),
        refund_policy_disclosure: e.refund_policy_disclosure.clone(),
        refund_refusal_explanation: e.refund_refusal_explanation.clone(),
        service_date: e.service_date.clone(),
        service_documentation: file(&e.service_documentation),
        shipping_address: e.shipping_address.clone(),
        shipping_carrier: e.shipping_carrier.clone(),
        shipping_date: e.shipping_date.clone(),
        shipping_documentation: file(&e.shipping_documentation),
        shipping_tracking_number: e.shipping_tracking_number.clone(),
        uncategorized_file: file(&e.uncategorized_file),
        uncategorized_text: e.uncategorized_text.clone(),
    };
    Ok(Dispute {
        charge: expandable_id(&d.charge),
        payment_intent: d.payment_intent.as_ref().map(expandable_id),
        amount: cents(d.amount, call, "amount")?,
        currency: currency(&d.currency, call)?,
        reason: d.reason,
        status: d.status.as_str().to_string(),
        created: d.created,
        evidence,
        due_by: d.evidence_details.due_by,
        submission_count: d.evidence_details.submission_count,
        has_evidence: d.evidence_details.has_evidence,
        past_due: d.evidence_details.past_due,
        id: d.id.to_string(),
    })
}

/// A draft: the evidence and `submit=false`, always, since Stripe submits when it is left out.
fn build_draft_request(id: &str, evidence: &Evidence) -> UpdateDispute {
    UpdateDispute::new(id).evidence(update_evidence(evidence)).submit(false)
}

/// The `evidence[...]` parameters: every field that is set, as given.
fn update_evidence(e: &Evidence) -> UpdateDisputeEvidence {
    let mut u = UpdateDisputeEvidence::new();
    u.access_activity_log = e.access_activity_log.clone();
    u.billing_address = e.billing_address.clone();
    u.cancellation_policy = e.cancellation_policy.clone();
    u.cancellation_policy_disclosure = e.cancellation_policy_disclosure.clone();
    u.cancellation_rebuttal = e.cancellation_rebuttal.clone();
    u.customer_communication = e.customer_communication.clone();
    u.customer_email_address = e.customer_email_address.clone();
    u.customer_name = e.customer_name.clone();
    u.customer_purchase_ip = e.customer_purchase_ip.clone();
    u.customer_signature = e.customer_signature.clone();
    u.duplicate_charge_documentation = e.duplicate_charge_documentation.clone();
    u.duplicate_charge_explanation = e.duplicate_charge_explanation.clone();
    u.duplicate_charge_id = e.duplicate_charge_id.clone();
    u.product_description = e.product_description.clone();
    u.receipt = e.receipt.clone();
    u.refund_policy = e.refund_policy.clone();
    u.refund_policy_disclosure = e.refund_policy_disclosure.clone();
    u.refund_refusal_explanation = e.refund_refusal_explanation.clone();
    u.service_date = e.service_date.clone();
    u.service_documentation = e.service_documentation.clone();
    u.shipping_address = e.shipping_address.clone();
    u.shipping_carrier = e.shipping_carrier.clone();
    u.shipping_date = e.shipping_date.clone();
    u.shipping_documentation = e.shipping_documentation.clone();
    u.shipping_tracking_number = e.shipping_tracking_number.clone();
    u.uncategorized_file = e.uncategorized_file.clone();
    u.uncategorized_text = e.uncategorized_text.clone();
    u
}

fn expandable_id<T: stripe_types::Object>(e: &Expandable<T>) -> String
where
    T::Id: std::fmt::Display,
{
    e.id().to_string()
}

fn cents(amount: i64, call: &str, field: &str) -> Result<Cents, StripeError> {
    Cents::new(amount).map_err(|e| StripeError::Parse(format!("{call}: {field} {amount}: {e}")))
}

fn currency(c: &stripe_types::Currency, call: &str) -> Result<Currency, StripeError> {
    let code = c.to_string();
    Currency::parse(&code).map_err(|e| StripeError::Parse(format!("{call}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CheckoutLine;

    #[test]
    fn the_api_base_gets_exactly_one_trailing_slash() {
        assert_eq!(
            normalise_api_base("http://127.0.0.1:4242/sim/stripe").unwrap(),
            "http://127.0.0.1:4242/sim/stripe/"
        );
        assert_eq!(
            normalise_api_base("https://api.stripe.com/").unwrap(),
            "https://api.stripe.com/"
        );
        assert!(normalise_api_base("http://127.0.0.1:4242/sim/stripe/v1").is_err());
        assert!(normalise_api_base("127.0.0.1:4242").is_err());
    }

    #[test]
    fn ids_that_could_change_the_url_are_refused_before_sending() {
        assert!(check_id("cs_test_a1B2c3", "checkout.session").is_ok());
        for bad in ["", "cs_1/../../v1/charges", "cs_1?expand[]=x", "cs 1", "cs_1#"] {
            let err = check_id(bad, "checkout.session").unwrap_err();
            assert!(err.is_not_found(), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_mode_follows_the_key() {
        let client = |key: &str| {
            StripeClient::new(StripeSettings {
                secret_key: SecretString::from(key.to_string()),
                api_base: None,
                timeout: Duration::from_secs(5),
            })
        };
        assert!(!client("sk_test_abc").unwrap().livemode());
        assert!(client("sk_live_abc").unwrap().livemode());
        assert!(client("rk_live_abc").unwrap().livemode());
        assert!(client("pk_test_abc").is_err(), "a publishable key cannot call the API");
    }

    #[test]
    fn the_create_request_carries_the_order_id_three_times_and_every_parameter() {
        let order_id = OrderId::parse("7d4f5a0e-3b7a-4c1e-9f53-2f0b1d6a9c11").unwrap();
        let eur = Currency::parse("eur").unwrap();
        let req = CheckoutRequest {
            order_id,
            lines: vec![
                CheckoutLine {
                    name: "Mug".into(),
                    unit_amount: Cents::new(1250).unwrap(),
                    currency: eur,
                    quantity: 2,
                },
                CheckoutLine {
                    name: "Tee & Co".into(),
                    unit_amount: Cents::new(2000).unwrap(),
                    currency: eur,
                    quantity: 1,
                },
            ],
            customer_email: Some(backroom_core::Email::parse("ann@example.com").unwrap()),
            success_url: "https://shop.example/ok?s={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://shop.example/cart".into(),
            shipping_countries: vec!["de".into(), "FR".into()],
            shipping_rate_ids: vec!["shr_1".into()],
            shipping_options: vec![backroom_core::ShippingOption {
                display_name: "Shipping (EU)".into(),
                amount: backroom_core::Money::new(Cents::new(490).unwrap(), eur),
                delivery_days: Some((3, 7)),
            }],
            automatic_tax: true,
            allow_promotion_codes: true,
            expires_at: 1_900_000_000,
        };
        let body = build_create_request(&req).build().body.unwrap();
        let pairs: Vec<(String, String)> = form_pairs(&body);
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let id = order_id.to_string();
        assert_eq!(get("mode"), Some("payment"));
        assert_eq!(get("client_reference_id"), Some(id.as_str()));
        assert_eq!(get("metadata[order_id]"), Some(id.as_str()));
        assert_eq!(get("payment_intent_data[metadata][order_id]"), Some(id.as_str()));
        assert_eq!(get("line_items[0][price_data][currency]"), Some("eur"));
        assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("1250"));
        assert_eq!(get("line_items[0][price_data][product_data][name]"), Some("Mug"));
        assert_eq!(get("line_items[0][quantity]"), Some("2"));
        assert_eq!(get("line_items[1][price_data][product_data][name]"), Some("Tee & Co"));
        assert_eq!(get("customer_email"), Some("ann@example.com"));
        assert_eq!(get("shipping_address_collection[allowed_countries][0]"), Some("DE"));
        assert_eq!(get("shipping_address_collection[allowed_countries][1]"), Some("FR"));
        assert_eq!(get("shipping_options[0][shipping_rate]"), Some("shr_1"));
        let rate = |k: &str| get(&format!("shipping_options[1][shipping_rate_data]{k}"));
        assert_eq!(rate("[display_name]"), Some("Shipping (EU)"));
        assert_eq!(rate("[type]"), Some("fixed_amount"));
        assert_eq!(rate("[fixed_amount][amount]"), Some("490"));
        assert_eq!(rate("[fixed_amount][currency]"), Some("eur"));
        assert_eq!(rate("[delivery_estimate][minimum][unit]"), Some("business_day"));
        assert_eq!(rate("[delivery_estimate][minimum][value]"), Some("3"));
        assert_eq!(rate("[delivery_estimate][maximum][value]"), Some("7"));
        assert_eq!(get("automatic_tax[enabled]"), Some("true"));
        assert_eq!(get("allow_promotion_codes"), Some("true"));
        assert_eq!(
            get("success_url"),
            Some("https://shop.example/ok?s={CHECKOUT_SESSION_ID}")
        );
        assert_eq!(get("cancel_url"), Some("https://shop.example/cart"));
        assert_eq!(get("expires_at"), Some("1900000000"));
        assert_eq!(idempotency_key(order_id), format!("checkout-session-{id}"));
    }

    #[test]
    fn webhook_endpoint_requests_carry_the_url_the_events_and_the_version() {
        let Ok(version) = crate::API_VERSION.parse::<stripe_shared::ApiVersion>();
        let events: Vec<CreateWebhookEndpointEnabledEvents> = backroom_core::StripeEventKind::NAMES
            .iter()
            .map(|e| {
                let Ok(event) = e.parse();
                event
            })
            .collect();
        let create = CreateWebhookEndpoint::new(events, "https://api.example/webhooks/stripe").api_version(version);
        let pairs = form_pairs(&create.build().body.unwrap());
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("url"), Some("https://api.example/webhooks/stripe"));
        assert_eq!(get("api_version"), Some(crate::API_VERSION));
        for (i, event) in backroom_core::StripeEventKind::NAMES.iter().enumerate() {
            assert_eq!(get(&format!("enabled_events[{i}]")), Some(*event));
        }
        let update = UpdateWebhookEndpoint::new("we_1")
            .disabled(false)
            .enabled_events(vec![UpdateWebhookEndpointEnabledEvents::ChargeRefunded]);
        let pairs = form_pairs(&update.build().body.unwrap());
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("disabled"), Some("false"));
        assert_eq!(get("enabled_events[0]"), Some("charge.refunded"));
    }

    #[test]
    fn a_draft_says_submit_false_and_sends_only_the_fields_set() {
        let evidence = Evidence {
            shipping_carrier: Some("USPS".into()),
            shipping_tracking_number: Some("9400 1".into()),
            customer_name: Some(String::new()),
            ..Evidence::default()
        };
        let pairs = form_pairs(&build_draft_request("dp_1", &evidence).build().body.unwrap());
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("submit"), Some("false"));
        assert_eq!(get("evidence[shipping_carrier]"), Some("USPS"));
        assert_eq!(get("evidence[shipping_tracking_number]"), Some("9400 1"));
        // An empty field is sent, so that it clears what Stripe has.
        assert_eq!(get("evidence[customer_name]"), Some(""));
        assert_eq!(pairs.len(), 4, "{pairs:?}");
        // The customer's details stay out of Debug output.
        let shown = format!("{evidence:?}");
        assert!(shown.contains("shipping_carrier") && !shown.contains("USPS"), "{shown}");
    }

    fn form_pairs(body: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(body.as_bytes()).into_owned().collect()
    }
}
