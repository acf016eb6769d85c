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

-- Week templates, holidays and slots become per agency.
ALTER TABLE visit_slot_templates ADD COLUMN agency_id TEXT REFERENCES agencies(id) ON DELETE CASCADE;
UPDATE visit_slot_templates SET agency_id = 'agency-1';
ALTER TABLE visit_slot_templates ALTER COLUMN agency_id SET NOT NULL;
ALTER TABLE visit_slot_templates DROP CONSTRAINT visit_slot_templates_weekday_start_minute_key;
ALTER TABLE visit_slot_templates ADD CONSTRAINT visit_slot_templates_agency_weekday_start_key UNIQUE (agency_id, weekday, start_minute);

ALTER TABLE agency_holidays ADD COLUMN agency_id TEXT REFERENCES agencies(id) ON DELETE CASCADE;
UPDATE agency_holidays SET agency_id = 'agency-1';
ALTER TABLE agency_holidays ALTER COLUMN agency_id SET NOT NULL;
ALTER TABLE agency_holidays DROP CONSTRAINT agency_holidays_pkey;
ALTER TABLE agency_holidays ADD PRIMARY KEY (agency_id, day);

ALTER TABLE visit_slots ADD COLUMN agency_id TEXT REFERENCES agencies(id);
UPDATE visit_slots SET agency_id = 'agency-1';
ALTER TABLE visit_slots ALTER COLUMN agency_id SET NOT NULL;
ALTER TABLE visit_slots DROP CONSTRAINT visit_slots_day_start_minute_key;
ALTER TABLE visit_slots ADD CONSTRAINT visit_slots_agency_day_start_key UNIQUE (agency_id, day, start_minute);
CREATE INDEX visit_slots_by_day ON visit_slots(day, agency_id);

ALTER TABLE visits ADD COLUMN agency_id TEXT REFERENCES agencies(id);
ALTER TABLE visits ADD COLUMN helper_id TEXT REFERENCES helpers(id) ON DELETE SET NULL;
ALTER TABLE visits ADD COLUMN copay_won INTEGER NOT NULL DEFAULT 0;
UPDATE visits SET agency_id = (SELECT agency_id FROM visit_slots WHERE visit_slots.id = visits.slot_id);
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
