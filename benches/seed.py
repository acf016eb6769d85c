#!/usr/bin/env python3
"""Bulk loader for the load benchmark (benches/bench.py).

Writes realistic data straight into an already migrated, demo-loaded
naju-helper database (SQLite file or PostgreSQL), in a few large
transactions:

- N residents (password of the demo resident: resident-demo-2026) and a
  logged-in server-side session for each (the token and CSRF token are
  written to a JSON file, so the load client can act as them);
- a few staff sessions for the demo staff account;
- one housework application per resident (most approved or ended, some
  submitted and waiting in the staff queue) with its events and quota;
- VISITS home visits spread over the past year (agency slots per weekday);
- a year of past Saturday-clinic sessions with their slots and attended
  bookings, walk-ins, and one delivered message per resident.

The rows are written behind the app's back, so the results report's
maintained counts do not follow them: run `naju-helper results rebuild`
afterwards (benches/bench.py does).

Stdlib only: sqlite3 for SQLite, the psql client (COPY FROM STDIN) for
PostgreSQL.

    python3 benches/seed.py --db data/naju.db --secret "$SECRET_KEY" --residents 10000 --visits 50000 --out sessions.json
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

# --------------------------------------------------------------------------
# Database access: one small interface over sqlite3 and psql.
# --------------------------------------------------------------------------


def is_postgres(url):
    return url.startswith("postgres://") or url.startswith("postgresql://")


def sqlite_path(url):
    return url[len("sqlite://"):] if url.startswith("sqlite://") else url


NULL_MARK = "\x01NULL\x01"


class SqliteDB:
    backend = "sqlite"

    def __init__(self, url):
        self.conn = sqlite3.connect(sqlite_path(url), timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def query(self, sql):
        return [tuple(None if v is None else str(v) for v in row) for row in self.conn.execute(sql).fetchall()]

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def execute(self, sql):
        self.conn.executescript(sql)

    def load(self, tables):
        """tables: list of (table, columns, rows); all in one transaction."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for table, cols, rows in tables:
                if not rows:
                    continue
                sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join("?" * len(cols)))
                c.executemany(sql, (tuple(sqlite_value(v) for v in r) for r in rows))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def close(self):
        self.conn.close()


class PgDB:
    backend = "postgres"

    def __init__(self, url):
        self.url = url

    def _psql(self, args, stdin=None, timeout=600):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url] + args
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("psql failed: %s" % p.stderr.decode(errors="replace")[-2000:])
        return p.stdout.decode()

    def query(self, sql):
        # The statement on stdin, not in argv: a long IN list would pass the kernel's argument limit.
        out = self._psql(["-A", "-t", "-F", "\x1f", "-R", "\x1e", "-P", "null=" + NULL_MARK, "-f", "-"], stdin=sql.encode())
        rows = []
        for line in out.split("\x1e"):
            line = line.rstrip("\n")
            if line == "":
                continue
            rows.append(tuple(None if v == NULL_MARK else v for v in line.split("\x1f")))
        return rows

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def execute(self, sql):
        self._psql(["-f", "-"], stdin=sql.encode())

    def load(self, tables, chunk=20000):
        """One transaction of COPY FROM STDIN, streamed to psql in chunks of
        rows (a million visits never sit in memory as one text)."""
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url]
        with tempfile.TemporaryFile() as errf:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errf)
            try:
                w = p.stdin
                w.write(b"BEGIN;\n")
                for table, cols, rows in tables:
                    if not rows:
                        continue
                    w.write(("COPY %s (%s) FROM STDIN;\n" % (table, ", ".join(cols))).encode())
                    for i in range(0, len(rows), chunk):
                        w.write("".join("\t".join(copy_value(v) for v in r) + "\n" for r in rows[i:i + chunk]).encode())
                    w.write(b"\\.\n")
                w.write(b"COMMIT;\n")
                w.close()
            except BrokenPipeError:
                pass  # psql stopped on an error: reported below
            finally:
                rc = p.wait()
            if rc != 0:
                errf.seek(0)
                raise RuntimeError("psql failed: %s" % errf.read().decode(errors="replace")[-2000:])

    def close(self):
        pass


def open_db(url):
    return PgDB(url) if is_postgres(url) else SqliteDB(url)


def fmt_ts(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


def sqlite_value(v):
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, dt.datetime):
        return fmt_ts(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def copy_value(v):
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, dt.datetime):
        return fmt_ts(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def sql_str(s):
    return "'" + str(s).replace("'", "''") + "'"


# --------------------------------------------------------------------------
# The app's conventions.
# --------------------------------------------------------------------------


def keyed_hash(secret, purpose, value):
    """src/crypto.rs: first 32 bytes of BLAKE2b-512(secret 0 purpose 0 value), hex."""
    h = hashlib.blake2b(digest_size=64)
    h.update(secret.encode() + b"\x00" + purpose.encode() + b"\x00" + value.encode())
    return h.digest()[:32].hex()


def random_token():
    return os.urandom(32).hex()


def now_utc():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def today_seoul():
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9)).date()


def first_open_session(db):
    """(id, day) of the first open Saturday-clinic session from today: where the benchmarks book."""
    return db.query("SELECT id, day FROM clinic_sessions WHERE day >= %s AND status = 'open' ORDER BY day LIMIT 1" % sql_str(today_seoul().isoformat()))[0]


def slot_of(db, session_id, code):
    rows = db.query("SELECT s.id, s.capacity, s.booked FROM clinic_slots s JOIN clinic_programs p ON p.id = s.program_id "
                    "WHERE s.session_id = %s AND p.code = %s ORDER BY s.start_minute LIMIT 1" % (sql_str(session_id), sql_str(code)))
    if not rows:
        raise RuntimeError("no %s slot in session %s" % (code, session_id))
    return rows[0][0]


def seoul_to_utc(day, minute):
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(minutes=minute) - dt.timedelta(hours=9)


def open_saturdays(year, month):
    first = dt.date(year, month, 1)
    offset = (5 - first.weekday()) % 7
    sat = first + dt.timedelta(days=offset)
    return [sat + dt.timedelta(days=7), sat + dt.timedelta(days=21)]


def slot_times(kind, start, end, minutes):
    if kind == "class":
        return [(start, end)]
    out, t = [], start
    while minutes > 0 and t + minutes <= end:
        out.append((t, t + minutes))
        t += minutes
    return out


def create_sessions(db, secret, user_ids, hours=12):
    """Logged-in sessions: returns [(token, csrf)] and the rows to insert."""
    now = now_utc()
    rows, creds = [], []
    for uid in user_ids:
        token, csrf = random_token(), random_token()
        rows.append((keyed_hash(secret, "session", token), uid, csrf, now, now, now + dt.timedelta(hours=hours)))
        creds.append((token, csrf))
    return creds, ("sessions", ["id", "user_id", "csrf_token", "created_at", "last_seen_at", "expires_at"], rows)


# --------------------------------------------------------------------------
# The loader.
# --------------------------------------------------------------------------

FAMILY = "김이박최정강조윤장임한오서신권황안송전홍"
GIVEN = ["하늘", "서연", "지민", "수빈", "민지", "예은", "지우", "하은", "유진", "소연", "다은", "채원"]


def seed(db, secret, residents=10000, visits=50000, staff_sessions=8, rng_seed=8, log=print):
    rng = random.Random(rng_seed)

    def new_id():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    started = time.time()
    today = today_seoul()
    now = now_utc()
    year_ago = today - dt.timedelta(days=365)

    housework = db.scalar("SELECT id FROM programs WHERE code = 'housework'")
    rule_set = db.scalar("SELECT id FROM rule_sets WHERE program_id = %s ORDER BY version DESC LIMIT 1" % sql_str(housework))
    pw_hash = db.scalar("SELECT password_hash FROM users WHERE email = 'resident@demo.naju-helper.kr'")
    staff_id = db.scalar("SELECT id FROM users WHERE email = 'staff@demo.naju-helper.kr'")
    if not (housework and rule_set and pw_hash and staff_id):
        raise RuntimeError("the database has no demo data (run `naju-helper demo --reset` first)")
    districts = [d.get("code") for d in json.loads(db.scalar("SELECT districts FROM rule_sets WHERE id = %s" % sql_str(rule_set)) or "[]")] or ["46170250"]
    clinic_programs = db.query("SELECT id, code, kind, capacity, slot_minutes, start_minute, end_minute, audience FROM clinic_programs ORDER BY sort_order")
    existing_days = {r[0] for r in db.query("SELECT day FROM clinic_sessions")}

    # Residents and their sessions.
    users, apps, events, quotas, outbox = [], [], [], [], []
    user_ids = []
    for i in range(residents):
        uid = new_id()
        user_ids.append(uid)
        name = FAMILY[i % len(FAMILY)] + GIVEN[(i // len(FAMILY)) % len(GIVEN)]
        created = now - dt.timedelta(days=rng.randint(30, 400), seconds=rng.randint(0, 86399))
        users.append((uid, "resident", name, "bench%05d@bench.naju-helper.kr" % i, "010-%04d-%04d" % (5000 + i // 10000, i % 10000),
                      pw_hash, "ko", False, True, created, created))
    creds, session_table = create_sessions(db, secret, user_ids)
    staff_creds, staff_table = create_sessions(db, secret, [staff_id] * staff_sessions)

    # Applications: 5 % submitted (the staff queue), the rest approved (or
    # ended after the birth) and visited.
    visited = []
    for i, uid in enumerate(user_ids):
        aid = new_id()
        submitted = rng.random() < 0.05
        if submitted:
            sub_day = today - dt.timedelta(days=rng.randint(0, 20))
        else:
            sub_day = today - dt.timedelta(days=rng.randint(60, 360))
        sub_at = seoul_to_utc(sub_day, rng.randint(540, 1080))
        due = sub_day + dt.timedelta(days=rng.randint(60, 130))
        decided_at = None if submitted else sub_at + dt.timedelta(days=2, hours=3)
        status = "submitted" if submitted else ("ended" if due < today else "approved")
        apps.append((aid, "HW-%s-B%05d" % (sub_day.strftime("%Y%m%d"), i), housework, uid, rule_set, status, users[i][2],
                     dt.date(1988 + i % 12, 1 + i % 12, 1 + i % 28), users[i][4], users[i][3], districts[i % len(districts)],
                     "나주시 빛가람로 %d" % (i + 1), due, dt.date(2015, 1, 1), due if status == "ended" else None,
                     sub_at - dt.timedelta(minutes=5), True, "[]", sub_day.year, None, None,
                     None if submitted else staff_id, decided_at, sub_at, sub_at - dt.timedelta(minutes=20),
                     decided_at or sub_at))
        events.append((new_id(), aid, sub_at, uid, "submitted", ""))
        if not submitted:
            events.append((new_id(), aid, decided_at, staff_id, "approved", ""))
            visited.append((aid, uid, max(sub_day + dt.timedelta(days=3), year_ago), decided_at, districts[i % len(districts)]))
            outbox.append((new_id(), uid, "application_approved", users[i][3], "[나주시] 임신부 가사돌봄 서비스 지원 결정",
                           "%s님, 신청하신 가사돌봄 서비스 지원이 결정되었습니다." % users[i][2],
                           "<p>%s님, 신청하신 가사돌봄 서비스 지원이 결정되었습니다.</p>" % users[i][2],
                           "sent", 1, decided_at, None, decided_at, decided_at + dt.timedelta(seconds=3)))

    # The agency serving each district (the city file's agencies; an agency
    # without districts serves them all).
    agency_rows = db.query("SELECT id FROM agencies WHERE active ORDER BY sort_order")
    served = {}
    for (agency_id,) in agency_rows:
        codes = [r[0] for r in db.query("SELECT district_code FROM agency_districts WHERE agency_id = %s" % sql_str(agency_id))]
        for code in (codes or districts):
            served.setdefault(code, agency_id)
    agency_ids = sorted({a for a in served.values()})

    # Each agency's slots on every weekday of the past year, 09:00 and 13:00.
    weekdays = [year_ago + dt.timedelta(days=d) for d in range(365) if (year_ago + dt.timedelta(days=d)).weekday() < 5]
    weekdays = [d for d in weekdays if d < today]
    slot_ids = {(a, d, m): new_id() for a in agency_ids for d in weekdays for m in (540, 780)}
    slot_booked = {k: 0 for k in slot_ids}

    # Visits: `visits` in all, spread over the visited applications.
    vrows = []
    n_apps = max(1, len(visited))
    base, extra = divmod(visits, n_apps)
    for k, (aid, uid, first_day, decided_at, district) in enumerate(visited):
        agency = served[district]
        want = base + (1 if k < extra else 0)
        days = [d for d in weekdays if d >= first_day]
        if len(days) < want:
            days = weekdays[-max(want, 1):]
        chosen = sorted(rng.sample(days, min(want, len(days))))
        used = 0
        for day in chosen:
            start = 540 if rng.random() < 0.5 else 780
            r = rng.random()
            status = "completed" if r < 0.90 else ("cancelled" if r < 0.97 else "no_show")
            counts = status != "cancelled"
            used += 1 if counts else 0
            if status != "cancelled":
                slot_booked[(agency, day, start)] += 1
            begin = seoul_to_utc(day, start)
            created = min(begin - dt.timedelta(days=3), now)
            vrows.append((new_id(), aid, uid, slot_ids[(agency, day, start)], day, start, 4, status, "청소,세탁", "", "도우미 %d" % (k % 40 + 1),
                          None, counts, begin - dt.timedelta(days=1) if status == "cancelled" else None,
                          begin if status == "completed" else None, begin + dt.timedelta(hours=4) if status == "completed" else None,
                          "청소,세탁" if status == "completed" else None, begin + dt.timedelta(hours=6) if status == "completed" else None,
                          rng.randint(3, 5) if status == "completed" else None, None, begin - dt.timedelta(hours=20), created, created,
                          agency, 0))
        quotas.append((aid, max(4, used), used))

    vslots = [(sid, a, d, m, max(1000, slot_booked[(a, d, m)]), slot_booked[(a, d, m)]) for (a, d, m), sid in slot_ids.items()]

    # A year of past Saturday-clinic sessions with attended bookings.
    csessions, cslots, cbookings, walkins = [], [], [], []
    months = []
    m = dt.date(year_ago.year, year_ago.month, 1)
    while m <= today:
        months.append(m)
        m = dt.date(m.year + (m.month // 12), m.month % 12 + 1, 1)
    past_days = [d for mo in months for d in open_saturdays(mo.year, mo.month) if year_ago <= d < today and d.isoformat() not in existing_days]
    for day in past_days:
        sid = new_id()
        csessions.append((sid, day, 540, 780, "open", None, seoul_to_utc(day, 0) - dt.timedelta(days=90)))
        taken = set()
        for pid, code, kind, cap, minutes, start, end, audience in clinic_programs:
            cap, minutes, start, end = int(cap), int(minutes), int(start), int(end)
            for (s, e) in slot_times(kind, start, end, minutes):
                slot_id = new_id()
                n = rng.randint(max(0, cap - 3), cap)
                seats = 0
                for _ in range(n):
                    ui = rng.randrange(residents)
                    if (ui, pid) in taken:
                        continue
                    taken.add((ui, pid))
                    seats += 1
                    at = seoul_to_utc(day, 0) - dt.timedelta(days=rng.randint(1, 50))
                    st = "attended" if rng.random() < 0.85 else "no_show"
                    cbookings.append((new_id(), slot_id, sid, pid, user_ids[ui], None, day + dt.timedelta(days=90) if audience != "infant" else None,
                                      1, st, None, None, seoul_to_utc(day, s) if st == "attended" else None, at, at))
                cslots.append((slot_id, sid, pid, s, e, cap, seats))
            if rng.random() < 0.5:
                walkins.append((new_id(), sid, pid, rng.randint(1, 4), "", staff_id, seoul_to_utc(day, 700)))

    # Places used per year (the staff queue shows them).
    counters = {}
    for a in apps:
        if a[5] in ("approved", "ended"):
            counters[a[18]] = counters.get(a[18], 0) + 1
    existing_counters = {r[0] for r in db.query("SELECT id FROM capacity_counters")}
    counter_rows = [("%s:%d" % (housework, y), n) for y, n in counters.items() if "%s:%d" % (housework, y) not in existing_counters]

    generated = time.time()
    tables = [
        ("users", ["id", "role", "name", "email", "phone", "password_hash", "locale", "is_supervisor", "active", "created_at", "updated_at"], users),
        session_table,
        staff_table,
        ("applications", ["id", "reference", "program_id", "user_id", "rule_set_id", "status", "applicant_name", "birth_date", "phone", "email",
                          "district_code", "street_address", "due_date", "residency_start", "birth_recorded_on", "consent_at", "precheck_eligible",
                          "precheck_reasons", "capacity_year", "decision_reason", "info_request", "decided_by", "decided_at", "submitted_at",
                          "created_at", "updated_at"], apps),
        ("application_events", ["id", "application_id", "at", "actor_id", "action", "note"], events),
        ("capacity_counters", ["id", "used"], counter_rows),
        ("visit_quotas", ["application_id", "quota", "used"], quotas),
        ("visit_slots", ["id", "agency_id", "day", "start_minute", "capacity", "booked"], vslots),
        ("visits", ["id", "application_id", "user_id", "slot_id", "day", "start_minute", "hours", "status", "tasks", "notes", "helper_name",
                    "decline_reason", "counts_against_quota", "cancelled_at", "actual_start", "actual_end", "tasks_done",
                    "resident_confirmed_at", "rating", "comment", "reminder_sent_at", "created_at", "updated_at", "agency_id", "copay_won"], vrows),
        ("outbox", ["id", "user_id", "kind", "recipient", "subject", "body_text", "body_html", "status", "attempts", "next_attempt_at",
                    "last_error", "created_at", "sent_at"], outbox),
        ("clinic_sessions", ["id", "day", "start_minute", "end_minute", "status", "cancel_reason", "created_at"], csessions),
        ("clinic_slots", ["id", "session_id", "program_id", "start_minute", "end_minute", "capacity", "booked"], cslots),
        ("clinic_bookings", ["id", "slot_id", "session_id", "program_id", "user_id", "child_id", "due_date", "seats", "status",
                             "reminder_sent_at", "cancelled_at", "checked_in_at", "created_at", "updated_at"], cbookings),
        ("clinic_walkins", ["id", "session_id", "program_id", "people", "note", "recorded_by", "created_at"], walkins),
    ]
    db.load(tables)
    db.execute("ANALYZE")
    loaded = time.time()
    counts = {t: len(rows) for t, _, rows in tables}
    counts["sessions"] = len(session_table[2]) + len(staff_table[2])
    counts.pop("capacity_counters", None)
    total = sum(len(rows) for _, _, rows in tables)
    log("  seeded %d rows (%s) in %.1f s (generate %.1f s, write %.1f s)" % (
        total, ", ".join("%s %d" % kv for kv in counts.items() if kv[1]), loaded - started, generated - started, loaded - generated))
    return {
        "rows": counts,
        "total_rows": total,
        "seconds": round(loaded - started, 2),
        "write_seconds": round(loaded - generated, 2),
        "residents": [{"id": uid, "email": users[i][3], "token": creds[i][0], "csrf": creds[i][1]} for i, uid in enumerate(user_ids)],
        "staff": [{"id": staff_id, "token": t, "csrf": c} for t, c in staff_creds],
        "report_from": year_ago.isoformat(),
        "report_to": today.isoformat(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="DATABASE_URL: a SQLite path or postgres://…")
    ap.add_argument("--secret", required=True, help="the server's SECRET_KEY (session ids are keyed hashes)")
    ap.add_argument("--residents", type=int, default=10000)
    ap.add_argument("--visits", type=int, default=50000)
    ap.add_argument("--out", help="write the session tokens (JSON) here")
    a = ap.parse_args()
    db = open_db(a.db)
    info = seed(db, a.secret, a.residents, a.visits)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(info, f)
    db.close()


if __name__ == "__main__":
    sys.exit(main())
