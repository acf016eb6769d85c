//! Saturday clinic transactions. Seats are taken with a conditional UPDATE
//! (booked + seats <= capacity) inside the transaction; a unique index keeps
//! one booking per program per session for each resident.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::models::{self, Booking, ClinicProgram, ClinicSession, ClinicSlot};
use super::rules::{self, Booker};
use crate::accounts::models::User;
use crate::db::schema::{children, clinic_bookings, clinic_programs, clinic_sessions, clinic_slots, clinic_walkins};
use crate::db::{is_unique_violation, new_id, write_tx, DbConn};
use crate::error::AppError;
use crate::notify::{Email as Mail, Notices, Notifier, Recipient, Rendered};
use crate::results::rollup;
use crate::time::{format_date, now_utc, to_seoul};
use crate::visits::rules::{hhmm, start_utc};

/// The programs of the seed document, as data staff can change.
pub fn seed_programs(conn: &mut DbConn) -> Result<(), AppError> {
    let rows: [(&str, &str, &str, &str, &str, i32, i32, i32, i32, i32, bool); 5] = [
        ("prenatal_checkup", "임산부 산전검사·예방접종", "Prenatal check-up and vaccination", "slots", "pregnant", 0, 3, 20, 540, 720, false),
        ("infant_checkup", "영유아 진료·예방접종", "Infant check-up and vaccination", "slots", "infant", 72, 3, 20, 540, 720, false),
        ("breastfeeding", "1:1 모유수유클리닉", "1:1 breastfeeding clinic", "slots", "pregnant_or_infant", 12, 1, 30, 540, 780, false),
        ("childbirth_class", "남편과 함께하는 출산교실", "Childbirth class with your partner", "class", "pregnant", 0, 20, 90, 600, 690, true),
        ("prenatal_yoga", "임산부 요가교실", "Prenatal yoga", "class", "pregnant", 0, 15, 60, 700, 760, false),
    ];
    for (i, (code, ko, en, kind, audience, infant_months, capacity, minutes, start, end, partner)) in rows.into_iter().enumerate() {
        let exists: bool = diesel::select(diesel::dsl::exists(clinic_programs::table.filter(clinic_programs::code.eq(code)))).get_result(conn)?;
        if exists {
            continue;
        }
        diesel::insert_into(clinic_programs::table)
            .values((
                clinic_programs::id.eq(new_id()),
                clinic_programs::code.eq(code),
                clinic_programs::name_ko.eq(ko),
                clinic_programs::name_en.eq(en),
                clinic_programs::kind.eq(kind),
                clinic_programs::audience.eq(audience),
                clinic_programs::infant_max_months.eq(infant_months),
                clinic_programs::capacity.eq(capacity),
                clinic_programs::slot_minutes.eq(minutes),
                clinic_programs::start_minute.eq(start),
                clinic_programs::end_minute.eq(end),
                clinic_programs::partner_seat.eq(partner),
                clinic_programs::booking_opens_days.eq(60),
                clinic_programs::cancel_cutoff_hours.eq(24),
                clinic_programs::active.eq(true),
                clinic_programs::sort_order.eq(i as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Creates the 2nd- and 4th-Saturday sessions for `months` months from `from`
/// (09:00–13:00) with the slots of every active program. Existing ones stay.
pub fn generate_sessions(conn: &mut DbConn, from: NaiveDate, months: u32) -> Result<usize, AppError> {
    let programs = models::programs(conn, true)?;
    let existing: HashSet<NaiveDate> = models::sessions_from(conn, from, 1000)?.into_iter().map(|s| s.day).collect();
    let mut created = 0;
    for day in rules::sessions_ahead(from, months).into_iter().filter(|d| !existing.contains(d)) {
        let session_id = new_id();
        let inserted = write_tx(conn, |conn| {
            diesel::insert_into(clinic_sessions::table)
                .values((
                    clinic_sessions::id.eq(&session_id),
                    clinic_sessions::day.eq(day),
                    clinic_sessions::start_minute.eq(540),
                    clinic_sessions::end_minute.eq(780),
                    clinic_sessions::status.eq("open"),
                    clinic_sessions::created_at.eq(now_utc()),
                ))
                .execute(conn)?;
            for p in &programs {
                add_program_slots(conn, &session_id, p)?;
            }
            Ok(())
        });
        match inserted {
            Ok(()) => created += 1,
            Err(AppError::Db(e)) if is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

fn add_program_slots(conn: &mut DbConn, session_id: &str, p: &ClinicProgram) -> Result<(), AppError> {
    for (start, end) in rules::slot_times(&p.kind, p.start_minute, p.end_minute, p.slot_minutes) {
        diesel::insert_into(clinic_slots::table)
            .values((
                clinic_slots::id.eq(new_id()),
                clinic_slots::session_id.eq(session_id),
                clinic_slots::program_id.eq(&p.id),
                clinic_slots::start_minute.eq(start),
                clinic_slots::end_minute.eq(end),
                clinic_slots::capacity.eq(p.capacity),
                clinic_slots::booked.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub struct ProgramUpdate {
    pub capacity: i32,
    pub booking_opens_days: i32,
    pub cancel_cutoff_hours: i32,
    pub active: bool,
}

/// Staff change a program; the capacity applies to future sessions' slots
/// too, never below the seats already booked.
pub fn update_program(conn: &mut DbConn, program_id: &str, u: &ProgramUpdate, today: NaiveDate) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        diesel::update(clinic_programs::table.find(program_id))
            .set((
                clinic_programs::capacity.eq(u.capacity),
                clinic_programs::booking_opens_days.eq(u.booking_opens_days),
                clinic_programs::cancel_cutoff_hours.eq(u.cancel_cutoff_hours),
                clinic_programs::active.eq(u.active),
            ))
            .execute(conn)?;
        let future: Vec<String> = clinic_sessions::table.filter(clinic_sessions::day.ge(today)).select(clinic_sessions::id).load(conn)?;
        let scope = clinic_slots::table.filter(clinic_slots::program_id.eq(program_id)).filter(clinic_slots::session_id.eq_any(&future));
        diesel::update(scope.clone().filter(clinic_slots::booked.le(u.capacity))).set(clinic_slots::capacity.eq(u.capacity)).execute(conn)?;
        diesel::update(scope.filter(clinic_slots::booked.gt(u.capacity))).set(clinic_slots::capacity.eq(clinic_slots::booked)).execute(conn)?;
        Ok(())
    })
}

pub fn add_child(conn: &mut DbConn, user_id: &str, name: &str, birth_date: NaiveDate) -> Result<(), AppError> {
    diesel::insert_into(children::table)
        .values((
            children::id.eq(new_id()),
            children::user_id.eq(user_id),
            children::name.eq(name),
            children::birth_date.eq(birth_date),
            children::created_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A booking's message, built from the rows it speaks of.
fn booking_mail<'a>(to: &'a Recipient, (program, session, slot): (&ClinicProgram, &ClinicSession, &ClinicSlot), seats: i32, kind: &'static str, extra: &[(&str, String)]) -> Mail<'a> {
    let lang = to.lang();
    let mut context = tera::Context::new();
    context.insert("name", &to.name);
    context.insert("program_name", program.name(lang));
    context.insert("visit_date", &format_date(session.day, lang));
    context.insert("visit_time", &format!("{}–{}", hhmm(slot.start_minute), hhmm(slot.end_minute)));
    context.insert("seats", &seats);
    for (k, v) in extra {
        context.insert(*k, v);
    }
    to.mail(kind, context)
}

/// The rows a booking's message speaks of: to whom, which program, session and slot.
type BookingRows = (Recipient, ClinicProgram, ClinicSession, ClinicSlot);

fn booking_rows(conn: &mut DbConn, b: &Booking) -> Result<BookingRows, AppError> {
    let to = Recipient::of(conn, &b.user_id)?;
    let session = models::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
    let program = models::program(conn, &b.program_id)?;
    let slot = models::slot(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
    Ok((to, program, session, slot))
}

/// Queues a booking's message inside the transaction from its rendering
/// prepared before it (see `Notifier::write_tx_with_notices`).
fn notify_booking(conn: &mut DbConn, notices: &mut Notices<'_>, b: &Booking, kind: &'static str, extra: &[(&str, String)]) -> Result<(), AppError> {
    let (to, program, session, slot) = booking_rows(conn, b)?;
    notices.enqueue(conn, booking_mail(&to, (&program, &session, &slot), b.seats, kind, extra))?;
    Ok(())
}

/// Renders a booking's message, before the transaction that will queue it.
fn render_booking(conn: &mut DbConn, notifier: &Notifier, b: &Booking, kind: &'static str, extra: &[(&str, String)]) -> Result<Rendered, AppError> {
    let (to, program, session, slot) = booking_rows(conn, b)?;
    notifier.render(conn, booking_mail(&to, (&program, &session, &slot), b.seats, kind, extra))
}

/// `notify_booking` for a single message rendered before the transaction, used when it is still the same.
fn notify_booking_prepared(conn: &mut DbConn, notifier: &Notifier, b: &Booking, kind: &'static str, extra: &[(&str, String)], ready: Option<&Rendered>) -> Result<(), AppError> {
    let (to, program, session, slot) = booking_rows(conn, b)?;
    notifier.enqueue_prepared(conn, booking_mail(&to, (&program, &session, &slot), b.seats, kind, extra), ready)?;
    Ok(())
}

/// A booking's message rendered before the transaction that will queue it.
fn prepare_booking_notice(conn: &mut DbConn, notifier: &Notifier, b: &Booking, kind: &'static str) -> Option<Rendered> {
    let (to, program, session, slot) = booking_rows(conn, b).ok()?;
    notifier.prepare(conn, Ok(booking_mail(&to, (&program, &session, &slot), b.seats, kind, &[])))
}

fn take_seats(conn: &mut DbConn, slot_id: &str, seats: i32) -> Result<bool, AppError> {
    let taken = crate::natively!(conn, |c| diesel::update(clinic_slots::table.find(slot_id).filter(clinic_slots::booked.le(clinic_slots::capacity - seats)))
        .set(clinic_slots::booked.eq(clinic_slots::booked + seats))
        .execute(c))?;
    Ok(taken == 1)
}

fn release_seats(conn: &mut DbConn, slot_id: &str, seats: i32) -> Result<(), AppError> {
    diesel::update(clinic_slots::table.find(slot_id).filter(clinic_slots::booked.ge(seats)))
        .set(clinic_slots::booked.eq(clinic_slots::booked - seats))
        .execute(conn)?;
    Ok(())
}

pub struct BookingInput {
    pub slot_id: String,
    pub child_id: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub with_partner: bool,
    pub join_waitlist: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOutcome {
    Booked,
    Waitlisted,
}

impl BookOutcome {
    /// The kind of message that tells her.
    fn kind(self) -> &'static str {
        match self {
            BookOutcome::Booked => "clinic_booked",
            BookOutcome::Waitlisted => "clinic_waitlisted",
        }
    }
}

/// Books a seat, or (when asked) a place on the waiting list of a full slot.
///
/// What the booking checks (the session open, the program active, the
/// booking window, who may book, her child, a booking she already has) is
/// read before its write transaction, with her address and the rendering of
/// her message. When those reads left a seat free, the transaction is short:
/// her booking row, its message, the session and program read again (still
/// open, still active), and last the seat, by an `UPDATE` that takes it only
/// while the slot has room; the unique index `clinic_bookings_one` refuses a
/// second booking. Last, because from the seat's update to the commit
/// PostgreSQL holds the slot's row lock and every other booking of the class
/// waits for it; on SQLite the whole transaction holds the write lock, and
/// the checks' reads are no longer inside it. If the seat was not there
/// after all (the class filled, or staff closed it in between), that
/// transaction is rolled back and `book_checked` decides inside a
/// transaction, as every booking did before.
pub fn book(conn: &mut DbConn, notifier: &Notifier, user: &User, input: &BookingInput, today: NaiveDate) -> Result<BookOutcome, AppError> {
    // The checks and her message's rendering read one snapshot, in one read transaction.
    let (c, free, ready) = crate::db::read_together(conn, |conn| {
        let c = checked(conn, user, input, today)?;
        let free = c.slot.booked + c.seats <= c.slot.capacity;
        let likely = if free { BookOutcome::Booked } else { BookOutcome::Waitlisted };
        let ready = notifier.prepare(conn, Ok(c.mail(likely)));
        Ok((c, free, ready))
    })?;
    if free {
        let fast = write_tx(conn, |conn| {
            c.insert(conn, &new_id(), user, input, BookOutcome::Booked)?;
            notifier.enqueue_prepared(conn, c.mail(BookOutcome::Booked), ready.as_ref())?;
            // Read again inside: staff may have closed the session or the
            // program since. (Plain reads: an UPDATE with EXISTS subqueries
            // is prepared anew on every run, diesel does not cache it.)
            let open = models::session(conn, &c.session.id)?.is_some_and(|s| s.status == "open");
            if !open || !models::program(conn, &c.program.id)?.active || !take_seats(conn, &c.slot.id, c.seats)? {
                return Err(AppError::Conflict(SEAT_GONE));
            }
            Ok(BookOutcome::Booked)
        });
        match fast {
            Err(AppError::Conflict(SEAT_GONE)) => {}
            Err(AppError::Db(e)) if is_unique_violation(&e) => return Err(AppError::Conflict("clinic.errors.already_booked")),
            other => return other,
        }
    } else if !input.join_waitlist {
        return Err(AppError::Conflict("clinic.errors.full"));
    }
    book_checked(conn, notifier, user, input, today, ready.as_ref())
}

/// The fast path's own refusal: the seat its reads saw was gone at the
/// update (never shown; `book` falls back to `book_checked`).
const SEAT_GONE: &str = "clinic.errors.seat_gone";

/// A booking decided inside its transaction: the rows read again there,
/// the seat taken first, then the booking and its message (booked, or on
/// the waiting list).
fn book_checked(conn: &mut DbConn, notifier: &Notifier, user: &User, input: &BookingInput, today: NaiveDate, ready: Option<&Rendered>) -> Result<BookOutcome, AppError> {
    let result = write_tx(conn, |conn| {
        // Her address is read (in `checked`) before the seat is taken: from
        // the seat's update to the commit, PostgreSQL holds the slot's row lock.
        let c = checked(conn, user, input, today)?;
        let outcome = if take_seats(conn, &c.slot.id, c.seats)? {
            BookOutcome::Booked
        } else if input.join_waitlist {
            BookOutcome::Waitlisted
        } else {
            return Err(AppError::Conflict("clinic.errors.full"));
        };
        c.insert(conn, &new_id(), user, input, outcome)?;
        notifier.enqueue_prepared(conn, c.mail(outcome), ready)?;
        Ok(outcome)
    });
    match result {
        Err(AppError::Db(e)) if is_unique_violation(&e) => Err(AppError::Conflict("clinic.errors.already_booked")),
        other => other,
    }
}

/// What a booking is checked against and writes from.
struct Checked {
    slot: ClinicSlot,
    session: ClinicSession,
    program: ClinicProgram,
    child: Option<models::Child>,
    to: Recipient,
    seats: i32,
}

impl Checked {
    /// Her message for this outcome.
    fn mail(&self, outcome: BookOutcome) -> Mail<'_> {
        booking_mail(&self.to, (&self.program, &self.session, &self.slot), self.seats, outcome.kind(), &[])
    }

    /// Her booking's row, `outcome` its status.
    fn insert(&self, conn: &mut DbConn, id: &str, user: &User, input: &BookingInput, outcome: BookOutcome) -> Result<(), AppError> {
        let now = now_utc();
        let child_id = self.child.as_ref().map(|c| c.id.as_str());
        crate::natively!(conn, |c| diesel::insert_into(clinic_bookings::table)
            .values((
                clinic_bookings::id.eq(id),
                clinic_bookings::slot_id.eq(&self.slot.id),
                clinic_bookings::session_id.eq(&self.session.id),
                clinic_bookings::program_id.eq(&self.program.id),
                clinic_bookings::user_id.eq(&user.id),
                clinic_bookings::child_id.eq(child_id),
                clinic_bookings::due_date.eq(input.due_date),
                clinic_bookings::seats.eq(self.seats),
                clinic_bookings::status.eq(if outcome == BookOutcome::Booked { "booked" } else { "waitlisted" }),
                clinic_bookings::created_at.eq(now),
                clinic_bookings::updated_at.eq(now),
            ))
            .execute(c))?;
        Ok(())
    }
}

/// Reads the slot, its session and program, checks that she may book it
/// and has no booking of it yet, and reads her address.
fn checked(conn: &mut DbConn, user: &User, input: &BookingInput, today: NaiveDate) -> Result<Checked, AppError> {
    let slot = models::slot(conn, &input.slot_id)?.ok_or(AppError::NotFound)?;
    let session = models::session(conn, &slot.session_id)?.ok_or(AppError::NotFound)?;
    let program = models::program(conn, &slot.program_id)?;
    let child = may_book(conn, user, input, (&program, &session), today)?;
    if already_booked(conn, &user.id, &session.id, &program.id)? {
        return Err(AppError::Conflict("clinic.errors.already_booked"));
    }
    let to = Recipient::of(conn, &user.id)?;
    let seats = if program.partner_seat && input.with_partner { 2 } else { 1 };
    Ok(Checked { slot, session, program, child, to, seats })
}

/// Whether she may book this program on this session now; her child, when
/// she books for one (hers, or the booking is refused).
fn may_book(conn: &mut DbConn, user: &User, input: &BookingInput, (program, session): (&ClinicProgram, &ClinicSession), today: NaiveDate) -> Result<Option<models::Child>, AppError> {
    if session.status != "open" || !program.active {
        return Err(AppError::Conflict("clinic.errors.session_cancelled"));
    }
    rules::booking_open(session.day, today, program.booking_opens_days).map_err(AppError::Conflict)?;
    let child = match &input.child_id {
        Some(cid) => Some(
            children::table
                .filter(children::id.eq(cid))
                .filter(children::user_id.eq(&user.id))
                .select(models::Child::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::Conflict("clinic.errors.infant_only"))?,
        ),
        None => None,
    };
    let booker = Booker { due_date: input.due_date, child_birth: child.as_ref().map(|c| c.birth_date) };
    rules::may_book(&program.audience, program.infant_max_months, &booker, session.day, today).map_err(AppError::Conflict)?;
    Ok(child)
}

/// Whether she has a booking (or a place on the waiting list) of this
/// program on this session. Served by the index clinic_bookings_user; the
/// statuses as `=` terms, not `IN`: diesel prepares an `IN` list anew on
/// every run.
fn already_booked(conn: &mut DbConn, user_id: &str, session_id: &str, program_id: &str) -> Result<bool, AppError> {
    let st = clinic_bookings::status;
    let n: i64 = crate::natively!(conn, |c| clinic_bookings::table
        .filter(clinic_bookings::user_id.eq(user_id))
        .filter(clinic_bookings::session_id.eq(session_id))
        .filter(clinic_bookings::program_id.eq(program_id))
        .filter(st.eq("booked").or(st.eq("waitlisted")).or(st.eq("attended")).or(st.eq("no_show")))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}


fn find(conn: &mut DbConn, id: &str) -> Result<Booking, AppError> {
    clinic_bookings::table.find(id).select(Booking::as_select()).first(conn).optional()?.ok_or(AppError::NotFound)
}

/// The waiting list of a slot, first in line first.
fn waiting(conn: &mut DbConn, slot_id: &str) -> Result<Vec<Booking>, AppError> {
    Ok(clinic_bookings::table
        .filter(clinic_bookings::slot_id.eq(slot_id))
        .filter(clinic_bookings::status.eq("waitlisted"))
        .order((clinic_bookings::created_at.asc(), clinic_bookings::id.asc()))
        .select(Booking::as_select())
        .load(conn)?)
}

/// Gives freed seats to the waiting list, first in line first; stops at the
/// first booking that does not fit, so nobody is passed over.
fn promote(conn: &mut DbConn, notices: &mut Notices<'_>, slot_id: &str) -> Result<(), AppError> {
    for next in waiting(conn, slot_id)? {
        if !take_seats(conn, slot_id, next.seats)? {
            return Ok(());
        }
        diesel::update(clinic_bookings::table.find(&next.id))
            .set((clinic_bookings::status.eq("booked"), clinic_bookings::updated_at.eq(now_utc())))
            .execute(conn)?;
        notify_booking(conn, notices, &next, "clinic_promoted", &[])?;
    }
    Ok(())
}

/// The bookings `promote` would move up once `freed` seats of the slot are
/// given back, as the slot and its waiting list are now.
fn would_promote(conn: &mut DbConn, slot_id: &str, freed: i32) -> Result<Vec<Booking>, AppError> {
    let slot = models::slot(conn, slot_id)?.ok_or(AppError::NotFound)?;
    let mut free = slot.capacity - (slot.booked - freed).max(0);
    let mut out = vec![];
    for next in waiting(conn, slot_id)? {
        if next.seats > free {
            break;
        }
        free -= next.seats;
        out.push(next);
    }
    Ok(out)
}

/// The resident cancels (until the program's cut-off before her slot). The
/// first in line on the waiting list get the seats, each told by a message
/// rendered before the transaction from the waiting list as it was then.
pub fn cancel(conn: &mut DbConn, notifier: &Notifier, user_id: &str, booking_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    let prepare = |conn: &mut DbConn| -> Result<Vec<Rendered>, AppError> {
        let b = find(conn, booking_id)?;
        if b.user_id != user_id {
            return Ok(vec![]);
        }
        let mut ready = vec![render_booking(conn, notifier, &b, "clinic_cancelled", &[])?];
        if b.status == "booked" {
            for next in would_promote(conn, &b.slot_id, b.seats)? {
                ready.push(render_booking(conn, notifier, &next, "clinic_promoted", &[])?);
            }
        }
        Ok(ready)
    };
    notifier.write_tx_with_notices(conn, prepare, |conn, notices| {
        let b = find(conn, booking_id)?;
        if b.user_id != user_id {
            return Err(AppError::NotFound);
        }
        if !matches!(b.status.as_str(), "booked" | "waitlisted") {
            return Err(AppError::Conflict("clinic.errors.not_cancellable"));
        }
        let session = models::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
        let slot = models::slot(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
        let program = models::program(conn, &b.program_id)?;
        if b.status == "booked" && now > start_utc(session.day, slot.start_minute) - chrono::Duration::hours(program.cancel_cutoff_hours as i64) {
            return Err(AppError::Conflict("clinic.errors.past_cutoff"));
        }
        diesel::update(clinic_bookings::table.find(&b.id))
            .set((clinic_bookings::status.eq("cancelled"), clinic_bookings::cancelled_at.eq(Some(now)), clinic_bookings::updated_at.eq(now)))
            .execute(conn)?;
        notify_booking(conn, notices, &b, "clinic_cancelled", &[])?;
        if b.status == "booked" {
            release_seats(conn, &b.slot_id, b.seats)?;
            promote(conn, notices, &b.slot_id)?;
        }
        Ok(())
    })
}

/// The bookings a cancelled session takes away: everyone booked or waiting.
fn of_session(conn: &mut DbConn, session_id: &str) -> Result<Vec<Booking>, AppError> {
    Ok(clinic_bookings::table
        .filter(clinic_bookings::session_id.eq(session_id))
        .filter(clinic_bookings::status.eq_any(["booked", "waitlisted"]))
        .select(Booking::as_select())
        .load(conn)?)
}

/// Staff cancel a whole session (holiday, closure); everyone booked or
/// waiting is told. The messages are rendered before the transaction for the
/// bookings as they are then; a booking made or cancelled in between makes
/// the transaction run again with the messages prepared anew.
pub fn cancel_session(conn: &mut DbConn, notifier: &Notifier, session_id: &str, reason: &str) -> Result<usize, AppError> {
    let extra = [("reason", reason.to_string())];
    let prepare = |conn: &mut DbConn| -> Result<Vec<Rendered>, AppError> {
        let mut ready = vec![];
        for b in of_session(conn, session_id)? {
            ready.push(render_booking(conn, notifier, &b, "clinic_session_cancelled", &extra)?);
        }
        Ok(ready)
    };
    notifier.write_tx_with_notices(conn, prepare, |conn, notices| {
        let session = models::session(conn, session_id)?.ok_or(AppError::NotFound)?;
        if session.status == "cancelled" {
            return Ok(0);
        }
        diesel::update(clinic_sessions::table.find(&session.id))
            .set((clinic_sessions::status.eq("cancelled"), clinic_sessions::cancel_reason.eq(Some(reason))))
            .execute(conn)?;
        let affected = of_session(conn, &session.id)?;
        let slots: HashMap<String, ClinicSlot> = models::slots_of(conn, &session.id)?.into_iter().map(|s| (s.id.clone(), s)).collect();
        let programs: HashMap<String, ClinicProgram> = models::programs(conn, false)?.into_iter().map(|p| (p.id.clone(), p)).collect();
        let now = now_utc();
        for b in &affected {
            diesel::update(clinic_bookings::table.find(&b.id))
                .set((clinic_bookings::status.eq("cancelled"), clinic_bookings::cancelled_at.eq(Some(now)), clinic_bookings::updated_at.eq(now)))
                .execute(conn)?;
            let to = Recipient::of(conn, &b.user_id)?;
            let (Some(program), Some(slot)) = (programs.get(&b.program_id), slots.get(&b.slot_id)) else { return Err(AppError::NotFound) };
            notices.enqueue(conn, booking_mail(&to, (program, &session, slot), b.seats, "clinic_session_cancelled", &extra))?;
        }
        diesel::update(clinic_slots::table.filter(clinic_slots::session_id.eq(&session.id))).set(clinic_slots::booked.eq(0)).execute(conn)?;
        Ok(affected.len())
    })
}

/// Check-in at the desk: attended or no-show (and back, to correct a
/// mistake). Attended seats move the maintained attendance figure in the
/// same transaction; the update is conditional on the status read, so two
/// desks marking at once cannot count a booking twice.
pub fn mark(conn: &mut DbConn, booking_id: &str, attended: bool) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        let b = find(conn, booking_id)?;
        if !matches!(b.status.as_str(), "booked" | "attended" | "no_show") {
            return Err(AppError::Conflict("clinic.errors.not_booked"));
        }
        let marked = diesel::update(clinic_bookings::table.find(&b.id).filter(clinic_bookings::status.eq(&b.status)))
            .set((
                clinic_bookings::status.eq(if attended { "attended" } else { "no_show" }),
                clinic_bookings::checked_in_at.eq(attended.then(now_utc)),
                clinic_bookings::updated_at.eq(now_utc()),
            ))
            .execute(conn)?;
        if marked != 1 {
            return Err(AppError::Conflict("clinic.errors.not_booked"));
        }
        let delta = b.seats * (i32::from(attended) - i32::from(b.status == "attended"));
        if delta != 0 {
            let session = models::session(conn, &b.session_id)?.ok_or(AppError::NotFound)?;
            rollup::add(conn, rollup::CLINIC_ATTENDED, &b.program_id, session.day, delta)?;
        }
        Ok(())
    })
}

/// People who came without a booking, counted with the attendance.
pub fn add_walkin(conn: &mut DbConn, session_id: &str, program_id: &str, people: i32, note: &str, staff_id: &str) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        let session = models::session(conn, session_id)?.ok_or(AppError::NotFound)?;
        diesel::insert_into(clinic_walkins::table)
            .values((
                clinic_walkins::id.eq(new_id()),
                clinic_walkins::session_id.eq(session_id),
                clinic_walkins::program_id.eq(program_id),
                clinic_walkins::people.eq(people),
                clinic_walkins::note.eq(note),
                clinic_walkins::recorded_by.eq(Some(staff_id)),
                clinic_walkins::created_at.eq(now_utc()),
            ))
            .execute(conn)?;
        rollup::add(conn, rollup::CLINIC_ATTENDED, program_id, session.day, people)
    })
}

pub fn walkins(conn: &mut DbConn, session_id: &str) -> Result<Vec<(String, i32, String)>, AppError> {
    Ok(clinic_walkins::table
        .filter(clinic_walkins::session_id.eq(session_id))
        .order(clinic_walkins::created_at.asc())
        .select((clinic_walkins::program_id, clinic_walkins::people, clinic_walkins::note))
        .load(conn)?)
}

/// Reminders for tomorrow's bookings, once each (run by the scheduler).
pub fn send_reminders(conn: &mut DbConn, notifier: &Notifier, now: NaiveDateTime) -> Result<usize, AppError> {
    let tomorrow = to_seoul(now).date_naive() + chrono::Duration::days(1);
    let sessions: Vec<String> = clinic_sessions::table
        .filter(clinic_sessions::day.eq(tomorrow))
        .filter(clinic_sessions::status.eq("open"))
        .select(clinic_sessions::id)
        .load(conn)?;
    let due: Vec<Booking> = clinic_bookings::table
        .filter(clinic_bookings::session_id.eq_any(&sessions))
        .filter(clinic_bookings::status.eq("booked"))
        .filter(clinic_bookings::reminder_sent_at.is_null())
        .select(Booking::as_select())
        .load(conn)?;
    let mut sent = 0;
    for b in due {
        let ready = prepare_booking_notice(conn, notifier, &b, "clinic_reminder");
        let queued = write_tx(conn, |conn| {
            let claimed = diesel::update(clinic_bookings::table.find(&b.id).filter(clinic_bookings::reminder_sent_at.is_null()))
                .set(clinic_bookings::reminder_sent_at.eq(Some(now)))
                .execute(conn)?;
            if claimed == 1 {
                notify_booking_prepared(conn, notifier, &b, "clinic_reminder", &[], ready.as_ref())?;
            }
            Ok(claimed == 1)
        })?;
        sent += usize::from(queued);
    }
    Ok(sent)
}

/// Sessions with their slots, for the resident's overview.
pub fn upcoming(conn: &mut DbConn, today: NaiveDate, limit: i64) -> Result<Vec<(ClinicSession, Vec<ClinicSlot>)>, AppError> {
    let sessions = models::sessions_from(conn, today, limit)?;
    let mut out = Vec::with_capacity(sessions.len());
    for s in sessions {
        let slots = models::slots_of(conn, &s.id)?;
        out.push((s, slots));
    }
    Ok(out)
}
