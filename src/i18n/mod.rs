//! Message catalogs (Korean default, English). Templates read `t.<section>.<key>`;
//! Rust code looks keys up with `I18n::t`.

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
}

impl I18n {
    /// Parses the catalogs compiled into the binary. They are checked by a unit
    /// test, so a failure here is a build defect.
    pub fn load() -> Result<I18n, String> {
        let ko = serde_json::from_str(include_str!("ko.json")).map_err(|e| format!("ko.json: {e}"))?;
        let en = serde_json::from_str(include_str!("en.json")).map_err(|e| format!("en.json: {e}"))?;
        Ok(I18n { ko, en })
    }

    pub fn catalog(&self, lang: Lang) -> &Value {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }

    fn lookup<'a>(catalog: &'a Value, key: &str) -> Option<&'a str> {
        key.split('.').try_fold(catalog, |v, part| v.get(part))?.as_str()
    }

    /// Looks `key` ("errors.not_found") up, falling back to Korean, then to the key.
    pub fn t(&self, lang: Lang, key: &str) -> String {
        Self::lookup(self.catalog(lang), key)
            .or_else(|| Self::lookup(&self.ko, key))
            .unwrap_or(key)
            .to_string()
    }

    /// Like `t`, replacing `{name}` placeholders.
    pub fn t_with(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        args.iter()
            .fold(self.t(lang, key), |s, (name, value)| s.replace(&format!("{{{name}}}"), value))
    }

    pub fn has(&self, key: &str) -> bool {
        Self::lookup(&self.ko, key).is_some()
    }
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
