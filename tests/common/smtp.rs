//! A minimal SMTP server for tests: keeps every message it accepts, and can be
//! told to refuse a recipient (RCPT) or every message (end of DATA) with a
//! given reply, as a real server does for an unknown mailbox (550) or when
//! it is busy (451).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    rules: Arc<Mutex<Rules>>,
    stop: Arc<AtomicBool>,
}

/// How the sink answers, changeable while it runs.
#[derive(Default)]
struct Rules {
    /// (address, reply) pairs: RCPT TO that address gets the reply instead of 250.
    recipients: Vec<(String, String)>,
    /// The reply to the end of DATA instead of "250 queued".
    data: Option<String>,
    /// Every refusal given, as "RCPT <address>" or "DATA <recipients>".
    refused: Vec<String>,
}

/// A port that is free now (nothing listens on it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl SmtpSink {
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind smtp sink");
        listener.set_nonblocking(true).expect("nonblocking");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(Mutex::new(Rules::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, r, s) = (messages.clone(), rules.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (m, r) = (m.clone(), r.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, m, r);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SmtpSink { port, messages, rules, stop }
    }

    /// A sink on a free port.
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(free_port())
    }

    /// Answers RCPT TO:<address> with `reply`, e.g. "550 5.1.1 no such user".
    pub fn refuse_recipient(&self, address: &str, reply: &str) {
        self.rules.lock().expect("sink lock").recipients.push((address.to_lowercase(), reply.to_string()));
    }

    /// Answers the end of every message's DATA with `reply` (e.g. "451 4.3.0
    /// try again later"), or accepts again with None.
    pub fn answer_data_with(&self, reply: Option<&str>) {
        self.rules.lock().expect("sink lock").data = reply.map(str::to_string);
    }

    /// Drops every refusal rule: the sink accepts everything again.
    pub fn accept_all(&self) {
        let mut r = self.rules.lock().expect("sink lock");
        r.recipients.clear();
        r.data = None;
    }

    /// The refusals of mail to `address` so far ("RCPT <address>" or "DATA
    /// <recipients>"): one per delivery attempt that reached the sink and was
    /// refused.
    pub fn refusals_for(&self, address: &str) -> Vec<String> {
        let address = address.to_lowercase();
        let refused = &self.rules.lock().expect("sink lock").refused;
        refused.iter().filter(|r| r.split([' ', ',']).any(|a| a == address)).cloned().collect()
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("sink lock").clone()
    }

    /// Waits for a received message that `matches` and returns it.
    pub fn wait_for_message(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| matches(m)) {
                return m;
            }
            assert!(Instant::now() < deadline, "SMTP sink got no such message among {}", self.messages().len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "SMTP sink got {} of {n} messages", got.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Rules {
    /// Passes a rule's reply through, recording it when it refuses.
    fn refusal(&mut self, what: String, reply: Option<String>) -> Option<String> {
        if reply.is_some() {
            self.refused.push(what);
        }
        reply
    }
}

/// Sends the refusal if there is one, else `ok`.
fn answer(out: &mut TcpStream, refusal: Option<String>, ok: &str) -> std::io::Result<()> {
    out.write_all(format!("{}\r\n", refusal.as_deref().unwrap_or(ok)).as_bytes())
}

/// The address inside `RCPT TO:<address>`, lower-cased.
fn rcpt_address(line: &str) -> String {
    let start = line.find('<').map(|i| i + 1).unwrap_or(0);
    let end = line[start..].find('>').map(|i| start + i).unwrap_or(line.len());
    line[start..end].trim().to_lowercase()
}

fn serve(stream: TcpStream, messages: Arc<Mutex<Vec<String>>>, rules: Arc<Mutex<Rules>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut line = String::new();
    // The accepted recipients of the message in progress.
    let mut recipients: Vec<String> = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if cmd.starts_with("RCPT") {
            let address = rcpt_address(line.trim_end());
            let refusal = {
                let mut r = rules.lock().expect("sink lock");
                let reply = r.recipients.iter().find(|(a, _)| *a == address).map(|(_, reply)| reply.clone());
                r.refusal(format!("RCPT {address}"), reply)
            };
            if refusal.is_none() {
                recipients.push(address);
            }
            answer(&mut out, refusal, "250 OK")?;
        } else if cmd.starts_with("MAIL") || cmd.starts_with("RSET") {
            recipients.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if cmd.starts_with("HELO") || cmd.starts_with("NOOP") {
            out.write_all(b"250 OK\r\n")?;
        } else if cmd.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line.trim_end() == "." {
                    break;
                }
                data.push_str(&line);
            }
            let refusal = {
                let mut r = rules.lock().expect("sink lock");
                let reply = r.data.clone();
                r.refusal(format!("DATA {}", recipients.join(",")), reply)
            };
            if refusal.is_none() {
                messages.lock().expect("sink lock").push(data);
            }
            answer(&mut out, refusal, "250 queued")?;
        } else if cmd.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// A received message with its headers and its parts' bodies decoded
/// (base64 or quoted-printable, as lettre chose), to look for text in it.
pub fn decoded(message: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut lines = message.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let encoding = line.to_ascii_lowercase();
        let (b64, qp) = (encoding == "content-transfer-encoding: base64", encoding == "content-transfer-encoding: quoted-printable");
        if !(b64 || qp) {
            continue;
        }
        // The part's remaining headers, a blank line, then its body up to the next boundary.
        for header in lines.by_ref() {
            if header.trim().is_empty() {
                break;
            }
        }
        let mut body = String::new();
        while let Some(l) = lines.peek() {
            if l.starts_with("--") {
                break;
            }
            body.push_str(l);
            body.push('\n');
            lines.next();
        }
        let bytes = if b64 {
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD.decode(compact).unwrap_or_default()
        } else {
            unquote(&body)
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        out.push('\n');
    }
    out
}

fn unquote(body: &str) -> Vec<u8> {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let raw = joined.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}
