//! The Stripe simulator, driven the way backroom drives Stripe: through backroom-stripe's
//! `StripeClient` (so every payload is read by async-stripe's types) and with webhooks checked
//! by backroom-stripe's `WebhookVerifier`. Raw HTTP covers what the client never sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use backroom_core::{Cents, Currency, Email, OrderId};
use backroom_sim::stripe::{CouponOff, PayChoices, PromotionCodeSpec, ShippingRateSpec};
use backroom_sim::{SimError, StripeSim, StripeSimConfig};
use backroom_stripe::webhook::{Envelope, WebhookError, WebhookVerifier};
use backroom_stripe::{
    API_VERSION, CheckoutLine, CheckoutRequest, PaymentStatus, SessionStatus, StripeClient, StripeError, StripeSettings,
};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const SECRET: &str = "whsec_sim_tests";

// ---------------------------------------------------------------------------------------------
// Helpers

fn config() -> StripeSimConfig {
    StripeSimConfig {
        webhook_secret: SECRET.into(),
        retry_backoff: Duration::from_millis(10),
        // The rate `request` offers; free, so that totals are the items'.
        shipping_rates: vec![ShippingRateSpec {
            id: "shr_standard".into(),
            display_name: "Standard".into(),
            amount: 0,
            currency: "eur".into(),
            minimum: None,
            maximum: None,
        }],
        ..StripeSimConfig::default()
    }
}

async fn start(config: StripeSimConfig) -> (StripeSim, String, StripeClient) {
    let (sim, api_base) = StripeSim::serve_loopback(config).await;
    let client = StripeClient::new(StripeSettings {
        secret_key: SecretString::from(sim.api_key_hint().to_string()),
        api_base: Some(api_base.clone()),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    (sim, api_base, client)
}

fn eur() -> Currency {
    Currency::parse("eur").unwrap()
}

fn line(name: &str, cents: i64, quantity: u32) -> CheckoutLine {
    CheckoutLine {
        name: name.into(),
        unit_amount: Cents::new(cents).unwrap(),
        currency: eur(),
        quantity,
    }
}

fn request(sim: &StripeSim, order_id: OrderId, lines: Vec<CheckoutLine>) -> CheckoutRequest {
    CheckoutRequest {
        order_id,
        lines,
        customer_email: Some(Email::parse("ann@example.com").unwrap()),
        success_url: "http://shop.test/thanks?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "http://shop.test/cart".into(),
        shipping_countries: vec!["DE".into(), "FR".into()],
        shipping_rate_ids: vec!["shr_standard".into()],
        shipping_options: vec![],
        automatic_tax: false,
        allow_promotion_codes: false,
        expires_at: sim.now() + 3600,
    }
}

/// Creates a session for a fresh order and returns its id and the order id.
async fn new_session(sim: &StripeSim, client: &StripeClient) -> (String, OrderId) {
    let order_id = OrderId::new_random();
    let created = client
        .create_checkout_session(&request(
            sim,
            order_id,
            vec![line("Mug", 1250, 2), line("Tee & Co", 2000, 1)],
        ))
        .await
        .unwrap();
    (created.id, order_id)
}

fn events_of(sim: &StripeSim, event_type: &str) -> Vec<Value> {
    sim.events().into_iter().filter(|e| e["type"] == event_type).collect()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A webhook endpoint in the test: verifies every request with backroom's verifier and answers
/// with the scripted statuses in order, then 200.
struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<Received>,
}

#[derive(Debug)]
struct Received {
    verified: Result<Envelope, WebhookError>,
    answered: u16,
    body: Value,
}

#[derive(Clone)]
struct ReceiverState {
    verifier: Arc<WebhookVerifier>,
    script: Arc<Vec<u16>>,
    count: Arc<AtomicUsize>,
    tx: mpsc::UnboundedSender<Received>,
}

async fn receiver(script: Vec<u16>) -> Receiver {
    async fn hook(State(st): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let n = st.count.fetch_add(1, Ordering::SeqCst);
        let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
        let verified = st.verifier.verify(&body, signature, now());
        let answered = if verified.is_err() {
            400
        } else {
            st.script.get(n).copied().unwrap_or(200)
        };
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let _ = st.tx.send(Received {
            verified,
            answered,
            body,
        });
        StatusCode::from_u16(answered).unwrap()
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let state = ReceiverState {
        verifier: Arc::new(WebhookVerifier::new(
            vec![SecretString::from(SECRET.to_string())],
            false,
        )),
        script: Arc::new(script),
        count: Arc::new(AtomicUsize::new(0)),
        tx,
    };
    let app = Router::new().route("/webhooks/stripe", post(hook)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, rx }
}

impl Receiver {
    /// The next webhook; a bounded wait so that a missing webhook fails the test instead of
    /// hanging it.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
            .await
            .expect("no webhook arrived within 30 s")
            .expect("the receiver stopped")
    }

    /// Everything received so far, without waiting.
    fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }
}

struct Http {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A raw request, for what the client never sends (auth failures, control routes, pages).
async fn http(method: &str, url: impl Into<String>, auth: Option<&str>, form: Option<&str>) -> Http {
    let url: String = url.into();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = hyper::Request::builder().method(method).uri(&url);
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    if form.is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = builder
        .body(Full::new(Bytes::from(form.unwrap_or("").to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Http { status, headers, body }
}

const BEARER: &str = "Bearer sk_test_sim";

// ---------------------------------------------------------------------------------------------
// Creating and reading sessions

#[tokio::test]
async fn a_session_created_through_the_client_reads_back_with_every_field() {
    let (sim, api_base, client) = start(config()).await;
    let order_id = OrderId::new_random();
    let req = request(&sim, order_id, vec![line("Mug", 1250, 2), line("Tee & Co", 2000, 1)]);
    let created = client.create_checkout_session(&req).await.unwrap();

    assert!(created.id.starts_with("cs_test_"), "{}", created.id);
    assert_eq!(created.url, format!("{}/checkout/{}", api_base, created.id));
    assert_eq!(created.expires_at, req.expires_at);

    let session = client.checkout_session(&created.id).await.unwrap();
    assert_eq!(session.id, created.id);
    assert_eq!(session.order_id, Some(order_id));
    assert_eq!(session.status, SessionStatus::Open);
    assert_eq!(session.payment_status, PaymentStatus::Unpaid);
    assert_eq!(session.amount_total, Some(Cents::new(4500).unwrap()));
    assert_eq!(session.currency, Some(eur()));
    assert_eq!(session.customer_email.as_deref(), Some("ann@example.com"));
    assert_eq!(session.shipping, None);
    assert_eq!(session.payment_intent, None);
    assert!(!session.livemode);
    let lines: Vec<(&str, u64, i64)> = session
        .line_items
        .iter()
        .map(|l| (l.description.as_str(), l.quantity, l.amount_total.get()))
        .collect();
    assert_eq!(lines, vec![("Mug", 2, 2500), ("Tee & Co", 1, 2000)]);

    // The simulator saw what Stripe would see: the pinned version and the order's key.
    let create = sim.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.path, "/v1/checkout/sessions");
    assert_eq!(create.idempotency_key, Some(format!("checkout-session-{order_id}")));
    assert_eq!(create.stripe_version.as_deref(), Some(API_VERSION));
    // The order id is stored three times, as Stripe would store it.
    let raw = sim.session(&created.id).unwrap();
    assert_eq!(raw["client_reference_id"], order_id.to_string());
    assert_eq!(raw["metadata"]["order_id"], order_id.to_string());
    assert_eq!(
        raw["shipping_address_collection"]["allowed_countries"],
        json!(["DE", "FR"])
    );
    assert_eq!(raw["shipping_options"][0]["shipping_rate"], "shr_standard");
}

#[tokio::test]
async fn line_items_beyond_the_expanded_page_are_read_from_the_line_items_endpoint() {
    let (sim, _, client) = start(config()).await;
    let lines: Vec<CheckoutLine> = (1..=12).map(|i| line(&format!("Print {i}"), 100 * i, 1)).collect();
    let created = client
        .create_checkout_session(&request(&sim, OrderId::new_random(), lines))
        .await
        .unwrap();

    let session = client.checkout_session(&created.id).await.unwrap();
    let names: Vec<String> = session.line_items.iter().map(|l| l.description.clone()).collect();
    assert_eq!(names, (1..=12).map(|i| format!("Print {i}")).collect::<Vec<_>>());
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == format!("/v1/checkout/sessions/{}/line_items", created.id)),
        "the client must page the rest from /line_items"
    );
}

#[tokio::test]
async fn the_same_order_replays_the_same_session_and_other_lines_are_an_idempotency_error() {
    let (sim, api_base, client) = start(config()).await;
    let order_id = OrderId::new_random();
    let req = request(&sim, order_id, vec![line("Mug", 1250, 1)]);
    let first = client.create_checkout_session(&req).await.unwrap();
    let again = client.create_checkout_session(&req).await.unwrap();
    assert_eq!(first, again);

    let other = request(&sim, order_id, vec![line("Mug", 1250, 2)]);
    let err = client.create_checkout_session(&other).await.unwrap_err();
    match &err {
        StripeError::Api {
            status: 400,
            code: Some(code),
            message,
        } => {
            assert_eq!(code, "idempotency_error");
            assert!(message.contains(&format!("checkout-session-{order_id}")), "{message}");
        }
        other => panic!("expected an idempotency error, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(client.list_checkout_sessions(None, None).await.unwrap().len(), 1);

    // A replay says so, as Stripe does.
    let body = "mode=payment&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=5\
        &line_items[0][price_data][product_data][name]=X&line_items[0][quantity]=1";
    let post = |key: &'static str| {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let request = hyper::Request::post(format!("{api_base}/v1/checkout/sessions"))
            .header("authorization", BEARER)
            .header("idempotency-key", key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        async move { client.request(request).await.unwrap() }
    };
    let one = post("raw-key-1").await;
    assert_eq!(one.status(), 200);
    assert!(one.headers().get("idempotent-replayed").is_none());
    let two = post("raw-key-1").await;
    assert_eq!(two.headers().get("idempotent-replayed").unwrap(), "true");
}

// ---------------------------------------------------------------------------------------------
// Paying and webhooks

#[tokio::test]
async fn paying_delivers_a_signed_webhook_and_the_client_reads_the_paid_session() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let (id, order_id) = new_session(&sim, &client).await;

    sim.pay(&id, true).await.unwrap();
    let got = hook.next().await;
    let envelope = got.verified.expect("the verifier accepts the simulator's signature");
    assert_eq!(envelope.event_type, "checkout.session.completed");
    assert_eq!(envelope.object_id, id);
    assert_eq!(envelope.api_version.as_deref(), Some(API_VERSION));
    assert_eq!(got.body["object"], "event");
    assert_eq!(got.body["data"]["object"]["payment_status"], "paid");
    assert_eq!(got.body["pending_webhooks"], 1);
    assert!(
        got.body["data"]["object"].get("line_items").is_none(),
        "webhooks carry no line items"
    );

    let session = client.checkout_session(&id).await.unwrap();
    assert_eq!(session.order_id, Some(order_id));
    assert_eq!(
        (session.status, session.payment_status),
        (SessionStatus::Complete, PaymentStatus::Paid)
    );
    assert_eq!(session.customer_email.as_deref(), Some("ann@example.com"));
    let shipping = session.shipping.expect("a session that ships has an address");
    assert_eq!(
        (shipping.name.as_str(), shipping.country.as_str()),
        ("Ada Lovelace", "DE")
    );
    assert!(!shipping.line1.is_empty() && !shipping.city.is_empty() && !shipping.postal_code.is_empty());
    let payment_intent = session.payment_intent.expect("a paid session has a payment intent");
    assert_eq!(session.line_items.len(), 2);

    let listed = client.list_events(&["checkout.session.completed"], None).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec![envelope.id.as_str()]
    );
    assert_eq!(listed[0].object_id, id);

    let charge_id = events_of(&sim, "charge.succeeded")[0]["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let charge = client.charge(&charge_id).await.unwrap();
    assert_eq!(charge.payment_intent.as_deref(), Some(payment_intent.as_str()));
    assert_eq!(
        (charge.amount.get(), charge.amount_refunded.get(), charge.refunded),
        (4500, 0, false)
    );
    assert_eq!(charge.currency, eur());

    sim.settle().await;
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 1, "only handled types are sent: {deliveries:?}");
    assert_eq!((deliveries[0].status, deliveries[0].attempt), (Some(200), 1));
    let stored = sim
        .events()
        .into_iter()
        .find(|e| e["id"] == envelope.id.as_str())
        .unwrap();
    assert_eq!(
        stored["pending_webhooks"], 0,
        "a delivered event has no pending webhooks"
    );
}

#[tokio::test]
async fn a_lost_webhook_is_listed_but_never_sent() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let (lost, _) = new_session(&sim, &client).await;
    let (sent, _) = new_session(&sim, &client).await;

    sim.pay(&lost, false).await.unwrap();
    sim.pay(&sent, true).await.unwrap();
    sim.settle().await;

    // The receiver works: the other session's webhook arrived, and it is the only one.
    let received = hook.drain();
    let objects: Vec<&str> = received
        .iter()
        .map(|r| r.verified.as_ref().unwrap().object_id.as_str())
        .collect();
    assert_eq!(objects, vec![sent.as_str()]);
    let listed = client.list_events(&["checkout.session.completed"], None).await.unwrap();
    let listed_objects: Vec<&str> = listed.iter().map(|e| e.object_id.as_str()).collect();
    assert_eq!(
        listed_objects,
        vec![lost.as_str(), sent.as_str()],
        "both are listed, oldest first"
    );
    let lost_event = &listed[0].id;
    assert!(sim.deliveries().iter().all(|d| &d.event_id != lost_event));
    assert_eq!(events_of(&sim, "checkout.session.completed")[0]["pending_webhooks"], 0);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_until_it_answers_and_given_up_after_the_last_attempt() {
    let mut hook = receiver(vec![500, 502]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;
    sim.pay(&id, true).await.unwrap();
    sim.settle().await;

    let answers: Vec<u16> = hook.drain().iter().map(|r| r.answered).collect();
    assert_eq!(answers, vec![500, 502, 200]);
    let attempts: Vec<(u32, Option<u16>)> = sim.deliveries().iter().map(|d| (d.attempt, d.status)).collect();
    assert_eq!(attempts, vec![(1, Some(500)), (2, Some(502)), (3, Some(200))]);

    // An endpoint that never recovers gets exactly max_delivery_attempts tries.
    let mut down = receiver(vec![503; 10]).await;
    let (sim, api_base, client) = start(StripeSimConfig {
        webhook_url: Some(down.url.clone()),
        max_delivery_attempts: 3,
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;
    sim.pay(&id, true).await.unwrap();
    sim.settle().await;
    assert_eq!(down.drain().len(), 3);
    assert!(sim.deliveries().iter().all(|d| d.status == Some(503)));
    // Stripe's delivery_success=false finds it.
    let failed = http(
        "GET",
        &format!("{api_base}/v1/events?delivery_success=false"),
        Some(BEARER),
        None,
    )
    .await
    .json();
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    assert_eq!(failed["data"][0]["data"]["object"]["id"], id.as_str());

    // A refused connection is retried too, and recorded without a status.
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some("http://127.0.0.1:9/unreachable".into()),
        max_delivery_attempts: 2,
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;
    sim.pay(&id, true).await.unwrap();
    sim.settle().await;
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries.iter().all(|d| d.status.is_none() && d.error.is_some()),
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn duplicates_arrive_as_extra_copies_of_the_same_event() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        duplicate_deliveries: 2,
        delivery_delay: Duration::from_millis(5),
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;
    sim.pay(&id, true).await.unwrap();
    sim.settle().await;

    let received = hook.drain();
    assert_eq!(received.len(), 3);
    let ids: Vec<String> = received
        .iter()
        .map(|r| r.verified.as_ref().unwrap().id.clone())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let mut copies: Vec<u32> = sim.deliveries().iter().map(|d| d.copy).collect();
    copies.sort();
    assert_eq!(copies, vec![0, 1, 2]);
}

#[tokio::test]
async fn expiry_refunds_and_disputes_are_events_the_client_can_follow() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;

    // Expire.
    let (abandoned, _) = new_session(&sim, &client).await;
    sim.expire(&abandoned, true).await.unwrap();
    let env = hook.next().await.verified.unwrap();
    assert_eq!(
        (env.event_type.as_str(), env.object_id.as_str()),
        ("checkout.session.expired", abandoned.as_str())
    );
    assert_eq!(
        client.checkout_session(&abandoned).await.unwrap().status,
        SessionStatus::Expired
    );
    assert!(matches!(
        sim.pay(&abandoned, true).await,
        Err(SimError::InvalidState(_))
    ));
    assert!(matches!(
        sim.refund(&abandoned, None, true).await,
        Err(SimError::InvalidState(_))
    ));

    // Partial then full refund.
    let (paid, _) = new_session(&sim, &client).await;
    sim.pay(&paid, true).await.unwrap();
    assert_eq!(
        hook.next().await.verified.unwrap().event_type,
        "checkout.session.completed"
    );
    sim.refund(&paid, Some(500), true).await.unwrap();
    let got = hook.next().await;
    let env = got.verified.unwrap();
    assert_eq!(env.event_type, "charge.refunded");
    assert_eq!(got.body["data"]["object"]["amount_refunded"], 500);
    assert_eq!(got.body["data"]["previous_attributes"]["amount_refunded"], 0);
    let charge = client.charge(&env.object_id).await.unwrap();
    assert_eq!((charge.amount_refunded.get(), charge.refunded), (500, false));
    assert!(matches!(
        sim.refund(&paid, Some(4001), true).await,
        Err(SimError::InvalidRequest(_))
    ));
    sim.refund(&paid, None, true).await.unwrap();
    let env = hook.next().await.verified.unwrap();
    let charge = client.charge(&env.object_id).await.unwrap();
    assert_eq!((charge.amount_refunded.get(), charge.refunded), (4500, true));
    assert!(matches!(
        sim.refund(&paid, None, true).await,
        Err(SimError::InvalidState(_))
    ));

    // Dispute.
    let (disputed, _) = new_session(&sim, &client).await;
    sim.pay(&disputed, true).await.unwrap();
    hook.next().await;
    sim.dispute(&disputed, true).await.unwrap();
    let env = hook.next().await.verified.unwrap();
    assert_eq!(env.event_type, "charge.dispute.created");
    let dispute = client.dispute(&env.object_id).await.unwrap();
    let session = client.checkout_session(&disputed).await.unwrap();
    assert_eq!(dispute.payment_intent, session.payment_intent);
    assert!(dispute.charge.starts_with("ch_"));
    assert_eq!((dispute.amount.get(), dispute.currency), (4500, eur()));
    assert_eq!(
        (dispute.reason.as_str(), dispute.status.as_str()),
        ("fraudulent", "needs_response")
    );
    assert!(matches!(
        sim.dispute(&disputed, true).await,
        Err(SimError::InvalidState(_))
    ));

    assert!(matches!(
        sim.pay("cs_test_nope", true).await,
        Err(SimError::NotFound { .. })
    ));
}

#[tokio::test]
async fn delayed_payments_complete_unpaid_then_succeed_or_fail() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;

    let (good, _) = new_session(&sim, &client).await;
    sim.pay_async(&good, true, true).await.unwrap();
    sim.settle().await;
    let mut got: Vec<(String, Value)> = hook
        .drain()
        .into_iter()
        .map(|r| {
            (
                r.verified.unwrap().event_type,
                r.body["data"]["object"]["payment_status"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("checkout.session.async_payment_succeeded".to_string(), json!("paid")),
            ("checkout.session.completed".to_string(), json!("unpaid")),
        ]
    );
    assert_eq!(
        client.checkout_session(&good).await.unwrap().payment_status,
        PaymentStatus::Paid
    );

    let (bad, _) = new_session(&sim, &client).await;
    sim.pay_async(&bad, false, true).await.unwrap();
    sim.settle().await;
    let mut types: Vec<String> = hook
        .drain()
        .into_iter()
        .map(|r| r.verified.unwrap().event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec!["checkout.session.async_payment_failed", "checkout.session.completed"]
    );
    let session = client.checkout_session(&bad).await.unwrap();
    assert_eq!(
        (session.status, session.payment_status),
        (SessionStatus::Complete, PaymentStatus::Unpaid)
    );
    assert!(matches!(
        sim.refund(&bad, None, true).await,
        Err(SimError::InvalidState(_))
    ));
}

#[tokio::test]
async fn sessions_expire_on_their_own_when_their_time_passes() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut req = request(&sim, OrderId::new_random(), vec![line("Mug", 1250, 1)]);
        // Ten seconds above Stripe's 30-minute minimum, so that a clock tick before the
        // request reaches the simulator cannot make it too early.
        req.expires_at = sim.now() + 1810;
        ids.push(client.create_checkout_session(&req).await.unwrap().id);
    }

    sim.advance_clock(Duration::from_secs(1900));
    // Too late to pay: the session expires first.
    assert!(matches!(sim.pay(&ids[0], true).await, Err(SimError::InvalidState(_))));
    assert_eq!(
        client.checkout_session(&ids[1]).await.unwrap().status,
        SessionStatus::Expired
    );
    let mut expired = Vec::new();
    for _ in 0..2 {
        let env = hook.next().await.verified.unwrap();
        assert_eq!(env.event_type, "checkout.session.expired");
        expired.push(env.object_id);
    }
    expired.sort();
    ids.sort();
    assert_eq!(expired, ids);
}

#[tokio::test]
async fn foreign_sessions_have_no_order_id() {
    let (sim, _, client) = start(config()).await;
    let id = sim.create_foreign_session(9900, "usd", false).await.unwrap();
    let session = client.checkout_session(&id).await.unwrap();
    assert_eq!(session.order_id, None);
    assert_eq!(session.payment_status, PaymentStatus::Paid);
    assert_eq!(session.amount_total, Some(Cents::new(9900).unwrap()));
    assert_eq!(session.currency, Some(Currency::parse("USD").unwrap()));
    let listed = client
        .list_checkout_sessions(Some(SessionStatus::Complete), None)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|s| (s.id.as_str(), s.order_id)).collect::<Vec<_>>(),
        vec![(id.as_str(), None)]
    );
}

#[tokio::test]
async fn webhook_endpoints_reflect_the_configured_url() {
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some("http://127.0.0.1:1/hook".into()),
        ..config()
    })
    .await;
    let endpoints = client.list_webhook_endpoints().await.unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].url, "http://127.0.0.1:1/hook");
    assert!(endpoints[0].enabled);
    assert_eq!(
        endpoints[0].enabled_events,
        backroom_core::StripeEventKind::NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(endpoints[0].api_version.as_deref(), Some(API_VERSION));
    sim.set_webhook_url(None);
    assert!(client.list_webhook_endpoints().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Lists

#[tokio::test]
async fn lists_filter_and_page_like_stripe() {
    let (sim, api_base, client) = start(config()).await;
    let (a, _) = new_session(&sim, &client).await;
    sim.advance_clock(Duration::from_secs(10));
    let after_a = sim.now();
    let (b, _) = new_session(&sim, &client).await;
    sim.advance_clock(Duration::from_secs(10));
    let (c, _) = new_session(&sim, &client).await;
    sim.pay(&b, false).await.unwrap();
    sim.expire(&c, false).await.unwrap();

    // Sessions: newest first, by status, by created.
    let ids = |list: Vec<backroom_stripe::CheckoutSession>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(client.list_checkout_sessions(None, None).await.unwrap()),
        vec![c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        ids(client
            .list_checkout_sessions(Some(SessionStatus::Complete), None)
            .await
            .unwrap()),
        vec![b.clone()]
    );
    assert_eq!(
        ids(client
            .list_checkout_sessions(Some(SessionStatus::Open), None)
            .await
            .unwrap()),
        vec![a.clone()]
    );
    assert_eq!(
        ids(client.list_checkout_sessions(None, Some(after_a)).await.unwrap()),
        vec![c.clone(), b.clone()]
    );

    // Raw cursors: limit, has_more, starting_after, ending_before.
    let get = |q: &str| {
        http(
            "GET",
            format!("{api_base}/v1/checkout/sessions?{q}"),
            Some(BEARER),
            None,
        )
    };
    let page = get("limit=1").await.json();
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(c.as_str()), Some(true))
    );
    assert_eq!(page["url"], "/v1/checkout/sessions");
    let page = get(&format!("limit=1&starting_after={c}")).await.json();
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(b.as_str()), Some(true))
    );
    let page = get(&format!("limit=5&starting_after={b}")).await.json();
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(a.as_str()), Some(false))
    );
    let page = get(&format!("limit=1&ending_before={a}")).await.json();
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(b.as_str()), Some(true))
    );
    assert!(
        page["data"][0].get("line_items").is_none(),
        "lists do not expand line items"
    );

    // Events: types[], type with a wildcard, created[gte], starting_after.
    let all = client.list_events(&[], None).await.unwrap();
    let types: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "charge.succeeded",
            "checkout.session.completed",
            "checkout.session.expired"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].created <= w[1].created), "oldest first");
    let handled = client
        .list_events(backroom_core::StripeEventKind::NAMES, None)
        .await
        .unwrap();
    assert_eq!(
        handled.iter().map(|e| e.object_id.as_str()).collect::<Vec<_>>(),
        vec![b.as_str(), c.as_str()]
    );
    // created[gte] at the newest event's own time, so that the machine's clock ticking
    // during the test cannot move the boundary.
    let newest_created = all[2].created;
    let expired = client
        .list_events(&["checkout.session.expired"], Some(newest_created))
        .await
        .unwrap();
    assert_eq!(
        expired.iter().map(|e| e.object_id.as_str()).collect::<Vec<_>>(),
        vec![c.as_str()]
    );
    assert!(
        client
            .list_events(&[], Some(newest_created + 1))
            .await
            .unwrap()
            .is_empty()
    );

    let events = |q: &str| http("GET", format!("{api_base}/v1/events?{q}"), Some(BEARER), None);
    let page = events("type=checkout.session.*").await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let newest = &all[2].id;
    let page = events(&format!("limit=1&starting_after={newest}")).await.json();
    assert_eq!(page["data"][0]["id"], all[1].id.as_str());
    assert_eq!(page["has_more"], true);
    let page = events("types[]=charge.succeeded&types[]=checkout.session.expired")
        .await
        .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let one = http("GET", &format!("{api_base}/v1/events/{newest}"), Some(BEARER), None)
        .await
        .json();
    assert_eq!(one["type"], "checkout.session.expired");
}

#[tokio::test]
async fn the_client_reads_every_page_of_a_long_list() {
    let (sim, _, client) = start(config()).await;
    let mut created = Vec::new();
    for _ in 0..105 {
        let (id, _) = new_session(&sim, &client).await;
        sim.expire(&id, false).await.unwrap();
        created.push(id);
    }
    let events = client.list_events(&["checkout.session.expired"], None).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.object_id.clone()).collect::<Vec<_>>(),
        created,
        "all 105, oldest first"
    );
    let sessions = client
        .list_checkout_sessions(Some(SessionStatus::Expired), None)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 105);
    let listed_pages = sim.requests().iter().filter(|r| r.path == "/v1/events").count();
    assert_eq!(listed_pages, 2, "100 per page");
}

// ---------------------------------------------------------------------------------------------
// The pay page and the control routes

#[tokio::test]
async fn the_pay_page_shows_the_items_and_paying_redirects_to_the_success_url() {
    let mut hook = receiver(vec![]).await;
    let (sim, _, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;
    let url = sim.session(&id).unwrap()["url"].as_str().unwrap().to_string();

    let page = http("GET", &url, None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    for expected in [
        "Mug",
        "× 2",
        "25.00 EUR",
        "Tee &amp; Co",
        "20.00 EUR",
        "45.00 EUR",
        "ann@example.com",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected:?} missing from the page:\n{}",
            page.body
        );
    }
    assert!(
        page.body
            .contains(&format!(r#"<form method="post" action="{url}/pay">"#)),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<button type="submit" id="pay">Pay 45.00 EUR</button>"#)
    );
    assert!(page.body.contains(r#"href="http://shop.test/cart""#));

    let form = "email=zoe%40example.com&name=Zo%C3%AB+M%C3%BCller&line1=Stra%C3%9Fe+1&line2=&city=K%C3%B6ln\
        &postal_code=50667&country=fr";
    let elsewhere = http("POST", &format!("{url}/pay"), None, Some("country=US")).await;
    assert_eq!(elsewhere.status, 400, "the session ships to DE and FR only");
    assert!(
        elsewhere.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DE, FR only, not to US")
    );
    let paid = http("POST", &format!("{url}/pay"), None, Some(form)).await;
    assert_eq!(paid.status, 303);
    assert_eq!(
        paid.headers["location"],
        format!("http://shop.test/thanks?session={id}").as_str()
    );
    assert_eq!(hook.next().await.verified.unwrap().object_id, id);

    let session = client.checkout_session(&id).await.unwrap();
    assert_eq!(session.customer_email.as_deref(), Some("zoe@example.com"));
    let shipping = session.shipping.unwrap();
    assert_eq!(
        (
            shipping.name.as_str(),
            shipping.line1.as_str(),
            shipping.line2,
            shipping.city.as_str(),
            shipping.postal_code.as_str(),
            shipping.country.as_str()
        ),
        ("Zoë Müller", "Straße 1", None, "Köln", "50667", "FR")
    );

    let after = http("GET", &url, None, None).await;
    assert!(
        after.body.contains("This checkout session is complete."),
        "{}",
        after.body
    );
    assert!(!after.body.contains("<form"));
}

#[tokio::test]
async fn control_routes_do_over_http_what_the_methods_do() {
    let mut hook = receiver(vec![]).await;
    let (sim, api_base, client) = start(StripeSimConfig {
        webhook_url: Some(hook.url.clone()),
        ..config()
    })
    .await;
    let (id, _) = new_session(&sim, &client).await;

    let paid = http(
        "POST",
        &format!("{api_base}/checkout/{id}/pay?deliver=false"),
        None,
        None,
    )
    .await;
    assert_eq!(paid.status, 303);
    assert_eq!(
        client.checkout_session(&id).await.unwrap().payment_status,
        PaymentStatus::Paid
    );

    let refunded = http(
        "POST",
        &format!("{api_base}/payments/{id}/refund?amount=100"),
        None,
        None,
    )
    .await;
    assert_eq!(refunded.status, 200, "{}", refunded.body);
    assert_eq!(refunded.json()["amount_refunded"], 100);
    let disputed = http("POST", &format!("{api_base}/payments/{id}/dispute"), None, None).await;
    assert_eq!(disputed.json()["status"], "needs_response");

    let (other, _) = new_session(&sim, &client).await;
    let expired = http("POST", &format!("{api_base}/checkout/{other}/expire"), None, None).await;
    assert_eq!(expired.json()["status"], "expired");
    let again = http("POST", &format!("{api_base}/checkout/{other}/expire"), None, None).await;
    assert_eq!(again.status, 400);
    assert!(
        again.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status of \"expired\"")
    );

    // The API's own expire works too, and says which request caused the event.
    let (third, _) = new_session(&sim, &client).await;
    let via_api = http(
        "POST",
        &format!("{api_base}/v1/checkout/sessions/{third}/expire"),
        Some(BEARER),
        Some(""),
    )
    .await;
    assert_eq!(via_api.json()["status"], "expired");

    sim.settle().await;
    let got: Vec<String> = hook
        .drain()
        .into_iter()
        .map(|r| r.verified.unwrap().event_type)
        .collect();
    assert_eq!(
        got.len(),
        4,
        "refund, dispute and two expiries, but not the lost payment: {got:?}"
    );
    assert!(!got.contains(&"checkout.session.completed".to_string()));
    let by_api = events_of(&sim, "checkout.session.expired").pop().unwrap();
    assert!(by_api["request"]["id"].as_str().unwrap().starts_with("req_"));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn every_endpoint_answers_a_missing_object_in_stripes_shape() {
    let (_sim, api_base, client) = start(config()).await;
    for (method, path, object) in [
        ("GET", "/v1/checkout/sessions/cs_test_missing", "checkout.session"),
        (
            "GET",
            "/v1/checkout/sessions/cs_test_missing/line_items",
            "checkout.session",
        ),
        (
            "POST",
            "/v1/checkout/sessions/cs_test_missing/expire",
            "checkout.session",
        ),
        ("GET", "/v1/events/evt_missing", "event"),
        ("GET", "/v1/charges/ch_missing", "charge"),
        ("GET", "/v1/disputes/dp_missing", "dispute"),
        ("POST", "/checkout/cs_test_missing/pay", "checkout.session"),
        ("POST", "/checkout/cs_test_missing/expire", "checkout.session"),
        ("POST", "/payments/cs_test_missing/refund", "checkout.session"),
        ("POST", "/payments/cs_test_missing/dispute", "checkout.session"),
    ] {
        let answer = http(method, &format!("{api_base}{path}"), Some(BEARER), Some("")).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
        let error = &answer.json()["error"];
        assert_eq!(error["type"], "invalid_request_error", "{method} {path}");
        assert_eq!(error["code"], "resource_missing", "{method} {path}");
        let id = path.split('/').find(|s| s.contains("_missing")).unwrap();
        assert_eq!(error["message"], format!("No such {object}: '{id}'"), "{method} {path}");
        assert!(error["param"].is_string(), "{method} {path}");
        assert!(answer.headers.contains_key("request-id"), "{method} {path}");
    }

    let unknown = http("GET", &format!("{api_base}/v1/customers"), Some(BEARER), None).await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/customers)")
    );
    let page = http("GET", &format!("{api_base}/checkout/cs_test_missing"), None, None).await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("No checkout session cs_test_missing"));

    // Through the client, a 404 is an Api error that says "not found".
    for err in [
        client.checkout_session("cs_test_missing").await.unwrap_err(),
        client.charge("ch_missing").await.unwrap_err(),
        client.dispute("dp_missing").await.unwrap_err(),
    ] {
        assert!(err.is_not_found(), "{err:?}");
        assert!(
            matches!(&err, StripeError::Api { code: Some(c), .. } if c == "resource_missing"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_api_wants_a_key_and_valid_parameters() {
    let (sim, api_base, _client) = start(config()).await;
    let sessions = format!("{api_base}/v1/checkout/sessions");

    let none = http("GET", &sessions, None, None).await;
    assert_eq!(none.status, 401);
    assert!(
        none.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key")
    );
    assert_eq!(
        http("GET", &sessions, Some("Bearer pk_test_123"), None).await.status,
        401
    );
    // curl -u sk_test_x: sends Basic auth.
    assert_eq!(
        http("GET", &sessions, Some("Basic c2tfdGVzdF94Og=="), None)
            .await
            .status,
        200
    );

    let valid = "mode=payment&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=500\
        &line_items[0][price_data][product_data][name]=Mug&line_items[0][quantity]=1";
    let expect_400 = |body: String, code: &'static str, param: &'static str| {
        let sessions = sessions.clone();
        async move {
            let answer = http("POST", &sessions, Some(BEARER), Some(&body)).await;
            assert_eq!(answer.status, 400, "{body}: {}", answer.body);
            let error = &answer.json()["error"];
            assert_eq!(
                (error["code"].as_str(), error["param"].as_str()),
                (Some(code), Some(param)),
                "{body}"
            );
        }
    };
    expect_400(valid.replace("mode=payment&", ""), "parameter_missing", "mode").await;
    expect_400(format!("{valid}&colour=red"), "parameter_unknown", "colour").await;
    expect_400(
        valid.replace("[quantity]=1", "[quantity]=0"),
        "parameter_invalid",
        "line_items[0][quantity]",
    )
    .await;
    expect_400(
        valid.replace("&line_items[0][quantity]=1", ""),
        "parameter_missing",
        "line_items[0][quantity]",
    )
    .await;
    expect_400(
        valid.replace("unit_amount]=500", "unit_amount]=five"),
        "parameter_invalid_integer",
        "line_items[0][price_data][unit_amount]",
    )
    .await;
    expect_400(
        valid.replace("currency]=eur", "currency]=xyz"),
        "parameter_invalid",
        "line_items[0][price_data][currency]",
    )
    .await;
    expect_400(
        format!("{valid}&expires_at={}", sim.now() + 60),
        "parameter_invalid",
        "expires_at",
    )
    .await;
    expect_400(format!("{valid}&success_url=not-a-url"), "url_invalid", "success_url").await;
    expect_400("mode=payment".into(), "parameter_missing", "line_items").await;

    let list = |q: &str| http("GET", format!("{sessions}?{q}"), Some(BEARER), None);
    assert_eq!(list("limit=0").await.status, 400);
    assert_eq!(list("limit=101").await.status, 400);
    assert_eq!(list("starting_after=a&ending_before=b").await.status, 400);
    assert_eq!(list("status=paid").await.status, 400);
    assert_eq!(list("starting_after=cs_test_unknown").await.status, 400);
    let both = http(
        "GET",
        &format!("{api_base}/v1/events?type=a&types[]=b"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(both.status, 400);
    let expand = http(
        "GET",
        &format!("{api_base}/v1/charges/ch_x?expand[]=customer"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(expand.status, 400);
}

// ---------------------------------------------------------------------------------------------
// Money: shipping, promotion codes, tax and fees

/// Mug 12.50 × 2 and Tee 20.00 × 1: a subtotal of 45.00 EUR, and whatever `extra` adds.
fn session_form(extra: &str) -> String {
    format!(
        "mode=payment\
        &line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=1250\
        &line_items[0][price_data][product_data][name]=Mug&line_items[0][quantity]=2\
        &line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=2000\
        &line_items[1][price_data][product_data][name]=Tee&line_items[1][quantity]=1\
        &shipping_address_collection[allowed_countries][]=DE{extra}"
    )
}

async fn create_raw(api_base: &str, extra: &str) -> Http {
    http(
        "POST",
        format!("{api_base}/v1/checkout/sessions"),
        Some(BEARER),
        Some(&session_form(extra)),
    )
    .await
}

const INLINE_POST: &str = "&shipping_options[1][shipping_rate_data][type]=fixed_amount\
    &shipping_options[1][shipping_rate_data][fixed_amount][amount]=490\
    &shipping_options[1][shipping_rate_data][fixed_amount][currency]=eur\
    &shipping_options[1][shipping_rate_data][display_name]=Post\
    &shipping_options[1][shipping_rate_data][delivery_estimate][minimum][unit]=business_day\
    &shipping_options[1][shipping_rate_data][delivery_estimate][minimum][value]=3\
    &shipping_options[1][shipping_rate_data][delivery_estimate][maximum][unit]=business_day\
    &shipping_options[1][shipping_rate_data][delivery_estimate][maximum][value]=5";

fn charge_of(sim: &StripeSim, session: &Value) -> Value {
    events_of(sim, "charge.succeeded")
        .into_iter()
        .map(|e| e["data"]["object"].clone())
        .find(|c| c["payment_intent"] == session["payment_intent"])
        .expect("the session's charge succeeded")
}

#[tokio::test]
async fn shipping_rates_price_the_session_and_the_buyer_picks_one() {
    let (sim, api_base, client) = start(config()).await;
    let express = http(
        "POST",
        format!("{api_base}/control/shipping_rates"),
        None,
        Some(
            "id=shr_express&display_name=Express&fixed_amount[amount]=990&fixed_amount[currency]=EUR\
            &delivery_estimate[minimum][unit]=business_day&delivery_estimate[minimum][value]=1",
        ),
    )
    .await;
    assert_eq!(express.status, 200, "{}", express.body);
    assert_eq!(
        express.json()["fixed_amount"],
        json!({ "amount": 990, "currency": "eur" })
    );

    let created = create_raw(
        &api_base,
        &format!("&shipping_options[0][shipping_rate]=shr_express{INLINE_POST}"),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let session = created.json();
    let inline = session["shipping_options"][1]["shipping_rate"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(inline.starts_with("shr_") && inline != "shr_express", "{inline}");
    assert_eq!(
        session["shipping_options"],
        json!([
            { "shipping_amount": 990, "shipping_rate": "shr_express" },
            { "shipping_amount": 490, "shipping_rate": inline },
        ])
    );
    // Open, the session is priced with the first option, as Stripe preselects it.
    assert_eq!(session["amount_subtotal"], 4500);
    assert_eq!(session["amount_total"], 5490);
    assert_eq!(session["total_details"]["amount_shipping"], 990);
    assert_eq!(session["shipping_cost"]["shipping_rate"], "shr_express");

    // The inline rate is an object of its own.
    let rate = http(
        "GET",
        format!("{api_base}/v1/shipping_rates/{inline}"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(rate.status, 200, "{}", rate.body);
    let rate = rate.json();
    assert_eq!(rate["object"], "shipping_rate");
    assert_eq!(rate["type"], "fixed_amount");
    assert_eq!(rate["display_name"], "Post");
    assert_eq!(rate["fixed_amount"], json!({ "amount": 490, "currency": "eur" }));
    assert_eq!(
        rate["delivery_estimate"],
        json!({ "minimum": { "unit": "business_day", "value": 3 }, "maximum": { "unit": "business_day", "value": 5 } })
    );

    // The page offers both, the first chosen.
    let id = session["id"].as_str().unwrap().to_string();
    let page = http("GET", format!("{api_base}/checkout/{id}"), None, None).await;
    assert!(
        page.body
            .contains(r#"<input type="radio" name="shipping_rate" value="shr_express" checked> Express (9.90 EUR)"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(r#"value="{inline}"> Post (4.90 EUR)"#)),
        "{}",
        page.body
    );
    assert!(!page.body.contains("promotion_code"));

    // The buyer picks the cheaper option.
    let paid = http(
        "POST",
        format!("{api_base}/checkout/{id}/pay"),
        None,
        Some(&format!("shipping_rate={inline}")),
    )
    .await;
    assert!(paid.status < 400, "{}", paid.body);
    let paid = sim.session(&id).unwrap();
    assert_eq!(paid["amount_total"], 4990);
    assert_eq!(
        paid["total_details"],
        json!({ "amount_discount": 0, "amount_shipping": 490, "amount_tax": 0 })
    );
    assert_eq!(
        paid["shipping_cost"],
        json!({ "amount_subtotal": 490, "amount_tax": 0, "amount_total": 490, "shipping_rate": inline, "taxes": [] })
    );
    assert_eq!(charge_of(&sim, &paid)["amount"], 4990);
    // async-stripe reads it all.
    let read = client.checkout_session(&id).await.unwrap();
    assert_eq!(read.amount_total, Some(Cents::new(4990).unwrap()));

    // Without a choice, the first option is taken; a configured rate serves the same way.
    let second = create_raw(&api_base, "&shipping_options[0][shipping_rate]=shr_express")
        .await
        .json();
    let second_id = second["id"].as_str().unwrap();
    sim.pay(second_id, true).await.unwrap();
    assert_eq!(sim.session(second_id).unwrap()["amount_total"], 5490);
    let configured = http(
        "GET",
        format!("{api_base}/v1/shipping_rates/shr_standard"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(configured.json()["fixed_amount"]["amount"], 0);

    // The real API's create works too.
    let via_api = http(
        "POST",
        format!("{api_base}/v1/shipping_rates"),
        Some(BEARER),
        Some("display_name=Courier&type=fixed_amount&fixed_amount[amount]=1500&fixed_amount[currency]=eur"),
    )
    .await;
    assert_eq!(via_api.status, 200, "{}", via_api.body);
    let courier = via_api.json()["id"].as_str().unwrap().to_string();
    let third = create_raw(&api_base, &format!("&shipping_options[0][shipping_rate]={courier}")).await;
    assert_eq!(third.json()["amount_total"], 6000);
}

#[tokio::test]
async fn shipping_options_are_validated_as_stripe_validates_them() {
    let (sim, api_base, _) = start(config()).await;
    let refused = |extra: &'static str, code: &'static str, param: &'static str| {
        let api_base = api_base.clone();
        async move {
            let answer = create_raw(&api_base, extra).await;
            assert_eq!(answer.status, 400, "{extra}: {}", answer.body);
            let error = &answer.json()["error"];
            assert_eq!(error["code"], code, "{extra}: {error}");
            assert_eq!(error["param"], param, "{extra}: {error}");
        }
    };
    refused(
        "&shipping_options[0][shipping_rate]=shr_nobody",
        "resource_missing",
        "shipping_options[0][shipping_rate]",
    )
    .await;
    refused(
        "&shipping_options[0][shipping_rate_data][display_name]=US&shipping_options[0][shipping_rate_data][fixed_amount][amount]=5\
        &shipping_options[0][shipping_rate_data][fixed_amount][currency]=usd",
        "parameter_invalid",
        "shipping_options[0][shipping_rate_data][fixed_amount][currency]",
    )
    .await;
    refused(
        "&shipping_options[0][shipping_rate_data][display_name]=Neg&shipping_options[0][shipping_rate_data][fixed_amount][amount]=-1\
        &shipping_options[0][shipping_rate_data][fixed_amount][currency]=eur",
        "parameter_invalid",
        "shipping_options[0][shipping_rate_data][fixed_amount][amount]",
    )
    .await;
    refused(
        "&shipping_options[0][shipping_rate_data][fixed_amount][amount]=5&shipping_options[0][shipping_rate_data][fixed_amount][currency]=eur",
        "parameter_missing",
        "shipping_options[0][shipping_rate_data][display_name]",
    )
    .await;
    refused(
        "&shipping_options[0][shipping_rate]=shr_standard&shipping_options[1][shipping_rate]=shr_standard\
        &shipping_options[2][shipping_rate]=shr_standard&shipping_options[3][shipping_rate]=shr_standard\
        &shipping_options[4][shipping_rate]=shr_standard&shipping_options[5][shipping_rate]=shr_standard",
        "parameter_invalid",
        "shipping_options",
    )
    .await;
    // A configured rate in another currency is refused for this session.
    sim.define_shipping_rate(&ShippingRateSpec {
        id: "shr_usd".into(),
        display_name: "US".into(),
        amount: 500,
        currency: "usd".into(),
        minimum: None,
        maximum: None,
    })
    .unwrap();
    refused(
        "&shipping_options[0][shipping_rate]=shr_usd",
        "parameter_invalid",
        "shipping_options[0][shipping_rate]",
    )
    .await;
    // Nothing was created by the refused requests, not even the inline rates.
    let list = http("GET", format!("{api_base}/v1/checkout/sessions"), Some(BEARER), None).await;
    assert_eq!(list.json()["data"], json!([]));

    // At pay time, only an offered rate may be chosen; the session stays open.
    let session = create_raw(&api_base, "&shipping_options[0][shipping_rate]=shr_standard")
        .await
        .json();
    let id = session["id"].as_str().unwrap();
    let choices = PayChoices {
        shipping_rate: Some("shr_usd".into()),
        promotion_code: None,
    };
    let err = sim.pay_with(id, &choices, true).await.unwrap_err();
    assert!(matches!(err, SimError::InvalidRequest(_)), "{err:?}");
    let over_http = http(
        "POST",
        format!("{api_base}/checkout/{id}/pay"),
        None,
        Some("shipping_rate=shr_usd"),
    )
    .await;
    assert_eq!(over_http.status, 400, "{}", over_http.body);
    assert_eq!(sim.session(id).unwrap()["status"], "open");
    // And a session without options stays as it always was.
    let plain = create_raw(&api_base, "").await.json();
    assert_eq!(plain["shipping_options"], json!([]));
    assert_eq!(plain["shipping_cost"], Value::Null);
    assert_eq!(plain["amount_total"], 4500);
}

#[tokio::test]
async fn promotion_codes_discount_the_items_and_tax_is_added_on_items_and_shipping() {
    let (sim, api_base, client) = start(StripeSimConfig {
        tax_rate_bps: 1900,
        promotion_codes: vec![PromotionCodeSpec {
            id: Some("promo_save10".into()),
            code: "SAVE10".into(),
            off: CouponOff::Percent(10.0),
        }],
        ..config()
    })
    .await;
    let five = http(
        "POST",
        format!("{api_base}/control/promotion_codes"),
        None,
        Some("code=FIVE&amount_off=500&currency=eur"),
    )
    .await;
    assert_eq!(five.status, 200, "{}", five.body);
    assert_eq!(five.json()["promotion"]["coupon"]["amount_off"], 500);

    let extra = "&allow_promotion_codes=true&automatic_tax[enabled]=true\
        &shipping_options[0][shipping_rate_data][display_name]=Post\
        &shipping_options[0][shipping_rate_data][fixed_amount][amount]=490\
        &shipping_options[0][shipping_rate_data][fixed_amount][currency]=eur";
    let session = create_raw(&api_base, extra).await.json();
    assert_eq!(session["allow_promotion_codes"], true);
    assert_eq!(session["automatic_tax"]["enabled"], true);
    assert_eq!(session["automatic_tax"]["status"], "requires_location_inputs");
    let id = session["id"].as_str().unwrap().to_string();
    let rate = session["shipping_options"][0]["shipping_rate"]
        .as_str()
        .unwrap()
        .to_string();

    // Codes are case-insensitive. 10 % of 45.00 is 4.50, spread 2.50 / 2.00 over the lines;
    // tax at 19 %: 22.50 → 4.275 → 4.28, 18.00 → 3.42, shipping 4.90 → 0.931 → 0.93.
    let paid = http(
        "POST",
        format!("{api_base}/checkout/{id}/pay"),
        None,
        Some("promotion_code=save10"),
    )
    .await;
    assert!(paid.status < 400, "{}", paid.body);
    let paid = sim.session(&id).unwrap();
    assert_eq!(
        paid["total_details"],
        json!({ "amount_discount": 450, "amount_shipping": 490, "amount_tax": 428 + 342 + 93 })
    );
    assert_eq!(paid["amount_subtotal"], 4500);
    assert_eq!(paid["amount_total"], 4500 - 450 + 490 + 863);
    assert_eq!(paid["automatic_tax"]["status"], "complete");
    assert_eq!(
        paid["shipping_cost"],
        json!({ "amount_subtotal": 490, "amount_tax": 93, "amount_total": 583, "shipping_rate": rate, "taxes": [] })
    );
    assert_eq!(paid["discounts"][0]["promotion_code"], "promo_save10");
    let coupon = paid["discounts"][0]["coupon"].as_str().unwrap().to_string();
    assert_eq!(charge_of(&sim, &paid)["amount"], 5403);
    let items = http(
        "GET",
        format!("{api_base}/v1/checkout/sessions/{id}/line_items"),
        Some(BEARER),
        None,
    )
    .await
    .json();
    let lines: Vec<(i64, i64, i64, i64)> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["amount_subtotal"].as_i64().unwrap(),
                l["amount_discount"].as_i64().unwrap(),
                l["amount_tax"].as_i64().unwrap(),
                l["amount_total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, vec![(2500, 250, 428, 2678), (2000, 200, 342, 2142)]);
    let read = client.checkout_session(&id).await.unwrap();
    assert_eq!(read.amount_total, Some(Cents::new(5403).unwrap()));
    let promo = http(
        "GET",
        format!("{api_base}/v1/promotion_codes/promo_save10"),
        Some(BEARER),
        None,
    )
    .await
    .json();
    assert_eq!(promo["times_redeemed"], 1);
    assert_eq!(promo["promotion"]["coupon"], json!(coupon));
    let expanded = http(
        "GET",
        format!("{api_base}/v1/promotion_codes/promo_save10?expand[]=promotion.coupon"),
        Some(BEARER),
        None,
    )
    .await
    .json();
    assert_eq!(expanded["promotion"]["coupon"]["percent_off"], 10.0);

    // An amount off; no tax without automatic_tax.
    let other = create_raw(&api_base, "&allow_promotion_codes=true").await.json();
    let other_id = other["id"].as_str().unwrap();
    let choices = PayChoices {
        shipping_rate: None,
        promotion_code: Some("FIVE".into()),
    };
    sim.pay_with(other_id, &choices, true).await.unwrap();
    let other = sim.session(other_id).unwrap();
    assert_eq!(
        other["total_details"],
        json!({ "amount_discount": 500, "amount_shipping": 0, "amount_tax": 0 })
    );
    assert_eq!(other["amount_total"], 4000);

    // A code on a session that does not allow codes, or an unknown code, is refused.
    let closed = create_raw(&api_base, "").await.json();
    let closed_id = closed["id"].as_str().unwrap();
    assert!(sim.pay_with(closed_id, &choices, true).await.is_err());
    let open = create_raw(&api_base, "&allow_promotion_codes=true").await.json();
    let open_id = open["id"].as_str().unwrap();
    let unknown = http(
        "POST",
        format!("{api_base}/checkout/{open_id}/pay"),
        None,
        Some("promotion_code=NOPE"),
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(sim.session(open_id).unwrap()["status"], "open");
    // A bad definition is refused.
    let bad = http(
        "POST",
        format!("{api_base}/control/promotion_codes"),
        None,
        Some("code=HALF&percent_off=150"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[tokio::test]
async fn charges_carry_a_balance_transaction_with_stripes_fee() {
    let (sim, api_base, client) = start(config()).await;
    let (id, _) = new_session(&sim, &client).await;
    sim.pay(&id, true).await.unwrap();
    let charge = charge_of(&sim, &sim.session(&id).unwrap());
    let txn_id = charge["balance_transaction"].as_str().unwrap().to_string();
    assert!(txn_id.starts_with("txn_"), "{txn_id}");

    // 1.5 % of 45.00 is 0.675 → 0.68, plus 0.25.
    let txn = http(
        "GET",
        format!("{api_base}/v1/balance_transactions/{txn_id}"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(txn.status, 200, "{}", txn.body);
    let txn = txn.json();
    assert_eq!(txn["object"], "balance_transaction");
    assert_eq!(txn["amount"], 4500);
    assert_eq!(txn["currency"], "eur");
    assert_eq!(txn["fee"], 93);
    assert_eq!(txn["net"], 4407);
    assert_eq!(txn["type"], "charge");
    assert_eq!(txn["status"], "pending");
    assert_eq!(txn["source"], charge["id"]);
    assert_eq!(txn["fee_details"][0]["type"], "stripe_fee");
    assert_eq!(txn["fee_details"][0]["amount"], 93);
    assert_eq!(txn["fee_details"][0]["currency"], "eur");
    assert!(txn["fee_details"][0]["description"].is_string());
    assert!(txn["available_on"].as_i64().unwrap() > txn["created"].as_i64().unwrap());

    let charge_id = charge["id"].as_str().unwrap();
    let expanded = http(
        "GET",
        format!("{api_base}/v1/charges/{charge_id}?expand[]=balance_transaction"),
        Some(BEARER),
        None,
    )
    .await
    .json();
    assert_eq!(expanded["balance_transaction"]["fee"], 93);
    sim.advance_clock(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(sim.balance_transaction(&txn_id).unwrap()["status"], "available");

    // Other rates, set over HTTP, apply to later charges.
    let pricing = http(
        "POST",
        format!("{api_base}/control/pricing"),
        None,
        Some("fee_bps=290&fee_fixed=30"),
    )
    .await;
    assert_eq!(
        pricing.json(),
        json!({ "tax_rate_bps": 0, "fee_bps": 290, "fee_fixed": 30 })
    );
    let (later, _) = new_session(&sim, &client).await;
    sim.pay_async(&later, true, true).await.unwrap();
    let delayed = charge_of(&sim, &sim.session(&later).unwrap());
    let txn = sim
        .balance_transaction(delayed["balance_transaction"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (txn["fee"].clone(), txn["net"].clone()),
        (json!(131 + 30), json!(4500 - 161))
    );
    // A failed delayed payment has none.
    let (failed, _) = new_session(&sim, &client).await;
    sim.pay_async(&failed, false, true).await.unwrap();
    let failed_charge = events_of(&sim, "charge.failed").pop().unwrap();
    assert_eq!(failed_charge["data"]["object"]["balance_transaction"], Value::Null);
    let missing = http(
        "GET",
        format!("{api_base}/v1/balance_transactions/txn_nope"),
        Some(BEARER),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
}
