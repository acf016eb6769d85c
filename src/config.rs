//! Settings from the environment. Every variable is documented in README.md.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum SmtpSecurity {
    /// Plain SMTP (a local relay or a test sink).
    None,
    /// STARTTLS upgrade (usually port 587).
    StartTls,
    /// Implicit TLS (usually port 465).
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Where text messages go (SMS_PROVIDER).
#[derive(Clone, Debug)]
pub enum SmsSettings {
    /// No SMS: residents are not offered it and every notice goes by email.
    None,
    /// One file per message in DATA_DIR/sms (development).
    File,
    /// NAVER Cloud Platform SENS.
    Sens(SensConfig),
}

#[derive(Clone)]
pub struct SensConfig {
    /// `https://sens.apigw.ntruss.com` (a test points it at a local server).
    pub base_url: String,
    pub service_id: String,
    pub access_key: String,
    pub secret_key: String,
    /// The sender number registered with SENS.
    pub from: String,
}

impl std::fmt::Debug for SensConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SensConfig({}, service {}, secret key hidden)", self.base_url, self.service_id)
    }
}

impl SmsSettings {
    fn from_env() -> Result<SmsSettings, String> {
        let required = |name: &str| var(name).ok_or_else(|| format!("{name} is required with SMS_PROVIDER=sens"));
        match var("SMS_PROVIDER").as_deref().unwrap_or("file") {
            "none" | "off" => Ok(SmsSettings::None),
            "file" => Ok(SmsSettings::File),
            "sens" => Ok(SmsSettings::Sens(SensConfig {
                base_url: var("SMS_SENS_URL").unwrap_or_else(|| "https://sens.apigw.ntruss.com".into()),
                service_id: required("SMS_SENS_SERVICE_ID")?,
                access_key: required("SMS_SENS_ACCESS_KEY")?,
                secret_key: required("SMS_SENS_SECRET_KEY")?,
                from: required("SMS_FROM")?,
            })),
            other => Err(format!("SMS_PROVIDER: unknown value {other:?} (file, sens, none)")),
        }
    }

    pub fn enabled(&self) -> bool {
        !matches!(self, SmsSettings::None)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bind_addr: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub public_url: String,
    pub city_name: String,
    pub secret_key: String,
    /// Keys for uploaded documents at rest (not the database's).
    pub document_keys: crate::crypto::DocumentKeys,
    pub smtp: Option<SmtpConfig>,
    pub mail_from: String,
    pub sms: SmsSettings,
    pub workers: usize,
    pub db_pool_size: u32,
    pub outbox_poll: Duration,
    pub outbox_retry_base: Duration,
    pub outbox_retry_max: Duration,
    /// Failed attempts after which a message is given up as `failed`.
    pub outbox_max_attempts: i32,
    /// How often scheduled jobs (visit reminders) run.
    pub scheduler_interval: Duration,
    pub session_idle: Duration,
    pub login_max_failures_account: i32,
    pub login_max_failures_ip: i32,
    pub login_lock: Duration,
    /// Sign-ups one IP may make within `signup_window`.
    pub signup_max_per_ip: i32,
    pub signup_window: Duration,
    pub load_demo: bool,
    /// Behind a reverse proxy: take the client IP from X-Forwarded-For.
    pub trust_proxy: bool,
    /// Bearer token for `/metrics`; without it the endpoint answers 404.
    pub metrics_token: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("{name}: cannot parse {v:?}")),
    }
}

impl Config {
    /// Reads the configuration from environment variables, with defaults that
    /// run the app on a local SQLite file with no other setup.
    pub fn from_env() -> Result<Config, String> {
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| data_dir.join("naju-helper.db").to_string_lossy().into_owned());
        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_url = var("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_addr}"));
        let smtp = match var("SMTP_HOST") {
            None => None,
            Some(host) => {
                let security = match var("SMTP_SECURITY").as_deref().unwrap_or("starttls") {
                    "none" | "plain" => SmtpSecurity::None,
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" | "ssl" => SmtpSecurity::Tls,
                    other => return Err(format!("SMTP_SECURITY: unknown value {other:?} (none, starttls, tls)")),
                };
                let default_port = match security {
                    SmtpSecurity::None => 25,
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::Tls => 465,
                };
                Some(SmtpConfig {
                    host,
                    port: parse_var("SMTP_PORT", default_port)?,
                    security,
                    username: var("SMTP_USERNAME"),
                    password: var("SMTP_PASSWORD"),
                })
            }
        };
        let secret_key = match var("SECRET_KEY") {
            Some(k) if k.len() >= 32 => k,
            Some(_) => return Err("SECRET_KEY must be at least 32 characters".into()),
            None => load_or_create_secret(&data_dir)?,
        };
        let current = match var("DOCUMENT_KEY") {
            Some(k) => crate::crypto::parse_key(&k).map_err(|e| format!("DOCUMENT_KEY: {e}"))?,
            None => crate::crypto::parse_key(&load_or_create_document_key(&data_dir)?)?,
        };
        let old = var("DOCUMENT_KEYS_OLD")
            .unwrap_or_default()
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(|k| crate::crypto::parse_key(k).map_err(|e| format!("DOCUMENT_KEYS_OLD: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            document_keys: crate::crypto::DocumentKeys::new(current, old),
            bind_addr,
            database_url,
            public_url: public_url.trim_end_matches('/').to_string(),
            city_name: var("CITY_NAME").unwrap_or_else(|| "나주시".into()),
            secret_key,
            smtp,
            mail_from: var("MAIL_FROM").unwrap_or_else(|| "나주시 보건소 <no-reply@naju-helper.local>".into()),
            sms: SmsSettings::from_env()?,
            workers: parse_var("WORKERS", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))?,
            db_pool_size: parse_var("DB_POOL_SIZE", 16)?,
            outbox_poll: Duration::from_millis(parse_var("OUTBOX_POLL_MS", 2000)?),
            outbox_retry_base: Duration::from_secs(parse_var("OUTBOX_RETRY_BASE_SECS", 30)?),
            outbox_retry_max: Duration::from_secs(parse_var("OUTBOX_RETRY_MAX_SECS", 3600)?),
            outbox_max_attempts: parse_var("OUTBOX_MAX_ATTEMPTS", 24)?.max(1),
            scheduler_interval: Duration::from_secs(parse_var("SCHEDULER_INTERVAL_SECS", 60)?),
            session_idle: Duration::from_secs(60 * parse_var("SESSION_IDLE_MINUTES", 30u64)?),
            login_max_failures_account: parse_var("LOGIN_MAX_FAILURES_ACCOUNT", 5)?,
            login_max_failures_ip: parse_var("LOGIN_MAX_FAILURES_IP", 30)?,
            login_lock: Duration::from_secs(60 * parse_var("LOGIN_LOCK_MINUTES", 15u64)?),
            signup_max_per_ip: parse_var("SIGNUP_MAX_PER_IP", 20)?,
            signup_window: Duration::from_secs(60 * parse_var("SIGNUP_WINDOW_MINUTES", 60u64)?),
            load_demo: parse_var("DEMO_DATA", true)?,
            trust_proxy: matches!(var("TRUST_PROXY").as_deref(), Some("1" | "true")),
            metrics_token: match var("METRICS_TOKEN") {
                Some(t) if t.len() < 16 => return Err("METRICS_TOKEN must be at least 16 characters".into()),
                t => t,
            },
            data_dir,
        })
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

/// Without SECRET_KEY a random key is kept in `DATA_DIR/secret.key`, so sessions
/// survive restarts of a single-machine install.
fn load_or_create_secret(data_dir: &std::path::Path) -> Result<String, String> {
    let path = data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    write_private(&path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// Without DOCUMENT_KEY a random key is kept in `DATA_DIR/document.key`.
/// Keep it apart from database backups: whoever has both reads the documents.
fn load_or_create_document_key(data_dir: &std::path::Path) -> Result<String, String> {
    let path = data_dir.join("document.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_string());
    }
    std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let key = crate::crypto::new_key();
    write_private(&path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}
