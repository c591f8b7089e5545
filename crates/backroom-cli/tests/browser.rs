//! The demo storefront in a real browser: `backroom dev` as a child process, headless Chromium
//! driven over the W3C WebDriver protocol (chromedriver, spoken to with reqwest), a purchase from
//! the cart through the Stripe simulator's pay page to the success page, and the order followed
//! there until the Printful simulator ships it. Screenshots go to `target/e2e/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`),
//! which `./scripts/setup` (run by `./scripts/test`) installs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

use support::{Dev, Owner, client, place_at, temp_dir};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of the key that holds an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for anything the page does by itself (rendering, redirects, polling).
const PAGE_WAIT: Duration = Duration::from_secs(30);
/// How long to wait for the order to move on (webhooks, the queue, the simulators).
const ORDER_WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// `backroom dev`, started as tests/dev.rs starts it
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// chromedriver and a WebDriver session
// ---------------------------------------------------------------------------------------------

/// chromedriver as a child process in a process group of its own, so that the Chromium it
/// starts goes with it: dropping this kills the whole group, also when the test panics.
struct Chromedriver {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Chromedriver {
    async fn start(c: &reqwest::Client) -> Chromedriver {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let dir = temp_dir("chromium");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let began = Instant::now();
        loop {
            if let Ok(r) = c.get(format!("{}/status", driver.url)).send().await {
                let status = json_of(r).await;
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                began.elapsed() < PAGE_WAIT,
                "chromedriver did not become ready on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What chromedriver and Chromium said is the best clue to a browser-side failure.
            let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- last lines of chromedriver.log ---");
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{line}");
            }
        }
        // The process group is chromedriver's own id (process_group(0)).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One WebDriver session: `url` is `{chromedriver}/session/{id}`.
struct Browser {
    c: reqwest::Client,
    url: String,
}

/// What a WebDriver command answered: its `value` on success, else the W3C error code
/// ("no such element", "stale element reference", ...) with its message.
type Answer = Result<Value, (String, String)>;

impl Browser {
    async fn open(c: &reqwest::Client, driver: &Chromedriver) -> Browser {
        let profile = driver.dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // The machine has no network: without these Chromium keeps trying to
                    // reach Google's hosts, and fails, many times over.
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // A fixed size and language, so that screenshots and formatted prices
                    // look the same on every machine.
                    "--window-size=1280,1000",
                    "--lang=en-US",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let r = c
            .post(format!("{}/session", driver.url))
            .header("content-type", "application/json")
            .body(caps.to_string())
            .send()
            .await
            .unwrap();
        let body = json_of(r).await;
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start Chromium: {body}"));
        println!(
            "browser: {} {}",
            body["value"]["capabilities"]["browserName"], body["value"]["capabilities"]["browserVersion"]
        );
        Browser {
            c: c.clone(),
            url: format!("{}/session/{id}", driver.url),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.c.request(method.clone(), format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = r.status();
        let body = json_of(r).await;
        if status.is_success() {
            Ok(body["value"].clone())
        } else {
            let error = body["value"]["error"].as_str().unwrap_or("unknown error");
            let message = body["value"]["message"].as_str().unwrap_or_default();
            Err((error.to_string(), message.to_string()))
        }
    }

    /// A command that must succeed.
    async fn must(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.call(method.clone(), path, body)
            .await
            .unwrap_or_else(|(e, m)| panic!("WebDriver {method} {path}: {e}: {m}"))
    }

    async fn go(&self, url: &str) {
        self.must(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn current_url(&self) -> String {
        let url = self.must(reqwest::Method::GET, "/url", None).await;
        url.as_str().unwrap_or_default().to_string()
    }

    async fn find(&self, css: &str) -> Answer {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(found[ELEMENT].clone())
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .must(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits for an element to be in the page and returns its id.
    async fn wait_for(&self, css: &str) -> String {
        let began = Instant::now();
        loop {
            match self.find(css).await {
                Ok(id) => return id.as_str().unwrap().to_string(),
                Err((e, m)) => assert!(
                    began.elapsed() < PAGE_WAIT,
                    "{css} never appeared on {}: {e}: {m}",
                    self.current_url().await
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let id = self.wait_for(css).await;
        self.must(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_for(css).await;
        self.must(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// The visible text of the element, or None while it is missing or being redrawn.
    async fn text(&self, css: &str) -> Option<String> {
        let id = self.find(css).await.ok()?;
        let text = self
            .call(reqwest::Method::GET, &format!("/element/{}/text", id.as_str()?), None)
            .await
            .ok()?;
        Some(text.as_str()?.trim().to_string())
    }

    async fn property(&self, css: &str, name: &str) -> Option<Value> {
        let id = self.find(css).await.ok()?;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", id.as_str()?),
            None,
        )
        .await
        .ok()
    }

    /// Waits until the element's text is `want`.
    async fn wait_for_text(&self, css: &str, want: &str, bound: Duration) {
        let began = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.as_deref() == Some(want) {
                return;
            }
            assert!(
                began.elapsed() < bound,
                "{css} never said {want:?} (last: {text:?}, page: {})",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the page's address contains `part`, and returns it.
    async fn wait_for_url(&self, part: &str) -> String {
        let began = Instant::now();
        loop {
            let url = self.current_url().await;
            if url.contains(part) {
                return url;
            }
            let error = self.text(r#"[data-testid="error"]"#).await;
            assert!(
                began.elapsed() < PAGE_WAIT,
                "the browser never reached {part}: it is on {url} (error box: {error:?})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Takes a screenshot of the window and writes it to `target/e2e/{name}`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let shot = self.must(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(shot.as_str().expect("a screenshot is base64 text"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG");
        assert!(
            png.len() > 10_000,
            "the screenshot {name} is suspiciously small ({} bytes): a blank page?",
            png.len()
        );
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/e2e"));
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &png).unwrap();
        let path = path.canonicalize().unwrap();
        println!("screenshot: {} ({} bytes)", path.display(), png.len());
        path
    }

    async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}

/// The body as JSON (reqwest is built without its json feature here), or null.
async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null)
}

/// Standard base64 (WebDriver's screenshot encoding), without a dependency for ten lines.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0, |n, (i, &c)| n | value(c) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Fails (never skips) when the browser is not installed, and says how to install it.
fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} (Debian package {package}) is missing, and this test drives a real browser. \
         Run ./scripts/test, whose scripts/setup installs Chromium and ChromeDriver, or install \
         them yourself: sudo apt-get install --no-install-recommends chromium chromium-driver"
    );
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_in_the_browser_and_watches_the_order_ship() {
    require(CHROMIUM, "chromium");
    require(CHROMEDRIVER, "chromium-driver");
    let began = Instant::now();
    let data = temp_dir("data");
    let c = client();
    let dev = Dev::start(&data);
    let driver = Chromedriver::start(&c).await;
    let browser = Browser::open(&c, &driver).await;

    // The storefront: the catalog is drawn by app.js from GET /catalog.
    browser.go(&format!("{}/", dev.url)).await;
    browser.wait_for(r#"[data-testid="product-fog-mug"]"#).await;

    // A size from the select, then two products into the cart.
    browser
        .click(r#"[data-testid="size-harbour-tee"] option[value="HARBOUR-TEE-L"]"#)
        .await;
    let chosen = browser.property(r#"[data-testid="size-harbour-tee"]"#, "value").await;
    assert_eq!(chosen, Some(json!("HARBOUR-TEE-L")), "the size select took the choice");
    browser.click(r#"[data-testid="add-harbour-tee"]"#).await;
    browser.click(r#"[data-testid="add-fog-mug"]"#).await;
    let lines = browser
        .find_all(r#"[data-testid="cart"] [data-testid^="cart-line-"]"#)
        .await;
    assert_eq!(lines.len(), 2, "the cart shows one line per product");
    browser.wait_for(r#"[data-testid="cart-line-HARBOUR-TEE-L"]"#).await;
    browser.wait_for(r#"[data-testid="cart-line-FOG-MUG"]"#).await;

    // Checkout: backroom creates the order and sends the browser to the Stripe simulator.
    browser.type_into(r#"[data-testid="email"]"#, "ann@example.com").await;
    browser.click(r#"[data-testid="checkout"]"#).await;
    let pay_page = browser.wait_for_url("/sim/stripe/checkout/").await;
    println!("pay page: {pay_page}");
    let table = browser.text("table").await.unwrap_or_default();
    assert!(
        table.contains("Harbour Tee") && table.contains("Fog Mug"),
        "the pay page lists the cart: {table:?}"
    );

    // Pay: the simulator's form posts to {checkout url}/pay and redirects to the success page.
    browser.click("button#pay").await;
    let success = browser.wait_for_url("/success.html?order_id=").await;
    let success_since = Instant::now();
    let order_id = success
        .split("order_id=")
        .nth(1)
        .unwrap()
        .split(['&', '#'])
        .next()
        .unwrap()
        .to_string();
    println!("success page: {success}");

    // The page follows the order by itself: paid, then sent to the Printful simulator.
    let status = r#"[data-testid="order-status"]"#;
    browser.wait_for_text(status, "submitted", ORDER_WAIT).await;
    let number = browser.text(r#"[data-testid="order-number"]"#).await;
    assert!(
        number.as_deref().is_some_and(|n| !n.is_empty()),
        "order number: {number:?}"
    );
    let total = browser.text(r#"[data-testid="order-total"]"#).await.unwrap_or_default();
    assert!(!total.is_empty(), "the success page shows a total");
    // The page shows what the API says, whatever the locale's way of writing money.
    let api = c.get(format!("{}/orders/{order_id}", dev.url)).send().await.unwrap();
    let api = json_of(api).await;
    assert_eq!(api["items"].as_array().map(Vec::len), Some(2), "{api}");
    let digits: String = total.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(
        digits.trim_start_matches('0'),
        api["total"]["amount"].to_string(),
        "the page's total {total:?} is the order's {}",
        api["total"]
    );
    assert_eq!(number.unwrap(), api["number"].to_string().trim_matches('"'));
    // The demo shop's zone charges shipping below its free-shipping threshold, and the page
    // shows it as charged.
    assert_eq!(api["shipping"]["amount"], 490, "{api}");
    let shipping = browser
        .text(r#"[data-testid="order-shipping"]"#)
        .await
        .unwrap_or_default();
    let shipping_digits: String = shipping.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(
        shipping_digits.trim_start_matches('0'),
        "490",
        "the page's shipping {shipping:?}"
    );
    assert_eq!(
        api["total"]["amount"],
        api["subtotal"]["amount"].as_i64().unwrap() + 490,
        "{api}"
    );
    browser.screenshot("success.png").await;

    // The Printful simulator makes and ships the order; the page keeps up on its own.
    let external = order_id.replace('-', "");
    for step in ["in_production", "shipped"] {
        let r = c
            .post(format!("{}/sim/printful/orders/@{external}/advance", dev.url))
            .send()
            .await
            .unwrap();
        let code = r.status();
        assert!(
            code.is_success(),
            "advancing the Printful order answered {code}: {}",
            r.text().await.unwrap_or_default()
        );
        browser.wait_for_text(status, step, ORDER_WAIT).await;
    }
    let link = r#"[data-testid="tracking"] a"#;
    browser.wait_for(link).await;
    let href = browser.property(link, "href").await;
    assert!(
        href.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|h| h.starts_with("http")),
        "the tracking link points to a web page: {href:?}"
    );
    browser.screenshot("shipped.png").await;

    // What this purchase cost at the front door: every request the public routes had, from the
    // storefront's first page to the shipped order (the page stops asking once it is shipped),
    // webhooks included. The test's own check of the order above is not the buyer's.
    browser.close().await;
    let counted = json_of(c.get(format!("{}/admin/api/requests", dev.url)).send().await.unwrap()).await;
    let mut requests: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(counted["requests"].clone()).unwrap_or_default();
    if let Some(orders) = requests.get_mut("GET /orders/{order_id}") {
        *orders -= 1;
    }
    let storefront: u64 = requests
        .iter()
        .filter(|(route, _)| !route.contains("/webhooks/"))
        .map(|(_, n)| n)
        .sum();
    let webhooks: u64 = requests
        .iter()
        .filter(|(route, _)| route.contains("/webhooks/"))
        .map(|(_, n)| n)
        .sum();
    println!("front-door requests of this purchase: {storefront} from the browser, {webhooks} webhooks: {requests:?}");
    assert_eq!(
        requests.get("GET /catalog"),
        Some(&1),
        "the storefront asked for the catalog once: {requests:?}"
    );
    assert_eq!(requests.get("POST /checkout"), Some(&1), "one checkout: {requests:?}");
    assert!(
        webhooks >= 2,
        "the payment and the shipment reached the webhooks: {requests:?}"
    );
    if let Some(path) = std::env::var_os("BACKROOM_BROWSER_REPORT") {
        let report = json!({
            "requests": requests,
            "storefront_per_purchase": storefront,
            "webhooks_per_purchase": webhooks,
            "seconds_on_success_page": success_since.elapsed().as_secs_f64(),
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }

    drop(driver);
    drop(dev); // SIGTERM: see Dev::drop
    let _ = std::fs::remove_dir_all(&data);
    println!("the browser purchase took {:.1} s", began.elapsed().as_secs_f64());
}

/// The owner page as `backroom owner` serves it, on a shop with sales over a few days, a
/// stuck checkout and an open dispute: the chart is drawn from the day series and the orders are
/// listed. The screenshot is docs/images/owner-page.png's source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_sales_per_day_stuck_orders_and_disputes() {
    require(CHROMIUM, "chromium");
    require(CHROMEDRIVER, "chromium-driver");
    let app = backroom_testkit::app::TestApp::new().await;
    let now = chrono::Utc::now();
    let mut api = None;
    let mut orders = Vec::new();
    for (days_ago, sku) in [
        (12, "FOG-MUG"),
        (9, "GULL-TOTE"),
        (6, "FOG-MUG"),
        (6, "GULL-TOTE"),
        (2, "FOG-MUG"),
        (0, "GULL-TOTE"),
    ] {
        let (order, session) = app.checkout(&[(sku, 1)]).await;
        if api.is_none() {
            let pay_page = app.sim.session(&session).unwrap()["url"].as_str().unwrap().to_string();
            api = Some(format!("{}/sim/stripe", pay_page.split("/sim/stripe/").next().unwrap()));
        }
        Box::pin(app.pay(order)).await;
        place_at(&app, order, now - chrono::Duration::days(days_ago), false).await;
        orders.push(order);
    }
    let (stuck, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    place_at(&app, stuck, now - chrono::Duration::hours(5), true).await;
    let session = app.order(orders[1]).await.stripe_session_id.unwrap();
    app.sim.dispute(&session, true).await.unwrap();
    app.settle().await;

    let api = api.unwrap();
    let owner = Owner::start(
        &[],
        &[
            ("DATABASE_URL", app.db.url.as_str()),
            ("STRIPE_SECRET_KEY", "sk_test_owner_page"),
            ("STRIPE_API_BASE", api.as_str()),
        ],
    );
    let c = client();
    let driver = Chromedriver::start(&c).await;
    let browser = Browser::open(&c, &driver).await;
    browser.go(&format!("{}/admin", owner.url)).await;

    // The chart: one bar per day, the days with sales carrying their counts.
    browser
        .wait_for(r#"svg[data-testid="sales-chart"] rect.bar[data-orders="2"]"#)
        .await;
    let bars = browser.find_all(r#"svg[data-testid="sales-chart"] rect.bar"#).await;
    assert_eq!(bars.len(), 30, "a bar per day");
    let sold = browser
        .find_all(r#"svg[data-testid="sales-chart"] rect.bar:not([data-orders="0"])"#)
        .await;
    assert_eq!(sold.len(), 5, "five days with sales");
    let total = browser
        .property(r#"svg[data-testid="sales-chart"]"#, "dataset")
        .await
        .unwrap_or_default();
    assert_eq!(total["orders"], "6", "{total}");

    // An order row, the stuck checkout with its command, and the dispute.
    browser
        .wait_for(r#"[data-testid="admin-orders"] .orders-table tbody tr"#)
        .await;
    let stuck_text = browser
        .text(r#"[data-testid="admin-stuck"] tbody"#)
        .await
        .unwrap_or_default();
    assert!(
        stuck_text.contains("pending_payment") && stuck_text.contains(&format!("backroom orders show {stuck}")),
        "{stuck_text}"
    );
    let disputes = browser
        .text(r#"[data-testid="admin-disputes"] tbody"#)
        .await
        .unwrap_or_default();
    assert!(disputes.contains("fraudulent"), "{disputes}");
    // Without a stack the alarms are said to be unknown, not shown as fine.
    let alarms = browser
        .text(r#"[data-testid="admin-alarms"]"#)
        .await
        .unwrap_or_default();
    assert!(alarms.contains("Unknown: pass --stack NAME"), "{alarms}");
    let shot = browser.screenshot("owner.png").await;
    // docs/operations.md shows this screenshot; `BACKROOM_DOCS_SCREENSHOTS=1` renews it.
    if std::env::var_os("BACKROOM_DOCS_SCREENSHOTS").is_some() {
        let docs = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/images/owner-page.png"));
        std::fs::copy(&shot, docs).unwrap();
        println!("screenshot: {} renewed", docs.display());
    }

    browser.close().await;
    drop(driver);
    drop(owner);
}

#[test]
fn base64_decodes_padded_and_unpadded_text() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode(""), b"");
}
