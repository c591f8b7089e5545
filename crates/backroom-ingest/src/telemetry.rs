//! Logging: JSON lines in Lambda (CloudWatch reads them), readable lines on a terminal.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; `BACKROOM_LOG` sets the filter (default `info`). In Lambda
/// (`json`), metrics are written as EMF lines too.
pub fn init(json: bool) {
    backroom_aws::emf::enable(json);
    if let Some(stack) = crate::config::stack_setting() {
        backroom_aws::emf::set_stack(&stack);
    }
    let filter = log_filter(crate::config::log_filter_setting().as_deref(), "info");
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = if json {
        registry.with(fmt.json().flatten_event(true).without_time()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
}

/// The filter `BACKROOM_LOG` asks for: a level (`info`), targets with levels
/// (`backroom_app=debug,tower_http=warn`), or both (`warn,backroom_app=debug`). Unset, empty or
/// not understood (said on stderr, since logging is not up yet), it is `default`.
pub fn log_filter(value: Option<&str>, default: &str) -> Targets {
    let fallback = || default.parse().unwrap_or_else(|_| Targets::new());
    match value.map(str::trim) {
        None | Some("") => fallback(),
        Some(text) => text.parse().unwrap_or_else(|e| {
            eprintln!("BACKROOM_LOG={text:?} is not a log filter ({e}); logging at {default}");
            fallback()
        }),
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn backroom_log_takes_levels_and_targets_and_falls_back_on_nonsense() {
        let f = log_filter(Some("warn,backroom_app=debug"), "info");
        assert!(f.would_enable("backroom_app::worker", &Level::DEBUG));
        assert!(!f.would_enable("backroom_app::worker", &Level::TRACE));
        assert!(f.would_enable("hyper", &Level::WARN));
        assert!(!f.would_enable("hyper", &Level::INFO));
        let f = log_filter(None, "info");
        assert!(f.would_enable("anything", &Level::INFO) && !f.would_enable("anything", &Level::DEBUG));
        let f = log_filter(Some("   "), "warn");
        assert!(!f.would_enable("anything", &Level::INFO));
        let f = log_filter(Some("backroom_app=loud"), "info");
        assert!(f.would_enable("backroom_app", &Level::INFO) && !f.would_enable("backroom_app", &Level::DEBUG));
    }
}
