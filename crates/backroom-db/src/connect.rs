//! Opening connections: a local PostgreSQL URL, or Aurora DSQL with an IAM token over TLS.

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
    /// 5432 on DSQL; settable so tests can point the same code at a local listener.
    pub port: u16,
}

impl DsqlConfig {
    pub fn new(endpoint: impl Into<String>, region: impl Into<String>, role: DsqlRole) -> DsqlConfig {
        DsqlConfig {
            endpoint: endpoint.into(),
            region: region.into(),
            role,
            port: 5432,
        }
    }
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
    pub fn is_older_than(&self, age: Duration) -> bool {
        self.opened_at.elapsed() >= age
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
            Ok(Connection {
                client,
                opened_at: Instant::now(),
                target: Target::Postgres,
            })
        }
        DbConfig::Dsql(dsql) => {
            let token = dsql_token(dsql).await?;
            let pg = dsql_pg_config(dsql, &token);
            let (client, connection) = pg
                .connect(dsql_tls())
                .await
                .map_err(|e| DbError::Connect(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection ended");
                }
            });
            Ok(Connection {
                client,
                opened_at: Instant::now(),
                target: Target::Dsql,
            })
        }
    }
}

/// The connection settings for DSQL: TLS required (never plain text), the endpoint's host name
/// (sent as SNI and checked against the certificate), database `postgres`, port 5432.
pub fn dsql_pg_config(dsql: &DsqlConfig, token: &SecretString) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&dsql.endpoint)
        .port(dsql.port)
        .dbname("postgres")
        .user(dsql.role.user())
        .password(token.expose_secret())
        .ssl_mode(SslMode::Require)
        .application_name("backroom")
        .connect_timeout(Duration::from_secs(10));
    pg
}

/// The TLS connector used for DSQL: certificate and host-name verification against public
/// roots (`backroom_tls`), SNI on.
pub fn dsql_tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::new((*backroom_tls::client_config()).clone())
}

/// A fresh IAM authentication token for the role, signed locally with the ambient AWS credentials.
pub async fn dsql_token(dsql: &DsqlConfig) -> Result<SecretString, DbError> {
    use aws_sdk_dsql::auth_token::{AuthTokenGenerator, Config};
    let sdk = backroom_aws::sdk_config().await;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_postgres::config::Host;

    use super::*;

    fn dsql(port: u16) -> DsqlConfig {
        DsqlConfig {
            port,
            ..DsqlConfig::new("localhost", "us-east-1", DsqlRole::App("backroom_app".into()))
        }
    }

    #[test]
    fn dsql_settings_require_tls_and_use_the_endpoint_name() {
        let cfg = DsqlConfig::new("abc123.dsql.eu-west-1.on.aws", "eu-west-1", DsqlRole::Admin);
        let pg = dsql_pg_config(&cfg, &SecretString::from("token"));
        assert_eq!(
            pg.get_ssl_mode(),
            SslMode::Require,
            "TLS or nothing: never a plain-text fallback"
        );
        assert_eq!(
            pg.get_hosts(),
            [Host::Tcp("abc123.dsql.eu-west-1.on.aws".into())],
            "a name, for SNI and the certificate check"
        );
        assert_eq!(pg.get_ports(), [5432]);
        assert_eq!(pg.get_dbname(), Some("postgres"));
        assert_eq!(pg.get_user(), Some("admin"));
        let app = DsqlConfig::new(
            "abc123.dsql.eu-west-1.on.aws",
            "eu-west-1",
            DsqlRole::App("backroom_app".into()),
        );
        assert_eq!(
            dsql_pg_config(&app, &SecretString::from("t")).get_user(),
            Some("backroom_app")
        );
    }

    /// Reads the client's SSLRequest (8 bytes: length 8, code 80877103).
    async fn read_ssl_request(socket: &mut tokio::net::TcpStream) {
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).await.unwrap();
        assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    }

    #[tokio::test]
    async fn a_server_without_tls_is_refused_and_nothing_is_sent_in_plain_text() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            read_ssl_request(&mut socket).await;
            socket.write_all(b"N").await.unwrap();
            let mut rest = vec![];
            socket.read_to_end(&mut rest).await.unwrap();
            rest
        });
        let pg = dsql_pg_config(&dsql(port), &SecretString::from("secret-token"));
        let err = pg.connect(dsql_tls()).await.err().expect("the connection must fail");
        assert!(err.to_string().to_lowercase().contains("tls"), "{err}");
        let sent_after_refusal = server.await.unwrap();
        assert!(
            sent_after_refusal.is_empty(),
            "the client sent {} bytes in plain text",
            sent_after_refusal.len()
        );
    }

    #[tokio::test]
    async fn a_certificate_nobody_trusts_is_refused() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let server_config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            read_ssl_request(&mut socket).await;
            socket.write_all(b"S").await.unwrap();
            acceptor.accept(socket).await.map(|_| ())
        });
        let pg = dsql_pg_config(&dsql(port), &SecretString::from("secret-token"));
        let err = pg.connect(dsql_tls()).await.err().expect("the connection must fail");
        let text = format!("{err:?}");
        assert!(
            text.contains("UnknownIssuer") || text.to_lowercase().contains("certificate"),
            "{text}"
        );
        assert!(server.await.unwrap().is_err(), "the handshake never completed");
    }

    #[tokio::test]
    async fn a_token_is_signed_locally_for_the_endpoint() {
        // Static credentials from the environment: no network is needed to sign.
        // SAFETY: tests in this module do not read these variables concurrently elsewhere.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        }
        let cfg = DsqlConfig::new("abc123.dsql.us-east-1.on.aws", "us-east-1", DsqlRole::Admin);
        let token = dsql_token(&cfg).await.unwrap();
        let token = token.expose_secret();
        assert!(
            token.starts_with("abc123.dsql.us-east-1.on.aws/?Action=DbConnectAdmin"),
            "{token}"
        );
        assert!(token.contains("X-Amz-Signature="));
        assert!(token.contains("X-Amz-Expires=900"));
        let app = DsqlConfig::new(
            "abc123.dsql.us-east-1.on.aws",
            "us-east-1",
            DsqlRole::App("backroom_app".into()),
        );
        assert!(
            dsql_token(&app)
                .await
                .unwrap()
                .expose_secret()
                .contains("Action=DbConnect&")
        );
    }
}
