//! The city's programs (prenatal housework care, Saturday open health center).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::programs;
use crate::db::DbConn;
use crate::i18n::Lang;

pub const HOUSEWORK: &str = "housework";
pub const SATURDAY_CLINIC: &str = "saturday_clinic";

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = programs)]
pub struct Program {
    pub id: String,
    pub code: String,
    pub name_ko: String,
    pub name_en: String,
    pub summary_ko: String,
    pub summary_en: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Serialize)]
pub struct ProgramView {
    pub code: String,
    pub name: String,
    pub summary: String,
}

fn load_active(conn: &mut DbConn) -> QueryResult<Vec<Program>> {
    crate::natively!(conn, |c| programs::table
        .filter(programs::active.eq(true))
        .order(programs::code.asc())
        .select(Program::as_select())
        .load(c))
}

fn views(rows: &[Program], lang: Lang) -> Vec<ProgramView> {
    rows.iter()
        .map(|p| match lang {
            Lang::Ko => ProgramView { code: p.code.clone(), name: p.name_ko.clone(), summary: p.summary_ko.clone() },
            Lang::En => ProgramView { code: p.code.clone(), name: p.name_en.clone(), summary: p.summary_en.clone() },
        })
        .collect()
}

/// The open programs, kept for `kept::KEEP`: they change only when a city
/// file is applied, and every resident's home page lists them.
#[derive(Default)]
pub struct ActiveCache {
    kept: crate::kept::Kept<Vec<Program>>,
    /// A resident's home page's program cards as HTML, per language (Korean,
    /// English): the same for every resident, so rendered once from the kept
    /// programs instead of on every page view (a fifth of the page's work).
    cards: [crate::kept::Kept<String>; 2],
}

impl ActiveCache {
    pub fn list(&self, conn: &mut DbConn, lang: Lang) -> QueryResult<Vec<ProgramView>> {
        let rows = self.kept.get_or_load(|| load_active(conn))?;
        Ok(views(&rows, lang))
    }

    /// The open programs rendered by `render` (which gets them in `lang`),
    /// kept like the programs themselves.
    pub fn cards<E: From<diesel::result::Error>>(
        &self,
        conn: &mut DbConn,
        lang: Lang,
        render: impl FnOnce(&[ProgramView]) -> Result<String, E>,
    ) -> Result<std::sync::Arc<String>, E> {
        let kept = match lang {
            Lang::Ko => &self.cards[0],
            Lang::En => &self.cards[1],
        };
        kept.get_or_load(|| render(&self.list(conn, lang)?))
    }

    pub fn forget(&self) {
        self.kept.forget();
        for cards in &self.cards {
            cards.forget();
        }
    }
}

/// The program's name when it is set up and open (active), else None.
pub fn open_name(conn: &mut DbConn, code: &str, lang: Lang) -> QueryResult<Option<String>> {
    programs::table
        .filter(programs::code.eq(code))
        .filter(programs::active.eq(true))
        .select((programs::name_ko, programs::name_en))
        .first::<(String, String)>(conn)
        .optional()
        .map(|row| row.map(|(ko, en)| if lang == Lang::En && !en.is_empty() { en } else { ko }))
}
