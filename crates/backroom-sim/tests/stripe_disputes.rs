//! Disputes in the Stripe simulator, driven through backroom-stripe's client (so every dispute
//! is read by async-stripe's types): evidence staged with `submit=false`, submitted once, the
//! second submission refused, the list paged and filtered as Stripe pages it, and the bank's
//! decision from the control route. Raw HTTP covers what the client never sends.

use std::time::Duration;

use backroom_sim::{StripeSim, StripeSimConfig};
use backroom_stripe::{Dispute, Evidence, StripeClient, StripeError, StripeSettings};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::Value;

const BEARER: &str = "Bearer sk_test_sim";

async fn start() -> (StripeSim, String, StripeClient) {
    let (sim, api_base) = StripeSim::serve_loopback(StripeSimConfig::default()).await;
    let client = StripeClient::new(StripeSettings {
        secret_key: SecretString::from(sim.api_key_hint().to_string()),
        api_base: Some(api_base.clone()),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    (sim, api_base, client)
}

/// A paid session whose charge the bank disputes; returns the dispute's id.
async fn disputed(sim: &StripeSim, amount: i64) -> String {
    let session = sim.create_foreign_session(amount, "eur", false).await.unwrap();
    sim.dispute(&session, false).await.unwrap();
    let last = sim.disputes().pop().expect("a dispute was made");
    last["id"].as_str().unwrap().to_string()
}

struct Http {
    status: u16,
    body: Value,
}

async fn http(method: &str, url: &str, form: Option<&str>) -> Http {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", BEARER);
    if form.is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = builder
        .body(Full::new(Bytes::from(form.unwrap_or("").to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Http {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn shipping_evidence() -> Evidence {
    Evidence {
        customer_name: Some("Ada Lovelace".into()),
        customer_email_address: Some("ada@example.com".into()),
        shipping_carrier: Some("USPS".into()),
        shipping_tracking_number: Some("9400111899223100012345".into()),
        shipping_date: Some("2026-11-02".into()),
        shipping_address: Some("1 Main St, 10115 Berlin, DE".into()),
        product_description: Some("Harbour Tee, size M".into()),
        ..Evidence::default()
    }
}

fn events_of(sim: &StripeSim, event_type: &str) -> Vec<Value> {
    sim.events().into_iter().filter(|e| e["type"] == event_type).collect()
}

#[tokio::test]
async fn evidence_is_drafted_then_submitted_once() {
    let (sim, api, client) = start().await;
    let id = disputed(&sim, 4500).await;

    let fresh = client.dispute(&id).await.unwrap();
    assert_eq!(fresh.status, "needs_response");
    assert_eq!(
        (fresh.submission_count, fresh.has_evidence, fresh.past_due),
        (0, false, false)
    );
    assert_eq!(fresh.due_by, Some(fresh.created + 7 * 24 * 3600));
    assert!(fresh.evidence.is_empty());

    // A draft stays a draft: nothing is submitted, however often it is revised.
    let drafted = client.draft_dispute_evidence(&id, &shipping_evidence()).await.unwrap();
    assert_eq!(drafted.status, "needs_response");
    assert_eq!((drafted.submission_count, drafted.has_evidence), (0, true));
    assert_eq!(drafted.evidence, shipping_evidence());
    let more = Evidence {
        uncategorized_text: Some("Delivered on 2026-11-05, signed for.".into()),
        ..Evidence::default()
    };
    let revised = client.draft_dispute_evidence(&id, &more).await.unwrap();
    assert_eq!(revised.submission_count, 0);
    assert_eq!(
        revised.evidence.shipping_carrier.as_deref(),
        Some("USPS"),
        "earlier fields are kept"
    );
    assert_eq!(
        revised.evidence.uncategorized_text.as_deref(),
        Some("Delivered on 2026-11-05, signed for.")
    );
    let requests = sim.requests();
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2);

    let submitted = client.submit_dispute(&id).await.unwrap();
    assert_eq!(submitted.status, "under_review");
    assert_eq!(submitted.submission_count, 1);
    assert_eq!(submitted.evidence, client.dispute(&id).await.unwrap().evidence);
    assert_eq!(
        submitted.evidence.shipping_tracking_number.as_deref(),
        Some("9400111899223100012345")
    );

    // The client's own retry of the submit replays Stripe's first answer (same idempotency key)
    // rather than submitting again.
    let again = client.submit_dispute(&id).await.unwrap();
    assert_eq!((again.status.as_str(), again.submission_count), ("under_review", 1));

    // Any other second submission, or a later draft, is refused and changes nothing.
    let refused = http("POST", &format!("{api}/v1/disputes/{id}"), Some("submit=true")).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"]["type"], "invalid_request_error");
    let err = client.draft_dispute_evidence(&id, &more).await.unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 400, .. }), "{err}");
    assert!(!err.is_retryable());
    let after = client.dispute(&id).await.unwrap();
    assert_eq!((after.status.as_str(), after.submission_count), ("under_review", 1));

    // Each change made one `charge.dispute.updated` with what it replaced.
    let updated = events_of(&sim, "charge.dispute.updated");
    assert_eq!(updated.len(), 3);
    assert_eq!(updated[2]["data"]["previous_attributes"]["status"], "needs_response");
    assert_eq!(
        updated[2]["data"]["previous_attributes"]["evidence_details"]["submission_count"],
        0
    );
}

#[tokio::test]
async fn the_form_is_validated_like_stripes_and_submit_defaults_to_true() {
    let (sim, api, _client) = start().await;
    let id = disputed(&sim, 1000).await;
    let url = format!("{api}/v1/disputes/{id}");

    let unknown = http("POST", &url, Some("evidence[shoe_size]=42&submit=false")).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["code"], "parameter_unknown");
    assert_eq!(unknown.body["error"]["param"], "evidence[shoe_size]");
    let file = http("POST", &url, Some("evidence[receipt]=file_123&submit=false")).await;
    assert_eq!(file.status, 400);
    assert_eq!(file.body["error"]["code"], "resource_missing");
    let long = format!("evidence[uncategorized_text]={}&submit=false", "x".repeat(20_001));
    assert_eq!(http("POST", &url, Some(&long)).await.status, 400);
    let missing = http("POST", &format!("{api}/v1/disputes/dp_nope"), Some("submit=false")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "resource_missing");
    // Nothing above changed the dispute.
    let read = http("GET", &url, None).await;
    assert_eq!(read.body["evidence_details"]["has_evidence"], false);
    assert_eq!(read.body["evidence"]["customer_name"], Value::Null);

    // Without `submit`, Stripe submits what it is given.
    let done = http(
        "POST",
        &url,
        Some("evidence[customer_name]=Ada&evidence[shipping_carrier]=DHL&metadata[order]=abc"),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["object"], "dispute");
    assert_eq!(done.body["status"], "under_review");
    assert_eq!(done.body["evidence_details"]["submission_count"], 1);
    assert_eq!(done.body["evidence"]["shipping_carrier"], "DHL");
    assert_eq!(done.body["metadata"]["order"], "abc");
}

#[tokio::test]
async fn a_dispute_past_its_due_date_takes_no_evidence() {
    let (sim, _, client) = start().await;
    let id = disputed(&sim, 1000).await;
    sim.advance_clock(Duration::from_secs(8 * 24 * 3600));
    let late = client.dispute(&id).await.unwrap();
    assert!(late.past_due);
    let err = client
        .draft_dispute_evidence(&id, &shipping_evidence())
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 400, .. }), "{err}");
    let err = client.submit_dispute(&id).await.unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 400, .. }), "{err}");
    let still = client.dispute(&id).await.unwrap();
    assert_eq!((still.submission_count, still.has_evidence), (0, false));
}

#[tokio::test]
async fn the_list_pages_with_cursors_and_filters_by_charge() {
    let (sim, api, _client) = start().await;
    let mut ids = Vec::new();
    for amount in [1000, 2000, 3000] {
        ids.push(disputed(&sim, amount).await);
    }
    let first = http("GET", &format!("{api}/v1/disputes?limit=2"), None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["url"], "/v1/disputes");
    assert_eq!(first.body["has_more"], true);
    let page: Vec<&str> = first.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    let second = http(
        "GET",
        &format!("{api}/v1/disputes?limit=2&starting_after={}", ids[1]),
        None,
    )
    .await;
    assert_eq!(second.body["has_more"], false);
    assert_eq!(second.body["data"][0]["id"], ids[0].as_str());

    let charge = sim.disputes()[1]["charge"].as_str().unwrap().to_string();
    let by_charge = http("GET", &format!("{api}/v1/disputes?charge={charge}"), None).await;
    let found = by_charge.body["data"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], ids[1].as_str());
    assert_eq!(found[0]["amount"], 2000);

    let bad = http("GET", &format!("{api}/v1/disputes?limit=0"), None).await;
    assert_eq!(bad.status, 400);
    let unknown = http("GET", &format!("{api}/v1/disputes?status=won"), None).await;
    assert_eq!(unknown.body["error"]["code"], "parameter_unknown");
}

#[tokio::test]
async fn open_disputes_reads_every_page_and_leaves_decided_ones_out() {
    let (sim, api, client) = start().await;
    let mut ids = Vec::new();
    // More than one page of 100.
    for n in 0..103 {
        ids.push(disputed(&sim, 1000 + n).await);
    }
    sim.resolve_dispute(&ids[0], true, false).await.unwrap();
    let lost = http("POST", &format!("{api}/disputes/{}/resolve?outcome=lost", ids[1]), None).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    assert_eq!(lost.body["status"], "lost");
    assert_eq!(events_of(&sim, "charge.dispute.closed").len(), 2);
    // A decided dispute is decided for good.
    assert!(sim.resolve_dispute(&ids[1], true, false).await.is_err());

    let submitted = ids[2].clone();
    client
        .draft_dispute_evidence(&submitted, &shipping_evidence())
        .await
        .unwrap();
    client.submit_dispute(&submitted).await.unwrap();

    let open: Vec<Dispute> = client.open_disputes().await.unwrap();
    assert_eq!(open.len(), 101);
    let mut got: Vec<String> = open.iter().map(|d| d.id.clone()).collect();
    got.reverse();
    assert_eq!(got, ids[2..].to_vec(), "every open dispute, newest first");
    assert!(open.iter().all(Dispute::is_open));
    let under_review = open.iter().find(|d| d.id == submitted).unwrap();
    assert_eq!(under_review.status, "under_review");
    assert!(!under_review.needs_response());

    let lists: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/disputes")
        .collect();
    assert_eq!(lists.len(), 2, "two pages of 100");
    assert!(
        lists[1]
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("starting_after=")
    );
}
