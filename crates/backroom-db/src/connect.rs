//! Opening connections: a local PostgreSQL URL, or Aurora DSQL with an IAM token over TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use crate::error::DbError;

/// Where the database is.
#[derive(Clone, Debug)]
pub enum DbConfig {
    /// A PostgreSQL connection string (URL or key=value), used locally and in tests.
    Url(SecretString),
    /// An Aurora DSQL cluster, reached with IAM authentication and verified TLS.
    Dsql(DsqlConfig),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsqlConfig {
    /// `<cluster-id>.dsql.<region>.on.aws`
    pub endpoint: String,
    pub region: String,
    pub role: DsqlRole,
}

/// DSQL's `admin` role runs migrations; the functions connect as a mapped application role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsqlRole {
    Admin,
    App(String),
}

impl DsqlRole {
    pub fn user(&self) -> &str {
        match self {
            DsqlRole::Admin => "admin",
            DsqlRole::App(name) => name,
        }
    }
}

/// A connection is renewed before DSQL's 60-minute session limit.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(55 * 60);

/// A token only has to live until the connection is made; DSQL checks it at connect time.
const TOKEN_LIFETIME_SECS: u64 = 900;

/// An open connection and when it was opened.
pub struct Connection {
    pub client: Client,
    pub opened_at: Instant,
    pub target: Target,
}

/// Which dialect is on the other end: the migration runner rewrites for PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Postgres,
    Dsql,
}

impl Connection {
    pub fn is_expired(&self) -> bool {
        self.opened_at.elapsed() >= MAX_CONNECTION_AGE
    }
}

pub async fn connect(config: &DbConfig) -> Result<Connection, DbError> {
    match config {
        DbConfig::Url(url) => {
            let pg: tokio_postgres::Config = url
                .expose_secret()
                .parse()
                .map_err(|e| DbError::Connect(format!("DATABASE_URL is not a valid connection string: {e}")))?;
            let (client, connection) = pg.connect(NoTls).await.map_err(|e| DbError::Connect(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection ended");
                }
            });
            Ok(Connection { client, opened_at: Instant::now(), target: Target::Postgres })
        }
        DbConfig::Dsql(dsql) => {
            let token = dsql_token(dsql).await?;
            let pg = dsql_pg_config(dsql, &token);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*dsql_tls_config()).clone());
            let (client, connection) = pg.connect(tls).await.map_err(|e| DbError::Connect(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection ended");
                }
            });
            Ok(Connection { client, opened_at: Instant::now(), target: Target::Dsql })
        }
    }
}

/// The connection settings for DSQL: TLS required (never plain text), the endpoint's host name
/// (sent as SNI and checked against the certificate), database `postgres`, port 5432.
pub fn dsql_pg_config(dsql: &DsqlConfig, token: &SecretString) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&dsql.endpoint)
        .port(5432)
        .dbname("postgres")
        .user(dsql.role.user())
        .password(token.expose_secret())
        .ssl_mode(SslMode::Require)
        .application_name("backroom")
        .connect_timeout(Duration::from_secs(10));
    pg
}

/// TLS with certificate and host-name verification against the Mozilla roots (which include
/// Amazon Root CA 1). rustls has no way to skip verification unless a custom verifier is
/// installed, and none is.
pub fn dsql_tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the default protocol versions are supported")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// A fresh IAM authentication token for the role, signed locally with the ambient AWS credentials.
pub async fn dsql_token(dsql: &DsqlConfig) -> Result<SecretString, DbError> {
    use aws_sdk_dsql::auth_token::{AuthTokenGenerator, Config};
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = Config::builder()
        .hostname(&dsql.endpoint)
        .region(aws_config::Region::new(dsql.region.clone()))
        .expires_in(TOKEN_LIFETIME_SECS)
        .build()
        .map_err(|e| DbError::Token(e.to_string()))?;
    let generator = AuthTokenGenerator::new(config);
    let token = match dsql.role {
        DsqlRole::Admin => generator.db_connect_admin_auth_token(&sdk).await,
        DsqlRole::App(_) => generator.db_connect_auth_token(&sdk).await,
    }
    .map_err(|e| DbError::Token(e.to_string()))?;
    Ok(SecretString::from(token.as_str().to_string()))
}
