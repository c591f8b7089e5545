//! The shared per-process cluster, template databases and per-test databases.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backroom_testkit::{
    Cluster, create_database_from_template, ensure_template, shared_cluster, try_create_database_from_template,
};
use tokio_postgres::{Client, NoTls};

/// Temporary clusters live in `/dev/shm/brpg-XXXXXXXX` or `/tmp/brpg-XXXXXXXX`.
fn is_short_scratch_dir(dir: &std::path::Path) -> bool {
    let text = dir.to_string_lossy();
    let Some(name) = text
        .strip_prefix("/dev/shm/brpg-")
        .or_else(|| text.strip_prefix("/tmp/brpg-"))
    else {
        return false;
    };
    name.len() == 8 && name.chars().all(|c| c.is_ascii_hexdigit())
}

async fn cluster() -> &'static Cluster {
    tokio::task::spawn_blocking(shared_cluster).await.unwrap()
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|error| panic!("could not connect to {url}: {error}"));
    tokio::spawn(connection);
    client
}

async fn show(client: &Client, setting: &str) -> String {
    let row = client
        .query_one(&format!("SELECT current_setting('{setting}')"), &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn the_cluster_answers_and_behaves_like_dsql() {
    let cluster = cluster().await;
    let url = cluster.connection_string("postgres");
    assert_eq!(
        url,
        format!(
            "host={} port=5432 user=postgres dbname=postgres",
            cluster.socket_dir().display()
        )
    );
    let socket_dir = cluster.socket_dir();
    assert!(is_short_scratch_dir(socket_dir), "{}", socket_dir.display());
    let client = connect(&url).await;

    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    assert_eq!(show(&client, "default_transaction_isolation").await, "repeatable read");
    assert_eq!(show(&client, "lc_collate").await, "C");
    assert_eq!(show(&client, "lc_ctype").await, "C");
    assert_eq!(show(&client, "server_encoding").await, "UTF8");
    // No TCP listener: the private socket is the only way in.
    assert_eq!(show(&client, "listen_addresses").await, "");
    assert_eq!(show(&client, "max_connections").await, "200");
    assert_eq!(show(&client, "fsync").await, "off");
    // A transaction that does not ask for an isolation level gets REPEATABLE READ.
    let isolation: String = client
        .query_one("SELECT current_setting('transaction_isolation')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(isolation, "repeatable read");
}

static ITEMS_SETUP_RUNS: AtomicUsize = AtomicUsize::new(0);

async fn items_template(cluster: &Cluster) {
    ensure_template(cluster, "testkit_items", async |client: &Client| {
        ITEMS_SETUP_RUNS.fetch_add(1, Ordering::SeqCst);
        client
            .batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL)")
            .await
            .map_err(|error| error.to_string())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn databases_from_one_template_are_independent() {
    let cluster = cluster().await;
    items_template(cluster).await;
    items_template(cluster).await;
    assert_eq!(ITEMS_SETUP_RUNS.load(Ordering::SeqCst), 1);

    let a = create_database_from_template(cluster, "testkit_items").await;
    let b = create_database_from_template(cluster, "testkit_items").await;
    assert_ne!(a.name, b.name);
    assert!(a.name.starts_with("test_"), "{}", a.name);
    assert_eq!(a.url, cluster.connection_string(&a.name));

    let client_a = a.connect().await;
    let client_b = b.connect().await;
    client_a
        .execute("INSERT INTO items (id, label) VALUES (1, 'only in a')", &[])
        .await
        .unwrap();

    let count = async |client: &Client| -> i64 {
        client
            .query_one("SELECT count(*) FROM items", &[])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&client_a).await, 1);
    // B has the template's table, but not A's row.
    assert_eq!(count(&client_b).await, 0);
}

#[tokio::test]
async fn a_failed_template_setup_is_reported_and_retried() {
    let cluster = cluster().await;
    let error = ensure_template(cluster, "testkit_retried", async |_: &Client| {
        Err::<(), _>("the setup said no")
    })
    .await
    .unwrap_err();
    assert!(error.message().contains("testkit_retried"), "{error}");
    assert!(error.message().contains("the setup said no"), "{error}");

    ensure_template(cluster, "testkit_retried", async |client: &Client| {
        client
            .batch_execute("CREATE TABLE retried (id bigint PRIMARY KEY)")
            .await
            .map_err(|error| error.to_string())
    })
    .await
    .unwrap();
    let database = create_database_from_template(cluster, "testkit_retried").await;
    let rows = database
        .connect()
        .await
        .query("SELECT id FROM retried", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn cloning_a_missing_template_says_which() {
    let cluster = cluster().await;
    let error = try_create_database_from_template(cluster, "testkit_no_such_template")
        .await
        .unwrap_err();
    assert!(error.message().contains("testkit_no_such_template"), "{error}");
    assert!(error.message().contains("does not exist"), "{error}");
}

/// Tables like the shop's, so that cloning copies a realistic amount of catalog.
const TIMING_SCHEMA: &str = "
    CREATE TABLE products (id uuid PRIMARY KEY, sku text NOT NULL UNIQUE, title text NOT NULL,
        price_cents bigint NOT NULL CHECK (price_cents > 0), currency text NOT NULL,
        stock bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE orders (id uuid PRIMARY KEY, status text NOT NULL, total_cents bigint NOT NULL,
        currency text NOT NULL, email text, stripe_session_id text, shipping jsonb,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX orders_status_updated_idx ON orders (status, updated_at);
    CREATE INDEX orders_stripe_session_idx ON orders (stripe_session_id);
    CREATE INDEX orders_created_idx ON orders (created_at);
    CREATE TABLE order_items (id uuid PRIMARY KEY, order_id uuid NOT NULL, sku text NOT NULL,
        quantity bigint NOT NULL, unit_cents bigint NOT NULL);
    CREATE TABLE order_timeline (id uuid PRIMARY KEY, order_id uuid NOT NULL, kind text NOT NULL,
        detail jsonb, at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX order_timeline_order_idx ON order_timeline (order_id, at);
    CREATE TABLE inbox_events (id text PRIMARY KEY, source text NOT NULL, payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(), processed_at timestamptz);
    CREATE TABLE stock_holds (id uuid PRIMARY KEY, sku text NOT NULL, quantity bigint NOT NULL,
        expires_at timestamptz NOT NULL);
    CREATE INDEX stock_holds_sku_idx ON stock_holds (sku);
    CREATE TABLE cursors (name text PRIMARY KEY, position text NOT NULL);
    CREATE TABLE alerts (id uuid PRIMARY KEY, dedupe_key text NOT NULL, message text NOT NULL);
    CREATE UNIQUE INDEX alerts_dedupe_key_idx ON alerts (dedupe_key);
    CREATE TABLE reconcile_runs (id uuid PRIMARY KEY, started_at timestamptz NOT NULL);
    CREATE INDEX reconcile_runs_started_idx ON reconcile_runs (started_at);
    CREATE TABLE schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL);
";

/// Reports the time to a ready test database: the cluster start (once per test process) and the
/// per-test database (clone from the template, then connect). It prints and asserts nothing about
/// speed, which depends on the machine.
#[tokio::test]
async fn time_to_a_ready_test_database() {
    let cluster = cluster().await;

    let began = Instant::now();
    ensure_template(cluster, "testkit_timing", async |client: &Client| {
        client
            .batch_execute(TIMING_SCHEMA)
            .await
            .map_err(|error| error.to_string())
    })
    .await
    .unwrap();
    let template = began.elapsed();

    let mut per_database: Vec<Duration> = Vec::new();
    for _ in 0..10 {
        let began = Instant::now();
        let database = create_database_from_template(cluster, "testkit_timing").await;
        let client = database.connect().await;
        let tables: i64 = client
            .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(tables, 10);
        per_database.push(began.elapsed());
    }
    per_database.sort();

    // Tests run in parallel, so also time a burst of databases created at once.
    let began = Instant::now();
    let burst = 8;
    let creations = (0..burst).map(|_| create_database_from_template(cluster, "testkit_timing"));
    let databases = futures::future::join_all(creations).await;
    let burst_time = began.elapsed();
    assert_eq!(databases.len(), burst);

    println!(
        "time to a ready test database: cluster start {:?} (once per test process); \
         template with 10 tables {:?} (once per process); per-test database (create from \
         template + connect) min {:?}, median {:?}, max {:?} over {} runs",
        cluster.started_in(),
        template,
        per_database[0],
        per_database[per_database.len() / 2],
        per_database[per_database.len() - 1],
        per_database.len()
    );
    println!(
        "time to a ready test database: {burst} created at once in {:?} ({:?} each on average)",
        burst_time,
        burst_time / burst as u32
    );
}
