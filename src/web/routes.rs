//! The route registry: every route is added here, which both registers it
//! with actix and records its method and path pattern. actix cannot list what
//! it serves, so this record is the app's authoritative route list (the
//! `routes` command, the authorization test that covers every route).

use std::borrow::Cow;

use actix_web::dev::HttpServiceFactory;
use actix_web::{web, FromRequest, Handler, Responder};
use serde::Serialize;

/// One route: method and actix path pattern (`/my/visits/{id}/cancel`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RouteInfo {
    pub method: &'static str,
    pub pattern: Cow<'static, str>,
}

/// Registers routes with actix (when built over a `ServiceConfig`) and
/// records each one. Modules only see this, so no route escapes the list.
pub struct Routes<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    list: Vec<RouteInfo>,
}

impl<'a> Routes<'a> {
    /// Registers with actix as it records.
    pub fn register(cfg: &'a mut web::ServiceConfig) -> Routes<'a> {
        Routes { cfg: Some(cfg), list: Vec::new() }
    }

    /// Only records: for listing the routes without a server.
    pub fn record() -> Routes<'static> {
        Routes { cfg: None, list: Vec::new() }
    }

    pub fn into_list(self) -> Vec<RouteInfo> {
        self.list
    }

    pub fn get<F, Args>(&mut self, pattern: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add("GET", pattern, || web::get().to(handler))
    }

    pub fn post<F, Args>(&mut self, pattern: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add("POST", pattern, || web::post().to(handler))
    }

    /// A group of routes from another module, in this registry.
    pub fn configure(&mut self, group: impl FnOnce(&mut Routes<'a>)) -> &mut Self {
        group(self);
        self
    }

    /// Routes under `prefix` in an actix scope that `finish` decorates
    /// (middleware, app data, the scope's own not-found answer); recorded
    /// with the prefix, as a request sees them.
    pub fn scope<S>(&mut self, prefix: &'static str, group: impl FnOnce(&mut Routes<'_>), finish: impl FnOnce(actix_web::Scope) -> S) -> &mut Self
    where
        S: HttpServiceFactory + 'static,
    {
        let mut inner_list = Vec::new();
        match self.cfg.as_deref_mut() {
            Some(cfg) => {
                let scope = web::scope(prefix).configure(|c| {
                    let mut inner = Routes::register(c);
                    group(&mut inner);
                    inner_list = inner.list;
                });
                cfg.service(finish(scope));
            }
            None => {
                let mut inner = Routes::record();
                group(&mut inner);
                inner_list = inner.list;
            }
        }
        self.list.extend(inner_list.into_iter().map(|r| RouteInfo { method: r.method, pattern: Cow::Owned(format!("{prefix}{}", r.pattern)) }));
        self
    }

    fn add(&mut self, method: &'static str, pattern: &'static str, route: impl FnOnce() -> actix_web::Route) -> &mut Self {
        if let Some(cfg) = self.cfg.as_deref_mut() {
            cfg.route(pattern, route());
        }
        self.list.push(RouteInfo { method, pattern: Cow::Borrowed(pattern) });
        self
    }
}

