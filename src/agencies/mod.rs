//! Contracted service agencies: the districts each serves, its roster of
//! helpers (가사관리사) and its unit price. A resident's visits go to the
//! agency serving her district (or the one she picks, where the rules allow).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{agencies, agency_districts, helpers};
use crate::db::{new_id, DbConn};
use crate::error::AppError;
use crate::time::now_utc;

#[derive(Queryable, Selectable, Serialize, Clone, Debug)]
#[diesel(table_name = agencies)]
pub struct Agency {
    pub id: String,
    pub code: String,
    pub name: String,
    pub phone: String,
    pub unit_price_won: i32,
    pub active: bool,
    pub sort_order: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Serialize, Clone, Debug)]
#[diesel(table_name = helpers)]
pub struct Helper {
    pub id: String,
    pub agency_id: String,
    pub name: String,
    pub phone: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Agency>> {
    agencies::table.order((agencies::sort_order.asc(), agencies::code.asc())).select(Agency::as_select()).load(conn)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Agency>> {
    agencies::table.find(id).select(Agency::as_select()).first(conn).optional()
}

/// District codes an agency serves (empty: all of the city).
pub fn districts_of(conn: &mut DbConn, agency_id: &str) -> QueryResult<Vec<String>> {
    agency_districts::table
        .filter(agency_districts::agency_id.eq(agency_id))
        .order(agency_districts::district_code.asc())
        .select(agency_districts::district_code)
        .load(conn)
}

/// Active agencies serving a district, in the city file's order.
pub fn serving(conn: &mut DbConn, district_code: &str) -> QueryResult<Vec<Agency>> {
    let mut out = vec![];
    for a in list(conn)?.into_iter().filter(|a| a.active) {
        let ds = districts_of(conn, &a.id)?;
        if ds.is_empty() || ds.iter().any(|d| d == district_code) {
            out.push(a);
        }
    }
    Ok(out)
}

pub fn helpers_of(conn: &mut DbConn, agency_id: &str, only_active: bool) -> QueryResult<Vec<Helper>> {
    let mut q = helpers::table.filter(helpers::agency_id.eq(agency_id)).into_boxed();
    if only_active {
        q = q.filter(helpers::active.eq(true));
    }
    q.order(helpers::name.asc()).select(Helper::as_select()).load(conn)
}

pub fn helper(conn: &mut DbConn, agency_id: &str, helper_id: &str) -> QueryResult<Option<Helper>> {
    helpers::table
        .filter(helpers::id.eq(helper_id))
        .filter(helpers::agency_id.eq(agency_id))
        .select(Helper::as_select())
        .first(conn)
        .optional()
}

/// Adds a helper to the agency's roster.
pub fn add_helper(conn: &mut DbConn, agency_id: &str, name: &str, phone: &str) -> Result<String, AppError> {
    let id = new_id();
    diesel::insert_into(helpers::table)
        .values((
            helpers::id.eq(&id),
            helpers::agency_id.eq(agency_id),
            helpers::name.eq(name),
            helpers::phone.eq(phone),
            helpers::active.eq(true),
            helpers::created_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn set_helper_active(conn: &mut DbConn, agency_id: &str, helper_id: &str, active: bool) -> Result<(), AppError> {
    let n = diesel::update(helpers::table.filter(helpers::id.eq(helper_id)).filter(helpers::agency_id.eq(agency_id)))
        .set(helpers::active.eq(active))
        .execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The id of the agency with `code`.
pub fn id_of(conn: &mut DbConn, code: &str) -> QueryResult<Option<String>> {
    agencies::table.filter(agencies::code.eq(code)).select(agencies::id).first(conn).optional()
}
