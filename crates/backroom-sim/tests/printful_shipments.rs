//! v2 shipments in the Printful simulator: `GET /v2/orders/{order_id}/shipments` in the shape of
//! Printful's v2 OpenAPI document (`data`, `paging`, `_links`), the advance that delivers a
//! fulfilled order's packages, and the control route that reports a package returned or lost,
//! with v1's `package_returned` webhook. Read back through backroom-printful's client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use backroom_core::OrderId;
use backroom_printful::v2::DeliveryStatus;
use backroom_printful::webhook::parse_event;
use backroom_printful::{NewItem, NewOrder, OrderRef, PrintfulClient, PrintfulError, PrintfulSettings, Recipient};
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig, SimError};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::{Value, json};

async fn start(config: PrintfulSimConfig) -> (PrintfulSim, String, PrintfulClient) {
    let (sim, api_base) = PrintfulSim::serve_loopback(config).await;
    let client = PrintfulClient::new(PrintfulSettings {
        token: SecretString::from("sim-token"),
        store_id: None,
        api_base: Some(api_base.clone()),
        timeout: Duration::from_secs(5),
        max_retries: 5,
        max_backoff: Duration::from_secs(5),
    })
    .unwrap();
    (sim, api_base, client)
}

/// A confirmed order of two lines (2 + 1 units); returns its external id and Printful id.
async fn pending_order(client: &PrintfulClient) -> (String, i64) {
    let ext = OrderId::new_random().external_id();
    let item = |n: u32, sync_variant_id: i64, quantity: u32| NewItem {
        sync_variant_id,
        quantity,
        retail_price: "28.00".into(),
        name: format!("Line {n}"),
        external_id: format!("{ext}-{n}"),
    };
    let order = NewOrder {
        external_id: ext.clone(),
        recipient: Recipient {
            name: "Ada Lovelace".into(),
            address1: "1 Main St".into(),
            address2: None,
            city: "Riga".into(),
            state_code: None,
            country_code: "LV".into(),
            zip: "LV-1010".into(),
            email: None,
            phone: None,
        },
        items: vec![item(0, 4000101, 2), item(1, 4000201, 1)],
        currency: "EUR".into(),
        retail_costs: None,
    };
    let created = client.create_order(&order).await.unwrap();
    client.confirm_order(created.id).await.unwrap();
    (ext, created.id)
}

struct Raw {
    status: u16,
    body: Value,
}

async fn raw(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Raw {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    let response = client
        .request(request.body(Full::new(Bytes::from(bytes))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The properties of the v2 document's `Shipment` schema, plus `tracking_number`, which
/// Printful sends though the beta document leaves it out.
const SHIPMENT_KEYS: [&str; 17] = [
    "id",
    "order_id",
    "order_external_id",
    "carrier",
    "service",
    "shipment_status",
    "shipped_at",
    "delivery_status",
    "delivered_at",
    "departure_address",
    "is_reshipment",
    "tracking_number",
    "tracking_url",
    "tracking_events",
    "estimated_delivery",
    "shipment_items",
    "_links",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn shipments_are_served_in_the_v2_shape_by_id_and_by_external_id() {
    let (sim, api, client) = start(PrintfulSimConfig::default()).await;
    let (ext, id) = pending_order(&client).await;

    let none = raw("GET", &format!("{api}/v2/orders/@{ext}/shipments"), Some("t"), None).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["data"], json!([]));
    assert_eq!(none.body["paging"], json!({ "total": 0, "offset": 0, "limit": 20 }));

    sim.advance(&ext).await.unwrap();
    sim.advance(&ext).await.unwrap();
    let by_ext = raw("GET", &format!("{api}/v2/orders/@{ext}/shipments"), Some("t"), None).await;
    assert_eq!(by_ext.status, 200, "{}", by_ext.body);
    assert_eq!(by_ext.body["paging"], json!({ "total": 1, "offset": 0, "limit": 20 }));
    let links = &by_ext.body["_links"];
    assert!(
        links["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/sim/printful/v2/orders/@{ext}/shipments?limit=20&offset=0"))
    );
    assert!(links.get("next").is_none() && links.get("previous").is_none());
    assert_eq!(links["first"], links["last"]);

    let s = &by_ext.body["data"][0];
    let mut expected: Vec<String> = SHIPMENT_KEYS.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(keys(s), expected);
    assert_eq!(s["order_id"], id);
    assert_eq!(s["order_external_id"], ext.as_str());
    assert_eq!(s["carrier"], "USPS");
    assert_eq!(s["shipment_status"], "shipped");
    assert_eq!(s["delivery_status"], "in_transit");
    assert_eq!(s["delivered_at"], Value::Null);
    assert_eq!(s["is_reshipment"], false);
    let shipped_at = s["shipped_at"].as_str().unwrap();
    assert!(shipped_at.len() == 20 && shipped_at.ends_with('Z'), "{shipped_at}");
    let v1 = &sim.orders()[0]["shipments"][0];
    assert_eq!(s["id"], v1["id"]);
    assert_eq!(s["tracking_number"], v1["tracking_number"]);
    assert_eq!(s["tracking_url"], v1["tracking_url"]);
    let items = s["shipment_items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        keys(&items[0]),
        vec![
            "_links",
            "id",
            "order_item_external_id",
            "order_item_id",
            "order_item_name",
            "quantity"
        ]
    );
    assert_eq!(items[0]["order_item_external_id"], format!("{ext}-0"));
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(items[1]["quantity"], 1);

    let by_id = raw("GET", &format!("{api}/v2/orders/{id}/shipments"), Some("t"), None).await;
    assert_eq!(by_id.body["data"], by_ext.body["data"]);

    // The client reads the same, typed.
    let read = client.order_shipments(&OrderRef::External(ext.clone())).await.unwrap();
    assert_eq!(read, client.order_shipments(&OrderRef::Id(id)).await.unwrap());
    assert_eq!(read.len(), 1);
    let shipment = &read[0];
    assert_eq!(shipment.delivery_status, DeliveryStatus::InTransit);
    assert_eq!(shipment.order_external_id.as_deref(), Some(ext.as_str()));
    assert_eq!(shipment.tracking_number.as_deref(), v1["tracking_number"].as_str());
    assert_eq!(shipment.shipped_at, v1["shipped_at"].as_i64());
    assert_eq!(shipment.delivered_at, None);
    assert!(shipment.estimated_from.is_some() && shipment.estimated_to >= shipment.estimated_from);
    let units: u32 = shipment.items.iter().map(|i| i.quantity).sum();
    assert_eq!(units, 3);

    assert_eq!(
        raw("GET", &format!("{api}/v2/orders/@{ext}/shipments"), None, None)
            .await
            .status,
        401
    );
    assert_eq!(
        raw("GET", &format!("{api}/v2/orders/@nobody/shipments"), Some("t"), None)
            .await
            .status,
        404
    );
    let missing = client
        .order_shipments(&OrderRef::External("nobody".into()))
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn shipments_page_with_limit_offset_and_links_and_the_client_reads_every_page() {
    let (sim, api, client) = start(PrintfulSimConfig::default()).await;
    let (ext, _) = pending_order(&client).await;
    sim.advance(&ext).await.unwrap();
    // One line per shipment: two packages.
    let partial = sim.advance_partly(&ext).await.unwrap();
    assert_eq!(partial["status"], "partial");
    let r = raw("POST", &format!("{api}/orders/@{ext}/advance?partial=true"), None, None).await;
    assert_eq!(
        (r.status, r.body["result"]["status"].as_str()),
        (200, Some("fulfilled"))
    );

    let url = |q: &str| format!("{api}/v2/orders/@{ext}/shipments?{q}");
    let first = raw("GET", &url("limit=1"), Some("t"), None).await;
    assert_eq!(first.body["paging"], json!({ "total": 2, "offset": 0, "limit": 1 }));
    assert_eq!(first.body["data"].as_array().unwrap().len(), 1);
    let next = first.body["_links"]["next"]["href"].as_str().unwrap();
    assert!(next.ends_with("shipments?limit=1&offset=1"), "{next}");
    assert!(
        first.body["_links"]["last"]["href"]
            .as_str()
            .unwrap()
            .ends_with("offset=1")
    );
    let second = raw("GET", &url("limit=1&offset=1"), Some("t"), None).await;
    assert_eq!(second.body["paging"]["offset"], 1);
    assert!(second.body["_links"].get("next").is_none());
    assert!(
        second.body["_links"]["previous"]["href"]
            .as_str()
            .unwrap()
            .ends_with("offset=0")
    );
    assert_ne!(first.body["data"][0]["id"], second.body["data"][0]["id"]);
    assert_eq!(second.body["data"][0]["shipment_items"].as_array().unwrap().len(), 1);
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=ten"] {
        assert_eq!(raw("GET", &url(bad), Some("t"), None).await.status, 400, "{bad}");
    }

    // The client asks for 100 a page; a server that answers with pages of one is followed.
    sim.set_max_page(1);
    let all = client.order_shipments(&OrderRef::External(ext.clone())).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_ne!(all[0].id, all[1].id);
    let asked: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/shipments") && r.query.as_deref().is_some_and(|q| q.starts_with("limit=100")))
        .map(|r| r.query.unwrap())
        .collect();
    assert_eq!(asked, vec!["limit=100&offset=0", "limit=100&offset=1"]);
}

#[tokio::test]
async fn advancing_a_fulfilled_order_delivers_its_packages() {
    let (sim, api, client) = start(PrintfulSimConfig::default()).await;
    let (ext, _) = pending_order(&client).await;
    sim.advance(&ext).await.unwrap();
    sim.advance(&ext).await.unwrap();
    let order = OrderRef::External(ext.clone());
    let shipped = client.order_shipments(&order).await.unwrap();
    assert_eq!(shipped[0].delivery_status, DeliveryStatus::InTransit);

    let r = raw("POST", &format!("{api}/orders/@{ext}/advance"), None, None).await;
    assert_eq!(
        (r.status, r.body["result"]["status"].as_str()),
        (200, Some("fulfilled"))
    );
    let delivered = client.order_shipments(&order).await.unwrap();
    assert_eq!(delivered[0].delivery_status, DeliveryStatus::Delivered);
    let at = delivered[0].delivered_at.expect("a delivered package has delivered_at");
    assert!(at >= shipped[0].shipped_at.unwrap());
    assert_eq!(delivered[0].shipment_status, "shipped");
    assert_eq!(delivered[0].tracking_events.last().unwrap().description, "Delivered");

    // Nothing is left on its way.
    assert!(matches!(sim.advance(&ext).await, Err(SimError::InvalidState(_))));
    let again = raw("POST", &format!("{api}/orders/@{ext}/advance"), None, None).await;
    assert_eq!(again.status, 409);
}

/// A webhook endpoint that keeps every body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    async fn keep(State(got): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes) -> StatusCode {
        got.lock().unwrap().push(body);
        StatusCode::OK
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route("/hook", post(keep)).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn a_returned_package_is_reported_with_package_returned_and_a_lost_one_as_failure() {
    let (hook, got) = receiver().await;
    let (sim, api, client) = start(PrintfulSimConfig {
        webhook_url: Some(hook),
        ..PrintfulSimConfig::default()
    })
    .await;
    let (ext, id) = pending_order(&client).await;
    let control = format!("{api}/orders/@{ext}/shipments/delivery");

    // No package yet.
    let early = raw("POST", &control, None, Some(json!({ "delivery_status": "failure" }))).await;
    assert_eq!(early.status, 409, "{}", early.body);

    sim.advance(&ext).await.unwrap();
    sim.advance_partly(&ext).await.unwrap();
    sim.advance_partly(&ext).await.unwrap();
    let order = OrderRef::External(ext.clone());
    let shipments = client.order_shipments(&order).await.unwrap();
    let (first, second) = (shipments[0].id, shipments[1].id);

    // The spelling the OpenAPI document does not have is refused, and changes nothing.
    let wrong = raw(
        "POST",
        &control,
        None,
        Some(json!({ "delivery_status": "returned_to_sender" })),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body["result"].as_str().unwrap().contains("return_to_sender"));
    assert_eq!(client.order_shipments(&order).await.unwrap(), shipments);

    sim.settle().await;
    let before = got.lock().unwrap().len();
    let returned = raw(
        "POST",
        &control,
        None,
        Some(json!({ "delivery_status": "return_to_sender", "shipment_id": first, "reason": "Address unknown" })),
    )
    .await;
    assert_eq!(returned.status, 200, "{}", returned.body);
    assert_eq!(returned.body["result"]["id"], first);
    assert_eq!(returned.body["result"]["delivery_status"], "return_to_sender");
    assert_eq!(returned.body["result"]["shipment_status"], "returned");
    assert_eq!(returned.body["result"]["delivered_at"], Value::Null);

    // The latest package, when none is named, is lost.
    let failed = sim.set_delivery_status(&ext, None, "failure", None).await.unwrap();
    assert_eq!(failed["id"], second);

    let read = client.order_shipments(&order).await.unwrap();
    assert_eq!(read[0].delivery_status, DeliveryStatus::ReturnToSender);
    assert_eq!(read[0].shipment_status, "returned");
    assert_eq!(read[1].delivery_status, DeliveryStatus::Failure);
    assert!(
        read.iter()
            .all(|s| s.delivery_status.is_undeliverable() && s.delivered_at.is_none())
    );

    // Only the return has a v1 event: `package_returned` with the shipment and the reason.
    sim.settle().await;
    let bodies: Vec<Bytes> = got.lock().unwrap()[before..].to_vec();
    assert_eq!(bodies.len(), 1);
    let event = parse_event(&bodies[0]).unwrap();
    assert_eq!(event.event_type, "package_returned");
    assert_eq!(event.order_id, Some(id));
    assert_eq!(event.external_id.as_deref(), Some(ext.as_str()));
    assert_eq!(event.shipment_id, Some(first));
    assert_eq!(event.reason.as_deref(), Some("Address unknown"));
    let raw_event: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(
        raw_event["data"]["shipment"]["tracking_number"],
        sim.orders()[0]["shipments"][0]["tracking_number"]
    );

    // A delivered package can still be reported, and gets its date; a returned one is not
    // delivered by the advance.
    let late = sim
        .set_delivery_status(&ext, Some(second), "delivered", None)
        .await
        .unwrap();
    assert!(late["delivered_at"].as_str().is_some());
    assert!(matches!(sim.advance(&ext).await, Err(SimError::InvalidState(_))));

    let unknown = raw(
        "POST",
        &control,
        None,
        Some(json!({ "delivery_status": "failure", "shipment_id": 1 })),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(matches!(
        client.order_shipments(&OrderRef::Id(999)).await,
        Err(PrintfulError::Api { status: 404, .. })
    ));
}
