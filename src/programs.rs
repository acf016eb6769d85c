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

pub fn list_active(conn: &mut DbConn, lang: Lang) -> QueryResult<Vec<ProgramView>> {
    let rows: Vec<Program> = crate::natively!(conn, |c| programs::table
        .filter(programs::active.eq(true))
        .order(programs::code.asc())
        .select(Program::as_select())
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|p| match lang {
            Lang::Ko => ProgramView { code: p.code, name: p.name_ko, summary: p.summary_ko },
            Lang::En => ProgramView { code: p.code, name: p.name_en, summary: p.summary_en },
        })
        .collect())
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
