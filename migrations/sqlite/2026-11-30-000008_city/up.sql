-- City-ready: the city's own settings, districts, several agencies with their
-- districts and helpers, and the rule terms every program variant needs.

CREATE TABLE city_settings (
    id TEXT PRIMARY KEY NOT NULL CHECK (id = 'city'),
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    region_code TEXT NOT NULL,
    region_name TEXT NOT NULL,
    contact TEXT NOT NULL,
    contact_en TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE districts (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL
);

-- Terms of a rule version beyond the columns it had (window, priority groups,
-- income test, visit days, co-pay, excluded tasks, documents): JSON.
ALTER TABLE rule_sets ADD COLUMN terms TEXT NOT NULL DEFAULT '{}';

CREATE TABLE agencies (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    unit_price_won INTEGER NOT NULL CHECK (unit_price_won >= 0),
    active BOOLEAN NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE agency_districts (
    agency_id TEXT NOT NULL REFERENCES agencies(id) ON DELETE CASCADE,
    district_code TEXT NOT NULL,
    PRIMARY KEY (agency_id, district_code)
);

-- The agency's roster of helpers (가사관리사).
CREATE TABLE helpers (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX helpers_agency ON helpers(agency_id, active);

ALTER TABLE users ADD COLUMN agency_id TEXT REFERENCES agencies(id) ON DELETE SET NULL;

-- An existing installation had one agency: it becomes the first agency row.
INSERT INTO agencies (id, code, name, phone, unit_price_won, active, sort_order, created_at)
SELECT 'agency-1', 'agency-1', COALESCE((SELECT name FROM users WHERE role = 'contractor' ORDER BY created_at LIMIT 1), 'agency'),
       '', (SELECT unit_price_won FROM visit_settings WHERE id = 'default'), TRUE, 0, CURRENT_TIMESTAMP
WHERE EXISTS (SELECT 1 FROM users WHERE role = 'contractor') OR EXISTS (SELECT 1 FROM visit_slot_templates) OR EXISTS (SELECT 1 FROM visit_slots);
UPDATE users SET agency_id = 'agency-1' WHERE role = 'contractor' AND EXISTS (SELECT 1 FROM agencies WHERE id = 'agency-1');

-- Week templates, holidays and slots become per agency. SQLite cannot change
-- a UNIQUE constraint in place, so these tables are rebuilt. visits refers
-- to visit_slots: it is rebuilt too, pointing at the new table before the old
-- one is dropped (dropping a referenced table would break its foreign key
-- inside the migration's transaction); the renames carry the reference over.
CREATE TABLE visit_slot_templates_new (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    helpers INTEGER NOT NULL CHECK (helpers >= 0),
    UNIQUE (agency_id, weekday, start_minute)
);
INSERT INTO visit_slot_templates_new SELECT id, 'agency-1', weekday, start_minute, helpers FROM visit_slot_templates;
DROP TABLE visit_slot_templates;
ALTER TABLE visit_slot_templates_new RENAME TO visit_slot_templates;

CREATE TABLE agency_holidays_new (
    agency_id TEXT NOT NULL REFERENCES agencies(id) ON DELETE CASCADE,
    day DATE NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agency_id, day)
);
INSERT INTO agency_holidays_new SELECT 'agency-1', day, note FROM agency_holidays;
DROP TABLE agency_holidays;
ALTER TABLE agency_holidays_new RENAME TO agency_holidays;

CREATE TABLE visit_slots_new (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    day DATE NOT NULL,
    start_minute INTEGER NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    UNIQUE (agency_id, day, start_minute)
);
INSERT INTO visit_slots_new SELECT id, 'agency-1', day, start_minute, capacity, booked FROM visit_slots;

CREATE TABLE visits_new (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    slot_id TEXT NOT NULL REFERENCES visit_slots_new(id),
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
    updated_at TIMESTAMP NOT NULL,
    agency_id TEXT REFERENCES agencies(id),
    helper_id TEXT REFERENCES helpers(id) ON DELETE SET NULL,
    copay_won INTEGER NOT NULL DEFAULT 0
);
INSERT INTO visits_new
SELECT id, application_id, user_id, slot_id, day, start_minute, hours, status, tasks, notes, helper_name, decline_reason,
       counts_against_quota, cancelled_at, actual_start, actual_end, tasks_done, resident_confirmed_at, rating, comment,
       reminder_sent_at, created_at, updated_at,
       (SELECT agency_id FROM visit_slots_new WHERE visit_slots_new.id = visits.slot_id), NULL, 0
FROM visits;
DROP TABLE visits;
DROP TABLE visit_slots;
ALTER TABLE visit_slots_new RENAME TO visit_slots;
ALTER TABLE visits_new RENAME TO visits;
CREATE INDEX visit_slots_by_day ON visit_slots(day, agency_id);
-- No two visits on the same day for one application.
CREATE UNIQUE INDEX visits_one_per_day ON visits(application_id, day)
    WHERE status IN ('requested', 'confirmed', 'completed', 'no_show');
CREATE INDEX visits_by_day ON visits(day, status);
CREATE INDEX visits_by_application ON visits(application_id);
CREATE INDEX visits_by_agency ON visits(agency_id, day);
CREATE INDEX visits_by_helper ON visits(helper_id, day);

-- What the applicant declares for the rule terms, and which agency serves her.
ALTER TABLE applications ADD COLUMN priority_groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN income_within_limit BOOLEAN;
ALTER TABLE applications ADD COLUMN income_checked_by TEXT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE applications ADD COLUMN pregnancy_loss_on DATE;
ALTER TABLE applications ADD COLUMN agency_id TEXT REFERENCES agencies(id);


-- Existing rule versions start at their gestational week, as before.
UPDATE rule_sets SET terms = '{"eligible_from":{"gestational_week":' || CAST(min_gestational_week AS TEXT) || '}}';

-- Each uploaded document is reviewed by staff on its own.
ALTER TABLE application_documents ADD COLUMN review_status TEXT NOT NULL DEFAULT 'pending' CHECK (review_status IN ('pending', 'accepted', 'rejected'));
ALTER TABLE application_documents ADD COLUMN review_note TEXT NOT NULL DEFAULT '';
ALTER TABLE application_documents ADD COLUMN reviewed_by TEXT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE application_documents ADD COLUMN reviewed_at TIMESTAMP;
