-- Eligibility rules as dated, versioned data per program.
CREATE TABLE rule_sets (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    version INTEGER NOT NULL,
    effective_from DATE NOT NULL,
    region_code TEXT NOT NULL,
    region_name TEXT NOT NULL,
    districts TEXT NOT NULL,
    min_gestational_week INTEGER NOT NULL CHECK (min_gestational_week BETWEEN 0 AND 42),
    min_residency_months INTEGER NOT NULL CHECK (min_residency_months >= 0),
    visit_count INTEGER NOT NULL CHECK (visit_count >= 0),
    visit_hours INTEGER NOT NULL CHECK (visit_hours >= 0),
    yearly_capacity INTEGER NOT NULL CHECK (yearly_capacity >= 0),
    applications_open BOOLEAN NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (program_id, version)
);

CREATE TABLE applications (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    program_id TEXT NOT NULL REFERENCES programs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rule_set_id TEXT NOT NULL REFERENCES rule_sets(id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'info_requested', 'waitlisted', 'approved', 'rejected', 'withdrawn', 'ended')),
    applicant_name TEXT NOT NULL DEFAULT '',
    birth_date DATE,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    district_code TEXT NOT NULL DEFAULT '',
    street_address TEXT NOT NULL DEFAULT '',
    due_date DATE,
    residency_start DATE,
    birth_recorded_on DATE,
    consent_at TIMESTAMP,
    precheck_eligible BOOLEAN,
    precheck_reasons TEXT NOT NULL DEFAULT '[]',
    capacity_year INTEGER,
    decision_reason TEXT,
    info_request TEXT,
    decided_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    submitted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One open application per resident and program (a pregnancy): enforced by the database.
CREATE UNIQUE INDEX applications_one_open ON applications(user_id, program_id)
    WHERE status IN ('draft', 'submitted', 'info_requested', 'waitlisted', 'approved');
CREATE INDEX applications_queue ON applications(program_id, status, submitted_at);

CREATE TABLE application_documents (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    storage_name TEXT NOT NULL UNIQUE,
    uploaded_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX application_documents_app ON application_documents(application_id);

CREATE TABLE application_events (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    actor_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX application_events_app ON application_events(application_id, at);

-- Places taken per program and year; taken with a conditional UPDATE.
CREATE TABLE capacity_counters (
    id TEXT PRIMARY KEY NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0)
);

-- Every view, change, download and export of personal data by staff.
-- Hash-chained (seq is unique, each row's hash covers the previous one).
CREATE TABLE access_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    ip TEXT NOT NULL,
    subject_user_id TEXT,
    record_id TEXT,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX access_log_actor ON access_log(actor_id, at);
CREATE INDEX access_log_subject ON access_log(subject_user_id, at);
