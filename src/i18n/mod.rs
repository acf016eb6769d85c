//! Message catalogs (Korean default, English). Templates call
//! `t(k="section.key")` (see `translate_function`); Rust code looks keys up with
//! `I18n::t`. `rewrite_templates.py` converts templates written for the former
//! catalog object (`t.section.key`).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ko,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "ko" => Some(Lang::Ko),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

pub struct I18n {
    ko: Value,
    en: Value,
    /// Every message by its dotted key, Korean filling gaps in English.
    flat_ko: Arc<HashMap<String, String>>,
    flat_en: Arc<HashMap<String, String>>,
}

impl I18n {
    /// Parses the catalogs compiled into the binary. They are checked by a unit
    /// test, so a failure here is a build defect.
    pub fn load() -> Result<I18n, String> {
        let ko = serde_json::from_str(include_str!("ko.json")).map_err(|e| format!("ko.json: {e}"))?;
        let en = serde_json::from_str(include_str!("en.json")).map_err(|e| format!("en.json: {e}"))?;
        let flat_ko = flatten(&ko);
        let mut flat_en = flat_ko.clone();
        flat_en.extend(flatten(&en));
        Ok(I18n { ko, en, flat_ko: Arc::new(flat_ko), flat_en: Arc::new(flat_en) })
    }

    fn messages(&self, lang: Lang) -> &Arc<HashMap<String, String>> {
        match lang {
            Lang::Ko => &self.flat_ko,
            Lang::En => &self.flat_en,
        }
    }

    /// The tera function `t` of one language: `t(k="section.key")` is the
    /// message (falling back to Korean, then to the key, as `I18n::t`), with any
    /// further argument filling its placeholder: `t(k="x.y", n=3)` for `{n}`.
    pub fn translate_function(&self, lang: Lang) -> impl tera::Function {
        let messages = self.messages(lang).clone();
        move |args: &HashMap<String, tera::Value>| -> tera::Result<tera::Value> {
            let key = match args.get("k") {
                Some(Value::String(key)) => key.as_str(),
                _ => return Err(tera::Error::msg("t() needs the key as k=\"section.key\"")),
            };
            let text = messages.get(key).map(String::as_str).unwrap_or(key);
            let filled = args.iter().filter(|(name, _)| name.as_str() != "k").fold(text.to_string(), |s, (name, value)| {
                let value = match value {
                    Value::String(v) => v.clone(),
                    other => other.to_string(),
                };
                s.replace(&format!("{{{name}}}"), &value)
            });
            Ok(Value::String(filled))
        }
    }

    /// A template's text with its translations written in for `lang`, so that
    /// rendering does not call `t()` for them (the calls were a sixth of the
    /// instructions of a page; BENCHMARKS.md). `{{ t(k="key") }}` becomes the
    /// message itself (escaped as tera would escape it when `html`), and any
    /// other `t(k="key")` (with a filter, in a condition) a string literal with
    /// the same value; calls with placeholder arguments or a computed key stay
    /// calls. A message that contains tera's own delimiters, or every quote
    /// character, is left to `t()` too. The output is what the call renders.
    pub fn fold_into_template(&self, lang: Lang, body: &str, html: bool) -> String {
        const CALL: &str = "t(k=\"";
        let messages = self.messages(lang);
        let mut out = String::with_capacity(body.len() + body.len() / 2);
        let mut rest = body;
        while let Some(at) = rest.find(CALL) {
            let key_start = at + CALL.len();
            let Some(key_len) = rest[key_start..].find('"') else { break };
            let key = &rest[key_start..key_start + key_len];
            let call_end = key_start + key_len + 2; // past `")`
            let is_call = rest.get(key_start + key_len..call_end) == Some("\")")
                && !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
                && (at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'_');
            if !is_call {
                out.push_str(&rest[..key_start]);
                rest = &rest[key_start..];
                continue;
            }
            let text = messages.get(key).map(String::as_str).unwrap_or(key);
            if ["{{", "}}", "{%", "%}", "{#", "#}"].iter().any(|d| text.contains(d)) {
                out.push_str(&rest[..call_end]);
                rest = &rest[call_end..];
                continue;
            }
            // The whole output tag `{{ t(k="key") }}`: the text itself.
            let before = &rest[..at];
            if before.ends_with("{{ ") && rest[call_end..].starts_with(" }}") {
                out.push_str(&before[..before.len() - 3]);
                if html {
                    out.push_str(&html_escape::encode_safe(text));
                } else {
                    out.push_str(text);
                }
                rest = &rest[call_end + 3..];
                continue;
            }
            out.push_str(before);
            match ['"', '\'', '`'].into_iter().find(|q| !text.contains(*q)) {
                Some(q) => {
                    out.push(q);
                    out.push_str(text);
                    out.push(q);
                }
                None => out.push_str(&rest[at..call_end]),
            }
            rest = &rest[call_end..];
        }
        out.push_str(rest);
        out
    }

    pub fn catalog(&self, lang: Lang) -> &Value {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }

    /// Looks `key` ("errors.not_found") up, falling back to Korean, then to the key.
    pub fn t(&self, lang: Lang, key: &str) -> String {
        self.messages(lang).get(key).map(String::as_str).unwrap_or(key).to_string()
    }

    /// Like `t`, replacing `{name}` placeholders.
    pub fn t_with(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        args.iter()
            .fold(self.t(lang, key), |s, (name, value)| s.replace(&format!("{{{name}}}"), value))
    }

    pub fn has(&self, key: &str) -> bool {
        self.flat_ko.contains_key(key)
    }
}

fn flatten(catalog: &Value) -> HashMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut HashMap<String, String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, child, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = HashMap::new();
    walk("", catalog, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    keys(&format!("{prefix}{k}."), child, out);
                }
            }
            _ => out.push(prefix.trim_end_matches('.').to_string()),
        }
    }

    #[test]
    fn catalogs_parse_and_have_the_same_keys() {
        let i18n = I18n::load().expect("catalogs parse");
        let (mut ko, mut en) = (vec![], vec![]);
        keys("", &i18n.ko, &mut ko);
        keys("", &i18n.en, &mut en);
        ko.sort();
        en.sort();
        let missing_en: Vec<_> = ko.iter().filter(|k| !en.contains(k)).collect();
        let missing_ko: Vec<_> = en.iter().filter(|k| !ko.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en.json: {missing_en:?}");
        assert!(missing_ko.is_empty(), "missing in ko.json: {missing_ko:?}");
    }

    #[test]
    fn falls_back_and_fills_placeholders() {
        let i18n = I18n::load().unwrap();
        assert_eq!(i18n.t(Lang::En, "no.such.key"), "no.such.key");
        let s = i18n.t_with(Lang::Ko, "errors.too_many_attempts_minutes", &[("minutes", "15")]);
        assert!(s.contains("15"), "{s}");
    }

    /// Every message of both catalogs renders the same folded into the
    /// template as through `t()`: as a whole output tag, through a filter, in
    /// a condition, escaped in HTML and raw in text; calls with placeholders
    /// or computed keys and unknown keys are left to `t()` and still work.
    #[test]
    fn translations_written_into_templates_render_exactly_as_the_calls_did() {
        let i18n = I18n::load().expect("catalogs");
        for lang in [Lang::Ko, Lang::En] {
            let mut keys: Vec<&String> = i18n.messages(lang).keys().collect();
            keys.sort();
            let snippet = |key: &str| {
                format!(
                    "<p>{{{{ t(k=\"{key}\") }}}}</p>|{{{{ t(k=\"{key}\") | upper }}}}|{{% if t(k=\"{key}\") | length > 3 %}}long{{% endif %}}|{{{{ t(k=\"{key}\", n=7) }}}}"
                )
            };
            let mut plain = tera::Tera::default();
            let mut folded = tera::Tera::default();
            for (i, key) in keys.iter().enumerate() {
                for ext in ["html", "txt"] {
                    let name = format!("s{i}.{ext}");
                    let body = snippet(key);
                    plain.add_raw_template(&name, &body).expect("plain snippet parses");
                    folded.add_raw_template(&name, &i18n.fold_into_template(lang, &body, ext == "html")).expect("folded snippet parses");
                }
            }
            plain.register_function("t", i18n.translate_function(lang));
            folded.register_function("t", i18n.translate_function(lang));
            let ctx = tera::Context::new();
            for i in 0..keys.len() {
                for ext in ["html", "txt"] {
                    let name = format!("s{i}.{ext}");
                    assert_eq!(folded.render(&name, &ctx).expect("folded"), plain.render(&name, &ctx).expect("plain"), "{:?} {}", lang, keys[i]);
                }
            }
        }
    }

    #[test]
    fn only_literal_single_key_calls_are_folded() {
        let i18n = I18n::load().expect("catalogs");
        let kept = [
            r#"{{ t(k="status." ~ app.status) }}"#,
            r#"{{ t(k="desk.bulk.select", ref=a.reference) }}"#,
            r#"{{ at(k="layout.skip") }}"#,
            r#"{{ t(k="") }}"#,
        ];
        for body in kept {
            assert_eq!(i18n.fold_into_template(Lang::Ko, body, true), body);
        }
        let folded = i18n.fold_into_template(Lang::Ko, r#"<a>{{ t(k="layout.skip") }}</a>{{ t(k="layout.skip") | safe }}"#, true);
        assert!(!folded.contains("t(k="), "{folded}");
        assert!(folded.starts_with("<a>") && folded.contains("</a>{{ "), "{folded}");
    }
}
