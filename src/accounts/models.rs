use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::users;
use crate::db::DbConn;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Resident,
    Contractor,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Contractor => "contractor",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "resident" => Some(Role::Resident),
            "contractor" => Some(Role::Contractor),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }

    /// Where a user lands after signing in.
    pub fn home_path(self) -> &'static str {
        match self {
            Role::Resident => "/my",
            Role::Contractor => "/contractor",
            Role::Staff => "/staff",
        }
    }
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub role: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    #[serde(skip)]
    pub password_hash: String,
    pub locale: String,
    pub is_supervisor: bool,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The agency a contractor account works for.
    pub agency_id: Option<String>,
}

impl User {
    pub fn role(&self) -> Role {
        // The column has a CHECK constraint, so an unknown value cannot be stored.
        Role::parse(&self.role).unwrap_or(Role::Resident)
    }
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn email_taken(conn: &mut DbConn, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn)
}

pub fn list_by_roles(conn: &mut DbConn, roles: &[&str]) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::role.eq_any(roles))
        .order((users::role.asc(), users::name.asc()))
        .select(User::as_select())
        .load(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Name and phone of each of these users, by id (rosters and search results).
pub fn names_and_phones(conn: &mut DbConn, ids: &[&str]) -> QueryResult<std::collections::HashMap<String, (String, String)>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name, users::phone))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, phone)| (id, (name, phone)))
        .collect())
}
