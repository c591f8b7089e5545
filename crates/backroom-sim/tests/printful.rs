//! The Printful simulator, driven the way backroom drives Printful: through backroom-printful's
//! `PrintfulClient` (so every answer is read by the production parser) and with webhooks checked
//! by backroom-printful's verifier and parser. Raw HTTP covers what the client never sends
//! (a missing token, control routes) and checks the envelope and headers of every answer.
//!
//! No test asserts how long anything took; waits are bounded by the client's own settings.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use backroom_core::OrderId;
use backroom_core::machine::PrintfulStatus;
use backroom_printful::webhook::{event_id, parse_event, verify_signature};
use backroom_printful::{NewItem, NewOrder, PrintfulClient, PrintfulError, PrintfulSettings, Recipient, Status};
use backroom_sim::printful::{PrintfulCosts, PrintfulSim, PrintfulSimConfig, SimError};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET_HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// ---------------------------------------------------------------------------------------------
// Helpers

fn settings(api_base: &str) -> PrintfulSettings {
    PrintfulSettings {
        token: SecretString::from("sim-token"),
        store_id: None,
        api_base: Some(api_base.to_string()),
        timeout: Duration::from_secs(5),
        max_retries: 5,
        max_backoff: Duration::from_secs(5),
    }
}

async fn start(config: PrintfulSimConfig) -> (PrintfulSim, String, PrintfulClient) {
    let (sim, api_base) = PrintfulSim::serve_loopback(config).await;
    let client = PrintfulClient::new(settings(&api_base)).unwrap();
    (sim, api_base, client)
}

async fn start_default() -> (PrintfulSim, String, PrintfulClient) {
    start(PrintfulSimConfig::default()).await
}

fn new_order(external_id: &str) -> NewOrder {
    NewOrder {
        external_id: external_id.into(),
        recipient: Recipient {
            name: "Ada Lovelace".into(),
            address1: "1 Main St".into(),
            address2: Some("Flat 2".into()),
            city: "Riga".into(),
            state_code: None,
            country_code: "LV".into(),
            zip: "LV-1010".into(),
            email: Some("ada@example.com".into()),
            phone: None,
        },
        items: vec![
            NewItem {
                sync_variant_id: 4000101,
                quantity: 2,
                retail_price: "28.00".into(),
                name: "Print (A3)".into(),
                external_id: format!("{external_id}-0"),
            },
            NewItem {
                sync_variant_id: 4000201,
                quantity: 1,
                retail_price: "45.50".into(),
                name: "Poster (A2)".into(),
                external_id: format!("{external_id}-1"),
            },
        ],
        currency: "EUR".into(),
        retail_costs: None,
    }
}

fn fresh_external_id() -> String {
    OrderId::new_random().external_id()
}

/// Creates and confirms an order; returns its external id and Printful id.
async fn pending_order(client: &PrintfulClient) -> (String, i64) {
    let ext = fresh_external_id();
    let order = client.create_order(&new_order(&ext)).await.unwrap();
    client.confirm_order(order.id).await.unwrap();
    (ext, order.id)
}

struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

/// One request with a plain HTTP client, for what `PrintfulClient` never sends.
async fn raw(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Raw {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    if !bytes.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(bytes))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Raw { status, headers, body }
}

/// One webhook as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    body: Bytes,
    signature: Option<String>,
    public_key: Option<String>,
}

/// A webhook endpoint on loopback that records what it gets and answers 500 to the first
/// `fail_first` requests.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    url: String,
}

impl Receiver {
    async fn start(fail_first: u32) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicU32::new(fail_first));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state((got.clone(), fail.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { got, url }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The event types received, sorted: webhooks of different changes travel on different
    /// tasks, so their arrival order is not defined (nor is it at Printful).
    fn sorted_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .received()
            .iter()
            .map(|r| parse_event(&r.body).unwrap().event_type)
            .collect();
        types.sort();
        types
    }
}

/// The types of the events the simulator made, in the order it made them.
fn made_types(sim: &PrintfulSim) -> Vec<String> {
    sim.events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(types: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    v.sort();
    v
}

impl Receiver {}

type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<AtomicU32>);

async fn receive(State((got, fail)): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    got.lock().unwrap().push(Received {
        body,
        signature: header("x-pf-webhook-signature"),
        public_key: header("x-pf-webhook-public-key"),
    });
    let failing = fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

fn signed_config(webhook_url: &str) -> PrintfulSimConfig {
    PrintfulSimConfig {
        webhook_url: Some(webhook_url.to_string()),
        webhook_secret_hex: Some(SECRET_HEX.into()),
        ..PrintfulSimConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

#[tokio::test]
async fn a_created_order_is_read_by_id_and_by_external_id() {
    let (sim, _, client) = start_default().await;
    let ext = fresh_external_id();
    let created = client.create_order(&new_order(&ext)).await.unwrap();
    assert_eq!(created.status, Status::Known(PrintfulStatus::Draft));
    assert_eq!(created.external_id.as_deref(), Some(ext.as_str()));
    assert_eq!(
        created
            .items
            .iter()
            .map(|i| (i.sync_variant_id, i.quantity))
            .collect::<Vec<_>>(),
        vec![(Some(4000101), 2), (Some(4000201), 1)]
    );
    let by_id = client.order(created.id).await.unwrap().expect("exists");
    let by_ext = client.order_by_external_id(&ext).await.unwrap().expect("exists");
    assert_eq!(by_id, created);
    assert_eq!(by_ext, created);
    assert_eq!(client.order_by_external_id(&fresh_external_id()).await, Ok(None));
    assert_eq!(client.order(created.id + 1000).await, Ok(None));
    assert_eq!((client.calls(), sim.calls()), (5, 5));

    // What the simulator stored is what the client sent.
    let stored = &sim.orders()[0];
    assert_eq!(stored["recipient"]["address2"], "Flat 2");
    assert_eq!(stored["items"][1]["retail_price"], "45.50");
    assert_eq!(stored["retail_costs"]["currency"], "EUR");
    assert!(sim.requests().iter().all(|r| r.store_id.is_none()));
}

#[tokio::test]
async fn a_duplicate_external_id_fails_with_or_13() {
    let (sim, _, client) = start_default().await;
    let ext = fresh_external_id();
    client.create_order(&new_order(&ext)).await.unwrap();
    let err = client.create_order(&new_order(&ext)).await.expect_err("duplicate");
    assert!(err.is_external_id_in_use(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn malformed_creates_are_refused_like_printful_refuses_them() {
    let (sim, _, client) = start_default().await;
    let mut too_long = new_order(&"a".repeat(33));
    let err = client
        .create_order(&too_long)
        .await
        .expect_err("an external id of 33 characters");
    assert!(matches!(&err, PrintfulError::Api { status: 400, .. }), "{err:?}");
    assert!(
        !err.is_external_id_in_use(),
        "a malformed id is not a duplicate: {err:?}"
    );
    too_long.external_id = fresh_external_id();
    too_long.items.clear();
    assert!(matches!(
        client.create_order(&too_long).await,
        Err(PrintfulError::Api { status: 400, .. })
    ));
    let mut us_without_state = new_order(&fresh_external_id());
    us_without_state.recipient.country_code = "US".into();
    assert!(matches!(
        client.create_order(&us_without_state).await,
        Err(PrintfulError::Api { status: 400, .. })
    ));
    assert!(sim.orders().is_empty());
}

#[tokio::test]
async fn confirm_moves_a_draft_to_pending_once() {
    let (_, api_base, client) = start_default().await;
    let ext = fresh_external_id();
    let draft = client.create_order(&new_order(&ext)).await.unwrap();
    let pending = client.confirm_order(draft.id).await.unwrap();
    assert_eq!(pending.status, Status::Known(PrintfulStatus::Pending));
    assert!(pending.updated > draft.updated, "every change moves `updated` forward");
    let again = client.confirm_order(draft.id).await.expect_err("not a draft any more");
    assert!(matches!(again, PrintfulError::Api { status: 400, .. }));
    // The `@external_id` form works for confirm too.
    let other = fresh_external_id();
    client.create_order(&new_order(&other)).await.unwrap();
    let r = raw("POST", &format!("{api_base}/orders/@{other}/confirm"), Some("t"), None).await;
    assert_eq!((r.status, r.body["result"]["status"].as_str()), (200, Some("pending")));
}

#[tokio::test]
async fn advance_takes_an_order_through_production_to_a_shipment() {
    let (sim, _, client) = start_default().await;
    let ext = fresh_external_id();
    let draft = client.create_order(&new_order(&ext)).await.unwrap();
    assert!(
        matches!(sim.advance(&ext).await, Err(SimError::InvalidState(_))),
        "a draft does not advance"
    );
    client.confirm_order(draft.id).await.unwrap();

    let inprocess = sim.advance(&ext).await.unwrap();
    assert_eq!(inprocess["status"], "inprocess");
    assert_eq!(
        client.order(draft.id).await.unwrap().unwrap().status,
        Status::Known(PrintfulStatus::Inprocess)
    );

    sim.advance(&ext).await.unwrap();
    let fulfilled = client.order_by_external_id(&ext).await.unwrap().unwrap();
    assert_eq!(fulfilled.status, Status::Known(PrintfulStatus::Fulfilled));
    assert_eq!(fulfilled.shipments.len(), 1);
    let shipment = &fulfilled.shipments[0];
    assert_eq!(shipment.carrier, "USPS");
    assert!(!shipment.tracking_number.is_empty());
    assert!(
        shipment
            .tracking_url
            .ends_with(&format!("/sim/printful/tracking/{}", shipment.tracking_number))
    );
    assert!(shipment.shipped_at.is_some() && shipment.ship_date.is_some() && !shipment.reshipment);
    assert_eq!(client.shipments(draft.id).await.unwrap(), fulfilled.shipments);
    // The shipment covers every unit ordered.
    let shipped: u64 = sim.orders()[0]["shipments"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["quantity"].as_u64().unwrap())
        .sum();
    assert_eq!(shipped, 3);

    // Once fulfilled, the next step is the carrier's: the package is delivered, which the v1
    // order does not show. After that nothing is left to advance.
    let events = sim.events().len();
    let delivered = sim.advance(&ext).await.unwrap();
    assert_eq!(delivered["status"], "fulfilled");
    assert_eq!(sim.events().len(), events, "v1 has no event for a delivery");
    assert!(
        matches!(sim.advance(&ext).await, Err(SimError::InvalidState(_))),
        "delivered is the end"
    );
    assert!(matches!(sim.advance("nobody").await, Err(SimError::NotFound(_))));
}

#[tokio::test]
async fn cancel_follows_printful_rules() {
    let (sim, _, client) = start_default().await;
    let draft = client.create_order(&new_order(&fresh_external_id())).await.unwrap();
    assert_eq!(
        client.cancel_order(draft.id).await.unwrap().status,
        Status::Known(PrintfulStatus::Canceled)
    );
    let (_, pending) = pending_order(&client).await;
    assert_eq!(
        client.cancel_order(pending).await.unwrap().status,
        Status::Known(PrintfulStatus::Canceled)
    );
    for status in ["onhold", "failed"] {
        let (ext, id) = pending_order(&client).await;
        sim.set_status(&ext, status, Some("test")).await.unwrap();
        assert_eq!(
            client.cancel_order(id).await.unwrap().status,
            Status::Known(PrintfulStatus::Canceled),
            "{status}"
        );
    }
    let (ext, id) = pending_order(&client).await;
    sim.advance(&ext).await.unwrap();
    let in_production = client.cancel_order(id).await.expect_err("in production");
    assert!(matches!(in_production, PrintfulError::Api { status: 400, .. }));
    assert!(!in_production.is_retryable());
    sim.advance(&ext).await.unwrap();
    assert!(
        client.cancel_order(id).await.is_err(),
        "fulfilled orders cannot be canceled"
    );
    assert!(client.cancel_order(draft.id).await.is_err(), "nor canceled ones");
    assert!(client.cancel_order(999).await.expect_err("unknown").is_not_found());
}

#[tokio::test]
async fn the_list_filters_by_status_and_pages_newest_first() {
    let (sim, _, client) = start_default().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let order = client.create_order(&new_order(&fresh_external_id())).await.unwrap();
        if n % 2 == 0 {
            client.confirm_order(order.id).await.unwrap();
        }
        ids.push(order.id);
    }
    let pending = client.list_orders(Some("pending"), 0, 100).await.unwrap();
    assert_eq!(pending.total, 3);
    assert_eq!(
        pending.orders.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![ids[4], ids[2], ids[0]]
    );
    let first = client.list_orders(None, 0, 2).await.unwrap();
    assert_eq!((first.total, first.offset), (5, 0));
    assert_eq!(
        first.orders.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3]]
    );
    let last = client.list_orders(None, 4, 2).await.unwrap();
    assert_eq!((last.total, last.offset, last.orders.len()), (5, 4, 1));
    assert_eq!(last.orders[0].id, ids[0]);
    let none = client.list_orders(Some("fulfilled"), 0, 10).await.unwrap();
    assert_eq!((none.total, none.orders.len()), (0, 0));
    client.list_orders(None, 0, 1000).await.unwrap();
    let sent = sim.requests().last().unwrap().query.clone().unwrap();
    assert!(
        sent.contains("limit=100"),
        "the client keeps to Printful's largest page: {sent}"
    );
}

#[tokio::test]
async fn a_foreign_order_is_visible_in_the_list() {
    let (sim, api_base, client) = start_default().await;
    let (ours, _) = pending_order(&client).await;
    let anonymous = sim.create_foreign_order(None);
    let named = sim.create_foreign_order(Some("dashboard-7"));
    let page = client.list_orders(None, 0, 100).await.unwrap();
    assert_eq!(page.total, 3);
    let foreign = page.orders.iter().find(|o| o.id == anonymous).expect("listed");
    assert_eq!(
        (foreign.external_id.as_deref(), &foreign.status),
        (None, &Status::Known(PrintfulStatus::Pending))
    );
    assert_eq!(
        client.order_by_external_id("dashboard-7").await.unwrap().unwrap().id,
        named
    );
    assert!(
        page.orders
            .iter()
            .any(|o| o.external_id.as_deref() == Some(ours.as_str()))
    );

    // The same over HTTP, with and without an external id.
    let r = raw("POST", &format!("{api_base}/control/orders"), None, Some(json!({}))).await;
    assert_eq!((r.status, &r.body["result"]["external_id"]), (200, &Value::Null));
    let r = raw(
        "POST",
        &format!("{api_base}/control/orders"),
        None,
        Some(json!({ "external_id": "dashboard-8" })),
    )
    .await;
    assert_eq!(r.body["result"]["external_id"], "dashboard-8");
    let r = raw(
        "POST",
        &format!("{api_base}/control/orders"),
        None,
        Some(json!({ "external_id": "dashboard-8" })),
    )
    .await;
    assert_eq!(r.status, 400, "the external id is taken");
    assert_eq!(client.list_orders(None, 0, 100).await.unwrap().total, 5);
}

#[tokio::test]
async fn unknown_statuses_reach_the_client_as_other() {
    let (sim, _, client) = start_default().await;
    let (ext, id) = pending_order(&client).await;
    sim.set_status(&ext, "awaiting_stock", None).await.unwrap();
    assert_eq!(
        client.order(id).await.unwrap().unwrap().status,
        Status::Other("awaiting_stock".into())
    );
    assert!(matches!(
        sim.set_status(&ext, "Not A Status", None).await,
        Err(SimError::InvalidRequest(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn a_429_storm_is_waited_out_by_the_client_within_its_bound() {
    let (sim, api_base, client) = start_default().await;
    let (ext, _) = pending_order(&client).await;
    let before = sim.calls();
    sim.fail_next(2, 429);
    let order = client
        .order_by_external_id(&ext)
        .await
        .unwrap()
        .expect("read after the storm");
    assert_eq!(order.external_id.as_deref(), Some(ext.as_str()));
    assert_eq!(sim.calls() - before, 3, "two refusals, then the answer");
    let seen = client.rate_limit().unwrap();
    assert_eq!(seen.limit, Some(120));
    assert!(seen.remaining.is_some_and(|r| r < 120));

    // With room for only one wait of `Retry-After: 1` (charged 1.1 s), a longer storm ends in
    // RateLimited after two attempts, and the write it refused was never carried out.
    let impatient = PrintfulClient::new(PrintfulSettings {
        max_backoff: Duration::from_millis(1500),
        ..settings(&api_base)
    })
    .unwrap();
    sim.fail_next(5, 429);
    let before = sim.calls();
    let err = impatient.cancel_order(order.id).await.expect_err("still limited");
    assert_eq!(
        err,
        PrintfulError::RateLimited {
            retry_after: Duration::from_secs(1)
        }
    );
    assert_eq!(sim.calls() - before, 2);
    sim.fail_next(0, 429);
    assert_eq!(
        client.order(order.id).await.unwrap().unwrap().status,
        Status::Known(PrintfulStatus::Pending)
    );
}

#[tokio::test]
async fn the_minute_window_runs_out_like_printfuls() {
    let (sim, _, client) = start_default().await;
    sim.set_rate_limit(3);
    for _ in 0..3 {
        client.list_orders(None, 0, 10).await.unwrap();
    }
    assert_eq!(client.rate_limit().unwrap().remaining, Some(0));
    // The fourth request in the minute is refused until the window refills, which is further
    // away than the client's back-off bound: it gives up at once rather than wait.
    let err = client.list_orders(None, 0, 10).await.expect_err("over the limit");
    let PrintfulError::RateLimited { retry_after } = err else {
        panic!("{err:?}")
    };
    assert!(
        retry_after > Duration::from_secs(5) && retry_after <= Duration::from_secs(60),
        "{retry_after:?}"
    );
    assert_eq!(sim.calls(), 4);
}

#[tokio::test]
async fn server_errors_are_not_repeated_for_writes_but_are_for_reads() {
    let (sim, _, client) = start_default().await;
    let ext = fresh_external_id();
    sim.fail_next(1, 500);
    let err = client.create_order(&new_order(&ext)).await.expect_err("server error");
    assert!(
        matches!(err, PrintfulError::Api { status: 500, .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert_eq!(
        client.order_by_external_id(&ext).await,
        Ok(None),
        "a refused create made nothing"
    );
    let created = client.create_order(&new_order(&ext)).await.unwrap();
    sim.fail_next(1, 503);
    let before = sim.calls();
    assert_eq!(client.order(created.id).await.unwrap().unwrap().id, created.id);
    assert_eq!(sim.calls() - before, 2, "the read was tried again once");
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_times_out_but_the_order_exists_once() {
    let (sim, api_base) = PrintfulSim::serve_loopback(PrintfulSimConfig {
        drop_delay: Duration::from_secs(5),
        ..PrintfulSimConfig::default()
    })
    .await;
    let client = PrintfulClient::new(PrintfulSettings {
        timeout: Duration::from_millis(300),
        ..settings(&api_base)
    })
    .unwrap();
    let ext = fresh_external_id();
    sim.drop_next_create();
    let err = client
        .create_order(&new_order(&ext))
        .await
        .expect_err("no answer in time");
    assert_eq!(err, PrintfulError::Timeout);
    assert!(err.is_retryable());
    // What the use case does next: look the order up by its external id.
    let found = client
        .order_by_external_id(&ext)
        .await
        .unwrap()
        .expect("the create was carried out");
    assert_eq!(found.status, Status::Known(PrintfulStatus::Draft));
    let all = client.list_orders(None, 0, 100).await.unwrap();
    assert_eq!(
        all.orders
            .iter()
            .filter(|o| o.external_id.as_deref() == Some(ext.as_str()))
            .count(),
        1
    );
    // A blind retry would have been refused rather than made a second order.
    assert!(
        client
            .create_order(&new_order(&ext))
            .await
            .unwrap_err()
            .is_external_id_in_use()
    );
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn requests_without_a_token_are_refused() {
    let (sim, api_base, _) = start_default().await;
    for token in [None, Some("")] {
        let r = raw("GET", &format!("{api_base}/orders"), token, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["code"], 401);
        assert_eq!(r.body["error"]["message"], "Malformed Authorization header.");
        assert!(r.headers.contains_key("x-ratelimit-remaining"));
    }
    assert_eq!(sim.calls(), 2);
}

#[tokio::test]
async fn control_routes_drive_the_simulator_over_http() {
    let (sim, api_base, client) = start_default().await;
    let (ext, id) = pending_order(&client).await;
    let r = raw("POST", &format!("{api_base}/orders/@{ext}/advance"), None, None).await;
    assert_eq!(
        (r.status, r.body["result"]["status"].as_str()),
        (200, Some("inprocess"))
    );
    let r = raw(
        "POST",
        &format!("{api_base}/orders/{id}/status"),
        None,
        Some(json!({ "status": "onhold", "reason": "Address check" })),
    )
    .await;
    assert_eq!((r.status, r.body["result"]["status"].as_str()), (200, Some("onhold")));
    let r = raw("POST", &format!("{api_base}/orders/@nobody/advance"), None, None).await;
    assert_eq!(r.status, 404);
    let r = raw(
        "POST",
        &format!("{api_base}/control/faults"),
        None,
        Some(json!({ "fail_next": 1, "status": 500 })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(matches!(
        client.cancel_order(id).await,
        Err(PrintfulError::Api { status: 500, .. })
    ));
    let r = raw(
        "POST",
        &format!("{api_base}/control/faults"),
        None,
        Some(json!({ "drop_next_create": true })),
    )
    .await;
    assert_eq!(r.body["result"]["drop_next_create"], true);
    let r = raw(
        "POST",
        &format!("{api_base}/control/webhooks"),
        None,
        Some(json!({ "deliver": false, "url": "http://127.0.0.1:9/hook" })),
    )
    .await;
    assert_eq!(
        r.body["result"],
        json!({ "deliver": false, "url": "http://127.0.0.1:9/hook" })
    );
    assert_eq!(
        client.webhook_config().await.unwrap().url.as_deref(),
        Some("http://127.0.0.1:9/hook")
    );
    let r = raw("GET", &format!("{api_base}/tracking/9400123"), None, None).await;
    assert_eq!(r.status, 200);
    // Control calls are not API calls.
    assert_eq!(sim.calls(), client.calls());
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[tokio::test]
async fn webhooks_arrive_in_the_v1_shape_with_a_valid_v2_signature() {
    let receiver = Receiver::start(0).await;
    let (sim, _, client) = start(signed_config(&receiver.url)).await;
    let (ext, id) = pending_order(&client).await;
    sim.advance(&ext).await.unwrap();
    sim.advance(&ext).await.unwrap();
    sim.settle().await;

    let expected = [
        "order_created",
        "order_updated",
        "order_updated",
        "package_shipped",
        "order_updated",
    ];
    assert_eq!(made_types(&sim), expected);
    assert_eq!(receiver.sorted_types(), sorted(&expected));
    let secret = SecretString::from(SECRET_HEX);
    let mut ids = Vec::new();
    for r in receiver.received() {
        let signature = r.signature.as_deref().expect("signed");
        assert_eq!(verify_signature(&secret, &r.body, signature), Ok(()));
        assert!(r.public_key.as_deref().is_some_and(|k| !k.is_empty()));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["retries"], 0);
        assert_eq!(v["store"], 10);
        assert!(v["created"].is_i64());
        // The full v1 order, not v2's short one.
        assert_eq!(v["data"]["order"]["id"], id);
        assert!(v["data"]["order"]["items"].is_array() && v["data"]["order"]["recipient"].is_object());
        let event = parse_event(&r.body).unwrap();
        assert_eq!(
            (event.order_id, event.external_id.as_deref()),
            (Some(id), Some(ext.as_str()))
        );
        ids.push(event_id(&event));
    }
    let shipped = receiver
        .received()
        .into_iter()
        .find(|r| parse_event(&r.body).unwrap().event_type == "package_shipped")
        .unwrap();
    let v: Value = serde_json::from_slice(&shipped.body).unwrap();
    assert!(
        v["data"]["shipment"]["tracking_url"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    assert_eq!(
        parse_event(&shipped.body).unwrap().shipment_id,
        v["data"]["shipment"]["id"].as_i64()
    );
    // Every event has its own id, so none is mistaken for a duplicate of another.
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    // A signature over a tampered body does not verify.
    let first = &receiver.received()[0];
    let first_type = parse_event(&first.body).unwrap().event_type;
    let tampered = String::from_utf8_lossy(&first.body).replace(&first_type, "order_canceled");
    assert!(verify_signature(&secret, tampered.as_bytes(), first.signature.as_deref().unwrap()).is_err());
}

#[tokio::test]
async fn a_normal_order_costs_three_calls_to_submit_and_one_read_per_webhook() {
    let receiver = Receiver::start(0).await;
    let (sim, _, client) = start(signed_config(&receiver.url)).await;
    let ext = fresh_external_id();
    // Submitting as backroom does: look for an existing order, create the draft, confirm it.
    assert_eq!(client.order_by_external_id(&ext).await, Ok(None));
    let draft = client.create_order(&new_order(&ext)).await.unwrap();
    client.confirm_order(draft.id).await.unwrap();
    assert_eq!(client.calls(), 3);
    sim.advance(&ext).await.unwrap();
    sim.advance(&ext).await.unwrap();
    sim.settle().await;
    // Each webhook is a hint that costs one read of the order.
    let webhooks = receiver.received();
    for w in &webhooks {
        let event = parse_event(&w.body).unwrap();
        client
            .order_by_external_id(event.external_id.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        webhooks.len(),
        5,
        "created, confirmed, in production, shipped, fulfilled"
    );
    assert_eq!((client.calls(), sim.calls()), (8, 8));
}

#[tokio::test]
async fn without_a_secret_webhooks_are_unsigned_as_in_v1() {
    let receiver = Receiver::start(0).await;
    let (sim, _, client) = start(PrintfulSimConfig {
        webhook_url: Some(receiver.url.clone()),
        ..PrintfulSimConfig::default()
    })
    .await;
    client.create_order(&new_order(&fresh_external_id())).await.unwrap();
    sim.settle().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].signature.as_deref(), got[0].public_key.as_deref()),
        (None, None)
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_redeliveries_with_rising_retries() {
    let receiver = Receiver::start(2).await;
    let (sim, _, client) = start(signed_config(&receiver.url)).await;
    client.create_order(&new_order(&fresh_external_id())).await.unwrap();
    sim.settle().await;
    let attempts = sim.deliveries();
    assert_eq!(
        attempts
            .iter()
            .map(|d| (d.attempt, d.retries, d.status))
            .collect::<Vec<_>>(),
        vec![(1, 0, Some(500)), (2, 1, Some(500)), (3, 2, Some(200))]
    );
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let secret = SecretString::from(SECRET_HEX);
    for r in &got {
        assert_eq!(
            verify_signature(&secret, &r.body, r.signature.as_deref().unwrap()),
            Ok(())
        );
    }
    // Each redelivery is a different body with a different signature, and the same event id.
    assert_ne!(got[0].body, got[1].body);
    assert_ne!(got[0].signature, got[1].signature);
    let ids: Vec<String> = got.iter().map(|r| event_id(&parse_event(&r.body).unwrap())).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
}

#[tokio::test]
async fn with_delivery_off_orders_change_but_no_webhook_is_sent() {
    let receiver = Receiver::start(0).await;
    let (sim, _, client) = start(signed_config(&receiver.url)).await;
    let (ext, id) = pending_order(&client).await;
    sim.settle().await;
    let before = receiver.received().len();
    sim.set_webhook_delivery(false);
    sim.set_status(&ext, "onhold", Some("Address needs checking"))
        .await
        .unwrap();
    sim.settle().await;
    assert_eq!(
        client.order(id).await.unwrap().unwrap().status,
        Status::Known(PrintfulStatus::Onhold)
    );
    assert_eq!(receiver.received().len(), before, "the webhook was lost");
    let last_types: Vec<String> = sim
        .events()
        .iter()
        .rev()
        .take(2)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        last_types,
        vec!["order_updated", "order_put_hold"],
        "the events still happened"
    );
    assert_eq!(sim.deliveries().len(), before);
}

#[tokio::test]
async fn holds_failures_and_cancellations_send_their_events() {
    let receiver = Receiver::start(0).await;
    let (sim, _, client) = start(signed_config(&receiver.url)).await;
    let (ext, id) = pending_order(&client).await;
    sim.set_status(&ext, "onhold", Some("Address needs checking"))
        .await
        .unwrap();
    sim.set_status(&ext, "pending", None).await.unwrap();
    sim.set_status(&ext, "failed", Some("Print file is missing"))
        .await
        .unwrap();
    client.cancel_order(id).await.unwrap();
    sim.settle().await;
    let expected = [
        "order_created",
        "order_updated",
        "order_put_hold",
        "order_updated",
        "order_remove_hold",
        "order_updated",
        "order_failed",
        "order_updated",
        "order_canceled",
        "order_updated",
    ];
    assert_eq!(made_types(&sim), expected);
    assert_eq!(receiver.sorted_types(), sorted(&expected));
    let events: Vec<_> = receiver
        .received()
        .iter()
        .map(|r| parse_event(&r.body).unwrap())
        .collect();
    let reason = |t: &str| events.iter().find(|e| e.event_type == t).and_then(|e| e.reason.clone());
    assert_eq!(reason("order_put_hold").as_deref(), Some("Address needs checking"));
    assert_eq!(reason("order_failed").as_deref(), Some("Print file is missing"));
    // Each change is stamped later than the one before, even within one second, so that the
    // receiver can order them and their event ids differ.
    let made: Vec<i64> = sim.events().iter().map(|e| e["created"].as_i64().unwrap()).collect();
    assert!(made.windows(2).all(|w| w[0] <= w[1]), "{made:?}");
    let updates: Vec<i64> = sim
        .events()
        .iter()
        .filter(|e| e["type"] == "order_updated")
        .map(|e| e["created"].as_i64().unwrap())
        .collect();
    assert!(updates.windows(2).all(|w| w[0] < w[1]), "{updates:?}");
}

#[tokio::test]
async fn the_webhook_configuration_is_what_the_client_reads() {
    let (sim, api_base, client) = start(PrintfulSimConfig {
        webhook_url: Some("http://127.0.0.1:9/webhooks/printful/token".into()),
        ..PrintfulSimConfig::default()
    })
    .await;
    let config = client.webhook_config().await.unwrap();
    assert_eq!(
        config.url.as_deref(),
        Some("http://127.0.0.1:9/webhooks/printful/token")
    );
    assert!(config.types.iter().any(|t| t == "package_shipped"));
    // Someone with a webhooks-scoped token points the events elsewhere, as v1 allows.
    let r = raw(
        "POST",
        &format!("{api_base}/webhooks"),
        Some("t"),
        Some(json!({ "url": "http://127.0.0.1:9/elsewhere", "types": ["order_updated"] })),
    )
    .await;
    assert_eq!(r.status, 200);
    let config = client.webhook_config().await.unwrap();
    assert_eq!(
        (config.url.as_deref(), config.types),
        (Some("http://127.0.0.1:9/elsewhere"), vec!["order_updated".to_string()])
    );
    // backroom's own setup call subscribes to every type it handles, all of which v1 has.
    let ours = client
        .set_webhook_config(
            "http://127.0.0.1:9/webhooks/printful/token",
            backroom_core::PrintfulEventKind::NAMES,
        )
        .await
        .unwrap();
    assert_eq!(ours.types, backroom_core::PrintfulEventKind::NAMES);
    assert_eq!(client.webhook_config().await.unwrap(), ours);
    let unknown = client
        .set_webhook_config("http://127.0.0.1:9/x", &["order_teleported"])
        .await;
    assert!(
        matches!(unknown, Err(PrintfulError::Api { status: 400, .. })),
        "{unknown:?}"
    );
    sim.set_webhook_url(None);
    assert_eq!(client.webhook_config().await.unwrap().url, None);
}

// ---------------------------------------------------------------------------------------------
// Envelopes and headers, and a corpus of answers for checking against the OpenAPI document

#[tokio::test]
async fn every_answer_is_a_v1_envelope_with_rate_limit_headers() {
    let receiver = Receiver::start(0).await;
    let (sim, api_base, _) = start(signed_config(&receiver.url)).await;
    let ext = fresh_external_id();
    let body = json!({
        "external_id": ext,
        "recipient": { "name": "Ada", "address1": "1 Main St", "city": "Riga", "country_code": "LV", "zip": "LV-1010" },
        "items": [{ "sync_variant_id": 4000101, "quantity": 1, "retail_price": "28.00", "name": "Print", "external_id": "line-0" }],
        "retail_costs": { "currency": "EUR" },
    });
    let t = Some("t");
    let mut answers = vec![
        (
            "create",
            raw("POST", &format!("{api_base}/orders"), t, Some(body.clone())).await,
        ),
        (
            "duplicate",
            raw("POST", &format!("{api_base}/orders"), t, Some(body)).await,
        ),
        (
            "get_by_external_id",
            raw("GET", &format!("{api_base}/orders/@{ext}"), t, None).await,
        ),
        (
            "confirm",
            raw("POST", &format!("{api_base}/orders/@{ext}/confirm"), t, None).await,
        ),
    ];
    sim.advance(&ext).await.unwrap();
    sim.advance(&ext).await.unwrap();
    let id = sim.orders()[0]["id"].as_i64().unwrap();
    answers.extend([
        (
            "get_fulfilled",
            raw("GET", &format!("{api_base}/orders/{id}"), t, None).await,
        ),
        (
            "list",
            raw(
                "GET",
                &format!("{api_base}/orders?status=fulfilled&offset=0&limit=10"),
                t,
                None,
            )
            .await,
        ),
        (
            "cancel_refused",
            raw("DELETE", &format!("{api_base}/orders/{id}"), t, None).await,
        ),
        (
            "not_found",
            raw("GET", &format!("{api_base}/orders/@nobody"), t, None).await,
        ),
        (
            "unauthorized",
            raw("GET", &format!("{api_base}/orders"), None, None).await,
        ),
        ("webhooks", raw("GET", &format!("{api_base}/webhooks"), t, None).await),
        (
            "bad_json",
            raw("POST", &format!("{api_base}/orders"), t, Some(json!("not an order"))).await,
        ),
    ]);
    let foreign = sim.create_foreign_order(None);
    answers.extend([
        (
            "get_foreign",
            raw("GET", &format!("{api_base}/orders/{foreign}"), t, None).await,
        ),
        (
            "hold_foreign",
            raw(
                "POST",
                &format!("{api_base}/orders/{foreign}/status"),
                None,
                Some(json!({ "status": "onhold", "reason": "Address check" })),
            )
            .await,
        ),
        (
            "fail_foreign",
            raw(
                "POST",
                &format!("{api_base}/orders/{foreign}/status"),
                None,
                Some(json!({ "status": "failed", "reason": "Print file is missing" })),
            )
            .await,
        ),
        (
            "cancel_foreign",
            raw("DELETE", &format!("{api_base}/orders/{foreign}"), t, None).await,
        ),
        ("list_all", raw("GET", &format!("{api_base}/orders"), t, None).await),
    ]);
    sim.fail_next(1, 429);
    answers.push(("rate_limited", raw("GET", &format!("{api_base}/orders"), t, None).await));
    let statuses: Vec<(&str, u16)> = answers.iter().map(|(n, r)| (*n, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("create", 200),
            ("duplicate", 400),
            ("get_by_external_id", 200),
            ("confirm", 200),
            ("get_fulfilled", 200),
            ("list", 200),
            ("cancel_refused", 400),
            ("not_found", 404),
            ("unauthorized", 401),
            ("webhooks", 200),
            ("bad_json", 400),
            ("get_foreign", 200),
            ("hold_foreign", 200),
            ("fail_foreign", 200),
            ("cancel_foreign", 200),
            ("list_all", 200),
            ("rate_limited", 429),
        ]
    );
    for (name, r) in &answers {
        assert_eq!(r.body["code"], r.status, "{name}: code equals the HTTP status");
        // Control routes are not API routes and carry no rate-limit headers.
        if !["hold_foreign", "fail_foreign"].contains(name) {
            for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
                assert!(r.headers.contains_key(h), "{name} lacks {h}");
            }
        }
        if r.status >= 400 {
            assert!(r.body["result"].is_string(), "{name}");
            assert!(
                r.body["error"]["reason"].is_string() && r.body["error"]["message"].is_string(),
                "{name}"
            );
        } else {
            assert!(r.body.get("result").is_some(), "{name}");
        }
    }
    let answer = |wanted: &str| &answers.iter().find(|(name, _)| *name == wanted).expect("asked above").1;
    let rate_limited = answer("rate_limited");
    assert_eq!(rate_limited.headers["retry-after"], "1");
    assert_eq!(rate_limited.headers["x-ratelimit-remaining"], "0");
    assert_eq!(
        answer("list").body["paging"],
        json!({ "total": 1, "offset": 0, "limit": 10 })
    );
    assert_eq!(
        answer("list_all").body["paging"],
        json!({ "total": 2, "offset": 0, "limit": 20 })
    );
    assert_eq!(
        answer("get_foreign").body["result"]["external_id"],
        Value::Null,
        "a foreign order has no external id"
    );

    // Save the answers and the webhooks for the schema check described in the crate's notes;
    // the directory is cargo's scratch space for integration tests.
    sim.settle().await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("printful-sim-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, r) in &answers {
        std::fs::write(
            dir.join(format!("response-{name}.json")),
            serde_json::to_vec_pretty(&r.body).unwrap(),
        )
        .unwrap();
    }
    for (n, w) in receiver.received().iter().enumerate() {
        let event = parse_event(&w.body).unwrap();
        std::fs::write(dir.join(format!("webhook-{n:02}-{}.json", event.event_type)), &w.body).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Money: what Printful charges and the retail costs on the packing slip

fn order_body(ext: &str, retail_costs: Value) -> Value {
    json!({
        "external_id": ext,
        "recipient": { "name": "Ada", "address1": "1 Main St", "city": "Riga", "country_code": "LV", "zip": "LV-1010" },
        "items": [
            { "sync_variant_id": 4711, "quantity": 2, "retail_price": "28.00", "name": "Print" },
            { "sync_variant_id": 4712, "quantity": 1, "retail_price": "40.00", "name": "Poster" },
        ],
        "retail_costs": retail_costs,
    })
}

#[tokio::test]
async fn orders_carry_printfuls_costs_and_echo_the_retail_costs() {
    let (sim, api_base, client) = start(PrintfulSimConfig {
        costs: PrintfulCosts {
            currency: "EUR".into(),
            default_item: 1500,
            variants: [(4711, 900)].into_iter().collect(),
            shipping: 650,
            vat_bps: 2100,
        },
        ..PrintfulSimConfig::default()
    })
    .await;
    let ext = fresh_external_id();
    let retail = json!({ "currency": "eur", "subtotal": "96.00", "discount": "9.60", "shipping": 4.9, "tax": "16.42", "total": "1.00", "vat": "2.00" });
    let created = raw(
        "POST",
        &format!("{api_base}/orders"),
        Some("t"),
        Some(order_body(&ext, retail)),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let order = &created.body["result"];
    // 2 × 9.00 + 1 × 15.00 = 33.00; shipping 6.50; VAT 21 % of 39.50 = 8.295 → 8.30.
    assert_eq!(
        order["costs"],
        json!({
            "currency": "EUR",
            "subtotal": "33.00",
            "discount": "0.00",
            "shipping": "6.50",
            "digitization": "0.00",
            "additional_fee": "0.00",
            "fulfillment_fee": "0.00",
            "retail_delivery_fee": "0.00",
            "tax": "0.00",
            "vat": "8.30",
            "total": "47.80",
        })
    );
    assert_eq!(order["items"][0]["price"], "9.00");
    assert_eq!(order["items"][1]["price"], "15.00");
    // What was sent, written as v1 writes money; vat and total are Printful's to fill in.
    assert_eq!(
        order["retail_costs"],
        json!({
            "currency": "EUR",
            "subtotal": "96.00",
            "discount": "9.60",
            "shipping": "4.90",
            "tax": "16.42",
            "vat": null,
            "total": "107.72",
        })
    );
    // The same through the client and in webhooks.
    let read = raw("GET", &format!("{api_base}/orders/@{ext}"), Some("t"), None).await;
    assert_eq!(read.body["result"]["costs"], order["costs"]);
    assert_eq!(sim.events()[0]["data"]["order"]["costs"]["total"], "47.80");
    client.confirm_order(order["id"].as_i64().unwrap()).await.unwrap();

    // New costs apply to later orders, not to this one.
    let changed = raw(
        "POST",
        &format!("{api_base}/control/costs"),
        None,
        Some(json!({ "shipping": 0, "vat_bps": 0, "variants": { "4712": 2000 } })),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["result"]["variants"], json!({ "4711": 900, "4712": 2000 }));
    let later = fresh_external_id();
    let second = raw(
        "POST",
        &format!("{api_base}/orders"),
        Some("t"),
        Some(order_body(&later, json!({ "currency": "EUR" }))),
    )
    .await;
    let second = &second.body["result"];
    assert_eq!(second["costs"]["subtotal"], "38.00");
    assert_eq!(second["costs"]["total"], "38.00");
    assert_eq!(second["retail_costs"]["subtotal"], Value::Null);
    assert_eq!(second["retail_costs"]["total"], Value::Null);
    let first = raw("GET", &format!("{api_base}/orders/@{ext}"), Some("t"), None).await;
    assert_eq!(first.body["result"]["costs"]["total"], "47.80");

    // Bad amounts are refused, and create nothing.
    let before = sim.orders().len();
    for bad in [json!("-1.00"), json!("12.345"), json!("abc"), json!(true)] {
        let answer = raw(
            "POST",
            &format!("{api_base}/orders"),
            Some("t"),
            Some(order_body(
                &fresh_external_id(),
                json!({ "currency": "EUR", "subtotal": bad }),
            )),
        )
        .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    let bad_costs = raw(
        "POST",
        &format!("{api_base}/control/costs"),
        None,
        Some(json!({ "shipping": -5 })),
    )
    .await;
    assert_eq!(bad_costs.status, 400, "{}", bad_costs.body);
    assert_eq!(sim.orders().len(), before);
}

#[tokio::test]
async fn by_default_each_item_costs_a_fixed_amount_and_shipping_is_flat() {
    let (sim, _, client) = start_default().await;
    let ext = fresh_external_id();
    client.create_order(&new_order(&ext)).await.unwrap();
    // Three units at 12.50 and 4.99 shipping, in USD, whatever the retail prices.
    let order = sim.orders().pop().unwrap();
    assert_eq!(order["costs"]["currency"], "USD");
    assert_eq!(order["costs"]["subtotal"], "37.50");
    assert_eq!(order["costs"]["shipping"], "4.99");
    assert_eq!(order["costs"]["vat"], "0.00");
    assert_eq!(order["costs"]["total"], "42.49");
    assert_eq!(order["retail_costs"]["currency"], "EUR");
}
