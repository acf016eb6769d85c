//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::config::Config;
use crate::db::{Backend, DbPool};
use crate::i18n::{I18n, Lang};
use crate::notify::Notifier;
use crate::web::assets::Assets;
use crate::web::layout::{self, Compiled, Values};

pub struct AppState {
    pub pool: DbPool,
    pub backend: Backend,
    pub config: Config,
    pub templates: Arc<Templates>,
    pub i18n: Arc<I18n>,
    pub notifier: Notifier,
    pub assets: Assets,
    /// Shared with the notifier: both show a newly applied city at once.
    pub city: Arc<crate::city::NamesCache>,
    /// The open programs (they change only with the city file).
    pub programs: crate::programs::ActiveCache,
    pub metrics: crate::monitoring::Metrics,
}

impl AppState {
    /// The city's name and contact line for a page.
    pub fn city(&self) -> std::sync::Arc<crate::city::Names> {
        self.city.get(&self.pool)
    }

    /// After a city file was applied here: pages show the new names and
    /// programs at once.
    pub fn forget_city(&self) {
        self.city.forget();
        self.programs.forget();
    }
}

pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The templates, parsed once per language, each with its own `t` function
/// bound to that language's messages: a page's context carries only its data,
/// never the catalog.
pub struct Templates {
    ko: tera::Tera,
    en: tera::Tera,
    /// `_nav_links.html` rendered per language and kind of user.
    nav: Vec<(Lang, NavFor, String)>,
    /// `base.html` compiled per language, for a guest and for a signed-in
    /// user (`crate::web::layout`); in the teras, `base.html` is only the
    /// page's two blocks, cut by `separator`.
    layouts: Vec<(Lang, bool, Compiled)>,
    separator: String,
}

/// Whether `template` is a page (extends the layout).
fn extends_base(tera: &tera::Tera, template: &str) -> Result<bool, tera::Error> {
    Ok(tera.get_template(template)?.parents.iter().any(|p| p == "base.html"))
}

thread_local! {
    /// A page's rendered blocks, before the layout goes around them.
    static BLOCKS: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(32 * 1024));
}

/// What a page gives the layout, besides its blocks.
pub struct PageFrame<'a> {
    pub signed_in: bool,
    pub values: Values<'a>,
}

/// Which main menu a page shows: it depends only on who is signed in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NavFor {
    Guest,
    Resident,
    Staff,
    Supervisor,
    Contractor,
    /// A role the menu has no links for: only the common ones.
    Other,
}

impl NavFor {
    const ALL: [NavFor; 6] = [NavFor::Guest, NavFor::Resident, NavFor::Staff, NavFor::Supervisor, NavFor::Contractor, NavFor::Other];

    pub fn of(user: Option<(&str, bool)>) -> NavFor {
        match user {
            None => NavFor::Guest,
            Some(("resident", _)) => NavFor::Resident,
            Some(("staff", true)) => NavFor::Supervisor,
            Some(("staff", false)) => NavFor::Staff,
            Some(("contractor", _)) => NavFor::Contractor,
            Some(_) => NavFor::Other,
        }
    }

    /// The `user` the menu template reads (`role`, `is_supervisor`).
    fn user(self) -> Option<serde_json::Value> {
        let (role, supervisor) = match self {
            NavFor::Guest => return None,
            NavFor::Resident => ("resident", false),
            NavFor::Staff => ("staff", false),
            NavFor::Supervisor => ("staff", true),
            NavFor::Contractor => ("contractor", false),
            NavFor::Other => ("other", false),
        };
        Some(serde_json::json!({ "role": role, "is_supervisor": supervisor }))
    }
}

impl Templates {
    /// One tera per language, each with its translations written into the
    /// templates (`I18n::fold_into_template`); `t()` remains for the calls
    /// that need it at render time (placeholders, computed keys).
    pub fn load(i18n: &I18n) -> Result<Templates, tera::Error> {
        // Between a page's title and its content: no page can contain it.
        let separator = format!("\u{E001}{}\u{E001}", uuid::Uuid::new_v4().simple());
        let base = embedded::TEMPLATES.iter().find(|(name, _)| *name == "base.html").map(|(_, body)| *body).unwrap_or_default();
        let mut layouts = vec![];
        let mut for_lang = |lang: Lang| -> Result<tera::Tera, tera::Error> {
            let mut tera = templates_with(|name, body| i18n.fold_into_template(lang, body, name.ends_with(".html")))?;
            tera.register_function("t", i18n.translate_function(lang));
            tera.add_raw_templates(layout::templates(&i18n.fold_into_template(lang, base, true)))?;
            for signed_in in [false, true] {
                layouts.push((lang, signed_in, layout::compile(&tera, lang, signed_in)?));
            }
            tera.add_raw_template("base.html", &layout::blocks_only(&separator))?;
            Ok(tera)
        };
        let (ko, en) = (for_lang(Lang::Ko)?, for_lang(Lang::En)?);
        let mut nav = vec![];
        for (lang, tera) in [(Lang::Ko, &ko), (Lang::En, &en)] {
            for who in NavFor::ALL {
                let mut c = tera::Context::new();
                c.insert("lang", lang.code());
                if let Some(user) = who.user() {
                    c.insert("user", &user);
                }
                nav.push((lang, who, tera.render("_nav_links.html", &c)?));
            }
        }
        Ok(Templates { ko, en, nav, layouts, separator })
    }

    /// The main menu's links (without the user's own line) as HTML: the
    /// same for every page a kind of user sees, so rendered once at load
    /// instead of twice per page.
    pub fn nav_links(&self, lang: Lang, who: NavFor) -> &str {
        self.nav.iter().find(|(l, w, _)| *l == lang && *w == who).map(|(_, _, html)| html.as_str()).unwrap_or_default()
    }

    /// A template that is not a page (an email, a text message, a part of
    /// a page): pages go through `render_page`, which puts the layout around
    /// them (here they would come out as their bare blocks).
    pub fn render(&self, lang: Lang, template: &str, context: &tera::Context) -> Result<String, tera::Error> {
        let tera = self.for_lang(lang);
        if extends_base(tera, template)? {
            return Err(tera::Error::msg(format!("{template} is a page: render it with render_page")));
        }
        tera.render(template, context)
    }

    /// A page as bytes for a response body: the same output as `render`,
    /// without checking again that tera's own output is UTF-8 (a pass over
    /// every byte of the page: 7 % of a resident's home page in callgrind).
    fn render_bytes(&self, lang: Lang, template: &str, context: &tera::Context) -> Result<Vec<u8>, tera::Error> {
        let mut out = Vec::with_capacity(16 * 1024);
        self.for_lang(lang).render_to(template, context, &mut out)?;
        Ok(out)
    }

    /// A page as bytes for a response body. A page that extends `base.html`
    /// renders only its blocks through tera; the compiled layout goes around
    /// them (`crate::web::layout`). Any other template renders as it is.
    pub fn render_page(&self, lang: Lang, template: &str, context: &tera::Context, frame: PageFrame) -> Result<Vec<u8>, tera::Error> {
        let tera = self.for_lang(lang);
        if !extends_base(tera, template)? {
            return self.render_bytes(lang, template, context);
        }
        let layout = self
            .layouts
            .iter()
            .find(|(l, s, _)| *l == lang && *s == frame.signed_in)
            .map(|(_, _, compiled)| compiled)
            .ok_or_else(|| tera::Error::msg("no compiled layout"))?;
        // The blocks go to this thread's buffer, kept from page to page: the
        // page itself is then the one allocation of its size.
        BLOCKS.with_borrow_mut(|blocks| {
            blocks.clear();
            let rendered = tera.render_to(template, context, &mut *blocks);
            let page = rendered.and_then(|()| {
                let sep = self.separator.as_bytes();
                let at = blocks
                    .windows(sep.len())
                    .position(|w| w == sep)
                    .ok_or_else(|| tera::Error::msg(format!("{template}: its blocks came without their separator")))?;
                Ok(layout.assemble(&Values { title: &blocks[..at], content: &blocks[at + sep.len()..], ..frame.values }))
            });
            // A rare very long page (a report) does not keep its memory here.
            if blocks.capacity() > 256 * 1024 {
                *blocks = Vec::new();
            }
            page
        })
    }

    fn for_lang(&self, lang: Lang) -> &tera::Tera {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }

    /// Whether a template of that name exists (the same in every language).
    pub fn has(&self, template: &str) -> bool {
        self.ko.get_template(template).is_ok()
    }
}

/// Parses the embedded templates (without the `t` function: see `Templates`).
pub fn load_templates() -> Result<tera::Tera, tera::Error> {
    templates_with(|_, body| body.to_string())
}

/// Parses the embedded templates, each as `prepare` rewrites it.
fn templates_with(prepare: impl Fn(&str, &str) -> String) -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(
        embedded::TEMPLATES
            .iter()
            .filter(|(name, _)| name.ends_with(".html") || name.ends_with(".txt"))
            .map(|(name, body)| (*name, prepare(name, body))),
    )?;
    tera.register_filter("urlencode", urlencode_filter);
    tera.set_escape_fn(escape_html);
    Ok(tera)
}

/// Tera's autoescape: the output of `tera::escape_html` (`& < > " ' /`),
/// scanning bytes instead of decoding and pushing each character.
pub fn escape_html(text: &str) -> String {
    html_escape::encode_safe(text).into_owned()
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
    use super::embedded::TEMPLATES;
    use crate::i18n::{I18n, Lang};
    use serde_json::Value;

    #[test]
    fn a_page_comes_whole_through_render_page_and_not_at_all_through_render() {
        let i18n = I18n::load().expect("catalogs parse");
        let templates = super::Templates::load(&i18n).expect("templates load");
        let mut c = tera::Context::new();
        c.insert("lang", "ko");
        c.insert("email", "mom@example.kr");
        c.insert("hours", &24);
        c.insert("flash", "");
        c.insert("has_errors", &false);
        let values = crate::web::layout::Values { city_name: "나주시 & <b>", nav_links: "<li>nav</li>", ..Default::default() };
        let page = templates.render_page(Lang::Ko, "accounts/signup_sent.html", &c, super::PageFrame { signed_in: false, values }).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(page.contains("<title>") && page.contains(" · 나주시 &amp; &lt;b&gt;</title>") && page.contains("<li>nav</li>"), "{page}");
        assert!(page.contains("id=\"main\"") && page.contains("mom@example.kr") && page.trim_end().ends_with("</html>"), "{page}");
        assert!(!page.contains('\u{E000}') && !page.contains('\u{E001}'), "no marker or separator is left");
        assert!(templates.render(Lang::Ko, "accounts/signup_sent.html", &c).is_err(), "a page is refused by render");
        assert!(templates.render(Lang::Ko, "_notices.html", &c).is_ok());
    }

    #[test]
    fn escaping_is_teras() {
        for text in ["", "plain", "임신부 김하나", "a & b < c > d \"e\" 'f' /g/ &amp;", "<script>alert('x')</script>", "끝/"] {
            assert_eq!(super::escape_html(text), tera::escape_html(text), "{text}");
        }
    }

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

    /// The code of each `{{ }}` and `{% %}` tag (comments and text left out).
    fn tags(body: &str) -> Vec<&str> {
        let mut out = vec![];
        let mut rest = body;
        while let Some(start) = rest.find(['{']) {
            let after = &rest[start + 1..];
            let close = match after.chars().next() {
                Some('{') => "}}",
                Some('%') => "%}",
                _ => {
                    rest = after;
                    continue;
                }
            };
            let Some(end) = after[1..].find(close) else { break };
            out.push(&after[1..1 + end]);
            rest = &after[1 + end + 2..];
        }
        out
    }

    /// `code` with the inside of every string literal blanked.
    fn without_strings(code: &str) -> String {
        let mut out = String::new();
        let mut quote = None;
        for c in code.chars() {
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    out.push(c);
                }
                Some(_) => out.push(' '),
                None => {
                    if matches!(c, '"' | '\'' | '`') {
                        quote = Some(c);
                    }
                    out.push(c);
                }
            }
        }
        out
    }

    fn ident_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    /// The argument of each `t(k=…)` call: the key, split at `~` into string
    /// literals (`Ok`, unquoted) and variable parts (`Err`).
    fn keys_used(code: &str) -> Vec<Vec<Result<String, String>>> {
        let blanked = without_strings(code);
        let mut out = vec![];
        for (at, _) in blanked.match_indices("t(k=") {
            if blanked[..at].chars().next_back().is_some_and(|c| ident_char(c) || c == '.') {
                continue;
            }
            let start = at + 4;
            let len = blanked[start..].find([',', ')']).unwrap_or(blanked.len() - start);
            let parts = code[start..start + len]
                .split('~')
                .map(|p| {
                    let p = p.trim();
                    match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                        Some(literal) => Ok(literal.to_string()),
                        None => Err(p.to_string()),
                    }
                })
                .collect();
            out.push(parts);
        }
        out
    }

    fn lookup<'a>(catalog: &'a Value, key: &str) -> Option<&'a Value> {
        key.split('.').filter(|p| !p.is_empty()).try_fold(catalog, |v, part| v.get(part))
    }

    #[test]
    fn no_template_reads_the_catalog_object() {
        let mut found = vec![];
        for (name, body) in TEMPLATES.iter().filter(|(name, _)| name.ends_with(".html") || name.ends_with(".txt")) {
            for code in tags(body) {
                let blanked = without_strings(code);
                let chars: Vec<char> = blanked.chars().collect();
                for i in 0..chars.len() {
                    let before_ok = i == 0 || !(ident_char(chars[i - 1]) || chars[i - 1] == '.');
                    if chars[i] == 't' && before_ok && matches!(chars.get(i + 1), Some('.' | '[')) {
                        found.push(format!("{name}: {}", code.trim()));
                    }
                }
            }
        }
        assert!(found.is_empty(), "run src/i18n/rewrite_templates.py on: {found:#?}");
    }

    #[test]
    fn every_key_a_template_uses_is_in_both_catalogs() {
        let i18n = I18n::load().expect("catalogs parse");
        let mut missing = vec![];
        let mut checked = 0;
        for (name, body) in TEMPLATES.iter().filter(|(name, _)| name.ends_with(".html") || name.ends_with(".txt")) {
            for code in tags(body) {
                for parts in keys_used(code) {
                    checked += 1;
                    for lang in [Lang::Ko, Lang::En] {
                        let catalog = i18n.catalog(lang);
                        let ok = match parts.as_slice() {
                            // A fixed key: a message.
                            [Ok(key)] => lookup(catalog, key).is_some_and(Value::is_string),
                            // "section." ~ var [~ ".rest"]: the section, and `rest` in one of its entries.
                            [Ok(prefix), Err(_), rest @ ..] => match lookup(catalog, prefix).and_then(Value::as_object) {
                                Some(section) => match rest {
                                    [] => section.values().any(Value::is_string),
                                    [Ok(suffix)] => section.values().any(|v| lookup(v, suffix).is_some_and(Value::is_string)),
                                    _ => false,
                                },
                                None => false,
                            },
                            _ => false,
                        };
                        if !ok {
                            missing.push(format!("{name} ({}): {parts:?}", lang.code()));
                        }
                    }
                }
            }
        }
        assert!(checked > 500, "only {checked} keys found: the scan is broken");
        assert!(missing.is_empty(), "keys missing from the catalogs (or not checkable): {missing:#?}");
    }

    #[test]
    fn pages_are_translated_by_the_language_they_are_rendered_in() {
        let i18n = I18n::load().expect("catalogs parse");
        let templates = super::Templates::load(&i18n).expect("templates parse");
        for lang in [Lang::Ko, Lang::En] {
            let page = templates.render(lang, "error.html", &{
                let mut c = tera::Context::new();
                c.insert("lang", lang.code());
                c.insert("city_name", "city");
                c.insert("status", &404);
                c.insert("message", "msg");
                c
            });
            let page = page.expect("error page renders");
            assert!(page.contains(&i18n.t(lang, "errors.page_title")), "{} page carries its language's text", lang.code());
        }
        assert_ne!(i18n.t(Lang::Ko, "errors.page_title"), i18n.t(Lang::En, "errors.page_title"));
    }

    #[test]
    fn each_kind_of_user_gets_its_own_menu_in_each_language() {
        use super::NavFor;
        let i18n = I18n::load().expect("catalogs parse");
        let templates = super::Templates::load(&i18n).expect("templates parse");
        for lang in [Lang::Ko, Lang::En] {
            let nav = |who| templates.nav_links(lang, who);
            let has = |who, path: &str| nav(who).contains(&format!("href=\"{path}\""));
            for who in NavFor::ALL {
                assert!(nav(who).contains(&i18n.t(lang, "nav.home")), "{who:?} ({}): {}", lang.code(), nav(who));
                assert!(has(who, "/clinic"));
                assert_eq!(has(who, "/login"), who == NavFor::Guest, "{who:?}");
                assert_eq!(has(who, "/account/tokens"), who != NavFor::Guest, "{who:?}");
                assert_eq!(has(who, "/my/visits"), who == NavFor::Resident, "{who:?}");
                assert_eq!(has(who, "/staff/applications"), matches!(who, NavFor::Staff | NavFor::Supervisor), "{who:?}");
                assert_eq!(has(who, "/staff/city"), who == NavFor::Supervisor, "{who:?}");
                assert_eq!(has(who, "/contractor/visits"), who == NavFor::Contractor, "{who:?}");
                // The user's own line (name, sign-out form with its token) is per page, not in here.
                assert!(!nav(who).contains("csrf_token") && !nav(who).contains("nav-user"), "{who:?}");
            }
        }
        assert_ne!(templates.nav_links(Lang::Ko, NavFor::Resident), templates.nav_links(Lang::En, NavFor::Resident));
        assert_eq!(NavFor::of(Some(("staff", true))), NavFor::Supervisor);
        assert_eq!(NavFor::of(Some(("resident", true))), NavFor::Resident);
        assert_eq!(NavFor::of(None), NavFor::Guest);
    }

    #[test]
    fn t_falls_back_and_fills_named_arguments() {
        let i18n = I18n::load().expect("catalogs parse");
        let mut tera = tera::Tera::default();
        tera.add_raw_template("x", "{{ t(k=\"status.\" ~ s) }}|{{ t(k=\"no.such.key\") }}|{{ t(k=\"errors.too_many_attempts_minutes\", minutes=15) }}").unwrap();
        tera.register_function("t", i18n.translate_function(Lang::En));
        let mut c = tera::Context::new();
        c.insert("s", "approved");
        let out = tera.render("x", &c).unwrap();
        let expected = format!(
            "{}|no.such.key|{}",
            i18n.t(Lang::En, "status.approved"),
            i18n.t_with(Lang::En, "errors.too_many_attempts_minutes", &[("minutes", "15")])
        );
        assert_eq!(out, expected);
        assert!(out.contains("15"));
    }
}
