//! The client against wiremock: what it sends, how it reads Printful's answers and errors, and
//! how it behaves under rate limiting, server errors and timeouts. Attempts are counted from
//! the requests the mock server received; no test asserts how long anything took.

use std::time::Duration;

use backroom_core::machine::PrintfulStatus;
use backroom_printful::{NewItem, NewOrder, PrintfulClient, PrintfulError, PrintfulSettings, Recipient, Status};
use serde_json::{Value, json};
use wiremock::matchers::{any, body_partial_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pf-test-token";
const EXTERNAL_ID: &str = "0123456789abcdef0123456789abcdef";

fn settings(server: &MockServer) -> PrintfulSettings {
    PrintfulSettings {
        token: TOKEN.into(),
        store_id: None,
        api_base: Some(server.uri()),
        timeout: Duration::from_secs(5),
        max_retries: 5,
        max_backoff: Duration::from_secs(5),
    }
}

fn client(server: &MockServer) -> PrintfulClient {
    PrintfulClient::new(settings(server)).expect("valid settings")
}

fn order_json(id: i64, status: &str) -> Value {
    json!({
        "id": id,
        "external_id": EXTERNAL_ID,
        "store": 10,
        "status": status,
        "shipping": "STANDARD",
        "created": 1602607640,
        "updated": 1602607641,
        "recipient": { "name": "Ada", "country_code": "LV" },
        "items": [{ "id": 1, "sync_variant_id": 4000101, "quantity": 2, "retail_price": "28.00" }],
        "shipments": [],
    })
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "code": 200, "result": result }))
}

fn error(status: u16, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "code": status, "result": message, "error": { "reason": reason, "message": message } }))
}

fn rate_limited(retry_after: &str) -> ResponseTemplate {
    error(429, "TooManyRequests", "Too Many Requests")
        .insert_header("retry-after", retry_after)
        .insert_header("x-ratelimit-limit", "120")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", "42")
}

async fn attempts(server: &MockServer) -> usize {
    server.received_requests().await.expect("recording is on").len()
}

fn new_order() -> NewOrder {
    NewOrder {
        external_id: EXTERNAL_ID.into(),
        recipient: Recipient {
            name: "Ada Lovelace".into(),
            address1: "1 Main St".into(),
            address2: None,
            city: "Riga".into(),
            state_code: None,
            country_code: "LV".into(),
            zip: "LV-1010".into(),
            email: Some("ada@example.com".into()),
            phone: None,
        },
        items: vec![NewItem {
            sync_variant_id: 4000101,
            quantity: 2,
            retail_price: "28.00".into(),
            name: "Print (A3)".into(),
            external_id: format!("{EXTERNAL_ID}-0"),
        }],
        currency: "EUR".into(),
        retail_costs: None,
    }
}

#[tokio::test]
async fn requests_carry_the_bearer_token_and_the_store_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/orders/@{EXTERNAL_ID}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("x-pf-store-id", "4242"))
        .respond_with(ok(order_json(7, "pending")))
        .mount(&server)
        .await;
    let with_store = PrintfulClient::new(PrintfulSettings {
        store_id: Some("4242".into()),
        ..settings(&server)
    })
    .unwrap();
    let order = with_store
        .order_by_external_id(EXTERNAL_ID)
        .await
        .expect("call succeeds")
        .expect("order exists");
    assert_eq!(order.id, 7);

    // Without a store id the header is absent, and the mock above (which requires it) does not
    // answer: wiremock's default 404 reads as "no such order".
    let without_store = client(&server);
    assert_eq!(without_store.order_by_external_id(EXTERNAL_ID).await, Ok(None));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].headers.get("x-pf-store-id").is_none());
    assert_eq!(
        requests[1].headers.get("authorization").unwrap(),
        &format!("Bearer {TOKEN}")
    );
}

#[tokio::test]
async fn create_posts_a_draft_in_the_v1_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(query_param_is_missing("confirm"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "external_id": EXTERNAL_ID,
            "recipient": { "name": "Ada Lovelace", "address1": "1 Main St", "city": "Riga", "country_code": "LV", "zip": "LV-1010", "email": "ada@example.com" },
            "items": [{ "sync_variant_id": 4000101, "quantity": 2, "retail_price": "28.00", "name": "Print (A3)", "external_id": format!("{EXTERNAL_ID}-0") }],
            "retail_costs": { "currency": "EUR" },
        })))
        .respond_with(ok(order_json(11, "draft")))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let order = c.create_order(&new_order()).await.expect("created");
    assert_eq!(order.id, 11);
    assert_eq!(order.status, Status::Known(PrintfulStatus::Draft));
    assert_eq!(order.items[0].sync_variant_id, Some(4000101));
    assert_eq!(c.calls(), 1);
    // Keep the body as sent, for checking it against Printful's OpenAPI document by hand; the
    // directory is cargo's scratch space for integration tests.
    let sent = &server.received_requests().await.unwrap()[0];
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("printful-client-requests");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("create_order.json"), &sent.body).unwrap();
}

#[tokio::test]
async fn a_duplicate_external_id_is_or_13_and_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(error(
            400,
            "BadRequest",
            "OR-13: The external_id provided already exists and cannot be used",
        ))
        .mount(&server)
        .await;
    let err = client(&server).create_order(&new_order()).await.expect_err("duplicate");
    assert!(err.is_external_id_in_use(), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        matches!(&err, PrintfulError::Api { status: 400, code: Some(c), .. } if c == "OR-13"),
        "{err:?}"
    );
    assert_eq!(attempts(&server).await, 1);
}

#[tokio::test]
async fn unknown_orders_are_none_and_other_errors_are_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders/5"))
        .respond_with(error(404, "NotFound", "Not Found"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/@nobody"))
        .respond_with(error(404, "NotFound", "Not Found"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/6"))
        .respond_with(error(401, "BadRequest", "Malformed Authorization header."))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(c.order(5).await, Ok(None));
    assert_eq!(c.order_by_external_id("nobody").await, Ok(None));
    let shipments = c.shipments(5).await.expect_err("shipments of an unknown order");
    assert!(shipments.is_not_found());
    assert_eq!(
        c.order(6).await,
        Err(PrintfulError::Api {
            status: 401,
            code: Some("BadRequest".into()),
            message: "Malformed Authorization header.".into()
        })
    );
}

#[tokio::test]
async fn a_429_storm_is_waited_out_within_the_bound() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(rate_limited("0.05"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/9"))
        .respond_with(
            ok(order_json(9, "pending"))
                .insert_header("x-ratelimit-remaining", "117")
                .insert_header("x-ratelimit-limit", "120"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server);
    let order = c.order(9).await.expect("succeeds after the storm").expect("exists");
    assert_eq!(order.id, 9);
    assert_eq!(attempts(&server).await, 4, "three refusals, then the answer");
    assert_eq!(c.calls(), 4);
    let seen = c.rate_limit().expect("headers were sent");
    assert_eq!(
        (seen.limit, seen.remaining, seen.reset_secs),
        (Some(120), Some(117), None)
    );
}

#[tokio::test]
async fn waiting_stops_where_the_bound_would_be_passed() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(rate_limited("0.1"))
        .mount(&server)
        .await;
    // Each wait is 100 ms plus up to 10 ms of jitter, charged at 110 ms: three fit in 350 ms and
    // a fourth would not, so the call gives up after four attempts although ten retries are allowed.
    let c = PrintfulClient::new(PrintfulSettings {
        max_retries: 10,
        max_backoff: Duration::from_millis(350),
        ..settings(&server)
    })
    .unwrap();
    let err = c.confirm_order(3).await.expect_err("still limited");
    assert_eq!(
        err,
        PrintfulError::RateLimited {
            retry_after: Duration::from_millis(100)
        }
    );
    assert!(err.is_retryable());
    assert_eq!(attempts(&server).await, 4);
    assert_eq!(c.rate_limit().and_then(|r| r.remaining), Some(0));
}

#[tokio::test]
async fn waiting_stops_after_max_retries() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(rate_limited("0.01"))
        .mount(&server)
        .await;
    let c = PrintfulClient::new(PrintfulSettings {
        max_retries: 2,
        ..settings(&server)
    })
    .unwrap();
    let err = c.list_orders(None, 0, 100).await.expect_err("still limited");
    assert!(matches!(err, PrintfulError::RateLimited { .. }), "{err:?}");
    assert_eq!(attempts(&server).await, 3, "the first attempt and two retries");

    // A wait longer than the whole bound is not started at all.
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(rate_limited("60")).mount(&server).await;
    let err = client(&server).order(1).await.expect_err("limited for a minute");
    assert_eq!(
        err,
        PrintfulError::RateLimited {
            retry_after: Duration::from_secs(60)
        }
    );
    assert_eq!(attempts(&server).await, 1);
}

#[tokio::test]
async fn writes_are_not_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders/3/confirm"))
        .respond_with(error(500, "InternalError", "oops"))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/orders/3"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let c = client(&server);
    let confirm = c.confirm_order(3).await.expect_err("server error");
    assert!(confirm.is_retryable());
    assert!(matches!(confirm, PrintfulError::Api { status: 500, .. }));
    let cancel = c.cancel_order(3).await.expect_err("bad gateway");
    assert!(matches!(cancel, PrintfulError::Api { status: 502, .. }));
    assert_eq!(attempts(&server).await, 2, "one attempt each");
}

#[tokio::test]
async fn reads_are_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders/7"))
        .respond_with(error(500, "InternalError", "oops"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/7"))
        .respond_with(ok(order_json(7, "inprocess")))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/8"))
        .respond_with(error(503, "Unavailable", "down"))
        .mount(&server)
        .await;
    let c = client(&server);
    let order = c.order(7).await.expect("second attempt succeeds").expect("exists");
    assert_eq!(order.status, Status::Known(PrintfulStatus::Inprocess));
    assert_eq!(attempts(&server).await, 2);
    let err = c.order(8).await.expect_err("still down");
    assert!(matches!(err, PrintfulError::Api { status: 503, .. }));
    assert_eq!(attempts(&server).await, 2 + 3, "the first attempt and two retries");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ok(order_json(1, "draft")).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let c = PrintfulClient::new(PrintfulSettings {
        timeout: Duration::from_millis(200),
        ..settings(&server)
    })
    .unwrap();
    let create = c.create_order(&new_order()).await.expect_err("too slow");
    assert_eq!(create, PrintfulError::Timeout);
    assert!(create.is_retryable());
    assert_eq!(c.order(1).await, Err(PrintfulError::Timeout));
    assert_eq!(
        attempts(&server).await,
        2,
        "neither the create nor the read was repeated"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = PrintfulClient::new(PrintfulSettings {
        token: TOKEN.into(),
        store_id: None,
        api_base: Some(format!("http://127.0.0.1:{port}")),
        timeout: Duration::from_secs(5),
        max_retries: 5,
        max_backoff: Duration::from_secs(5),
    })
    .unwrap();
    let err = c.cancel_order(1).await.expect_err("nothing listens");
    assert!(matches!(&err, PrintfulError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(c.calls(), 1, "a DELETE is not repeated");
    let err = c.order(1).await.expect_err("nothing listens");
    assert!(matches!(&err, PrintfulError::Transport(_)), "{err:?}");
    assert_eq!(c.calls(), 1 + 3, "a GET is tried three times");
}

#[tokio::test]
async fn answers_are_read_leniently() {
    let server = MockServer::start().await;
    let odd = json!({
        "id": "123",
        "external_id": 4235234213u64,
        "status": "awaiting_stock",
        "created": "1602607640",
        "updated": 1602607700.0,
        "a_field_from_the_future": { "x": 1 },
        "items": [
            { "sync_variant_id": "4000101", "quantity": "2" },
            { "variant_id": 8630, "quantity": 1 }
        ],
        "shipments": [{
            "id": 10,
            "carrier": "FEDEX",
            "service": "FedEx SmartPost",
            "tracking_number": 0,
            "tracking_url": "https://www.fedex.com/fedextrack/?tracknumbers=0000000000",
            "ship_date": "2020-05-05",
            "shipped_at": "1588716060",
            "reshipment": 0
        }]
    });
    Mock::given(method("GET"))
        .and(path("/orders/123"))
        .respond_with(ok(odd))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/124"))
        .respond_with(ok(json!({ "status": "draft" })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/125"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let c = client(&server);
    let order = c.order(123).await.unwrap().unwrap();
    assert_eq!(order.id, 123);
    assert_eq!(order.external_id.as_deref(), Some("4235234213"));
    assert_eq!(order.status, Status::Other("awaiting_stock".into()));
    assert_eq!((order.created, order.updated), (1602607640, 1602607700));
    assert_eq!(order.items.len(), 2);
    assert_eq!(
        (order.items[0].sync_variant_id, order.items[0].quantity),
        (Some(4000101), 2)
    );
    assert_eq!(order.items[1].sync_variant_id, None);
    let s = &order.shipments[0];
    assert_eq!(
        (s.id, s.tracking_number.as_str(), s.shipped_at, s.reshipment),
        (10, "0", Some(1588716060), false)
    );
    assert_eq!(s.ship_date.as_deref(), Some("2020-05-05"));
    // An order without an id cannot be acted on: that is a parse error, not a silent zero.
    assert!(matches!(c.order(124).await, Err(PrintfulError::Parse(_))));
    assert!(matches!(c.order(125).await, Err(PrintfulError::Parse(_))));
}

#[tokio::test]
async fn the_list_sends_its_filter_and_reads_paging() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .and(query_param("status", "pending"))
        .and(query_param("offset", "200"))
        .and(query_param("limit", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 200,
            "result": [order_json(2, "pending"), order_json(1, "pending")],
            "paging": { "total": 202, "offset": 200, "limit": 100 }
        })))
        .mount(&server)
        .await;
    let page = client(&server)
        .list_orders(Some("pending"), 200, 500)
        .await
        .expect("a page");
    assert_eq!(page.orders.iter().map(|o| o.id).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!((page.total, page.offset), (202, 200));
}

#[tokio::test]
async fn the_webhook_configuration_is_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks"))
        .respond_with(ok(json!({ "url": "https://shop.example/webhooks/printful/t", "types": ["package_shipped", "order_updated"], "params": {} })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/webhooks"))
        .respond_with(ok(json!({ "url": null, "types": [], "params": [] })))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server);
    let config = c.webhook_config().await.expect("configured");
    assert_eq!(config.url.as_deref(), Some("https://shop.example/webhooks/printful/t"));
    assert_eq!(config.types, vec!["package_shipped", "order_updated"]);
    let none = c.webhook_config().await.expect("not configured");
    assert_eq!((none.url, none.types.len()), (None, 0));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    // A TLS server on loopback with a self-signed certificate for "localhost": the handshake
    // starts (the client speaks TLS to an https base) and fails, because the client trusts only
    // the webpki roots and never skips verification.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let server_config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        acceptor.accept(socket).await.map(|_| ())
    });
    let c = PrintfulClient::new(PrintfulSettings {
        token: TOKEN.into(),
        store_id: None,
        api_base: Some(format!("https://localhost:{port}")),
        timeout: Duration::from_secs(5),
        max_retries: 0,
        max_backoff: Duration::ZERO,
    })
    .unwrap();
    let err = c.cancel_order(1).await.expect_err("the certificate is not trusted");
    let PrintfulError::Transport(text) = &err else {
        panic!("{err:?}")
    };
    assert!(
        text.contains("UnknownIssuer") || text.to_lowercase().contains("certificate"),
        "{text}"
    );
    assert!(server.await.unwrap().is_err(), "the handshake never completed");
}
