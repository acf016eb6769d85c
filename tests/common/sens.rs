//! A local stand-in for NAVER Cloud SENS (SMS API v2, "Send message") for
//! tests: it checks every request against the published format (method,
//! path with the service id, the three signing headers with the signature
//! recomputed from the test's secret key, the JSON fields, the content's
//! EUC-KR length against its type) and answers as SENS documents: 202 with
//! {requestId, requestTime, statusCode: "202", statusName: "success"}, or a
//! status it is told to give (400, 401, 403, 404, 429, 500) for a number.
//! Sources: https://api.ncloud-docs.com/docs/en/sens-sms-send and
//! https://api.ncloud-docs.com/docs/en/ai-application-service-sens-smsv2.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SERVICE_ID: &str = "ncp:sms:kr:123456789012:naju-test";
pub const ACCESS_KEY: &str = "test-access-key-0123";
pub const SECRET_KEY: &str = "test-secret-key-abcdefghij";
pub const FROM: &str = "061-339-8114";

/// One request SENS accepted or refused, as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub to: String,
    pub kind: String,
    pub subject: Option<String>,
    pub content: String,
    /// The status it was answered with.
    pub status: u16,
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    /// What a request broke of the documented format.
    violations: Vec<String>,
    /// number (digits) -> statuses to answer, in order, before 202.
    scripted: HashMap<String, Vec<u16>>,
}

pub struct SensServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl SensServer {
    pub fn start() -> SensServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SENS stand-in");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, s) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SensServer { port, state, stop }
    }

    /// The settings that point the app at this server.
    pub fn settings(&self) -> naju_helper::config::SmsSettings {
        naju_helper::config::SmsSettings::Sens(naju_helper::config::SensConfig {
            base_url: format!("http://127.0.0.1:{}", self.port),
            service_id: SERVICE_ID.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            from: FROM.into(),
        })
    }

    /// Answers the next requests to `number` with these statuses, then 202.
    pub fn answer(&self, number: &str, statuses: &[u16]) {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        self.state.lock().expect("state").scripted.insert(digits, statuses.to_vec());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("state").requests.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().expect("state").violations.clone()
    }

    /// Waits for a request to `number` that `check` accepts.
    pub fn wait_for(&self, number: &str, timeout: Duration, check: impl Fn(&Request) -> bool) -> Request {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| r.to == digits && check(r)) {
                return r;
            }
            assert!(Instant::now() < deadline, "no matching SENS request to {number}; got {:?}; violations {:?}", self.requests(), self.violations());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn assert_all_requests_well_formed(&self) {
        assert!(self.violations().is_empty(), "requests broke SENS's format: {:?}", self.violations());
    }
}

impl Drop for SensServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Bytes in EUC-KR, as SENS counts subject and content.
pub fn euc_kr_bytes(text: &str) -> usize {
    encoding_rs::EUC_KR.encode(text).0.len()
}

fn respond(stream: &mut TcpStream, status: u16, reason: &str, body: &str) -> std::io::Result<()> {
    write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    }
}

fn serve(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let mut stream = stream;
    let (violations, parsed) = check(&request_line, &headers, &body);
    let mut st = state.lock().expect("state");
    let Some(mut request) = parsed else {
        st.violations.extend(violations);
        drop(st);
        return respond(&mut stream, 400, "Bad Request", r#"{"status":400,"errorMessage":"bad request"}"#);
    };
    let status = if !violations.is_empty() {
        // The API gateway refuses a request it cannot authenticate with 401.
        let auth = violations.iter().any(|v| v.starts_with("x-ncp-"));
        st.violations.extend(violations);
        if auth { 401 } else { 400 }
    } else {
        match st.scripted.get_mut(&request.to) {
            Some(queue) if !queue.is_empty() => queue.remove(0),
            _ => 202,
        }
    };
    request.status = status;
    let n = st.requests.len();
    st.requests.push(request);
    drop(st);
    let body = if status == 202 {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f");
        format!(r#"{{"requestId":"RSSA-{n:013}-TEST","requestTime":"{now}","statusCode":"202","statusName":"success"}}"#)
    } else {
        format!(r#"{{"status":{status},"errorMessage":"{}"}}"#, reason(status))
    };
    respond(&mut stream, status, reason(status), &body)
}

/// What in one request breaks the documented format, and the request read.
fn check(request_line: &str, headers: &HashMap<String, String>, body: &[u8]) -> (Vec<String>, Option<Request>) {
    let mut v = Vec::new();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let expected_path = format!("/sms/v2/services/{SERVICE_ID}/messages");
    if method != "POST" {
        v.push(format!("method {method}"));
    }
    if path != expected_path {
        v.push(format!("path {path}"));
    }
    let content_type = headers.get("content-type").map(String::as_str).unwrap_or("");
    if !content_type.starts_with("application/json") {
        v.push(format!("content-type {content_type}"));
    }
    let timestamp = headers.get("x-ncp-apigw-timestamp").cloned().unwrap_or_default();
    match timestamp.parse::<i64>() {
        Ok(ms) if (chrono::Utc::now().timestamp_millis() - ms).abs() < 5 * 60 * 1000 => {}
        _ => v.push(format!("x-ncp-apigw-timestamp {timestamp:?} is not milliseconds within 5 minutes")),
    }
    if headers.get("x-ncp-iam-access-key").map(String::as_str) != Some(ACCESS_KEY) {
        v.push("x-ncp-iam-access-key".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_KEY.as_bytes()).expect("hmac key");
    mac.update(format!("POST {expected_path}\n{timestamp}\n{ACCESS_KEY}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if headers.get("x-ncp-apigw-signature-v2") != Some(&signature) {
        v.push("x-ncp-apigw-signature-v2 does not match".into());
    }
    let json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(e) => {
            v.push(format!("body is not JSON: {e}"));
            return (v, None);
        }
    };
    let field = |name: &str| json.get(name).and_then(|x| x.as_str()).map(str::to_string);
    let kind = field("type").unwrap_or_default();
    if kind != "SMS" && kind != "LMS" {
        v.push(format!("type {kind:?}"));
    }
    if field("contentType").as_deref() != Some("COMM") {
        v.push("contentType is not COMM".into());
    }
    if field("countryCode").as_deref() != Some("82") {
        v.push("countryCode is not 82".into());
    }
    let from_digits: String = FROM.chars().filter(char::is_ascii_digit).collect();
    if field("from").as_deref() != Some(from_digits.as_str()) {
        v.push(format!("from {:?}", field("from")));
    }
    let content = field("content").unwrap_or_default();
    let bytes = euc_kr_bytes(&content);
    match kind.as_str() {
        "SMS" if bytes > 90 => v.push(format!("an SMS of {bytes} bytes")),
        "LMS" if bytes > 2000 => v.push(format!("an LMS of {bytes} bytes")),
        "LMS" if bytes <= 90 => v.push(format!("an LMS of only {bytes} bytes")),
        _ => {}
    }
    let subject = field("subject");
    match (&kind[..], &subject) {
        ("SMS", Some(_)) => v.push("a subject on an SMS".into()),
        ("LMS", Some(s)) if euc_kr_bytes(s) > 40 => v.push(format!("a subject of {} bytes", euc_kr_bytes(s))),
        _ => {}
    }
    if content.chars().any(|c| encoding_rs::EUC_KR.encode(&c.to_string()).2) {
        v.push("content with characters EUC-KR cannot carry".into());
    }
    let messages = json.get("messages").and_then(|m| m.as_array()).cloned().unwrap_or_default();
    let to = match messages.as_slice() {
        [one] => one.get("to").and_then(|t| t.as_str()).unwrap_or_default().to_string(),
        _ => {
            v.push(format!("{} messages, expected one", messages.len()));
            String::new()
        }
    };
    if !(to.len() == 11 && to.starts_with("010") && to.chars().all(|c| c.is_ascii_digit())) {
        v.push(format!("to {to:?} is not a mobile number in digits"));
    }
    (v, Some(Request { to, kind, subject, content, status: 0 }))
}
