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
}
