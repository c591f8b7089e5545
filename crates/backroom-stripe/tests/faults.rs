//! How the client reports what goes wrong on the wire, against a server scripted to fail:
//! the caller decides to retry from `is_retryable`, so every fault must land in the right variant.
//! (The well-behaved API is covered against the simulator, in backroom-sim's tests.)

use std::time::Duration;

use backroom_stripe::{StripeClient, StripeError, StripeSettings};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(base: &str, timeout: Duration) -> StripeClient {
    StripeClient::new(StripeSettings {
        secret_key: SecretString::from("sk_test_faults".to_string()),
        api_base: Some(base.to_string()),
        timeout,
    })
    .unwrap()
}

async fn server_answering(body: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/charges/ch_1"))
        .and(header("authorization", "Bearer sk_test_faults"))
        .and(header("stripe-version", backroom_stripe::API_VERSION))
        .respond_with(body)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn stripe_error(status: u16, kind: &str, code: Option<&str>, message: &str) -> ResponseTemplate {
    let mut error = json!({ "type": kind, "message": message });
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

#[tokio::test]
async fn stripe_errors_keep_their_status_and_code() {
    let cases = [
        (429, "invalid_request_error", Some("rate_limit"), true),
        (409, "idempotency_error", None, true),
        (500, "api_error", None, true),
        (400, "invalid_request_error", Some("parameter_missing"), false),
        (401, "invalid_request_error", None, false),
    ];
    for (status, kind, code, retryable) in cases {
        let server = server_answering(stripe_error(status, kind, code, "scripted")).await;
        let err = client(&server.uri(), Duration::from_secs(5))
            .charge("ch_1")
            .await
            .unwrap_err();
        let expected_code = code.unwrap_or(kind).to_string();
        assert_eq!(
            err,
            StripeError::Api {
                status,
                code: Some(expected_code),
                message: "scripted".into()
            },
            "{status}"
        );
        assert_eq!(err.is_retryable(), retryable, "{status}");
    }
}

#[tokio::test]
async fn an_error_page_from_a_proxy_is_a_retryable_transport_failure() {
    let page = ResponseTemplate::new(502).set_body_raw("<html><body>Bad Gateway</body></html>", "text/html");
    let server = server_answering(page).await;
    let err = client(&server.uri(), Duration::from_secs(5))
        .charge("ch_1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::Transport(m) if m.contains("GET /v1/charges/ch_1")),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({}))
        .set_delay(Duration::from_secs(5));
    let server = server_answering(slow).await;
    let err = client(&server.uri(), Duration::from_millis(200))
        .charge("ch_1")
        .await
        .unwrap_err();
    assert_eq!(err, StripeError::Timeout);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_success_with_a_body_of_the_wrong_shape_is_a_parse_error() {
    let wrong = ResponseTemplate::new(200).set_body_json(json!({ "id": "ch_1", "object": "charge" }));
    let server = server_answering(wrong).await;
    let err = client(&server.uri(), Duration::from_secs(5))
        .charge("ch_1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::Parse(m) if m.contains("GET /v1/charges/ch_1")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn nobody_listening_is_a_retryable_transport_failure() {
    // Port 9 (discard) on loopback has no listener here: the connection is refused.
    let err = client("http://127.0.0.1:9", Duration::from_secs(5))
        .charge("ch_1")
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn every_request_sent_is_counted_once_by_the_client_and_its_clones() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/charges/ch_1"))
        .respond_with(stripe_error(500, "api_error", None, "scripted"))
        .expect(2)
        .mount(&server)
        .await;
    let stripe = client(&server.uri(), Duration::from_secs(5));
    assert_eq!(stripe.calls(), 0);

    // An error answer is not retried behind the caller's back: one call, one request.
    stripe.charge("ch_1").await.unwrap_err();
    assert_eq!(stripe.calls(), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // A clone shares the count, both ways.
    let clone = stripe.clone();
    clone.charge("ch_1").await.unwrap_err();
    assert_eq!((stripe.calls(), clone.calls()), (2, 2));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // An id refused before sending is not a request.
    stripe.charge("ch_1/../x").await.unwrap_err();
    assert_eq!(stripe.calls(), 2);

    // A request nobody answers was still sent.
    let refused = client("http://127.0.0.1:9", Duration::from_secs(5));
    refused.charge("ch_1").await.unwrap_err();
    assert_eq!(refused.calls(), 1);
}
