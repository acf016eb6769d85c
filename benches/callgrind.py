#!/usr/bin/env python3
"""Instructions per request of one page, counted by callgrind (quiet-machine independent).

    python3 benches/callgrind.py --bin target/release/naju-helper [--path /my] [--n 100] [--lang ko]
    python3 benches/callgrind.py --bin target/release/naju-helper --bare     # the bare page, same method
    python3 benches/callgrind.py --bin target/release/naju-helper --book     # a Saturday-class booking (POST)

Starts the app on a fresh SQLite demo database in a work directory, signs in as
the demo resident, restarts the server under `valgrind --tool=callgrind` with
instrumentation off, warms up, switches instrumentation on (callgrind_control)
for exactly N requests of the page, and prints the instructions per request,
total and for the functions given with --fn (inclusive, by callgrind_annotate).
The outbox and scheduler threads are slowed down so that they do not run inside
the window (so --book counts the booking with its email rendered and queued,
not its delivery). --book seeds residents with signed-in sessions
(benches/seed.py) and counts each one's POST /clinic/bookings of one class. Requires valgrind (Debian: apt-get install valgrind).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed as seedmod  # noqa: E402  (benches/seed.py: the bulk loader, for --book)

DEFAULT_FNS = [
    "naju_helper::web::render_status",
    "tera::tera::Tera::render",
    "naju_helper::web::Ctx::load",
    "naju_helper::accounts::sessions::load",
    "tera::context::Context::insert",
    "sqlite3_step",
    "sqlite3Reprepare",
    "sqlite3_prepare_v3",
    "tokio::runtime::blocking::pool::Inner::run",
    "malloc",
    "free",
]


def request(port, method, path, cookie=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, res.getheader("Set-Cookie") or "", data.decode("utf-8", "replace")


class KeepAlive:
    """One connection for all the counted requests, as wrk keeps its connections open:
    the counts are then those of a request, not of a TCP connection's set-up and tear-down."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method, path, cookie=None, body=None):
        """As `request` above, on the kept connection; returns the status."""
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        res = self.conn.getresponse()
        res.read()
        return res.status

    def close(self):
        self.conn.close()


def wait_ready(proc, port, timeout, path="/healthz"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            if request(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready after %d s" % timeout)


def sid(set_cookie):
    m = re.search(r"naju_sid=([^;]+)", set_cookie)
    return m.group(1) if m else None


def login(port, email, password):
    status, set_cookie, html = request(port, "GET", "/login")
    token = sid(set_cookie)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf_token": csrf, "email": email, "password": password, "next": ""})
    status, set_cookie, _ = request(port, "POST", "/login", cookie="naju_sid=" + token, body=body)
    if status != 303 or not sid(set_cookie):
        raise RuntimeError("login failed: %s" % status)
    return sid(set_cookie)


def seed_bookers(env, n):
    """n residents signed in (sessions written as the app writes them) and one class with room for all."""
    import datetime as dt
    db = seedmod.open_db(env["DATABASE_URL"])
    info = seedmod.seed(db, env["SECRET_KEY"], residents=n, visits=10, log=lambda *a: None)
    session_id, day = seedmod.first_open_session(db)
    slot = seedmod.slot_of(db, session_id, "breastfeeding")
    db.execute("UPDATE clinic_slots SET capacity = booked + %d WHERE id = %s" % (n, seedmod.sql_str(slot)))
    # Sessions as fresh as SESSION_IDLE_MINUTES (24 h here): no expiry write inside the window.
    db.execute("UPDATE sessions SET expires_at = %s" % seedmod.sql_str(seedmod.fmt_ts(seedmod.now_utc() + dt.timedelta(hours=24))))
    due = (dt.date.fromisoformat(str(day)) + dt.timedelta(days=60)).isoformat()
    return {"db": db, "residents": info["residents"][:n], "session": session_id, "slot": slot, "due": due, "next": 0}


def booking_sender(port, conn, b):
    def send():
        r = b["residents"][b["next"]]
        b["next"] += 1
        body = urllib.parse.urlencode({"csrf_token": r["csrf"], "session_id": b["session"], "slot_id": b["slot"], "due_date": b["due"]})
        cookie = "naju_sid=" + r["token"]
        if conn is None:
            return request(port, "POST", "/clinic/bookings", cookie=cookie, body=body)[0]
        return conn.request("POST", "/clinic/bookings", cookie, body)
    return send


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/naju-helper")
    ap.add_argument("--path", default="/my")
    ap.add_argument("--n", type=int, default=100, help="requests counted")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--lang", default="ko", choices=["ko", "en"])
    ap.add_argument("--email", default="resident@demo.naju-helper.kr")
    ap.add_argument("--password", default="resident-demo-2026")
    ap.add_argument("--port", type=int, default=18931)
    ap.add_argument("--fn", action="append", help="functions to report inclusively (default: render, session, malloc ...)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (the callgrind.out file)")
    ap.add_argument("--new-connections", action="store_true", help="a new TCP connection per request (default: one kept-alive connection, like wrk)")
    ap.add_argument("--book", action="store_true", help="count POST /clinic/bookings, each by another resident, instead of a page")
    ap.add_argument("--bare", action="store_true", help="count `naju-helper bench-baseline` (the bare actix + tera page, GET /) instead")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="naju-callgrind-")
    env = dict(os.environ)
    env.update({
        "DATA_DIR": os.path.join(work, "data"),
        "DATABASE_URL": os.path.join(work, "data", "naju.db"),
        "BIND_ADDR": "127.0.0.1:%d" % args.port,
        "SECRET_KEY": "callgrind-benchmark-secret-key-0123456789",
        "LOG_LEVEL": "warn",
        "WORKERS": "1",
        "OUTBOX_POLL_MS": "3600000",
        "SCHEDULER_INTERVAL_SECS": "86400",
        "SESSION_IDLE_MINUTES": "1440",
    })
    procs = []
    try:
        log = open(os.path.join(work, "server.log"), "ab")
        proc = subprocess.Popen([binary], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        procs.append(proc)
        wait_ready(proc, args.port, 120)
        token = login(args.port, args.email, args.password)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        booking = seed_bookers(env, args.warmup + args.n) if args.book else None
        out = os.path.join(work, "callgrind.out")
        cmd = [binary, "bench-baseline"] if args.bare else [binary]
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out] + cmd,
                                env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        procs.append(proc)
        if args.bare:
            args.path = "/"
            wait_ready(proc, args.port, 600, path="/")  # the bare server has no /healthz
            cookie = None
        else:
            wait_ready(proc, args.port, 600)
            cookie = "naju_sid=%s; naju_lang=%s" % (token, args.lang)
        conn = None if args.new_connections else KeepAlive(args.port)
        get = (lambda: request(args.port, "GET", args.path, cookie=cookie)[0]) if conn is None else (lambda: conn.request("GET", args.path, cookie))
        if booking is not None:
            args.path = "/clinic/bookings"
            get = booking_sender(args.port, conn, booking)
        for _ in range(args.warmup):
            status = get()
            if status != (303 if booking is not None else 200):
                raise RuntimeError("%s answered %s" % (args.path, status))
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, stdout=subprocess.DEVNULL)
        for _ in range(args.n):
            status = get()
            if booking is not None and status != 303:
                raise RuntimeError("a booking answered %s" % status)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, stdout=subprocess.DEVNULL)
        if conn is not None:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)
        log.close()
        annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                                  capture_output=True, text=True, check=True).stdout
        total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotate, re.M).group(1).replace(",", ""))
        if booking is not None:
            booked = booking["db"].scalar("SELECT count(*) FROM clinic_bookings WHERE slot_id = %s AND status = 'booked'" % seedmod.sql_str(booking["slot"]))
            if int(booked) != args.warmup + args.n:
                raise RuntimeError("%s bookings written, %d expected" % (booked, args.warmup + args.n))
        result = {"path": args.path, "lang": args.lang, "n": args.n, "keep_alive": not args.new_connections, "instructions_per_request": total // args.n, "functions": {}}
        inclusive = {}
        for line in annotate.splitlines():
            m = re.match(r"^\s*([\d,]+) \([\s\d.]+%\)\s+(?:\*\s*)?\S*?:(?!:)(.*?)\s*(?:\[[^\]]*\])?$", line)
            if m:
                name = m.group(2).split("'")[0]
                inclusive[name] = max(inclusive.get(name, 0), int(m.group(1).replace(",", "")))
        for fn in args.fn or DEFAULT_FNS:
            result["functions"][fn] = inclusive.get(fn, 0) // args.n
        print(json.dumps(result, indent=2))
        with open(os.path.join(work, "annotate.txt"), "w") as f:
            f.write(annotate)
        if args.keep:
            print("work directory: %s" % work, file=sys.stderr)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(30)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
