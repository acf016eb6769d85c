//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::config::Config;
use crate::db::{Backend, DbPool};
use crate::i18n::I18n;
use crate::notify::Notifier;
use crate::web::assets::Assets;

pub struct AppState {
    pub pool: DbPool,
    pub backend: Backend,
    pub config: Config,
    pub tera: Arc<tera::Tera>,
    pub i18n: Arc<I18n>,
    pub notifier: Notifier,
    pub assets: Assets,
    pub city: crate::city::NamesCache,
    pub metrics: crate::monitoring::Metrics,
}

impl AppState {
    /// The city's name and contact line for a page.
    pub fn city(&self) -> crate::city::Names {
        self.city.get(&self.pool)
    }

    /// After a city file was applied here: pages show the new names at once.
    pub fn forget_city(&self) {
        self.city.forget();
    }
}

pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Builds the template engine from the embedded templates.
pub fn load_templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(
        embedded::TEMPLATES
            .iter()
            .filter(|(name, _)| name.ends_with(".html") || name.ends_with(".txt"))
            .map(|(name, body)| (*name, *body)),
    )?;
    tera.register_filter("urlencode", urlencode_filter);
    Ok(tera)
}

fn urlencode_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let s = value.as_str().ok_or_else(|| tera::Error::msg("urlencode expects a string"))?;
    Ok(tera::Value::String(crate::web::urlencode(s)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        if let Err(e) = super::load_templates() {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            panic!("{msg}");
        }
    }
}
