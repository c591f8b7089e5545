//! Logging: JSON lines in Lambda (CloudWatch reads them), readable lines on a terminal.

/// Installs the global subscriber; `BACKROOM_LOG` sets the filter (default `info`). In Lambda
/// (`json`), metrics are written as EMF lines too.
pub fn init(json: bool) {
    backroom_aws::emf::enable(json);
    let filter = tracing_subscriber::EnvFilter::try_from_env("BACKROOM_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        builder.try_init()
    };
}
