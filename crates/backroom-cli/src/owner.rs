//! The owner page and its JSON API, once for both servers that show it: `backroom dev` (with
//! the simulators and the in-process queue) and `backroom owner`, which serves it on 127.0.0.1
//! against the deployed shop with the owner's own credentials: the database from the
//! environment, the stack's dead-letter queue on SQS, its CloudWatch alarms, and the disputes at
//! Stripe when a key is set. Every route here reads; in `backroom owner` any other method is
//! refused, and the page names the `backroom` command to run instead. Only the machine's own
//! Host and Origin reach the owner routes (see [`guard_owner_routes`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use backroom_app::outbox::{Outbox, Publisher};
use backroom_app::queue::LocalQueue;
use backroom_app::status::Alarms;
use backroom_app::watchdog::Deadlines;
use backroom_app::wiring::{Services, Tuning};
use backroom_app::{Config, summary};
use backroom_aws::cloudwatch::CloudWatchAlarms;
use backroom_core::ports::{AlertStore, OrderFilter, OrderStore, ReconcileStore};
use backroom_db::Store;
use backroom_stripe::StripeClient;
use serde_json::json;

use crate::dlq::{DLQ_SUFFIX, stack_from_dlq_url};

#[derive(clap::Args, Clone, Debug)]
pub struct OwnerArgs {
    /// The stack whose alarms and dead-letter queue to show (default: read from
    /// DEAD_LETTER_QUEUE_URL, which template.yaml names `<stack>-events-dlq`).
    #[arg(long)]
    pub stack: Option<String>,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3001)]
    pub port: u16,
}

/// Where the page's dead letters come from.
#[derive(Clone, Debug)]
pub enum DeadLetterSource {
    /// `backroom dev`'s in-process queue.
    Local(LocalQueue),
    /// The stack's dead-letter queue.
    Sqs { sqs: aws_sdk_sqs::Client, url: String },
    /// Neither is known: why.
    Unknown(String),
}

/// Where the page's alarms come from.
#[derive(Clone, Debug)]
pub enum AlarmSource {
    NotInDev,
    Stack {
        cloudwatch: CloudWatchAlarms,
        prefix: String,
    },
    NotConfigured(String),
}

impl AlarmSource {
    async fn read(&self) -> Alarms {
        match self {
            AlarmSource::NotInDev => Alarms::NotInDev,
            AlarmSource::Stack { cloudwatch, prefix } => Alarms::from_cloudwatch(cloudwatch, prefix).await,
            AlarmSource::NotConfigured(hint) => Alarms::NotConfigured { hint: hint.clone() },
        }
    }
}

/// What the owner page reads from.
#[derive(Clone, Debug)]
pub struct OwnerPage {
    /// `dev` or `owner`: the page words its hints after it.
    pub mode: &'static str,
    pub store: Store,
    /// For the open disputes; none without a Stripe key.
    pub stripe: Option<StripeClient>,
    /// How order events are described and where they are published.
    pub outbox: Outbox,
    pub dead_letters: DeadLetterSource,
    pub alarms: AlarmSource,
}

/// `backroom owner`: the page on 127.0.0.1 until Ctrl-C.
pub async fn run(args: OwnerArgs, config: Config) -> anyhow::Result<()> {
    if config.database.is_none() {
        bail!("backroom owner reads the deployed shop: set DSQL_ENDPOINT (and AWS_REGION, DSQL_ROLE) or DATABASE_URL");
    }
    let services = Services::new(config.clone(), Tuning::local(2))?;
    let store = services.store.clone();
    let (dead_letters, stack) = dead_letter_queue(&config, args.stack).await;
    let alarms = match &stack {
        Some(stack) => AlarmSource::Stack {
            cloudwatch: CloudWatchAlarms::from_env().await,
            prefix: format!("{stack}-"),
        },
        None => AlarmSource::NotConfigured("pass --stack NAME (or set DEAD_LETTER_QUEUE_URL)".into()),
    };
    let stripe = match &config.stripe_secret_key {
        Some(_) => Some(services.stripe()?),
        None => None,
    };
    let page = Arc::new(OwnerPage {
        mode: "owner",
        outbox: services.outbox(),
        store,
        stripe,
        dead_letters,
        alarms,
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .merge(admin_routes(page.clone()))
        .merge(page_files())
        .layer(axum::middleware::from_fn(read_only))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(Guard {
                own: OwnHost::new(addr.port()),
                scope: Scope::Everything,
            }),
            guard_owner_routes,
        ));
    println!("backroom owner (read-only) at http://{addr}/admin");
    match &page.dead_letters {
        DeadLetterSource::Sqs { url, .. } => println!("  dead letters:  SQS {url}"),
        DeadLetterSource::Unknown(hint) => println!("  dead letters:  unknown: {hint}"),
        DeadLetterSource::Local(_) => {}
    }
    match &page.alarms {
        AlarmSource::Stack { prefix, .. } => println!("  alarms:        CloudWatch {prefix}*"),
        AlarmSource::NotConfigured(hint) => println!("  alarms:        unknown: {hint}"),
        AlarmSource::NotInDev => {}
    }
    if page.stripe.is_none() {
        println!("  disputes:      unknown: set STRIPE_SECRET_KEY to list them");
    }
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")?;
    Ok(())
}

/// The stack's dead-letter queue: DEAD_LETTER_QUEUE_URL as `backroom dlq` and `backroom status`
/// read it, else `<stack>-events-dlq` looked up by name; and the stack, as `status` finds it.
/// Without either, AWS is not asked anything.
async fn dead_letter_queue(config: &Config, stack: Option<String>) -> (DeadLetterSource, Option<String>) {
    let stack = stack.or_else(|| config.dead_letter_queue_url.as_deref().and_then(stack_from_dlq_url));
    if stack.is_none() && config.dead_letter_queue_url.is_none() {
        return (
            DeadLetterSource::Unknown("set DEAD_LETTER_QUEUE_URL or pass --stack NAME".into()),
            None,
        );
    }
    let sdk = backroom_aws::sdk_config().await;
    let sqs = &aws_sdk_sqs::Client::new(&sdk);
    if let Some(url) = &config.dead_letter_queue_url {
        return (
            DeadLetterSource::Sqs {
                sqs: sqs.clone(),
                url: url.clone(),
            },
            stack,
        );
    }
    let Some(name) = stack.as_ref().map(|s| format!("{s}{DLQ_SUFFIX}")) else {
        return (
            DeadLetterSource::Unknown("set DEAD_LETTER_QUEUE_URL or pass --stack NAME".into()),
            None,
        );
    };
    let source = match sqs.get_queue_url().queue_name(&name).send().await {
        Ok(answer) => match answer.queue_url {
            Some(url) => DeadLetterSource::Sqs { sqs: sqs.clone(), url },
            None => DeadLetterSource::Unknown(format!("SQS gave no URL for {name}")),
        },
        Err(e) => DeadLetterSource::Unknown(format!("could not find the queue {name}: {}", crate::dlq::aws_error(e))),
    };
    (source, stack)
}

/// Which paths the Host/Origin guard covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The owner page and the simulators (`backroom dev`, whose storefront is public).
    OwnerRoutes,
    /// Every path (`backroom owner`, which serves nothing else).
    Everything,
}

#[derive(Clone, Debug)]
pub struct Guard {
    pub own: OwnHost,
    pub scope: Scope,
}

/// The routes of the owner page's API. All of them read.
pub fn admin_routes(page: Arc<OwnerPage>) -> Router {
    Router::new()
        .route("/admin/api/orders", get(admin_orders))
        .route("/admin/api/alerts", get(admin_alerts))
        .route("/admin/api/dlq", get(admin_dlq))
        .route("/admin/api/reconcile", get(admin_reconcile))
        .route("/admin/api/orders/{order_id}", get(admin_order))
        .route("/admin/api/events", get(admin_events))
        .route("/admin/api/summary", get(admin_summary))
        .with_state(page)
}

/// The storefront and the owner page, from the repo's `web/` directory (`backroom dev`).
pub fn static_routes() -> Router {
    let dir = web_dir();
    Router::new()
        .route_service(
            "/admin",
            tower_http::services::ServeFile::new(dir.join("admin/index.html")),
        )
        .fallback_service(tower_http::services::ServeDir::new(dir))
}

fn web_dir() -> PathBuf {
    let local = PathBuf::from("web");
    if local.join("index.html").exists() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web"))
}

/// The owner page's own files, built into the binary so that `backroom owner` runs from
/// anywhere (`backroom dev` serves the same files from `web/`).
fn page_files() -> Router {
    fn file(content_type: &'static str, body: &'static str) -> Response {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    }
    Router::new()
        .route(
            "/admin",
            get(|| async {
                file(
                    "text/html; charset=utf-8",
                    include_str!("../../../web/admin/index.html"),
                )
            }),
        )
        .route(
            "/admin/admin.js",
            get(|| async {
                file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../../web/admin/admin.js"),
                )
            }),
        )
        .route(
            "/admin/admin.css",
            get(|| async { file("text/css; charset=utf-8", include_str!("../../../web/admin/admin.css")) }),
        )
        .route(
            "/style.css",
            get(|| async { file("text/css; charset=utf-8", include_str!("../../../web/style.css")) }),
        )
}

/// `backroom owner` changes nothing: any method but GET and HEAD is refused, with the command
/// that does what a change would.
async fn read_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let body = json!({"error": {"code": "read_only",
        "message": "backroom owner only reads; make changes with the backroom command (backroom dlq redrive, \
                    backroom disputes submit ID, backroom orders release ID, …)"}});
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
        axum::Json(body),
    )
        .into_response()
}

/// Whether a path belongs to the machine's owner: the owner page, its API and the simulators
/// (which take payments and move orders along). The shop's public routes, the webhooks and the
/// storefront are not. Leading slashes are ignored, so `//admin` is the owner's too.
pub fn owner_only(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    ["admin", "sim"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// The names the server answers to: `127.0.0.1`, `localhost` and `[::1]` on its port.
#[derive(Clone, Debug)]
pub struct OwnHost {
    hosts: [String; 3],
}

impl OwnHost {
    pub fn new(port: u16) -> OwnHost {
        OwnHost {
            hosts: [
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ],
        }
    }

    fn is_own(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// A request may reach an owner route when it names the server as its one Host, and every
    /// Origin it carries (a browser sends one on a cross-site or non-GET request) is `http://`
    /// one of those names. No Origin (curl, the CLI) is fine.
    fn allows(&self, headers: &axum::http::HeaderMap) -> bool {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host_ok = match (hosts.next(), hosts.next()) {
            (Some(host), None) => host.to_str().is_ok_and(|h| self.is_own(h)),
            _ => false,
        };
        let origins_ok = headers.get_all(header::ORIGIN).iter().all(|origin| {
            origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix("http://"))
                .is_some_and(|h| self.is_own(h))
        });
        host_ok && origins_ok
    }
}

/// Refuses a guarded route (see [`Scope`], [`owner_only`]) to a request whose Host or Origin is
/// not the server's own: a web page the owner has open must not drive the owner page or the
/// simulators, neither by posting to them (CSRF) nor by pointing its own name at 127.0.0.1 (DNS
/// rebinding), nor read the shop's orders through them.
pub async fn guard_owner_routes(
    State(guard): State<Arc<Guard>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let guarded = guard.scope == Scope::Everything || owner_only(request.uri().path());
    if guarded && !guard.own.allows(request.headers()) {
        tracing::warn!(path = %request.uri().path(), "refused an owner route to a foreign Host or Origin");
        let body = json!({"error": {"code": "forbidden",
            "message": "the owner page answers only to this server's own address (Host and Origin)"}});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// The owner page is for the machine's own user: a caller from elsewhere gets a 403.
pub fn refuse_remote(addr: &SocketAddr) -> Option<Response> {
    if addr.ip().is_loopback() {
        return None;
    }
    let body = json!({"error": {"code": "forbidden", "message": "the owner page is loopback only"}});
    Some((StatusCode::FORBIDDEN, axum::Json(body)).into_response())
}

fn internal(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"error": {"code": "internal_error", "message": e.to_string()}})),
    )
        .into_response()
}

async fn admin_orders(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    match p
        .store
        .orders(&OrderFilter {
            status: None,
            limit: Some(500),
        })
        .await
    {
        Ok(orders) => axum::Json(json!({ "orders": orders.iter().map(|o| json!({
            "order_id": o.id, "number": o.number, "status": o.status(),
            "total": {"amount": o.total.amount.get(), "currency": o.total.currency.code()},
            "email": o.email.as_ref().map(|e| e.as_str()), "created_at": o.created_at, "updated_at": o.updated_at,
            "earned": o.earned(),
        })).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn admin_order(
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    State(p): State<Arc<OwnerPage>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    let Ok(id) = backroom_core::OrderId::parse(&id) else {
        return (StatusCode::BAD_REQUEST, "bad order id").into_response();
    };
    let (Ok(Some(order)), Ok(timeline), Ok(shipments)) = (
        p.store.order(id).await,
        p.store.timeline(id).await,
        p.store.shipments(id).await,
    ) else {
        return (StatusCode::NOT_FOUND, "no such order").into_response();
    };
    let deliveries = p.store.deliveries(id).await.unwrap_or_default();
    axum::Json(backroom_app::http::OrderStatusView::of(&order, &timeline, &shipments).with_deliveries(&deliveries))
        .into_response()
}

async fn admin_alerts(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    match p.store.alerts(200).await {
        Ok(alerts) => axum::Json(json!({ "alerts": alerts })).into_response(),
        Err(e) => internal(e),
    }
}

/// The dead letters: all of the in-process queue's, or a sample of the SQS queue's with its
/// approximate count. A queue that cannot be read is said so, with the page still answering.
async fn admin_dlq(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    match &p.dead_letters {
        DeadLetterSource::Local(queue) => {
            let messages: Vec<_> = queue
                .dead_letters()
                .iter()
                .map(|d| {
                    json!({ "message_id": d.message_id, "source": d.message.source.as_str(), "event_id": d.message.event_id,
                    "event_type": d.message.event_type, "receive_count": d.receive_count })
                })
                .collect();
            axum::Json(json!({ "queue": "dev", "messages": messages })).into_response()
        }
        DeadLetterSource::Sqs { sqs, url } => match crate::dlq::peek(sqs, url).await {
            Ok((approximate, messages)) => axum::Json(json!({
                "queue": url, "approximate_messages": approximate.parse::<u64>().ok(), "messages": messages,
            }))
            .into_response(),
            Err(e) => axum::Json(json!({ "queue": url, "messages": [], "error": format!("{e:#}") })).into_response(),
        },
        DeadLetterSource::Unknown(hint) => {
            axum::Json(json!({ "queue": null, "messages": [], "error": format!("unknown: {hint}") })).into_response()
        }
    }
}

async fn admin_reconcile(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    match p.store.last_run().await {
        Ok(run) => axum::Json(json!({ "run": run })).into_response(),
        Err(e) => internal(e),
    }
}

/// The newest order events from the outbox, published or waiting, each with the detail it is
/// published with.
async fn admin_events(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    use backroom_core::ports::OrderEventStore;
    let outbox = &p.outbox;
    let (entries, unpublished) = match (p.store.recent_events(200).await, p.store.unpublished_count().await) {
        (Ok(entries), Ok(unpublished)) => (entries, unpublished),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let mut list = Vec::with_capacity(entries.len());
    for entry in &entries {
        let detail = match outbox.event(entry).await {
            Ok(Some(event)) => serde_json::to_value(&event.detail).unwrap_or_default(),
            Ok(None) => serde_json::Value::Null,
            Err(e) => return internal(e),
        };
        list.push(json!({
            "event_id": entry.event_id, "order_id": entry.order_id, "detail_type": entry.event_type,
            "at": entry.at, "published_at": entry.published_at, "attempts": entry.attempts,
            "last_error": entry.last_error, "detail": detail,
        }));
    }
    let destination = match &outbox.publisher {
        Publisher::Console(_) => "console".to_string(),
        Publisher::EventBridge(bus) => format!("EventBridge bus {}", bus.name()),
        Publisher::Held => "nowhere (held in the outbox)".to_string(),
    };
    axum::Json(json!({ "destination": destination, "unpublished": unpublished, "events": list })).into_response()
}

/// The day series, the stuck orders, the open disputes and the alarms (backroom_app::summary),
/// with the server's mode.
async fn admin_summary(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(p): State<Arc<OwnerPage>>) -> Response {
    if let Some(denied) = refuse_remote(&addr) {
        return denied;
    }
    let alarms = p.alarms.read().await;
    let now = chrono::Utc::now();
    match summary::gather(&p.store, p.stripe.as_ref(), &Deadlines::default(), now, alarms).await {
        Ok(s) => {
            let mut body = serde_json::to_value(&s).unwrap_or_default();
            body["mode"] = json!(p.mode);
            axum::Json(body).into_response()
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_routes_are_the_admin_and_simulator_paths() {
        for path in [
            "/admin",
            "/admin/",
            "/admin/api/orders",
            "//admin/api/dlq",
            "/sim/stripe/checkout/cs_1",
            "/sim",
        ] {
            assert!(owner_only(path), "{path}");
        }
        for path in [
            "/",
            "/catalog",
            "/checkout",
            "/orders/x",
            "/webhooks/stripe",
            "/health",
            "/app.js",
            "/administrator",
            "/simple",
        ] {
            assert!(!owner_only(path), "{path}");
        }
    }

    #[test]
    fn only_the_servers_own_names_pass() {
        let own = OwnHost::new(3000);
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = axum::http::HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, axum::http::HeaderValue::from_static(v));
            }
            h
        };
        assert!(own.allows(&headers(&[("host", "127.0.0.1:3000")])));
        assert!(own.allows(&headers(&[("host", "[::1]:3000"), ("origin", "http://localhost:3000")])));
        assert!(!own.allows(&headers(&[])));
        assert!(!own.allows(&headers(&[("host", "127.0.0.1")])));
        assert!(!own.allows(&headers(&[("host", "127.0.0.1:3000"), ("host", "evil.example")])));
        assert!(!own.allows(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://127.0.0.1:3000")
        ])));
        assert!(!own.allows(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000.evil.example")
        ])));
        assert!(!own.allows(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ])));
    }
}
