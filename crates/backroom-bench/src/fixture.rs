//! What the functions run against: a real PostgreSQL database (backroom-testkit's cluster), the
//! Stripe and Printful simulators on loopback, and an SQS queue on the local AWS emulator
//! (ministack). Also the shop's own checkout path, used to make real paid orders and their
//! `checkout.session.completed` events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use backroom_app::checkout::CheckoutSettings;
use backroom_app::http::{self, Shop};
use backroom_core::ports::{CatalogStore, EventSource, OrderStore, QueueMessage};
use backroom_core::{Catalog, OrderId};
use backroom_db::{Db, DbConfig, Store};
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use backroom_stripe::{StripeClient, StripeSettings};
use backroom_testkit::TestDatabase;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const STRIPE_KEY: &str = "sk_test_backroom_bench";
pub const WEBHOOK_SECRET: &str = "whsec_backroom_bench";
pub const PRINTFUL_TOKEN: &str = "printful-api-token-bench";
pub const PRINTFUL_WEBHOOK_TOKEN: &str = "printful-webhook-token-bench-0123456789";
pub const ORIGIN: &str = "https://shop.example";

/// One shop: a migrated database with the catalog, both simulators, and the checkout router.
pub struct Shop1 {
    pub db: TestDatabase,
    pub store: Store,
    pub stripe_sim: StripeSim,
    pub stripe_base: String,
    _printful_sim: PrintfulSim,
    pub printful_base: String,
    router: Router,
}

impl Shop1 {
    pub async fn new() -> anyhow::Result<Shop1> {
        let db = TestDatabase::new().await;
        let store = Store::new(Db::new(DbConfig::Url(db.url.clone().into()), 4));
        let catalog = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml"))
            .context("read catalog.toml")?;
        store
            .sync_catalog(&Catalog::from_toml(&catalog).map_err(|e| anyhow::anyhow!("{e}"))?)
            .await
            .map_err(|e| anyhow::anyhow!("sync the catalog: {e:?}"))?;
        let (stripe_sim, stripe_base) = StripeSim::serve_loopback(StripeSimConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            ..StripeSimConfig::default()
        })
        .await;
        let (printful_sim, printful_base) = PrintfulSim::serve_loopback(PrintfulSimConfig::default()).await;
        let stripe = StripeClient::new(StripeSettings {
            secret_key: STRIPE_KEY.to_string().into(),
            api_base: Some(stripe_base.clone()),
            timeout: Duration::from_secs(10),
        })?;
        let shop = Shop {
            store: store.clone(),
            stripe,
            checkout: CheckoutSettings {
                storefront_origin: ORIGIN.into(),
                shipping_countries: vec!["DE".into(), "FR".into()],
                shipping_rate_ids: vec![],
                ..Default::default()
            },
        };
        let router = http::shop_routes(Arc::new(shop));
        Ok(Shop1 {
            db,
            store,
            stripe_sim,
            stripe_base,
            _printful_sim: printful_sim,
            printful_base,
            router,
        })
    }

    /// A new order paid at the Stripe simulator (no webhook sent) and its
    /// `checkout.session.completed` event as the webhook function queues it.
    pub async fn paid_order(&self) -> anyhow::Result<QueueMessage> {
        let request = Request::builder()
            .method("POST")
            .uri("/checkout")
            .header("content-type", "application/json")
            .header("origin", ORIGIN)
            .body(Body::from(
                r#"{"items":[{"sku":"FOG-MUG","quantity":1},{"sku":"GULL-TOTE","quantity":1}],"email":"buyer@example.com"}"#,
            ))?;
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if status.as_u16() != 201 {
            bail!("POST /checkout answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let order: Value = serde_json::from_slice(&body)?;
        let order_id =
            OrderId::parse(order["order_id"].as_str().context("an order id")?).map_err(|e| anyhow::anyhow!("{e}"))?;
        let session = self
            .store
            .order(order_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .and_then(|o| o.stripe_session_id)
            .context("the order's Checkout Session")?;
        self.stripe_sim
            .pay(&session, false)
            .await
            .map_err(|e| anyhow::anyhow!("pay {session}: {e:?}"))?;
        let event = self
            .stripe_sim
            .events()
            .into_iter()
            .rev()
            .find(|e| e["type"] == "checkout.session.completed" && e["data"]["object"]["id"] == session.as_str())
            .context("the simulator's checkout.session.completed event")?;
        Ok(QueueMessage {
            source: EventSource::Stripe,
            event_id: event["id"].as_str().context("an event id")?.to_string(),
            event_type: "checkout.session.completed".into(),
            body: event.to_string(),
        })
    }
}

/// The local AWS emulator with the events queue.
pub struct Aws {
    pub endpoint: String,
    pub queue_url: String,
    pub client: aws_sdk_sqs::Client,
}

impl Aws {
    pub async fn start() -> anyhow::Result<Aws> {
        let emulator = tokio::task::spawn_blocking(backroom_testkit::shared_aws).await?;
        let endpoint = emulator.endpoint.clone();
        let sdk = backroom_aws::sdk_defaults()
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "bench",
            ))
            .load()
            .await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = client
            .create_queue()
            .queue_name("backroom-bench-events")
            .send()
            .await
            .context("create the events queue on ministack")?
            .queue_url
            .context("a queue url")?;
        Ok(Aws {
            endpoint,
            queue_url,
            client,
        })
    }

    /// Messages in the queue (approximate, as SQS says).
    pub async fn depth(&self) -> anyhow::Result<u64> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await?;
        Ok(attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub async fn purge(&self) -> anyhow::Result<()> {
        self.client.purge_queue().queue_url(&self.queue_url).send().await?;
        Ok(())
    }

    /// The variables every function gets to reach the emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_SESSION_TOKEN".into(), "test".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("EVENTS_QUEUE_URL".into(), self.queue_url.clone()),
        ]
    }
}

/// The variables of a shop's database and simulators, as the template gives them (secrets as
/// values rather than SSM parameter names: no SSM call at start).
pub fn shop_env(shop: &Shop1) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), shop.db.url.clone()),
        ("STRIPE_SECRET_KEY".into(), STRIPE_KEY.into()),
        ("STRIPE_API_BASE".into(), shop.stripe_base.clone()),
        ("STOREFRONT_ORIGIN".into(), ORIGIN.into()),
        ("PRINTFUL_TOKEN".into(), PRINTFUL_TOKEN.into()),
        ("PRINTFUL_API_BASE".into(), shop.printful_base.clone()),
    ]
}

/// An API Gateway HTTP API (payload 2.0) request event.
pub fn http_api_event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let now = chrono::Utc::now();
    let mut h: HashMap<String, String> = HashMap::from([
        (
            "host".to_string(),
            "abc123def4.execute-api.us-east-1.amazonaws.com".to_string(),
        ),
        ("x-forwarded-for".to_string(), "203.0.113.7".to_string()),
        ("x-forwarded-port".to_string(), "443".to_string()),
        ("x-forwarded-proto".to_string(), "https".to_string()),
        (
            "x-amzn-trace-id".to_string(),
            "Root=1-674244a0-1a2b3c4d5e6f708192a3b4c5".to_string(),
        ),
    ]);
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), v.to_string());
    }
    if let Some(b) = body {
        h.insert("content-length".into(), b.len().to_string());
    }
    let route = format!("{method} {path}");
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123def4",
            "domainName": "abc123def4.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123def4",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": h.get("user-agent").cloned().unwrap_or_else(|| "Mozilla/5.0".into())
            },
            "requestId": format!("{:x}", uuid::Uuid::new_v4().as_u128() >> 64),
            "routeKey": route,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis()
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// An SQS event with one record, as the event source mapping delivers a queued message.
pub fn sqs_event(message: &QueueMessage, queue_arn: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let attr =
        |v: &str| json!({ "stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String" });
    json!({
        "Records": [{
            "messageId": uuid::Uuid::new_v4().to_string(),
            "receiptHandle": format!("AQEB{}", uuid::Uuid::new_v4().simple()),
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now,
                "SenderId": "AROAEXAMPLE:stripe-webhook",
                "ApproximateFirstReceiveTimestamp": now
            },
            "messageAttributes": {
                "source": attr(message.source.as_str()),
                "event_id": attr(&message.event_id),
                "type": attr(&message.event_type)
            },
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1"
        }]
    })
}

/// What EventBridge Scheduler hands the scheduled functions (the template's `Input`).
pub fn schedule_event() -> Value {
    json!({ "trigger": "schedule" })
}

/// A Printful `package_shipped` webhook (v1 shape) for a made-up order.
pub fn printful_webhook_body() -> String {
    json!({
        "type": "package_shipped",
        "created": chrono::Utc::now().timestamp(),
        "retries": 0,
        "store": 1,
        "data": {
            "shipment": { "id": 4_711, "carrier": "DHL", "service": "DHL Parcel", "tracking_number": "00340434161094042557", "tracking_url": "https://www.dhl.com/track?00340434161094042557", "ship_date": "2026-11-23", "shipped_at": chrono::Utc::now().timestamp(), "reshipment": false },
            "order": { "id": 91_000_001, "external_id": "0194f1c27a3b7c4d8e5f6a7b8c9d0e1f", "status": "fulfilled" }
        }
    })
    .to_string()
}
