//! Structured logs: `tracing` events as one JSON object per line on stderr,
//! with the fields of the request's span (request id, method, route pattern).
//! Messages carry ids and routes, never names, emails, phone numbers or
//! health data. Dependencies that log through the `log` crate come through
//! the tracing-log bridge.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Our events at `level`; other crates' only from warnings up (their
/// informational lines are noise), or errors only when `level` is error.
pub fn filter(level: LevelFilter) -> Targets {
    Targets::new().with_default(level.min(LevelFilter::WARN)).with_target("naju_helper", level)
}

/// LOG_LEVEL picks the level (default info); RUST_LOG, when set, replaces the
/// filter with per-target directives (`naju_helper=debug,actix_server=info`).
fn filter_from_env() -> Targets {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| filter(level))
}

/// Installs the JSON subscriber. Safe to call twice (the second does nothing).
pub fn init() {
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry().with(json).with(filter_from_env()).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_events_at_the_level_others_from_warnings() {
        use tracing::Level;
        let info = filter(LevelFilter::INFO);
        assert!(info.would_enable("naju_helper::notify::worker", &Level::INFO));
        assert!(!info.would_enable("naju_helper::notify::worker", &Level::DEBUG));
        assert!(!info.would_enable("actix_server::builder", &Level::INFO));
        assert!(info.would_enable("actix_server::builder", &Level::WARN));
        let error = filter(LevelFilter::ERROR);
        assert!(!error.would_enable("r2d2", &Level::WARN));
        assert!(!error.would_enable("naju_helper", &Level::WARN));
    }
}
