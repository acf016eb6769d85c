//! Text messages: how long a text is as Korean carriers count it (SMS up to
//! 90 bytes, LMS up to 2,000 bytes with a subject), and the providers that
//! deliver it behind one trait: files in DATA_DIR/sms for development, and
//! NAVER Cloud Platform SENS (SMS API v2) for production.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use encoding_rs::EUC_KR;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::mailer::SendFailure;
use crate::config::{SensConfig, SmsSettings};

/// The largest SMS, in EUC-KR bytes; a longer text goes as an LMS.
pub const SMS_MAX_BYTES: usize = 90;
/// The largest LMS body, in EUC-KR bytes (SENS cuts longer ones itself).
pub const LMS_MAX_BYTES: usize = 2000;
/// The largest LMS subject, in EUC-KR bytes.
pub const LMS_SUBJECT_MAX_BYTES: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsType {
    Sms,
    Lms,
}

impl SmsType {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsType::Sms => "SMS",
            SmsType::Lms => "LMS",
        }
    }
}

/// A text fitted to the provider's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsText {
    pub kind: SmsType,
    /// Only an LMS has a subject.
    pub subject: Option<String>,
    pub content: String,
}

/// The EUC-KR bytes of one character, or None if EUC-KR has no code for it
/// (an emoji, most Hanja outside KS X 1001).
fn char_bytes(c: char) -> Option<usize> {
    if c.is_ascii() {
        return Some(1);
    }
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = EUC_KR.encode(c.encode_utf8(&mut buf));
    (!unmappable).then_some(bytes.len())
}

/// The length of `text` as Korean carriers and SENS count it: bytes in
/// EUC-KR, so a Hangul syllable is 2 bytes and an ASCII letter, digit or
/// space 1. Counted with `encoding_rs`, whose "EUC-KR" is the WHATWG one
/// (Windows-949), which gives every modern Hangul syllable two bytes; a
/// character without a code counts 1, because `plain` turns it into `?`.
pub fn euc_kr_len(text: &str) -> usize {
    text.chars().map(|c| char_bytes(c).unwrap_or(1)).sum()
}

/// Replaces what EUC-KR cannot carry with `?`: SENS refuses a message with
/// an emoji it does not support, and a notice must not fail for one.
fn plain(text: &str) -> String {
    text.chars().map(|c| if char_bytes(c).is_some() { c } else { '?' }).collect()
}

/// The longest start of `text` within `max` EUC-KR bytes (never half a character).
pub fn truncate_bytes(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let n = char_bytes(c).unwrap_or(1);
        if used + n > max {
            break;
        }
        used += n;
        out.push(c);
    }
    out
}

/// Up to 90 bytes is an SMS; longer is an LMS with `subject`, its body cut
/// at 2,000 bytes and its subject at 40.
pub fn fit(subject: &str, content: &str) -> SmsText {
    let content = plain(content.trim());
    if euc_kr_len(&content) <= SMS_MAX_BYTES {
        return SmsText { kind: SmsType::Sms, subject: None, content };
    }
    SmsText {
        kind: SmsType::Lms,
        subject: Some(truncate_bytes(&plain(subject.trim()), LMS_SUBJECT_MAX_BYTES)),
        content: truncate_bytes(&content, LMS_MAX_BYTES),
    }
}

/// One text to send: `to` as stored (010-1234-5678).
pub struct SmsMessage<'a> {
    pub id: &'a str,
    pub to: &'a str,
    pub text: SmsText,
}

/// A way to deliver texts. Errors say whether trying again could help.
pub trait SmsProvider: Send + Sync {
    fn send(&self, msg: &SmsMessage<'_>) -> Result<(), SendFailure>;
}

/// The provider SMS_PROVIDER names, or None when SMS is off.
pub fn provider_from_config(settings: &SmsSettings, data_dir: &std::path::Path) -> Result<Option<Box<dyn SmsProvider>>, String> {
    Ok(match settings {
        SmsSettings::None => None,
        SmsSettings::File => {
            let dir = data_dir.join("sms");
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Some(Box::new(FileSms { dir }))
        }
        SmsSettings::Sens(config) => Some(Box::new(Sens::new(config.clone()))),
    })
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Development: one file per message in DATA_DIR/sms, like the `.eml` files.
pub struct FileSms {
    dir: PathBuf,
}

impl SmsProvider for FileSms {
    fn send(&self, msg: &SmsMessage<'_>) -> Result<(), SendFailure> {
        let mut text = format!("To: {}\nType: {}\nBytes: {}\n", digits(msg.to), msg.text.kind.as_str(), euc_kr_len(&msg.text.content));
        if let Some(subject) = &msg.text.subject {
            text.push_str(&format!("Subject: {subject}\n"));
        }
        text.push('\n');
        text.push_str(&msg.text.content);
        text.push('\n');
        // Written aside and renamed, so a reader never sees half a message.
        let tmp = self.dir.join(format!(".{}.tmp", msg.id));
        let write = || -> std::io::Result<()> {
            std::fs::File::create(&tmp)?.write_all(text.as_bytes())?;
            std::fs::rename(&tmp, self.dir.join(format!("{}.txt", msg.id)))
        };
        write().map_err(|e| SendFailure::transient(format!("file: {e}")))
    }
}

/// NAVER Cloud Platform SENS, SMS API v2, "Send message":
/// `POST {base}/sms/v2/services/{serviceId}/messages`, JSON body
/// `{type, contentType, countryCode, from, subject, content, messages: [{to}]}`,
/// signed with the headers `x-ncp-apigw-timestamp` (milliseconds since the
/// epoch, at most 5 minutes off), `x-ncp-iam-access-key` and
/// `x-ncp-apigw-signature-v2` = Base64(HMAC-SHA256(secret key,
/// "POST {path}\n{timestamp}\n{access key}")). Accepted requests answer
/// 202 with `{requestId, requestTime, statusCode: "202", statusName: "success"}`;
/// failures are 400, 401, 403, 404, 429 or 500. Subject and content are
/// counted in EUC-KR bytes (SMS 0-90, LMS 0-2000, subject 0-40) and a
/// message with an unsupported emoji fails.
/// Sources: https://api.ncloud-docs.com/docs/en/sens-sms-send (request
/// fields and limits), https://api.ncloud-docs.com/docs/en/ai-application-service-sens-smsv2
/// (URL, headers, response and its statuses) and the NCP API Gateway
/// signature guide linked from it.
pub struct Sens {
    config: SensConfig,
    agent: ureq::Agent,
}

impl Sens {
    pub fn new(config: SensConfig) -> Sens {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).redirects(0).build();
        Sens { config, agent }
    }

    fn path(&self) -> String {
        format!("/sms/v2/services/{}/messages", self.config.service_id)
    }
}

/// The API gateway's signature of one request (see `Sens`).
pub fn sens_signature(secret_key: &str, method: &str, path: &str, timestamp: &str, access_key: &str) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(format!("{method} {path}\n{timestamp}\n{access_key}").as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether a SENS refusal is for good. 400 (the request itself is wrong: a
/// number or text it will not take) stays wrong, so the message fails at
/// once for staff to correct. 401, 403 and 404 are the operator's settings
/// (keys, permissions, service id, an unregistered sender number): once fixed,
/// waiting messages go out, so they are retried like 429 and 5xx, until
/// OUTBOX_MAX_ATTEMPTS. Another 4xx is treated as a refusal, another status
/// as a passing fault.
pub fn sens_status_is_permanent(status: u16) -> bool {
    match status {
        400 => true,
        401 | 403 | 404 | 408 | 429 => false,
        s => (400..500).contains(&s),
    }
}

impl SmsProvider for Sens {
    fn send(&self, msg: &SmsMessage<'_>) -> Result<(), SendFailure> {
        let path = self.path();
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        let c = &self.config;
        let signature = sens_signature(&c.secret_key, "POST", &path, &timestamp, &c.access_key).map_err(SendFailure::transient)?;
        let mut body = serde_json::json!({
            "type": msg.text.kind.as_str(),
            "contentType": "COMM",
            "countryCode": "82",
            "from": digits(&c.from),
            "content": msg.text.content,
            "messages": [{ "to": digits(msg.to) }],
        });
        if let Some(subject) = &msg.text.subject {
            body["subject"] = serde_json::Value::String(subject.clone());
        }
        let result = self
            .agent
            .post(&format!("{}{path}", c.base_url.trim_end_matches('/')))
            .set("Content-Type", "application/json; charset=utf-8")
            .set("x-ncp-apigw-timestamp", &timestamp)
            .set("x-ncp-iam-access-key", &c.access_key)
            .set("x-ncp-apigw-signature-v2", &signature)
            .send_string(&body.to_string());
        match result {
            Ok(response) if response.status() == 202 => Ok(()),
            Ok(response) => {
                let status = response.status();
                let text: String = response.into_string().unwrap_or_default().chars().take(300).collect();
                Err(SendFailure { permanent: false, code: Some(status.to_string()), reason: format!("sens: HTTP {status}, not 202: {text}") })
            }
            Err(ureq::Error::Status(status, response)) => {
                let text: String = response.into_string().unwrap_or_default().chars().take(300).collect();
                Err(SendFailure { permanent: sens_status_is_permanent(status), code: Some(status.to_string()), reason: format!("sens: HTTP {status}: {text}") })
            }
            Err(e) => Err(SendFailure::transient(format!("sens: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_counts_two_bytes_and_ascii_one() {
        assert_eq!(euc_kr_len("abc 123"), 7);
        assert_eq!(euc_kr_len("가나다"), 6);
        assert_eq!(euc_kr_len("[나주시] 방문 09:00"), 19);
        assert_eq!(euc_kr_len("똠방각하"), 8, "syllables outside KS X 1001's 2,350 are 2 bytes in CP949 too");
        assert_eq!(euc_kr_len("😀"), 1, "sent as ?");
    }

    #[test]
    fn ninety_bytes_is_an_sms_and_ninety_one_an_lms() {
        let ninety = "가".repeat(45);
        assert_eq!(fit("제목", &ninety), SmsText { kind: SmsType::Sms, subject: None, content: ninety.clone() });
        let ascii_ninety = "a".repeat(90);
        assert_eq!(fit("제목", &ascii_ninety).kind, SmsType::Sms);
        let ninety_one = format!("{ninety}a");
        let lms = fit("제목", &ninety_one);
        assert_eq!(lms.kind, SmsType::Lms);
        assert_eq!(lms.subject.as_deref(), Some("제목"));
        assert_eq!(lms.content, ninety_one, "an LMS keeps the whole text");
    }

    #[test]
    fn an_lms_is_cut_at_two_thousand_bytes_and_its_subject_at_forty() {
        let exactly = "가".repeat(1000);
        assert_eq!(fit("s", &exactly).content, exactly, "2,000 bytes fit");
        let over = format!("{}a", "가".repeat(1000));
        let cut = fit("s", &over);
        assert_eq!(euc_kr_len(&cut.content), 2000);
        assert_eq!(cut.content, exactly);
        // A Hangul syllable never straddles the limit: 1,999 bytes of room after "a".
        let odd = format!("a{}", "가".repeat(1000));
        assert_eq!(euc_kr_len(&fit("s", &odd).content), 1999);
        let subject = fit(&"제".repeat(30), &"가".repeat(50)).subject.unwrap_or_default();
        assert_eq!(euc_kr_len(&subject), 40);
    }

    #[test]
    fn emoji_are_replaced_before_sending() {
        assert_eq!(fit("s", "안녕 😀").content, "안녕 ?");
    }

    #[test]
    fn signature_is_hmac_sha256_of_method_path_timestamp_and_key_in_base64() {
        // Computed independently with Python's hmac and base64 modules.
        let sig = sens_signature("secret-key", "POST", "/sms/v2/services/ncp:sms:kr:1:test/messages", "1700000000000", "access-key").unwrap();
        assert_eq!(sig, EXPECTED_SIGNATURE);
    }

    const EXPECTED_SIGNATURE: &str = "I3NTOApAtYZWikBUXizrtdfOAM38fh6yPtyHSQ3Q3gQ=";

    #[test]
    fn bad_requests_fail_for_good_and_settings_or_load_are_retried() {
        assert!(sens_status_is_permanent(400));
        for retried in [401, 403, 404, 429, 500, 502, 503] {
            assert!(!sens_status_is_permanent(retried), "{retried}");
        }
        assert!(sens_status_is_permanent(413));
    }
}
