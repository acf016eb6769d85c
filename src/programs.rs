//! The city's programs (prenatal housework care, Saturday open health center).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::programs;
use crate::db::{new_id, DbConn};
use crate::i18n::Lang;
use crate::time::now_utc;

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
    let rows: Vec<Program> = programs::table
        .filter(programs::active.eq(true))
        .order(programs::code.asc())
        .select(Program::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|p| match lang {
            Lang::Ko => ProgramView { code: p.code, name: p.name_ko, summary: p.summary_ko },
            Lang::En => ProgramView { code: p.code, name: p.name_en, summary: p.summary_en },
        })
        .collect())
}

/// The two programs described in the seed documents.
pub fn seed(conn: &mut DbConn) -> QueryResult<()> {
    let now = now_utc();
    let rows = [
        (
            HOUSEWORK,
            "임신부 가사돌봄 서비스",
            "Prenatal housework care",
            "관내에 주민등록을 두고 거주하는 임신 21주부터 출산 전까지의 임신부에게 청소·세탁·정리수납 가사서비스를 제공합니다 (1회 4시간, 총 4회).",
            "Cleaning, laundry and tidying at home for registered residents from week 21 of pregnancy until birth (4 visits of 4 hours).",
        ),
        (
            SATURDAY_CLINIC,
            "맞벌이 부부를 위한 토요 열린보건소",
            "Saturday open health center",
            "매월 둘째·넷째 토요일 오전 9시–오후 1시: 임산부 산전검사와 예방접종, 영유아 진료, 1:1 모유수유클리닉, 남편과 함께하는 출산교실, 임산부 요가.",
            "2nd and 4th Saturday, 09:00–13:00: prenatal check-ups and vaccinations, infant check-ups, 1:1 breastfeeding clinic, childbirth class with your partner, prenatal yoga.",
        ),
    ];
    for (code, name_ko, name_en, summary_ko, summary_en) in rows {
        let exists: bool = diesel::select(diesel::dsl::exists(programs::table.filter(programs::code.eq(code)))).get_result(conn)?;
        if exists {
            continue;
        }
        diesel::insert_into(programs::table)
            .values((
                programs::id.eq(new_id()),
                programs::code.eq(code),
                programs::name_ko.eq(name_ko),
                programs::name_en.eq(name_en),
                programs::summary_ko.eq(summary_ko),
                programs::summary_en.eq(summary_en),
                programs::active.eq(true),
                programs::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
