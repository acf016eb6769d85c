//! Prometheus metrics for operators: requests by route pattern and status,
//! bookings, the outbox and the connection pool. Each app instance keeps its
//! own registry (no process-wide recorder, so instances started side by side,
//! as the tests do, never mix their counts) and renders it at `GET /metrics`
//! behind a bearer token. The outbox and pool gauges are read at scrape time.

use std::time::Duration;

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use blake2::{Blake2s256, Digest};
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::notify::OutboxStats;
use crate::state::AppState;
use crate::web::db;

/// The route label of requests that matched no route: never the raw path,
/// which may carry ids or personal data.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const REQUESTS: &str = "naju_http_requests_total";
const DURATION: &str = "naju_http_request_duration_seconds";
const BOOKINGS: &str = "naju_bookings_total";
const OUTBOX_QUEUED: &str = "naju_outbox_queued";
const OUTBOX_RETRYING: &str = "naju_outbox_retrying";
const OUTBOX_FAILED: &str = "naju_outbox_failed";
const POOL_CONNECTIONS: &str = "naju_db_pool_connections";
const POOL_IDLE: &str = "naju_db_pool_idle_connections";
const POOL_MAX: &str = "naju_db_pool_max_connections";

/// Latency buckets in seconds: pages take milliseconds, a password hash
/// a few hundred, an export of a year's figures a few seconds.
const DURATION_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

static META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// What a committed booking was for (the `kind` label of `naju_bookings_total`).
#[derive(Clone, Copy, Debug)]
pub enum Booking {
    /// A home visit of the housework program.
    Visit,
    /// A seat at a Saturday clinic session (not a place on its waiting list).
    Clinic,
}

impl Booking {
    fn label(self) -> &'static str {
        match self {
            Booking::Visit => "visit",
            Booking::Clinic => "clinic",
        }
    }
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Metrics {
    pub fn new() -> Result<Metrics, AppError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), &DURATION_BUCKETS)
            .map_err(|e| AppError::Internal(format!("metrics: {e}")))?
            .build_recorder();
        // The exporter keeps one description per name, whatever its kind.
        let describe = |name: &'static str, unit: Option<Unit>, help: &'static str| {
            recorder.describe_counter(KeyName::from_const_str(name), unit, help.into());
        };
        describe(REQUESTS, None, "HTTP requests answered by this instance, by method, route pattern and status");
        describe(DURATION, Some(Unit::Seconds), "Time to answer an HTTP request, by method, route pattern and status");
        describe(BOOKINGS, None, "Bookings committed through this instance (visit: a home visit; clinic: a Saturday clinic seat)");
        describe(OUTBOX_QUEUED, None, "Messages waiting in the outbox, in the whole database (every instance reports the same)");
        describe(OUTBOX_RETRYING, None, "Queued messages that already failed at least once, in the whole database");
        describe(OUTBOX_FAILED, None, "Messages given up as failed (for staff to correct and resend), in the whole database");
        describe(POOL_CONNECTIONS, None, "Database connections this instance holds open");
        describe(POOL_IDLE, None, "Database connections of this instance that are idle");
        describe(POOL_MAX, None, "Database connections this instance may open (DB_POOL_SIZE)");
        // Bookings show as 0 from the start, not only after the first one.
        for kind in [Booking::Visit, Booking::Clinic] {
            recorder.register_counter(&booking_key(kind), &META).increment(0);
        }
        let handle = recorder.handle();
        Ok(Metrics { recorder, handle })
    }

    /// Counts one answered request. `route` is the matched route pattern
    /// (`/my/visits/{id}/cancel`) or [`UNMATCHED_ROUTE`].
    pub fn request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            Label::new("method", method_label(method)),
            Label::new("route", route.to_string()),
            Label::new("status", status.to_string()),
        ];
        self.recorder.register_counter(&Key::from_parts(REQUESTS, labels.clone()), &META).increment(1);
        self.recorder.register_histogram(&Key::from_parts(DURATION, labels), &META).record(elapsed.as_secs_f64());
    }

    /// Counts a booking; call it once the service's transaction has committed.
    pub fn booking(&self, kind: Booking) {
        self.recorder.register_counter(&booking_key(kind), &META).increment(1);
    }

    /// Folds recorded latencies into their buckets; run it every few
    /// seconds, or an instance nobody scrapes keeps every sample.
    pub fn upkeep(&self) -> impl Fn() + Send + 'static {
        let handle = self.handle.clone();
        move || handle.run_upkeep()
    }

    /// The exposition text, with the gauges read for this scrape.
    pub fn render(&self, outbox: &OutboxStats, pool: &Pool) -> String {
        for (name, value) in [
            (OUTBOX_QUEUED, outbox.pending as f64),
            (OUTBOX_RETRYING, outbox.retrying as f64),
            (OUTBOX_FAILED, outbox.failed as f64),
            (POOL_CONNECTIONS, f64::from(pool.connections)),
            (POOL_IDLE, f64::from(pool.idle)),
            (POOL_MAX, f64::from(pool.max)),
        ] {
            self.recorder.register_gauge(&Key::from_static_name(name), &META).set(value);
        }
        self.handle.render()
    }
}

/// The connection pool's state at scrape time.
pub struct Pool {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

fn booking_key(kind: Booking) -> Key {
    Key::from_parts(BOOKINGS, vec![Label::new("kind", kind.label())])
}

/// Standard methods by name, anything else as one label: a client must not
/// be able to add a time series per made-up method.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Whether the request carries `Authorization: Bearer <expected>`. Both sides
/// are hashed first so the comparison takes the same time whatever the
/// length or content of a wrong token.
fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let given = Blake2s256::digest(given.trim().as_bytes());
    let expected = Blake2s256::digest(expected.as_bytes());
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

/// `GET /metrics`: 404 unless METRICS_TOKEN is set, 401 without that token.
pub async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    if !bearer_matches(&req, token) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    // Before this scrape takes a connection of its own.
    let state_now = state.pool.state();
    let pool = Pool { connections: state_now.connections, idle: state_now.idle_connections, max: state.pool.max_size() };
    let outbox = db(&state, |conn, _| Ok(crate::notify::stats(conn)?)).await?;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render(&outbox, &pool)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let token = "a-long-metrics-token-0123456789";
        let with = |value: &str| TestRequest::default().insert_header((header::AUTHORIZATION, value)).to_http_request();
        assert!(bearer_matches(&with(&format!("Bearer {token}")), token));
        assert!(!bearer_matches(&with(&format!("Bearer {token}x")), token));
        assert!(!bearer_matches(&with(&format!("Basic {token}")), token));
        assert!(!bearer_matches(&with("Bearer "), token));
        assert!(!bearer_matches(&TestRequest::default().to_http_request(), token));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[test]
    fn requests_are_counted_by_route_pattern_and_status() {
        let m = Metrics::new().unwrap();
        m.request(&Method::GET, "/my/visits/{id}/cancel", 200, Duration::from_millis(3));
        m.request(&Method::GET, "/my/visits/{id}/cancel", 200, Duration::from_millis(30));
        m.booking(Booking::Clinic);
        let text = m.render(&OutboxStats { pending: 3, retrying: 1, sent: 9, failed: 2 }, &Pool { connections: 4, idle: 3, max: 8 });
        assert!(text.contains(r#"naju_http_requests_total{method="GET",route="/my/visits/{id}/cancel",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"naju_http_request_duration_seconds_bucket{method="GET",route="/my/visits/{id}/cancel",status="200",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"naju_bookings_total{kind="clinic"} 1"#), "{text}");
        assert!(text.contains(r#"naju_bookings_total{kind="visit"} 0"#), "{text}");
        assert!(text.contains("naju_outbox_queued 3") && text.contains("naju_outbox_failed 2"), "{text}");
        assert!(text.contains("naju_db_pool_idle_connections 3"), "{text}");
    }
}
