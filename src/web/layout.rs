//! The page layout (`templates/base.html`) compiled once per language and
//! kind of visitor into its text and the places where a page's values go,
//! so that a page renders only its own blocks through tera and the layout
//! around them is copied, not interpreted (it was about half of tera's work
//! on a resident's home page: BENCHMARKS.md, session 8).
//!
//! How: every page template extends `base.html`. For rendering, `base.html`
//! is replaced by a template holding only the two blocks a page fills
//! (`title`, `content`) with a separator between them; the real layout is
//! kept as `_layout.html` and rendered once at load, through a page whose
//! blocks are markers, with a marker for each value a page gives it. The
//! output, cut at the markers, is the compiled layout. Each marker carries a
//! `<`, so the cut also tells whether tera escaped the value there or wrote
//! it as is. At load, the compiled layout is checked against tera's own
//! rendering of the layout with sample values (every character HTML escapes):
//! a layout the compiler cannot follow (a value used in a condition or
//! through a filter that changes it) stops the start instead of showing
//! wrong pages.

use crate::i18n::Lang;

/// A value the layout shows that changes from page to page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    Title,
    Content,
    CsrfToken,
    CityName,
    HereQ,
    IdleSecs,
    NavLinks,
    UserName,
    RoleName,
    /// The flash message and the error summary (`_notices.html`), or nothing.
    Notices,
}

impl Slot {
    const ALL: [Slot; 10] = [
        Slot::Title,
        Slot::Content,
        Slot::CsrfToken,
        Slot::CityName,
        Slot::HereQ,
        Slot::IdleSecs,
        Slot::NavLinks,
        Slot::UserName,
        Slot::RoleName,
        Slot::Notices,
    ];

    fn index(self) -> usize {
        Slot::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The layout's variable for this value (title and content are blocks).
    fn variable(self) -> Option<&'static str> {
        match self {
            Slot::Title | Slot::Content | Slot::UserName | Slot::RoleName => None,
            Slot::CsrfToken => Some("csrf_token"),
            Slot::CityName => Some("city_name"),
            Slot::HereQ => Some("here_q"),
            Slot::IdleSecs => Some("session_idle_secs"),
            Slot::NavLinks => Some("nav_links"),
            Slot::Notices => Some("notices"),
        }
    }

    /// Marker text: private-use characters around `<` and the slot's number.
    fn marker(self) -> String {
        format!("{MARK}<{}{MARK}", self.index())
    }
}

const MARK: char = '\u{E000}';

/// The name the real layout is kept under, and the page used to compile it.
pub const LAYOUT: &str = "_layout.html";
const PROBE: &str = "_layout_probe.html";

/// The values of one page, by slot.
#[derive(Default)]
pub struct Values<'a> {
    pub title: &'a [u8],
    pub content: &'a [u8],
    pub csrf_token: &'a str,
    pub city_name: &'a str,
    pub here_q: &'a str,
    pub idle_secs: &'a str,
    pub nav_links: &'a str,
    pub user_name: &'a str,
    pub role_name: &'a str,
    pub notices: &'a str,
}

impl Values<'_> {
    fn get(&self, slot: Slot) -> &[u8] {
        match slot {
            Slot::Title => self.title,
            Slot::Content => self.content,
            Slot::CsrfToken => self.csrf_token.as_bytes(),
            Slot::CityName => self.city_name.as_bytes(),
            Slot::HereQ => self.here_q.as_bytes(),
            Slot::IdleSecs => self.idle_secs.as_bytes(),
            Slot::NavLinks => self.nav_links.as_bytes(),
            Slot::UserName => self.user_name.as_bytes(),
            Slot::RoleName => self.role_name.as_bytes(),
            Slot::Notices => self.notices.as_bytes(),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Piece {
    Text(Box<[u8]>),
    /// A value, escaped for HTML (`true`) or as is.
    Value(Slot, bool),
}

/// One compiled layout: for a language, signed in or not.
#[derive(Debug)]
pub struct Compiled {
    pieces: Vec<Piece>,
    text_len: usize,
}

impl Compiled {
    /// The page: the layout with `values` in their places.
    pub fn assemble(&self, values: &Values) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text_len + values.content.len() + 512);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text),
                Piece::Value(slot, false) => out.extend_from_slice(values.get(*slot)),
                Piece::Value(slot, true) => {
                    // Values are UTF-8 text (the two blocks, already rendered, are never escaped).
                    html_escape::encode_safe_to_vec(String::from_utf8_lossy(values.get(*slot)), &mut out);
                }
            }
        }
        out
    }
}

/// The two templates to add to a language's tera before `compile`: the real
/// layout under `LAYOUT` and the probe page that extends it.
pub fn templates(folded_base: &str) -> [(&'static str, String); 2] {
    let probe = format!(
        "{{% extends \"{LAYOUT}\" %}}{{% block title %}}{}{{% endblock title %}}{{% block content %}}{}{{% endblock content %}}",
        Slot::Title.marker(),
        Slot::Content.marker()
    );
    [(LAYOUT, folded_base.to_string()), (PROBE, probe)]
}

/// What `base.html` becomes for rendering a page: its two blocks, cut by
/// `separator`.
pub fn blocks_only(separator: &str) -> String {
    format!("{{% block title %}}{{% endblock title %}}{separator}{{% block content %}}{{% endblock content %}}")
}

/// Compiles the layout of `tera` (which holds `templates()`) for `lang`, for
/// a visitor signed in or not, and checks it against tera's rendering.
pub fn compile(tera: &tera::Tera, lang: Lang, signed_in: bool) -> Result<Compiled, tera::Error> {
    let markers = Values {
        title: b"",
        content: b"",
        csrf_token: &Slot::CsrfToken.marker(),
        city_name: &Slot::CityName.marker(),
        here_q: &Slot::HereQ.marker(),
        idle_secs: &Slot::IdleSecs.marker(),
        nav_links: &Slot::NavLinks.marker(),
        user_name: &Slot::UserName.marker(),
        role_name: &Slot::RoleName.marker(),
        notices: &Slot::Notices.marker(),
    };
    let out = tera.render(PROBE, &context(lang, signed_in, &markers))?;
    let compiled = parse(&out)?;
    for slot in [Slot::Title, Slot::Content] {
        if !compiled.pieces.contains(&Piece::Value(slot, false)) {
            return Err(tera::Error::msg(format!("the layout does not show its {slot:?} block as is")));
        }
    }
    // The check: sample values through the compiled layout and through tera
    // (the probe's blocks are the markers, which the layout shows as is).
    let (title, content) = (Slot::Title.marker(), Slot::Content.marker());
    let sample = Values {
        title: title.as_bytes(),
        content: content.as_bytes(),
        csrf_token: "c0ffee",
        city_name: "Naju & <\"시'/>",
        here_q: "%2Fmy%3Fa%3D1",
        idle_secs: "1800",
        nav_links: "<li><a href=\"/x\">x & y</a></li>",
        user_name: "O'Neil \"김\" <b>&/",
        role_name: "임신부 & <r>",
        notices: "<div class=\"notice\">ok &amp; done</div>",
    };
    let expected = tera.render(PROBE, &context(lang, signed_in, &sample))?;
    if compiled.assemble(&sample) != expected.as_bytes() {
        return Err(tera::Error::msg(
            "the compiled layout differs from tera's rendering of base.html: a page value is used in a condition or through a filter",
        ));
    }
    Ok(compiled)
}

/// The layout's context with `values` as text.
fn context(lang: Lang, signed_in: bool, values: &Values) -> tera::Context {
    let text = |slot: Slot| String::from_utf8_lossy(values.get(slot)).into_owned();
    let mut c = tera::Context::new();
    c.insert("lang", lang.code());
    for slot in Slot::ALL {
        if let Some(name) = slot.variable() {
            c.insert(name, &text(slot));
        }
    }
    if signed_in {
        c.insert("user", &serde_json::json!({ "name": text(Slot::UserName), "role_name": text(Slot::RoleName) }));
    }
    c
}

/// Cuts tera's output at the markers.
fn parse(out: &str) -> Result<Compiled, tera::Error> {
    let mut pieces = vec![];
    let mut text_len = 0;
    for (i, part) in out.split(MARK).enumerate() {
        if i % 2 == 0 {
            if !part.is_empty() {
                text_len += part.len();
                pieces.push(Piece::Text(part.as_bytes().into()));
            }
            continue;
        }
        let (escaped, number) = match (part.strip_prefix("&lt;"), part.strip_prefix('<')) {
            (Some(n), _) => (true, n),
            (None, Some(n)) => (false, n),
            _ => return Err(tera::Error::msg(format!("a layout marker was changed by a filter: {part:?}"))),
        };
        let slot = number
            .parse::<usize>()
            .ok()
            .and_then(|n| Slot::ALL.get(n).copied())
            .ok_or_else(|| tera::Error::msg(format!("unknown layout marker {part:?}")))?;
        pieces.push(Piece::Value(slot, escaped));
    }
    if out.split(MARK).count() % 2 == 0 {
        return Err(tera::Error::msg("an unclosed layout marker"));
    }
    Ok(Compiled { pieces, text_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tera_with(layout: &str) -> tera::Tera {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates(templates(layout)).unwrap();
        tera
    }

    #[test]
    fn values_go_where_the_layout_shows_them_escaped_or_not() {
        let tera = tera_with(
            "<title>{% block title %}{% endblock title %} · {{ city_name }}</title>{{ nav_links | safe }}\
             {% if user %}<b>{{ user.name }}</b>{% endif %}<main>{{ notices | safe }}{% block content %}{% endblock content %}</main>",
        );
        let page = Values { title: b"T", content: b"<p>c</p>", city_name: "A&B", nav_links: "<li>", user_name: "<i>", ..Default::default() };
        let guest = compile(&tera, Lang::Ko, false).unwrap();
        assert_eq!(String::from_utf8(guest.assemble(&page)).unwrap(), "<title>T · A&amp;B</title><li><main><p>c</p></main>");
        let signed_in = compile(&tera, Lang::Ko, true).unwrap();
        assert_eq!(
            String::from_utf8(signed_in.assemble(&page)).unwrap(),
            "<title>T · A&amp;B</title><li><b>&lt;i&gt;</b><main><p>c</p></main>"
        );
    }

    #[test]
    fn a_layout_that_tests_or_filters_a_value_is_refused() {
        let blocks = "{% block title %}{% endblock title %}{% block content %}{% endblock content %}";
        assert!(compile(&tera_with(blocks), Lang::Ko, false).is_ok());
        // A filter that changes the value: tera's output differs from the compiled layout's.
        let filtered = format!("{blocks}{{{{ city_name | upper }}}}");
        assert!(compile(&tera_with(&filtered), Lang::Ko, false).is_err());
        let cut = format!("{blocks}{{{{ user.name | truncate(length=3) }}}}");
        assert!(compile(&tera_with(&cut), Lang::Ko, true).is_err());
        // A condition on a value: true for the marker, false for the sample.
        let tested = format!("{blocks}{{% if city_name is starting_with(\"{MARK}\") %}}x{{% endif %}}");
        assert!(compile(&tera_with(&tested), Lang::Ko, false).is_err());
        // A page must show its title and its content.
        assert!(compile(&tera_with("{% block content %}{% endblock content %}"), Lang::Ko, false).is_err());
    }
}
