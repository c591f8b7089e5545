//! What both simulators' webhook deliveries share: one POST over plain http with a time limit,
//! on a client built once per simulator, and the count of delivery tasks in flight that
//! `settle` waits on. What is sent, how it is signed and when it is retried is each provider's
//! own (`stripe/deliver.rs`, `printful/deliver.rs`).

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One attempt may take this long before it counts as failed; both providers allow a few
/// seconds more.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A simulator that delivers webhooks on tasks of its own.
pub(crate) trait Delivers: Clone {
    /// The number of delivery tasks that have not ended.
    fn in_flight(&self) -> &watch::Sender<usize>;
}

/// One delivery task, counted from before it is spawned (so that `settle` right after the
/// change that caused it already waits) until it ends, however it ends.
pub(crate) struct InFlight<S: Delivers>(pub(crate) S);

impl<S: Delivers> InFlight<S> {
    pub(crate) fn start(sim: &S) -> Self {
        sim.in_flight().send_modify(|n| *n += 1);
        Self(sim.clone())
    }
}

impl<S: Delivers> Drop for InFlight<S> {
    fn drop(&mut self) {
        self.0.in_flight().send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// POSTs `body` to `url` with `headers` and answers the status. The answer is read to the end
/// so that the connection can be reused; its content is ignored, as both providers ignore it.
pub(crate) async fn post(
    http: &OnceLock<HttpClient>,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<u16, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("webhook URL {url:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "the simulator sends webhooks over plain http only, not to {url}"
        ));
    }
    let mut request = hyper::Request::post(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("could not build the webhook request: {e}"))?;
    let client = http.get_or_init(|| Client::builder(TokioExecutor::new()).build_http());
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("could not reach {url}: {e}"))?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not answer within {ATTEMPT_TIMEOUT:?}")))
}
