//! Builds the application: database, migrations, demo data, templates, the
//! HTTP server and the outbox worker. Used by `main` and by the tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::db::{self, Backend, DbPool};
use crate::error::AppError;
use crate::i18n::I18n;
use crate::monitoring::Metrics;
use crate::notify::mailer::Mailer;
use crate::notify::worker::{OutboxWorker, Transports};
use crate::notify::Notifier;
use crate::state::{AppState, Templates};
use crate::web::routes::{RouteInfo, Routes};
use crate::web::{assets, middleware, pages};
use crate::{accounts, applications, clinic, demo, results, visits};

pub struct Application {
    port: u16,
    server: Server,
    worker: OutboxWorker,
    pub demo_loaded: bool,
}

/// The pieces every entry point needs: pool (migrated), templates, catalogs.
pub struct Core {
    pub pool: DbPool,
    pub backend: Backend,
    pub templates: Arc<Templates>,
    pub i18n: Arc<I18n>,
    pub notifier: Notifier,
}

impl Core {
    pub fn open(config: &Config) -> Result<Core, AppError> {
        let (pool, backend) = db::build_pool(&config.database_url, config.db_pool_size)?;
        db::run_migrations(&mut *pool.get()?)?;
        let i18n = Arc::new(I18n::load().map_err(AppError::Internal)?);
        let templates = Arc::new(Templates::load(&i18n)?);
        let notifier = Notifier::new(templates.clone(), i18n.clone(), config.city_name.clone(), config.public_url.clone()).with_sms(config.sms.enabled());
        Ok(Core { pool, backend, templates, i18n, notifier })
    }
}

/// Every route of the app, in the order actix matches them; `configure`
/// registers exactly these.
fn all_routes(r: &mut Routes) {
    r.get("/", pages::home)
        .get("/healthz", pages::healthz)
        .get("/metrics", crate::monitoring::scrape)
        .get("/manifest.webmanifest", pages::manifest)
        .get("/lang/{code}", pages::switch_lang)
        .get("/assets/{path:.*}", assets::serve)
        .configure(accounts::routes::configure)
        .configure(accounts::notices::configure)
        .configure(applications::configure)
        .configure(visits::configure)
        .configure(clinic::configure)
        .configure(crate::schedule::configure)
        .configure(crate::search::routes::configure)
        .configure(results::routes::configure)
        .configure(crate::notify::routes::configure)
        .configure(crate::city::routes::configure)
        .configure(crate::retention::routes::configure)
        .configure(crate::api::configure);
}

/// Registers every route with actix (anything else gets the not-found page).
pub fn configure(cfg: &mut web::ServiceConfig) {
    all_routes(&mut Routes::register(cfg));
}

/// The app's routes (method and path pattern), as `configure` registers them.
pub fn routes() -> Vec<RouteInfo> {
    let mut r = Routes::record();
    all_routes(&mut r);
    r.into_list()
}

impl Application {
    /// Opens the database, applies migrations, loads demo data into an empty
    /// database (unless disabled), binds the listener and starts the worker.
    pub fn build(config: Config) -> Result<Application, AppError> {
        let core = Core::open(&config)?;
        let demo_loaded = if config.load_demo {
            demo::load_if_empty(&mut *core.pool.get()?, &core.notifier)?
        } else {
            false
        };
        // Documents an earlier version kept as plain files go into the database, sealed.
        let moved = crate::applications::documents::move_files_into_database(&mut *core.pool.get()?, &config.document_keys, &config.data_dir)?;
        if moved > 0 {
            tracing::info!(moved, "moved uploaded documents into the database (encrypted)");
        }
        let mailer = Mailer::from_config(&config).map_err(AppError::Internal)?;
        let sms = crate::notify::sms::provider_from_config(&config.sms, &config.data_dir).map_err(AppError::Internal)?;
        let listener = TcpListener::bind(&config.bind_addr)
            .map_err(|e| AppError::Internal(format!("cannot bind {}: {e}", config.bind_addr)))?;
        let port = listener.local_addr().map_err(|e| AppError::Internal(e.to_string()))?.port();
        let worker = OutboxWorker::spawn(core.pool.clone(), config.clone(), Transports { mailer, sms }, core.notifier.clone());
        let workers = config.workers.max(1);
        let pool_size = (config.db_pool_size as usize).max(2);
        let metrics = Metrics::new()?;
        let upkeep = metrics.upkeep();
        actix_web::rt::spawn(async move {
            let mut every = actix_web::rt::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                upkeep();
            }
        });
        let state = web::Data::new(AppState {
            city: core.notifier.city_names(),
            programs: Default::default(),
            pool: core.pool,
            backend: core.backend,
            config,
            templates: core.templates,
            i18n: core.i18n,
            notifier: core.notifier,
            assets: assets::Assets::load(),
            metrics,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .app_data(web::PayloadConfig::default().limit(64 * 1024))
                .wrap(from_fn(middleware::session_guard))
                .wrap(from_fn(middleware::error_pages))
                // Outside the error pages, so they carry the security headers too.
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "same-origin"))
                        .add((
                            "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                        )),
                )
                .wrap(from_fn(middleware::observe))
                .wrap(TracingLogger::<middleware::RequestSpan>::new())
                .configure(configure)
                .default_service(web::to(pages::not_found))
        })
        .workers(workers)
        // Blocking work needs a database connection: more threads than the
        // pool only wait, each holding memory.
        .worker_max_blocking_threads(pool_size)
        .shutdown_timeout(10)
        .listen(listener)
        .map_err(|e| AppError::Internal(format!("listen: {e}")))?
        .run();
        Ok(Application { port, server, worker, demo_loaded })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or `handle().stop()`), lets requests in
    /// flight finish, then stops the outbox worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let worker = self.worker;
        let _ = web::block(move || worker.shutdown()).await;
        result
    }
}
