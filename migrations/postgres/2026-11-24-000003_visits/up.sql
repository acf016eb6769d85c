-- Booking rules for home visits, editable by staff (one row).
CREATE TABLE visit_settings (
    id TEXT PRIMARY KEY NOT NULL,
    min_notice_days INTEGER NOT NULL CHECK (min_notice_days >= 0),
    cancel_cutoff_hours INTEGER NOT NULL CHECK (cancel_cutoff_hours >= 0),
    late_cancel_counts BOOLEAN NOT NULL,
    no_show_counts BOOLEAN NOT NULL,
    booking_horizon_days INTEGER NOT NULL CHECK (booking_horizon_days > 0),
    unit_price_won INTEGER NOT NULL CHECK (unit_price_won >= 0),
    updated_at TIMESTAMP NOT NULL
);

-- The agency's week: start times per weekday (0 = Monday) and helpers free.
CREATE TABLE visit_slot_templates (
    id TEXT PRIMARY KEY NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    helpers INTEGER NOT NULL CHECK (helpers >= 0),
    UNIQUE (weekday, start_minute)
);

CREATE TABLE agency_holidays (
    day DATE PRIMARY KEY NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);

-- Concrete start times with their capacity; places are taken with a
-- conditional UPDATE (booked < capacity).
CREATE TABLE visit_slots (
    id TEXT PRIMARY KEY NOT NULL,
    day DATE NOT NULL,
    start_minute INTEGER NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    UNIQUE (day, start_minute)
);

-- Visits used against the quota of an approved application.
CREATE TABLE visit_quotas (
    application_id TEXT PRIMARY KEY NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    quota INTEGER NOT NULL CHECK (quota >= 0),
    used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= quota)
);

CREATE TABLE visits (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    slot_id TEXT NOT NULL REFERENCES visit_slots(id),
    day DATE NOT NULL,
    start_minute INTEGER NOT NULL,
    hours INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'confirmed', 'declined', 'cancelled', 'completed', 'no_show')),
    tasks TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    helper_name TEXT,
    decline_reason TEXT,
    counts_against_quota BOOLEAN NOT NULL,
    cancelled_at TIMESTAMP,
    actual_start TIMESTAMP,
    actual_end TIMESTAMP,
    tasks_done TEXT,
    resident_confirmed_at TIMESTAMP,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    reminder_sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- No two visits on the same day for one application.
CREATE UNIQUE INDEX visits_one_per_day ON visits(application_id, day)
    WHERE status IN ('requested', 'confirmed', 'completed', 'no_show');
CREATE INDEX visits_by_day ON visits(day, status);
CREATE INDEX visits_by_application ON visits(application_id);

INSERT INTO visit_settings (id, min_notice_days, cancel_cutoff_hours, late_cancel_counts, no_show_counts, booking_horizon_days, unit_price_won, updated_at)
VALUES ('default', 2, 24, TRUE, TRUE, 56, 15000, CURRENT_TIMESTAMP);
