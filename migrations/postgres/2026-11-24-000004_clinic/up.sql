-- Saturday open health center: programs, sessions, slots, bookings.
CREATE TABLE clinic_programs (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name_ko TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('slots', 'class')),
    audience TEXT NOT NULL CHECK (audience IN ('pregnant', 'infant', 'pregnant_or_infant')),
    infant_max_months INTEGER NOT NULL DEFAULT 0,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes > 0),
    start_minute INTEGER NOT NULL,
    end_minute INTEGER NOT NULL,
    partner_seat BOOLEAN NOT NULL,
    booking_opens_days INTEGER NOT NULL CHECK (booking_opens_days >= 0),
    cancel_cutoff_hours INTEGER NOT NULL CHECK (cancel_cutoff_hours >= 0),
    active BOOLEAN NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    CHECK (end_minute > start_minute)
);

CREATE TABLE clinic_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    day DATE NOT NULL UNIQUE,
    start_minute INTEGER NOT NULL,
    end_minute INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'cancelled')),
    cancel_reason TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE clinic_slots (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES clinic_sessions(id) ON DELETE CASCADE,
    program_id TEXT NOT NULL REFERENCES clinic_programs(id),
    start_minute INTEGER NOT NULL,
    end_minute INTEGER NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    UNIQUE (session_id, program_id, start_minute)
);
CREATE INDEX clinic_slots_session ON clinic_slots(session_id, program_id);

CREATE TABLE children (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    birth_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX children_user ON children(user_id);

CREATE TABLE clinic_bookings (
    id TEXT PRIMARY KEY NOT NULL,
    slot_id TEXT NOT NULL REFERENCES clinic_slots(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES clinic_sessions(id) ON DELETE CASCADE,
    program_id TEXT NOT NULL REFERENCES clinic_programs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    child_id TEXT REFERENCES children(id) ON DELETE SET NULL,
    due_date DATE,
    seats INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 2),
    status TEXT NOT NULL CHECK (status IN ('booked', 'waitlisted', 'cancelled', 'attended', 'no_show')),
    reminder_sent_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    checked_in_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One booking per program per session for a resident.
CREATE UNIQUE INDEX clinic_bookings_one ON clinic_bookings(user_id, session_id, program_id)
    WHERE status IN ('booked', 'waitlisted', 'attended', 'no_show');
CREATE INDEX clinic_bookings_slot ON clinic_bookings(slot_id, status, created_at);

-- People seen without a booking.
CREATE TABLE clinic_walkins (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES clinic_sessions(id) ON DELETE CASCADE,
    program_id TEXT NOT NULL REFERENCES clinic_programs(id),
    people INTEGER NOT NULL CHECK (people > 0),
    note TEXT NOT NULL DEFAULT '',
    recorded_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
