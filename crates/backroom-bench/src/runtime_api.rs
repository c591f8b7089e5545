//! A local Lambda Runtime API (the 2018-06-01 protocol a custom runtime speaks), enough to run a
//! function's `bootstrap` as Lambda would and time it:
//!
//! - `GET /2018-06-01/runtime/invocation/next` waits for the next event and answers it with the
//!   headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` finish that
//!   invocation (202), an unknown or finished id is refused (400);
//! - `POST /2018-06-01/runtime/init/error` records a failed start.
//!
//! One function instance polls it at a time, as on Lambda. Every invocation records when its
//! event was handed over and when its answer arrived, so a caller can time both the whole cold
//! start (from spawning the process) and each invocation (Lambda's "Duration").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

pub const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `POST .../response`: the function's result.
    Response(Vec<u8>),
    /// `POST .../error`: the error document and the `Lambda-Runtime-Function-Error-Type` header.
    Error { error_type: Option<String>, body: Vec<u8> },
}

/// A finished invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request_id: String,
    pub answer: Answer,
    /// When `GET .../next` handed the event over.
    pub delivered_at: Instant,
    /// When the answer arrived.
    pub answered_at: Instant,
}

impl Outcome {
    /// From hand-over to answer: what Lambda reports as the invocation's duration.
    pub fn duration(&self) -> Duration {
        self.answered_at - self.delivered_at
    }
}

/// A `POST /runtime/init/error` the function sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    pub error_type: Option<String>,
    pub body: Vec<u8>,
}

struct Queued {
    request_id: String,
    payload: Bytes,
    done: oneshot::Sender<Outcome>,
}

struct InFlight {
    delivered_at: Instant,
    done: oneshot::Sender<Outcome>,
}

struct Shared {
    function_arn: String,
    timeout: Duration,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    first_poll: Mutex<Option<Instant>>,
    init_error: watch::Sender<Option<InitError>>,
}

/// A running Runtime API server on a loopback port; it stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Queued>,
    server: tokio::task::JoinHandle<()>,
}

/// An event on its way: await [`Pending::outcome`] for its answer.
pub struct Pending {
    pub request_id: String,
    done: oneshot::Receiver<Outcome>,
}

impl Pending {
    /// The outcome, or `None` when the server went away first.
    pub async fn outcome(self) -> Option<Outcome> {
        self.done.await.ok()
    }
}

impl RuntimeApi {
    /// Starts a server for one function, on 127.0.0.1 and a free port. `timeout` sets each
    /// event's deadline (`Lambda-Runtime-Deadline-Ms` = now + timeout).
    pub async fn start(function_name: &str, timeout: Duration) -> std::io::Result<RuntimeApi> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (init_error, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            timeout,
            events: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(None),
            init_error,
        });
        let router = Router::new()
            .route(NEXT_PATH, get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route(INIT_ERROR_PATH, post(init_error_handler))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(RuntimeApi {
            addr,
            shared,
            sender,
            server,
        })
    }

    /// `127.0.0.1:<port>`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the function gets it from its next `GET .../next`.
    pub fn invoke(&self, payload: impl Into<Bytes>) -> Pending {
        let (done, receiver) = oneshot::channel();
        let request_id = uuid::Uuid::new_v4().to_string();
        let queued = Queued {
            request_id: request_id.clone(),
            payload: payload.into(),
            done,
        };
        // The receiver lives in `shared`, which this server holds: the send cannot fail.
        let _ = self.sender.send(queued);
        Pending {
            request_id,
            done: receiver,
        }
    }

    /// When the function first asked for an event: its init phase ended then.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.shared.first_poll)
    }

    /// Resolves when the function reports a failed start.
    pub async fn init_error(&self) -> InitError {
        let mut watch = self.shared.init_error.subscribe();
        loop {
            if let Some(e) = watch.borrow_and_update().clone() {
                return e;
            }
            if watch.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn problem(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errorType": error_type, "errorMessage": message })),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

/// An X-Ray style trace header, as Lambda passes it.
fn trace_id() -> String {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    let queued = {
        let mut events = shared.events.lock().await;
        events.recv().await
    };
    let Some(queued) = queued else {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the server is stopping",
        );
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + shared.timeout;
    lock(&shared.in_flight).insert(
        queued.request_id.clone(),
        InFlight {
            delivered_at: Instant::now(),
            done: queued.done,
        },
    );
    let mut response = (StatusCode::OK, queued.payload).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", queued.request_id);
    set("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
    set("lambda-runtime-invoked-function-arn", shared.function_arn.clone());
    set("lambda-runtime-trace-id", trace_id());
    response
}

fn finish(shared: &Shared, request_id: &str, answer: Answer) -> Response {
    let Some(in_flight) = lock(&shared.in_flight).remove(request_id) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "no invocation with this request id is in flight",
        );
    };
    let _ = in_flight.done.send(Outcome {
        request_id: request_id.to_string(),
        answer,
        delivered_at: in_flight.delivered_at,
        answered_at: Instant::now(),
    });
    accepted()
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    finish(&shared, &id, Answer::Response(body.to_vec()))
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = Answer::Error {
        error_type: error_type(&headers),
        body: body.to_vec(),
    };
    finish(&shared, &id, answer)
}

async fn init_error_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.init_error.send_replace(Some(InitError {
        error_type: error_type(&headers),
        body: body.to_vec(),
    }));
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A raw HTTP/1.1 exchange: status, lower-case headers, body.
    async fn http(
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, HashMap<String, String>, Vec<u8>) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut raw = vec![];
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        (status, headers, raw[split + 4..].to_vec())
    }

    fn now_ms() -> u128 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
    }

    #[tokio::test]
    async fn next_hands_over_the_event_with_its_headers_and_response_finishes_it() {
        let api = RuntimeApi::start("stripe-webhook", Duration::from_secs(10))
            .await
            .unwrap();
        let addr = api.address();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        assert!(api.first_poll().is_none());
        let pending = api.invoke(&br#"{"hello":"world"}"#[..]);
        let before = now_ms();
        let (status, headers, body) = http(&addr, "GET", NEXT_PATH, &[], b"").await;
        assert_eq!(status, 200);
        assert_eq!(body, br#"{"hello":"world"}"#);
        assert!(api.first_poll().is_some());
        assert_eq!(headers["lambda-runtime-aws-request-id"], pending.request_id);
        assert_eq!(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:000000000000:function:stripe-webhook"
        );
        assert!(headers["lambda-runtime-trace-id"].starts_with("Root=1-"), "{headers:?}");
        assert_eq!(headers["content-type"], "application/json");
        let deadline: u128 = headers["lambda-runtime-deadline-ms"].parse().unwrap();
        assert!(
            (before + 9_000..=now_ms() + 10_000).contains(&deadline),
            "the deadline is now + 10 s: {deadline} vs {before}"
        );

        let path = format!("/2018-06-01/runtime/invocation/{}/response", pending.request_id);
        let (status, _, _) = http(&addr, "POST", &path, &[], br#"{"statusCode":200}"#).await;
        assert_eq!(status, 202);
        let outcome = pending.outcome().await.unwrap();
        assert_eq!(outcome.answer, Answer::Response(br#"{"statusCode":200}"#.to_vec()));
        assert!(outcome.answered_at >= outcome.delivered_at);

        // The invocation is finished: a second answer for it is refused.
        let (status, _, body) = http(&addr, "POST", &path, &[], b"{}").await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("InvalidRequestID"));
    }

    #[tokio::test]
    async fn each_event_gets_its_own_request_id_in_order_and_next_waits_for_one() {
        let api = RuntimeApi::start("event-worker", Duration::from_secs(3)).await.unwrap();
        let addr = api.address();
        // Nothing queued: next blocks until an event arrives.
        let poll = tokio::spawn({
            let addr = addr.clone();
            async move { http(&addr, "GET", NEXT_PATH, &[], b"").await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!poll.is_finished(), "next answered with no event queued");
        let first = api.invoke(&b"1"[..]);
        let second = api.invoke(&b"2"[..]);
        assert_ne!(first.request_id, second.request_id);
        let (_, headers, body) = poll.await.unwrap();
        assert_eq!(
            (headers["lambda-runtime-aws-request-id"].as_str(), body.as_slice()),
            (first.request_id.as_str(), &b"1"[..])
        );
        let (_, headers, body) = http(&addr, "GET", NEXT_PATH, &[], b"").await;
        assert_eq!(
            (headers["lambda-runtime-aws-request-id"].as_str(), body.as_slice()),
            (second.request_id.as_str(), &b"2"[..])
        );

        // Answered out of order, each answer reaches its own invocation.
        let answer = |id: &str, verb: &str| format!("/2018-06-01/runtime/invocation/{id}/{verb}");
        let (status, _, _) = http(
            &addr,
            "POST",
            &answer(&second.request_id, "error"),
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.HandlerError")],
            br#"{"errorMessage":"boom","errorType":"Boom"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let (status, _, _) = http(&addr, "POST", &answer(&first.request_id, "response"), &[], b"ok").await;
        assert_eq!(status, 202);
        assert_eq!(first.outcome().await.unwrap().answer, Answer::Response(b"ok".to_vec()));
        assert_eq!(
            second.outcome().await.unwrap().answer,
            Answer::Error {
                error_type: Some("Runtime.HandlerError".into()),
                body: br#"{"errorMessage":"boom","errorType":"Boom"}"#.to_vec(),
            }
        );
        // An id that was never handed out is refused.
        let (status, _, _) = http(&addr, "POST", &answer("not-a-request", "response"), &[], b"x").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn an_init_error_is_recorded_with_its_type() {
        let api = RuntimeApi::start("reconciler", Duration::from_secs(3)).await.unwrap();
        let (status, _, _) = http(
            &api.address(),
            "POST",
            INIT_ERROR_PATH,
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.ExitError")],
            br#"{"errorMessage":"DATABASE_URL is not set"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let error = tokio::time::timeout(Duration::from_secs(2), api.init_error())
            .await
            .unwrap();
        assert_eq!(error.error_type.as_deref(), Some("Runtime.ExitError"));
        assert!(String::from_utf8_lossy(&error.body).contains("DATABASE_URL"));
    }
}
