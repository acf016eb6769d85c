-- Results tracking: indicators, targets, imported or entered actuals, budgets.
CREATE TABLE indicators (
    id TEXT PRIMARY KEY NOT NULL,
    program_code TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name_ko TEXT NOT NULL,
    name_en TEXT NOT NULL,
    unit_ko TEXT NOT NULL,
    unit_en TEXT NOT NULL,
    -- 'manual', or what the app counts: applications_received, applications_approved,
    -- visits_completed, visit_hours, clinic:<program codes, comma separated>
    source TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL
);

CREATE TABLE indicator_targets (
    id TEXT PRIMARY KEY NOT NULL,
    indicator_id TEXT NOT NULL REFERENCES indicators(id) ON DELETE CASCADE,
    period_label TEXT NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    value BIGINT NOT NULL CHECK (value >= 0),
    UNIQUE (indicator_id, period_start, period_end)
);

-- Figures from before the app (imported) or counted by hand (entered).
CREATE TABLE indicator_actuals (
    id TEXT PRIMARY KEY NOT NULL,
    indicator_id TEXT NOT NULL REFERENCES indicators(id) ON DELETE CASCADE,
    period_label TEXT NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    value BIGINT NOT NULL CHECK (value >= 0),
    origin TEXT NOT NULL CHECK (origin IN ('import', 'manual')),
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (indicator_id, period_start, period_end)
);

CREATE TABLE report_settings (
    program_code TEXT PRIMARY KEY NOT NULL,
    decimals INTEGER NOT NULL CHECK (decimals BETWEEN 0 AND 4),
    term_start DATE NOT NULL,
    term_end DATE NOT NULL
);

CREATE TABLE budgets (
    id TEXT PRIMARY KEY NOT NULL,
    program_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('national', 'provincial', 'city', 'other')),
    amount_won BIGINT NOT NULL CHECK (amount_won >= 0),
    UNIQUE (program_code, year, source)
);

-- Amounts executed before the app recorded visits (imported or entered).
CREATE TABLE budget_executions (
    id TEXT PRIMARY KEY NOT NULL,
    program_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    amount_won BIGINT NOT NULL CHECK (amount_won >= 0),
    UNIQUE (program_code, year)
);
