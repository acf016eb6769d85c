//! Structured logs: one JSON object per line on stderr. Messages carry ids and
//! routes, never names, emails, phone numbers or health data.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct JsonLogger {
    level: LevelFilter,
}

impl Log for JsonLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
            && (metadata.target().starts_with("naju")
                || !metadata.target().contains("::")
                || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        // Messages that are already JSON are embedded as objects.
        let fields = serde_json::from_str::<serde_json::Value>(&msg)
            .ok()
            .filter(|v| v.is_object())
            .unwrap_or_else(|| serde_json::json!({ "msg": msg }));
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": record.level().as_str(),
            "target": record.target(),
            "fields": fields,
        });
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn flush(&self) {}
}

/// Installs the logger; LOG_LEVEL picks the level (default info). Safe to call twice.
pub fn init() {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(LevelFilter::Info);
    if log::set_boxed_logger(Box::new(JsonLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}
