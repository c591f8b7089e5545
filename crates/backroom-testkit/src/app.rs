//! TestApp: the shop wired as in production, on a fresh database, with both simulators, the
//! in-process queue and the worker, and verbs for the stories the tests (and benchmarks) tell.

use std::sync::Arc;
use std::time::Duration;

use crate::TestDatabase;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use backroom_app::http;
use backroom_app::queue::LocalQueue;
use backroom_app::services::Worker;
use backroom_app::wiring::{Services, Tuning};
use backroom_app::{Config, Queue};
use backroom_core::ports::{CatalogStore, OrderStore};
use backroom_core::{Catalog, Order, OrderId};
use backroom_db::Store;
use backroom_printful::PrintfulClient;
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use backroom_stripe::{StripeClient, StripeSettings};
use serde_json::Value;
use tower::ServiceExt;

pub const WEBHOOK_SECRET: &str = "whsec_backroom_tests";
pub const PRINTFUL_TOKEN: &str = "printful-webhook-token-for-tests-0123456789";
pub const PRINTFUL_SECRET_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const ORIGIN: &str = "https://shop.example";

pub struct TestApp {
    pub db: TestDatabase,
    pub store: Store,
    pub sim: StripeSim,
    pub stripe: StripeClient,
    pub printful_sim: PrintfulSim,
    pub printful: PrintfulClient,
    pub queue: LocalQueue,
    pub worker: Worker,
    pub router: Router,
    /// Where the app listens, for the simulator's webhooks.
    pub base: String,
}

pub struct Options {
    pub duplicate_deliveries: u32,
    pub fulfillment_paused: bool,
    /// The Printful client's timeout; short when a test makes the simulator drop a response.
    pub printful_timeout: Duration,
    /// The Stripe simulator's wait before retrying a webhook that was refused.
    pub stripe_retry_backoff: Duration,
    /// The Printful client's longest wait between retries.
    pub printful_max_backoff: Duration,
    /// Pre-created Stripe shipping rate ids offered at checkout (`STRIPE_SHIPPING_RATES`).
    pub shipping_rate_ids: Vec<String>,
    /// Keep the shop catalog's shipping zones (the default); `false` drops them, so that
    /// checkout offers `shipping_rate_ids` instead.
    pub shipping_zones: bool,
    /// `STRIPE_AUTOMATIC_TAX`: sessions ask Stripe Tax (the simulator's `tax_rate_bps`).
    pub automatic_tax: bool,
    /// `STRIPE_PROMOTION_CODES`: sessions take promotion codes.
    pub allow_promotion_codes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duplicate_deliveries: 0,
            fulfillment_paused: false,
            printful_timeout: Duration::from_secs(5),
            stripe_retry_backoff: StripeSimConfig::default().retry_backoff,
            printful_max_backoff: Duration::from_secs(30),
            shipping_rate_ids: vec![],
            shipping_zones: true,
            automatic_tax: false,
            allow_promotion_codes: false,
        }
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestApp {
        let db = TestDatabase::new().await;
        let (sim, api_base) = StripeSim::serve_loopback(StripeSimConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            duplicate_deliveries: options.duplicate_deliveries,
            delivery_delay: Duration::ZERO,
            max_delivery_attempts: 8,
            retry_backoff: options.stripe_retry_backoff,
            ..StripeSimConfig::default()
        })
        .await;
        let (printful_sim, printful_base) = PrintfulSim::serve_loopback(PrintfulSimConfig {
            webhook_secret_hex: Some(PRINTFUL_SECRET_HEX.into()),
            drop_delay: options.printful_timeout * 3,
            ..PrintfulSimConfig::default()
        })
        .await;
        // Built the way every process builds it: from variables, by the one wiring.
        let vars: std::collections::HashMap<String, String> = [
            ("DATABASE_URL", db.url.clone()),
            ("STRIPE_SECRET_KEY", "sk_test_backroom".into()),
            ("STRIPE_API_BASE", api_base.clone()),
            ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET.into()),
            ("STRIPE_SHIPPING_RATES", options.shipping_rate_ids.join(",")),
            ("STRIPE_AUTOMATIC_TAX", options.automatic_tax.to_string()),
            ("STRIPE_PROMOTION_CODES", options.allow_promotion_codes.to_string()),
            ("PRINTFUL_TOKEN", "printful-api-token".into()),
            ("PRINTFUL_API_BASE", printful_base.clone()),
            ("PRINTFUL_WEBHOOK_TOKEN", PRINTFUL_TOKEN.into()),
            ("PRINTFUL_WEBHOOK_SECRET", PRINTFUL_SECRET_HEX.into()),
            ("STOREFRONT_ORIGIN", ORIGIN.into()),
            ("SHIPPING_COUNTRIES", "DE,FR".into()),
            ("FULFILLMENT_PAUSED", options.fulfillment_paused.to_string()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = Config::from_vars(&vars).unwrap();
        let services = Services::new(
            config,
            Tuning {
                connections: 8,
                stripe_timeout: Duration::from_secs(5),
                printful_timeout: options.printful_timeout,
                printful_max_retries: 8,
                printful_max_backoff: options.printful_max_backoff,
            },
        )
        .unwrap();
        let store = services.store.clone();
        let catalog = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml")).unwrap();
        let mut catalog = Catalog::from_toml(&catalog).unwrap();
        if !options.shipping_zones {
            catalog.shipping_zones.clear();
        }
        store.sync_catalog(&catalog).await.unwrap();
        let queue = LocalQueue::new(Duration::from_millis(200), 5);
        let router = http::with_json_fallback(http::shop_routes(Arc::new(services.shop().unwrap())).merge(
            http::webhook_routes(Arc::new(services.ingest(Queue::Local(queue.clone())))),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served = router.clone();
        tokio::spawn(async move { axum::serve(listener, served).await });
        sim.set_webhook_url(Some(format!("{base}/webhooks/stripe")));
        printful_sim.set_webhook_url(Some(format!("{base}/webhooks/printful/{PRINTFUL_TOKEN}")));
        let mut worker = services.worker().await.unwrap();
        // Order events to the log; the catch-up publishes what is left at once.
        worker.outbox.catchup_grace = Duration::ZERO;
        let (stripe, printful) = (worker.stripe.clone(), worker.printful.clone());
        TestApp {
            db,
            store,
            sim,
            stripe,
            printful_sim,
            printful,
            queue,
            worker,
            router,
            base,
        }
    }

    /// One request through the router, as API Gateway would hand it over.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req.body(body.into()).unwrap()).await
    }

    /// Sends a request built by the caller; the answer's status and JSON body (or the text as a
    /// JSON string, or null when empty).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.request("POST", path, Some("application/json"), body.to_string())
            .await
    }

    /// Checks out and returns the order id and the Stripe session id.
    pub async fn checkout(&self, items: &[(&str, u32)]) -> (OrderId, String) {
        let items: Vec<Value> = items
            .iter()
            .map(|(sku, q)| serde_json::json!({"sku": sku, "quantity": q}))
            .collect();
        let (status, body) = self
            .post_json(
                "/checkout",
                &serde_json::json!({"items": items, "email": "buyer@example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let order_id = OrderId::parse(body["order_id"].as_str().unwrap()).unwrap();
        let session = self
            .order(order_id)
            .await
            .stripe_session_id
            .expect("the session is recorded on the order");
        assert!(
            body["checkout_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/sim/stripe/checkout/{session}")),
            "{body}"
        );
        (order_id, session)
    }

    pub async fn order(&self, id: OrderId) -> Order {
        self.store.order(id).await.unwrap().expect("the order exists")
    }

    /// Waits until the queue holds at least `n` messages (webhooks arrive on their own task).
    pub async fn wait_for_queue(&self, n: usize) {
        for _ in 0..500 {
            if self.queue.depth() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the queue never reached {n} messages (has {})", self.queue.depth());
    }

    /// Runs the worker until the queue has nothing visible; returns the ids that failed.
    pub async fn drain(&self) -> Vec<String> {
        while let Some(failed) = self.worker.run_local_batch(&self.queue).await {
            if !failed.is_empty() {
                return failed;
            }
        }
        vec![]
    }

    /// Pays the order's session on the simulator and processes the webhook (and whatever
    /// Printful sends back when the order reaches it).
    pub async fn pay(&self, order: OrderId) {
        let session = self.order(order).await.stripe_session_id.unwrap();
        self.sim.pay(&session, true).await.unwrap();
        self.wait_for_queue(1).await;
        assert!(self.drain().await.is_empty());
        self.settle().await;
    }

    /// Lets webhooks in flight arrive and processes everything queued.
    pub async fn settle(&self) {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(self.drain().await.is_empty(), "a message failed");
        }
    }

    /// Moves the order one step at the Printful simulator and processes the webhooks.
    pub async fn advance_at_printful(&self, order: OrderId) {
        self.printful_sim.advance(&order.external_id()).await.unwrap();
        self.settle().await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.connect().await.query_one(sql, &[]).await.unwrap().get(0)
    }
}

pub fn stripe_client(api_base: &str) -> StripeClient {
    StripeClient::new(StripeSettings {
        secret_key: "sk_test_backroom".to_string().into(),
        api_base: Some(api_base.to_string()),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}
