//! The delivery side: SMTP when configured, otherwise .eml files in
//! DATA_DIR/outbox so a new install shows its mail without a mail server.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use super::OutboxMessage;
use crate::config::{Config, SmtpSecurity};

pub enum Mailer {
    Smtp(Box<SmtpTransport>),
    File(FileTransport),
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, String> {
        let Some(smtp) = &config.smtp else {
            let dir = config.outbox_dir();
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            return Ok(Mailer::File(FileTransport::new(dir)));
        };
        let builder = match smtp.security {
            SmtpSecurity::None => SmtpTransport::builder_dangerous(&smtp.host),
            SmtpSecurity::StartTls => SmtpTransport::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
            SmtpSecurity::Tls => SmtpTransport::relay(&smtp.host).map_err(|e| e.to_string())?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Mailer::Smtp(Box::new(builder.build())))
    }

    /// Sends one message. The reason is for the outbox row, not the log.
    pub fn send(&self, from: &str, msg: &OutboxMessage) -> Result<(), SendFailure> {
        // MAIL_FROM is the operator's to fix, so it is worth trying again.
        let from: Mailbox = from.parse().map_err(|e| SendFailure::transient(format!("MAIL_FROM: {e}")))?;
        // An address that does not parse never will: staff must correct it.
        let to: Mailbox = msg.recipient.parse().map_err(|e| SendFailure::permanent(format!("recipient: {e}")))?;
        let email = Message::builder()
            .from(from)
            .to(to)
            .subject(&msg.subject)
            .message_id(Some(format!("<{}@naju-helper>", msg.id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(msg.body_text.clone()))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(msg.body_html.clone())),
            )
            .map_err(|e| SendFailure::permanent(format!("build: {e}")))?;
        match self {
            Mailer::Smtp(t) => t.send(&email).map(|_| ()).map_err(|e| SendFailure {
                permanent: e.is_permanent(),
                code: e.status().map(|c| c.to_string()),
                reason: format!("smtp: {e}"),
            }),
            Mailer::File(t) => t.send(&email).map(|_| ()).map_err(|e| SendFailure::transient(format!("file: {e}"))),
        }
    }
}

/// Why a message was not delivered, and whether trying again could help.
#[derive(Debug)]
pub struct SendFailure {
    /// The server refused for good (SMTP 5xx, SMS provider 400) or the message cannot be built.
    pub permanent: bool,
    /// The SMTP reply code ("550", "451") or the SMS provider's HTTP status
    /// ("400", "429"): safe to log, unlike the reason.
    pub code: Option<String>,
    /// May quote an address: stored in the row for staff, never logged.
    pub reason: String,
}

impl SendFailure {
    pub(crate) fn permanent(reason: String) -> SendFailure {
        SendFailure { permanent: true, code: None, reason }
    }

    pub(crate) fn transient(reason: String) -> SendFailure {
        SendFailure { permanent: false, code: None, reason }
    }
}
