//! The account kept in a state file across restarts, and backroom-stripe's request count, both
//! driven through backroom-stripe's client as backroom drives Stripe. (They live here rather than
//! in `tests/stripe.rs` to reach the simulator's save count.)

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use backroom_core::{Cents, Currency, Email, OrderId};
use backroom_stripe::{CheckoutLine, CheckoutRequest, PaymentStatus, SessionStatus, StripeClient, StripeSettings};
use secrecy::SecretString;
use serde_json::Value;

use super::ids::new_id;
use super::{StripeSim, StripeSimConfig, persist, system_now};

async fn start(config: StripeSimConfig) -> (StripeSim, StripeClient) {
    let (sim, api_base) = StripeSim::serve_loopback(config).await;
    let client = StripeClient::new(StripeSettings {
        secret_key: SecretString::from(sim.api_key_hint().to_string()),
        api_base: Some(api_base),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    (sim, client)
}

fn request(sim: &StripeSim, order_id: OrderId) -> CheckoutRequest {
    let eur = Currency::parse("eur").unwrap();
    CheckoutRequest {
        order_id,
        lines: vec![CheckoutLine {
            name: "Mug".into(),
            unit_amount: Cents::new(1250).unwrap(),
            currency: eur,
            quantity: 2,
        }],
        customer_email: Some(Email::parse("ann@example.com").unwrap()),
        success_url: "http://shop.test/thanks?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "http://shop.test/cart".into(),
        shipping_countries: vec!["DE".into()],
        shipping_rate_ids: vec![],
        shipping_options: vec![],
        automatic_tax: false,
        allow_promotion_codes: false,
        expires_at: sim.now() + 3600,
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(new_id("backroom-sim-test-", 12));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("stripe.json")
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn with_file(path: &Path) -> StripeSimConfig {
    StripeSimConfig {
        state_file: Some(path.to_path_buf()),
        ..StripeSimConfig::default()
    }
}

fn saves(sim: &StripeSim) -> u64 {
    sim.inner.saves.load(Ordering::SeqCst)
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_client_counts_every_request_including_each_page_of_a_list() {
    let (sim, client) = start(StripeSimConfig::default()).await;
    // 101 sessions made on the simulator's side, without the client: a list of 102 takes
    // two pages of at most 100.
    for _ in 0..101 {
        sim.create_foreign_session(500, "eur", false).await.unwrap();
    }
    assert_eq!(client.calls(), 0);

    let created = client
        .create_checkout_session(&request(&sim, OrderId::new_random()))
        .await
        .unwrap();
    let clone = client.clone();
    let session = clone.checkout_session(&created.id).await.unwrap();
    assert_eq!(session.line_items.len(), 1);
    let listed = client.list_checkout_sessions(None, None).await.unwrap();
    assert_eq!(listed.len(), 102);

    assert_eq!(client.calls(), 4, "create, retrieve, and a list of two pages");
    assert_eq!(clone.calls(), 4, "clones share the count");
    assert_eq!(sim.requests().len(), 4, "the simulator saw as many");
}

#[tokio::test]
async fn the_account_survives_a_restart_from_its_state_file() {
    let dir = TempDir::new();
    let file = dir.file();
    let (sim, client) = start(with_file(&file)).await;
    assert!(!file.exists(), "nothing is written before the first change");
    sim.advance_clock(Duration::from_secs(600));
    let offset = sim.now() - system_now();

    let order_id = OrderId::new_random();
    let req = request(&sim, order_id);
    let created = client.create_checkout_session(&req).await.unwrap();
    // As soon as the client has its answer, the session is on disk: a `kill -9` now loses nothing.
    let on_disk = persist::load(&file).unwrap().unwrap();
    assert!(on_disk.state.session(&created.id).is_some());
    assert!(
        on_disk
            .state
            .idempotency
            .contains_key(&backroom_stripe::idempotency_key(order_id))
    );

    sim.pay(&created.id, true).await.unwrap();
    let paid = sim.session(&created.id).unwrap();
    let events = sim.events();
    assert_eq!(events.len(), 2, "charge.succeeded and checkout.session.completed");
    let charge_id = events[0]["data"]["object"]["id"].as_str().unwrap().to_string();
    // Reads save nothing.
    let written = saves(&sim);
    client.checkout_session(&created.id).await.unwrap();
    assert_eq!(saves(&sim), written);
    assert_eq!(dir.names(), vec!["stripe.json"], "no temporary file is left behind");
    drop(sim);

    let (again, client) = start(with_file(&file)).await;
    assert_eq!(again.session(&created.id), Some(paid));
    assert_eq!(ids(&again.events()), ids(&events));
    let offset_after = again.now() - system_now();
    assert!((offset_after - offset).abs() <= 1, "{offset} then {offset_after}");

    // Through the API, as backroom reads it after a restart.
    let session = client.checkout_session(&created.id).await.unwrap();
    assert_eq!(
        (session.status, session.payment_status, session.order_id),
        (SessionStatus::Complete, PaymentStatus::Paid, Some(order_id))
    );
    let listed = client.list_events(&["checkout.session.completed"], None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].object_id, created.id);
    assert_eq!(client.charge(&charge_id).await.unwrap().amount.get(), 2500);

    // The idempotency key is remembered: the same create replays the same session.
    let replayed = client.create_checkout_session(&req).await.unwrap();
    assert_eq!(replayed.id, created.id);
    assert_eq!(client.list_checkout_sessions(None, None).await.unwrap().len(), 1);

    // The restarted account goes on changing and saving.
    again.refund(&created.id, None, false).await.unwrap();
    let reloaded = persist::load(&file).unwrap().unwrap();
    assert_eq!(reloaded.state.charge(&charge_id).unwrap()["refunded"], true);
    assert_eq!(reloaded.state.events.len(), 3);
}

#[tokio::test]
async fn shipping_rates_promotion_codes_and_balance_transactions_survive_a_restart() {
    let dir = TempDir::new();
    let file = dir.file();
    let (sim, client) = start(with_file(&file)).await;
    let rate = sim
        .define_shipping_rate(&super::ShippingRateSpec {
            id: "shr_post".into(),
            display_name: "Post".into(),
            amount: 490,
            currency: "eur".into(),
            minimum: None,
            maximum: None,
        })
        .unwrap();
    let promo = sim
        .define_promotion_code(&super::PromotionCodeSpec {
            id: None,
            code: "TEN".into(),
            off: super::CouponOff::Amount {
                amount: 1000,
                currency: "EUR".into(),
            },
        })
        .unwrap();
    let mut req = request(&sim, OrderId::new_random());
    req.shipping_rate_ids = vec!["shr_post".into()];
    let created = client.create_checkout_session(&req).await.unwrap();
    sim.pay(&created.id, true).await.unwrap();
    let charge = &sim.events()[0]["data"]["object"];
    let txn_id = charge["balance_transaction"].as_str().unwrap().to_string();
    let txn = sim.balance_transaction(&txn_id).unwrap();
    assert_eq!(txn["amount"], 2500 + 490);
    drop(sim);

    let (again, _) = start(with_file(&file)).await;
    again.with_state(|st| {
        assert_eq!(st.shipping_rate("shr_post"), Some(&rate));
        assert_eq!(st.promotion_code(promo["id"].as_str().unwrap()), Some(&promo));
    });
    assert_eq!(again.balance_transaction(&txn_id), Some(txn));
}

#[tokio::test]
async fn a_corrupt_state_file_starts_an_empty_account_and_is_kept_aside() {
    let dir = TempDir::new();
    let file = dir.file();
    std::fs::write(&file, b"{\"format\": 1, \"sessions\": [").unwrap();
    let (sim, client) = start(with_file(&file)).await;
    assert!(sim.events().is_empty());
    assert!(client.list_checkout_sessions(None, None).await.unwrap().is_empty());
    assert_eq!(
        std::fs::read(dir.0.join("stripe.json.corrupt")).unwrap(),
        b"{\"format\": 1, \"sessions\": [",
        "the damaged file is moved aside, not overwritten"
    );

    let created = client
        .create_checkout_session(&request(&sim, OrderId::new_random()))
        .await
        .unwrap();
    let saved = persist::load(&file).unwrap().unwrap();
    assert!(saved.state.session(&created.id).is_some());
}

#[test]
fn a_state_file_that_parses_but_does_not_hold_together_is_refused() {
    let dir = TempDir::new();
    let file = dir.file();
    let cases = [
        r#"[]"#.to_string(),
        r#"{"format": 2}"#.to_string(),
        // A paid session whose charge is not stored would panic on a later refund.
        r#"{"format": 1, "saved_at": 0, "clock_offset": 0, "started_at": 0, "charges": [], "disputes": [],
            "events": [], "idempotency": {},
            "sessions": [{"object": {"id": "cs_1"}, "line_items": [], "charge_id": "ch_missing"}]}"#
            .to_string(),
        r#"{"format": 1, "saved_at": 0, "clock_offset": 0, "started_at": 0, "charges": [7], "disputes": [],
            "events": [], "idempotency": {}, "sessions": []}"#
            .to_string(),
    ];
    for case in cases {
        std::fs::write(&file, &case).unwrap();
        assert!(
            matches!(persist::load(&file), Err(persist::LoadError::Corrupt(_))),
            "{case}"
        );
        let sim = StripeSim::new(with_file(&file));
        assert!(sim.events().is_empty() && sim.session("cs_1").is_none(), "{case}");
    }
}

#[tokio::test]
async fn without_a_state_file_nothing_is_saved() {
    let (sim, client) = start(StripeSimConfig::default()).await;
    assert!(sim.inner.config.state_file.is_none());
    let created = client
        .create_checkout_session(&request(&sim, OrderId::new_random()))
        .await
        .unwrap();
    sim.pay(&created.id, true).await.unwrap();
    sim.refund(&created.id, None, true).await.unwrap();
    sim.advance_clock(Duration::from_secs(2 * 3600));
    sim.expire_due();
    assert_eq!(saves(&sim), 0);
}

#[tokio::test]
async fn a_change_that_cannot_be_saved_is_answered_with_a_500() {
    let dir = TempDir::new();
    // The file's directory is a regular file, so no save can succeed, even as root.
    let blocker = dir.0.join("not-a-directory");
    std::fs::write(&blocker, b"").unwrap();
    let (sim, client) = start(with_file(&blocker.join("stripe.json"))).await;
    let err = client
        .create_checkout_session(&request(&sim, OrderId::new_random()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, backroom_stripe::StripeError::Api { status: 500, message, .. } if message.contains("could not save")),
        "{err:?}"
    );
    // Nor is anything read from the unsaved change until a save succeeds.
    let err = client.list_checkout_sessions(None, None).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(saves(&sim), 0);
}

#[tokio::test]
async fn changes_made_while_a_write_is_under_way_are_saved_together_by_one_write() {
    let dir = TempDir::new();
    let file = dir.file();
    let (sim, _client) = start(with_file(&file)).await;
    const CHANGES: u64 = 12;
    // A write under way: the saver is held, so each change below is counted and then waits.
    let writing = sim.inner.saved.lock().unwrap();
    let threads: Vec<_> = (0..CHANGES)
        .map(|_| {
            let sim = sim.clone();
            std::thread::spawn(move || sim.advance_clock(Duration::from_secs(60)))
        })
        .collect();
    let began = std::time::Instant::now();
    while sim.inner.changes.load(Ordering::SeqCst) < CHANGES {
        assert!(began.elapsed() < Duration::from_secs(30), "the changes were counted");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!file.exists(), "no change is written while the saver is busy");
    drop(writing);
    for t in threads {
        t.join().unwrap();
    }

    assert_eq!(saves(&sim), 1, "the twelve waiting changes took one write");
    let on_disk = persist::load(&file).unwrap().unwrap();
    assert_eq!(on_disk.clock_offset, 12 * 60, "every change is in that write");
    // Nothing left to write: a read writes nothing, the next change writes once.
    sim.expire_due();
    assert_eq!(saves(&sim), 1);
    sim.create_foreign_session(800, "eur", false).await.unwrap();
    assert_eq!(
        saves(&sim),
        3,
        "a foreign session is made, then paid: two changes, two writes"
    );
}

#[tokio::test]
async fn a_read_is_answered_only_once_what_it_saw_is_on_disk() {
    let dir = TempDir::new();
    let file = dir.file();
    let (sim, client) = start(with_file(&file)).await;
    let created = client
        .create_checkout_session(&request(&sim, OrderId::new_random()))
        .await
        .unwrap();
    // A change counted in memory but not yet written (as while another caller's write is
    // under way): a read that can see it writes it before answering.
    {
        let mut state = sim.lock();
        let change = sim.change(super::objects::Cause::default(), false);
        state
            .complete(
                &created.id,
                super::state::Completion::Card,
                &Default::default(),
                &change,
            )
            .unwrap();
        sim.changed(&state);
    }
    let written = saves(&sim);
    let session = client.checkout_session(&created.id).await.unwrap();
    assert_eq!(session.payment_status, PaymentStatus::Paid);
    assert_eq!(saves(&sim), written + 1, "the read wrote the change before answering");
    let on_disk = persist::load(&file).unwrap().unwrap();
    assert!(on_disk.state.session(&created.id).unwrap().charge_id.is_some());
}
