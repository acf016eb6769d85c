#!/usr/bin/env python3
"""Load benchmark for naju-helper (issue #8): Saturday-class booking rush.

    cargo build --release
    python3 benches/bench.py                      # SQLite, then PostgreSQL
    python3 benches/bench.py --backends sqlite --residents 2000 --burst 200 --duration 5

For each backend: a fresh database (a SQLite file under /tmp; a new
PostgreSQL database on 127.0.0.1:5432, dropped afterwards) is migrated and
demo-loaded by the binary, bulk-loaded with realistic data (benches/seed.py),
then the release server is started and driven over HTTP from a separate
process (benches/loadgen.py):

1. burst: BURST residents book the same class with SEATS seats at once;
   booked must equal the capacity, never more;
2. open burst: BURST other residents book a slot with room for all
   (successful bookings per second, compared with the raw write rate);
3. mix: DURATION seconds of page views (resident home, clinic sessions,
   staff queue, results report) and logins with CONCURRENCY clients;
4. results report: the staff's report over the loaded year, timed alone;
5. peak memory of the server (VmHWM);
6. raw database write rate of the booking's transaction (`bench-db`);
7. crash safety (--crash, on by default): SIGKILL in the middle of a
   booking burst, restart, check that every booking answered 303 is there
   and that each one's email is in the outbox.

Baselines measured in the same run: `naju-helper bench-baseline` (a bare
actix-web handler rendering one tera template) with the same client, and
`bench-db` per backend. Results: a table on stdout and benches/last-run.json.

The binary is $NAJU_BIN (default target/release/naju-helper). Stdlib only;
`wrk` (apt-get install -y wrk) adds client-independent ceilings if present
(--wrk auto|yes|no; yes installs it). Only 127.0.0.1 is ever contacted.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import resource
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the work tree
import seed as seedmod  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef-naju-helper"
PAGE_VIEWS = ("my", "clinic", "queue", "results", "login_page")
LOOPBACK = "127.0.0.1"
ALIVE = []  # every server process started, stopped in `finally`


def log(msg=""):
    print(msg, flush=True)


# ----------------------------------------------------------- utilities ---


def free_port():
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def lat_summary(xs):
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "p50_ms": round(pct(xs, 50), 2), "p95_ms": round(pct(xs, 95), 2), "p99_ms": round(pct(xs, 99), 2),
            "max_ms": round(max(xs), 2), "mean_ms": round(statistics.fmean(xs), 2)}


def http_get(port, path, cookie=None, timeout=10):
    c = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release(), "python": platform.python_version()}


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmHWM", "VmRSS")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def proc_cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Server:
    """A naju-helper process (serve or bench-baseline) on a loopback port."""

    def __init__(self, binary, env, log_path, args=(), health="/healthz"):
        self.binary, self.env, self.log_path, self.args, self.health = binary, env, log_path, list(args), health
        self.port = int(env["BIND_ADDR"].rsplit(":", 1)[1])
        self.proc = None

    def start(self, timeout=180):
        logf = open(self.log_path, "ab")
        t0 = time.time()
        self.proc = subprocess.Popen([self.binary] + self.args, env=self.env, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        logf.close()
        ALIVE.append(self)
        deadline = t0 + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s during start; log: %s\n%s" % (self.proc.returncode, self.log_path, tail(self.log_path)))
            try:
                status, _ = http_get(self.port, self.health, timeout=2)
                if status == 200:
                    return time.time() - t0
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready after %d s; log: %s" % (timeout, self.log_path))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM (graceful), SIGKILL after `timeout` s. Returns seconds taken."""
        if not self.alive():
            return 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self in ALIVE:
            ALIVE.remove(self)
        return time.time() - t0

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
        if self in ALIVE:
            ALIVE.remove(self)


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


def count_log_errors(path):
    n = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                if b'"level":"ERROR"' in line or b'"level":"error"' in line or b" ERROR " in line:
                    n += 1
    except OSError:
        pass
    return n


def run_loadgen(job, workdir, name, timeout):
    path = os.path.join(workdir, name + ".job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    t0 = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([sys.executable, os.path.join(HERE, "loadgen.py"), path], capture_output=True, timeout=timeout)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError("loadgen failed: %s" % p.stderr.decode(errors="replace")[-3000:])
    out = json.loads(p.stdout)
    out["elapsed_s"] = time.time() - t0
    # CPU used by the load client (all its processes): near the core count
    # means the client, not the server, was the limit.
    out["client_cpu_cores"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / max(0.001, out["elapsed_s"]), 2)
    return out


def summarize_statuses(res, expected):
    """expected: tag -> set of OK statuses. Returns (total, errors, per-status counts)."""
    total, errors, counts = 0, 0, {}
    for tag, st in res["status"].items():
        ok = expected.get(tag)
        for code, n in st.items():
            total += n
            counts["%s:%s" % (tag, code)] = n
            if ok is not None and code not in ok:
                errors += n
    return total, errors, counts


# ------------------------------------------------------------------ wrk ---


def ensure_wrk(mode):
    if mode == "no":
        return None
    w = shutil.which("wrk")
    if w or mode == "auto":
        return w
    log("  installing wrk (apt-get install -y wrk) ...")
    for cmd in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(cmd, capture_output=True, timeout=600)
        if cmd[1] == "install" and shutil.which("wrk"):
            break
    return shutil.which("wrk")


def wrk_unit(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)?", v)
    if not m:
        return None
    x = float(m.group(1))
    return x * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, None: 1.0}[m.group(2)]


class PerfRecord:
    """`perf record -g` of the server while a phase runs (--perf), to explain its figure."""

    def __init__(self, on, pid, workdir, name):
        self.p = None
        self.path = os.path.join(workdir, "perf-%s.data" % name)
        if on and shutil.which("perf"):
            self.p = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", self.path],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p:
            self.p.send_signal(signal.SIGINT)
            self.p.wait(timeout=60)
            log("  perf profile: %s (perf report -i %s --no-children)" % (self.path, self.path))
        return False


def run_wrk(wrk, port, path, tokens, concurrency, duration, workdir, name):
    script = os.path.join(workdir, name + ".lua")
    with open(script, "w") as f:
        f.write("local tokens = {%s}\nlocal i = 0\n" % ",".join('"%s"' % t for t in tokens))
        f.write("request = function()\n  i = i + 1\n")
        if tokens:
            f.write('  return wrk.format("GET", "%s", {["Cookie"] = "naju_sid=" .. tokens[(i %% #tokens) + 1]})\n' % path)
        else:
            f.write('  return wrk.format("GET", "%s")\n' % path)
        f.write("end\n")
    threads = max(1, min(2, concurrency))
    cmd = [wrk, "-t%d" % threads, "-c%d" % concurrency, "-d%ds" % duration, "--timeout", "10s", "--latency", "-s", script,
           "http://%s:%d%s" % (LOOPBACK, port, path)]
    p = subprocess.run(cmd, capture_output=True, timeout=duration + 60)
    out = p.stdout.decode(errors="replace")
    res = {"rps": None, "non_2xx": 0, "socket_errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = round(float(m.group(1)), 1)
    for q in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % q, out, re.M)
        if m:
            res["p%s_ms" % q] = round(wrk_unit(m.group(1)), 2)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        res["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors:.*?connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["socket_errors"] = sum(int(x) for x in m.groups())
    return res


# ------------------------------------------------------------- phases ---


def server_env(args, db_url, data_dir, port, extra=None):
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db_url,
        "DATA_DIR": data_dir,
        "BIND_ADDR": "%s:%d" % (LOOPBACK, port),
        "SECRET_KEY": SECRET,
        "DEMO_DATA": "true",
        "LOG_LEVEL": "warn",
        "LOGIN_MAX_FAILURES_IP": "100000",
        "PUBLIC_URL": "http://%s:%d" % (LOOPBACK, port),
    })
    env.pop("SMTP_HOST", None)
    if args.workers:
        env["WORKERS"] = str(args.workers)
    if extra:
        env.update(extra)
    return env


def baseline_phase(args, binary, workdir, wrk):
    log("\n== baseline: bare actix-web handler rendering one tera template (bench-baseline)")
    port = free_port()
    env = server_env(args, os.path.join(workdir, "unused.db"), os.path.join(workdir, "baseline-data"), port)
    srv = Server(binary, env, os.path.join(workdir, "baseline.log"), args=["bench-baseline"], health="/")
    try:
        srv.start(timeout=60)
        dur = min(args.duration, args.baseline_duration)
        cpu0 = proc_cpu_s(srv.pid)
        res = run_loadgen({"mode": "mix", "host": LOOPBACK, "port": port, "concurrency": args.concurrency, "processes": args.client_processes,
                           "duration": dur, "weights": {"base": 1}, "ops": {"base": {"path": "/", "as": "none"}}},
                          workdir, "baseline", dur + 120)
        cpu1 = proc_cpu_s(srv.pid)
        lat = res["lat"].get("base", [])
        total, errors, _ = summarize_statuses(res, {"base": {"200"}})
        out = {"rps": round(total / res["wall_s"], 1), "requests": total, "errors": errors, "latency": lat_summary(lat),
               "client_cpu_cores": res["client_cpu_cores"], "server_cpu_cores": round((cpu1 - cpu0) / res["wall_s"], 2) if cpu0 is not None and cpu1 is not None else None,
               "server_cpu_ms_per_req": round((cpu1 - cpu0) * 1000 / max(1, total), 3) if cpu0 is not None and cpu1 is not None else None}
        if wrk:
            out["wrk"] = run_wrk(wrk, port, "/", [], args.concurrency, dur, workdir, "wrk-baseline")
        out["vm_hwm_kb"] = proc_status(srv.pid).get("VmHWM")
        log("  %s rps, p50 %s ms, p95 %s ms, p99 %s ms, errors %d%s" % (
            out["rps"], out["latency"].get("p50_ms"), out["latency"].get("p95_ms"), out["latency"].get("p99_ms"), errors,
            ("; wrk %s rps" % out["wrk"]["rps"]) if wrk else ""))
        return out
    finally:
        srv.stop()


def argon2_phase(args, binary, workdir):
    """Argon2id hashes per second alone on these cores (`naju-helper bench-argon2`,
    one line `argon2_hashes_per_s=<float>`): the ceiling of logins per second."""
    log("\n== argon2id alone (bench-argon2)")
    env = server_env(args, os.path.join(workdir, "unused.db"), os.path.join(workdir, "argon2-data"), free_port())
    try:
        p = subprocess.run([binary, "bench-argon2"], env=env, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        log("  bench-argon2 failed: %s" % e)
        return {"error": str(e)}
    m = re.search(r"argon2_hashes_per_s=([0-9.eE+-]+)", p.stdout.decode(errors="replace"))
    if p.returncode != 0 or not m:
        log("  bench-argon2 failed (exit %s): %s" % (p.returncode, p.stderr.decode(errors="replace")[-500:].strip()))
        return {"error": "exit %s" % p.returncode}
    out = {"hashes_per_s": float(m.group(1))}
    log("  %.2f hashes/s" % out["hashes_per_s"])
    return out


def book_request(resident, session_id, slot_id, due, key):
    return {"tag": "book", "key": key, "method": "POST", "path": "/clinic/bookings", "cookie": "naju_sid=" + resident["token"],
            "body": {"csrf_token": resident["csrf"], "session_id": session_id, "slot_id": slot_id, "due_date": due}}


def booked_users(db, slot_id):
    return {r[0]: int(r[1]) for r in db.query("SELECT user_id, seats FROM clinic_bookings WHERE slot_id = %s AND status = 'booked'" % seedmod.sql_str(slot_id))}


def slot_counter(db, slot_id):
    cap, booked = db.query("SELECT capacity, booked FROM clinic_slots WHERE id = %s" % seedmod.sql_str(slot_id))[0]
    return int(cap), int(booked)


def outbox_for(db, user_ids, kind="clinic_booked"):
    """{outbox id: (user_id, status, next_attempt_at)} for these users and kind."""
    out = {}
    ids = list(user_ids)
    for i in range(0, len(ids), 500):
        chunk = ",".join(seedmod.sql_str(u) for u in ids[i:i + 500])
        for oid, uid, st, nxt in db.query("SELECT id, user_id, status, next_attempt_at FROM outbox WHERE kind = %s AND user_id IN (%s)" % (
                seedmod.sql_str(kind), chunk)):
            out[oid] = (uid, st, dt.datetime.strptime(nxt[:19], "%Y-%m-%d %H:%M:%S"))
    return out


def burst_phase(db, port, workdir, residents, session_id, slot_id, due, capacity, concurrency, name, label):
    reqs = [book_request(r, session_id, slot_id, due, i) for i, r in enumerate(residents)]
    res = run_loadgen({"mode": "burst", "host": LOOPBACK, "port": port, "concurrency": concurrency, "requests": reqs, "timeout": 60,
                       "max_seconds": 600}, workdir, name, 900)
    lat = res["lat"].get("book", [])
    statuses = res["status"].get("book", {})
    ok = [k for k, st, _ in res["outcomes"] if st == 303]
    full = statuses.get("409", 0)
    total = sum(statuses.values())
    errors = total - len(ok) - full
    cap, counter = slot_counter(db, slot_id)
    booked = booked_users(db, slot_id)
    ok_ids = {residents[k]["id"] for k in ok}
    mails = outbox_for(db, [r["id"] for r in residents])
    out = {
        "attempts": total, "concurrency": res["threads"], "wall_s": round(res["wall_s"], 3),
        "attempts_per_s": round(total / res["wall_s"], 1) if res["wall_s"] else None,
        "booked_per_s": round(len(ok) / res["wall_s"], 1) if res["wall_s"] else None,
        "latency": lat_summary(lat), "status": statuses, "errors": errors,
        "capacity": cap, "counter": counter, "booked_rows": len(booked), "ok_responses": len(ok), "full_responses": full,
        "emails_queued": len(mails), "transport_errors": res.get("errors", {}),
    }
    checks = {
        "booked_rows == capacity" if capacity <= len(residents) else "booked_rows == attempts": len(booked) == min(capacity, len(residents)),
        "never more than capacity": sum(booked.values()) <= cap and counter <= cap,
        "counter == seats booked": counter == sum(booked.values()),
        "every 303 has its booking": ok_ids <= set(booked),
        "one email per booking": len(mails) == len(booked) and {m[0] for m in mails.values()} == set(booked),
    }
    out["checks"] = checks
    out["ok"] = all(checks.values())
    log("  %s: %d attempts by %d clients in %.2f s = %s/s; p50 %s p95 %s p99 %s ms; 303 %d, 409 %d, errors %d; booked %d / capacity %d (counter %d) %s" % (
        label, total, res["threads"], res["wall_s"], out["attempts_per_s"], out["latency"].get("p50_ms"), out["latency"].get("p95_ms"),
        out["latency"].get("p99_ms"), len(ok), full, errors, len(booked), cap, counter, "OK" if out["ok"] else "FAILED %s" % [k for k, v in checks.items() if not v]))
    return out


def wrk_book_phase(wrk, db, port, workdir, residents, session_id, slot_id, due, concurrency, duration):
    """Bookings as fast as the server takes them, fired by wrk (C, a few microseconds per request)
    instead of the Python client, whose own CPU shares the 2 cores with the server in the open burst.
    Every resident books once; a wrk thread stops once its residents have all booked.
    The rate is the server's: bookings written ÷ the span of their created_at."""
    n = len(residents)
    db.execute("UPDATE clinic_slots SET capacity = capacity + %d WHERE id = %s" % (n, seedmod.sql_str(slot_id)))
    threads = max(1, min(2, concurrency))
    script = os.path.join(workdir, "wrk-book.lua")
    with open(script, "w") as f:
        f.write("local items = {%s}\n" % ",".join('{"%s","%s"}' % (r["token"], r["csrf"]) for r in residents))
        f.write("local nthreads = %d\nlocal created = 0\n" % threads)
        f.write("setup = function(thread)\n  thread:set(\"first\", created)\n  created = created + 1\nend\n")
        # wrk calls thread 0's request() once before the run to check it (script_verify_request) and
        # sends nothing for that call: give it a request that uses no resident.
        f.write("local idx = nil\nlocal checked = false\n")
        f.write("request = function()\n  if first == 0 and not checked then checked = true; return wrk.format(\"GET\", \"/healthz\") end\n")
        f.write("  if idx == nil then idx = first + 1 end\n  local it = items[idx]\n")
        f.write("  if it == nil then return wrk.format(\"GET\", \"/healthz\") end\n  idx = idx + nthreads\n")
        f.write('  local body = "csrf_token=" .. it[2] .. "&session_id=%s&slot_id=%s&due_date=%s"\n' % (session_id, slot_id, due))
        f.write('  return wrk.format("POST", "/clinic/bookings", {["Cookie"] = "naju_sid=" .. it[1], '
                '["Content-Type"] = "application/x-www-form-urlencoded"}, body)\nend\n')
        # A thread whose residents have all booked stops (-d is only the upper bound).
        f.write("response = function(status, headers, body)\n  if items[idx] == nil then wrk.thread:stop() end\nend\n")
    cmd = [wrk, "-t%d" % threads, "-c%d" % concurrency, "-d%ds" % duration, "--timeout", "10s", "-s", script,
           "http://%s:%d/" % (LOOPBACK, port)]
    p = subprocess.run(cmd, capture_output=True, timeout=duration + 60)
    out = p.stdout.decode(errors="replace")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    refused = int(m.group(1)) if m else 0
    # Counted by who booked (these residents have no other booking of this slot), not by time:
    # created_at may be stored at a precision that ties with the open burst's last booking.
    ids = ",".join(seedmod.sql_str(r["id"]) for r in residents)
    where = "slot_id = %s AND status = 'booked' AND user_id IN (%s)" % (seedmod.sql_str(slot_id), ids)
    count, first, last = db.query("SELECT count(*), min(created_at), max(created_at) FROM clinic_bookings WHERE %s" % where)[0]
    count = int(count)
    if count != n:
        got = {r[0] for r in db.query("SELECT user_id FROM clinic_bookings WHERE %s" % where)}
        missing = [r["id"] for r in residents if r["id"] not in got][:3]
        log("  wrk open burst: %d of %d residents have no booking, e.g. %s" % (n - count, n, ", ".join(missing)))
    parse = lambda v: dt.datetime.fromisoformat(str(v).replace("T", " ")[:26])
    span = (parse(last) - parse(first)).total_seconds() if count > 1 else 0.0
    cap, counter = slot_counter(db, slot_id)
    seats = sum(booked_users(db, slot_id).values())
    res = {"residents": n, "booked": count, "span_s": round(span, 3), "booked_per_s": round((count - 1) / span, 1) if span > 0 else None,
           "refused": refused, "concurrency": concurrency, "ok": counter == seats and counter <= cap and count == n}
    log("  wrk open burst: %d residents by %d connections: %d booked in %.2f s = %s bookings/s (server side); non-2xx/3xx %d; counter %d = seats %d %s" % (
        n, concurrency, count, span, res["booked_per_s"], refused, counter, seats, "OK" if res["ok"] else "FAILED"))
    return res


def mix_phase(args, port, workdir, info, srv):
    r = info["residents"]
    weights = dict(args.mix)
    report_path = "/staff/results?program=housework&from=%s&to=%s" % (info["report_from"], info["report_to"])
    ops = {
        "my": {"path": "/my", "as": "resident"},
        "clinic": {"path": "/clinic", "as": "resident"},
        "queue": {"path": "/staff/applications", "as": "staff"},
        "results": {"path": report_path, "as": "staff"},
        "login": {"password": "resident-demo-2026"},
        "residents": [{"token": x["token"]} for x in r],
        "staff": [{"token": x["token"]} for x in info["staff"]],
        "logins": [{"email": x["email"]} for x in r[len(r) // 2:]],
    }
    cpu0 = proc_cpu_s(srv.pid)
    res = run_loadgen({"mode": "mix", "host": LOOPBACK, "port": port, "concurrency": args.concurrency, "processes": args.client_processes,
                       "duration": args.duration, "weights": weights, "ops": ops, "timeout": 60}, workdir, "mix", args.duration + 300)
    cpu1 = proc_cpu_s(srv.pid)
    expected = {"my": {"200"}, "clinic": {"200"}, "queue": {"200"}, "results": {"200"}, "login": {"303"}, "login_page": {"200"}}
    total, errors, counts = summarize_statuses(res, expected)
    all_lat = [x for tag, xs in res["lat"].items() for x in xs]
    out = {"requests": total, "wall_s": round(res["wall_s"], 2), "rps": round(total / res["wall_s"], 1), "errors": errors, "status": counts,
           "latency": lat_summary(all_lat), "by_op": {tag: lat_summary(xs) for tag, xs in sorted(res["lat"].items())},
           "concurrency": args.concurrency, "client_processes": res.get("processes"), "weights": weights,
           "transport_errors": res.get("errors", {}),
           "client_cpu_cores": res["client_cpu_cores"],
           "server_cpu_cores": round((cpu1 - cpu0) / res["wall_s"], 2) if cpu0 is not None and cpu1 is not None else None,
           "server_cpu_ms_per_req": round((cpu1 - cpu0) * 1000 / max(1, total), 3) if cpu0 is not None and cpu1 is not None else None}
    # Page views (issue 15's p99 goal): every GET of the mix, the login page included, not the logins themselves.
    out["page_views"] = lat_summary([x for tag in PAGE_VIEWS for x in res["lat"].get(tag, [])])
    out["logins_per_s"] = round(res["status"].get("login", {}).get("303", 0) / res["wall_s"], 2) if res["wall_s"] else None
    log("  mix: %d requests in %.1f s = %s rps; p50 %s p95 %s p99 %s ms; errors %d; server CPU %s ms/request; client used %s cores" % (
        total, res["wall_s"], out["rps"], out["latency"].get("p50_ms"), out["latency"].get("p95_ms"), out["latency"].get("p99_ms"), errors,
        out["server_cpu_ms_per_req"], out["client_cpu_cores"]))
    if out["transport_errors"]:
        log("      transport errors (status 0): %s" % "; ".join("%s x%d" % kv for kv in sorted(out["transport_errors"].items())))
    for tag, s in out["by_op"].items():
        log("      %-10s n=%-6d p50 %-8s p95 %-8s p99 %-8s ms" % (tag, s.get("n", 0), s.get("p50_ms"), s.get("p95_ms"), s.get("p99_ms")))
    pv = out["page_views"]
    log("      page views n=%d p50 %s p95 %s p99 %s ms; logins %s/s" % (pv.get("n", 0), pv.get("p50_ms"), pv.get("p95_ms"), pv.get("p99_ms"), out["logins_per_s"]))
    return out


def report_phase(port, info, reps=5):
    tok = "naju_sid=" + info["staff"][0]["token"]
    out = {}
    for label, path in (("year", "/staff/results?program=housework&from=%s&to=%s" % (info["report_from"], info["report_to"])),
                        ("term", "/staff/results?program=housework")):
        times, size, status = [], 0, None
        for _ in range(reps):
            t0 = time.perf_counter()
            status, body = http_get(port, path, tok, timeout=120)
            times.append((time.perf_counter() - t0) * 1000)
            size = len(body)
        out[label] = {"status": status, "bytes": size, "min_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1),
                      "max_ms": round(max(times), 1), "reps": reps}
    log("  results report (housework, loaded year): median %s ms (min %s, max %s), %d bytes, HTTP %s; whole term: median %s ms" % (
        out["year"]["median_ms"], out["year"]["min_ms"], out["year"]["max_ms"], out["year"]["bytes"], out["year"]["status"], out["term"]["median_ms"]))
    return out


def bench_db_phase(binary, env, n, threads):
    t0 = time.time()
    p = subprocess.run([binary, "bench-db", "--n", str(n), "--threads", str(threads)], env=env, capture_output=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("bench-db failed: %s" % (p.stderr.decode(errors="replace")[-2000:]))
    line = [l for l in p.stdout.decode().splitlines() if l.strip().startswith("{")][-1]
    out = json.loads(line)
    out["elapsed_s"] = round(time.time() - t0, 2)
    log("  raw db (bench-db --n %d --threads %d): %.0f tx/s, one commit each%s" % (
        n, threads, out["tx_per_s"], ("; %.0f tx/s with the writer's group commit" % out["grouped_tx_per_s"]) if out.get("grouped_tx_per_s") else ""))
    return out


def crash_phase(args, binary, env, db, workdir, residents, session_id, slot_id, due, data_dir, log_path):
    log("  crash run: %d residents book a %d-seat class; SIGKILL after ~%d%% are booked" % (len(residents), len(residents), int(args.crash_at * 100)))
    out = {}
    # A faster mail poll so the restarted server drains the queue within the wait.
    env = dict(env, OUTBOX_POLL_MS="200")
    srv = Server(binary, env, log_path)
    srv.start()
    reqs = [book_request(r, session_id, slot_id, due, i) for i, r in enumerate(residents)]
    job = {"mode": "burst", "host": LOOPBACK, "port": srv.port, "concurrency": args.burst_concurrency, "requests": reqs, "timeout": 20,
           "max_seconds": 300}
    job_path = os.path.join(workdir, "crash.job.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    res_path = os.path.join(workdir, "crash.result.json")
    target = max(1, int(len(residents) * args.crash_at))
    with open(res_path, "w") as res_f:
        lg = subprocess.Popen([sys.executable, os.path.join(HERE, "loadgen.py"), job_path], stdout=res_f, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 300
            seen = 0
            while time.time() < deadline and lg.poll() is None:
                seen = int(db.scalar("SELECT count(*) FROM clinic_bookings WHERE slot_id = %s AND status = 'booked'" % seedmod.sql_str(slot_id)))
                if seen >= target:
                    break
                time.sleep(0.01)
            out["killed_mid_burst"] = lg.poll() is None
            out["booked_when_killed"] = seen
            srv.kill()
            log("    SIGKILL sent with %d booked%s" % (seen, "" if out["killed_mid_burst"] else " (the burst had already ended: not mid-burst!)"))
            lg.wait(timeout=120)
        finally:
            if lg.poll() is None:
                lg.kill()
                lg.wait(10)
    with open(res_path) as f:
        res = json.load(f)
    srv2 = Server(binary, env, log_path)
    out["restart_s"] = round(srv2.start(), 2)
    try:
        ok = {residents[k]["id"] for k, st, _ in res["outcomes"] if st == 303}
        statuses = res["status"].get("book", {})
        booked = booked_users(db, slot_id)
        cap, counter = slot_counter(db, slot_id)
        mails = outbox_for(db, [r["id"] for r in residents])
        mail_users = [m[0] for m in mails.values()]
        # Let the mail worker deliver what was queued. Messages it had claimed
        # just before the kill stay pending until their claim (300 s) runs
        # out: held, not lost.
        t_wait = time.time()
        deadline = t_wait + args.crash_mail_wait
        while time.time() < deadline:
            mails = outbox_for(db, [r["id"] for r in residents])
            now = seedmod.now_utc()
            if all(st == "sent" or nxt > now for _, st, nxt in mails.values()):
                break
            time.sleep(0.5)
        out["mail_wait_s"] = round(time.time() - t_wait, 1)
        now = seedmod.now_utc()
        sent = {oid for oid, (_, st, _) in mails.items() if st == "sent"}
        held = {oid for oid, (_, st, nxt) in mails.items() if st == "pending" and nxt > now}
        eml_ids = set()
        outdir = os.path.join(data_dir, "outbox")
        if os.path.isdir(outdir):
            for name in os.listdir(outdir):
                try:
                    with open(os.path.join(outdir, name), "rb") as f:
                        m = re.search(rb"Message-ID:\s*<([^@>]+)@naju-helper>", f.read(4096), re.I)
                    if m:
                        eml_ids.add(m.group(1).decode())
                except OSError:
                    pass
        out.update({
            "attempts": len(reqs), "answered": sum(statuses.values()), "ok_303": len(ok), "status": statuses,
            "booked_rows": len(booked), "counter": counter, "capacity": cap,
            "booked_without_response": len(set(booked) - ok),
            "missing_after_restart": len(ok - set(booked)),
            "emails": len(mails), "emails_sent": len(sent), "emails_pending": len(mails) - len(sent),
            "emails_held_by_claim": len(held), "emails_due_undelivered": len(mails) - len(sent) - len(held),
            "sent_without_eml_file": len(sent - eml_ids),
        })
        checks = {
            "every 303 booking present after restart": not (ok - set(booked)),
            "counter == seats booked": counter == sum(booked.values()),
            "never more than capacity": counter <= cap,
            "one queued email per booking": len(mails) == len(booked) and sorted(mail_users) == sorted(booked),
            "every sent email has its .eml": not (sent - eml_ids),
            "killed mid-burst": out["killed_mid_burst"],
        }
        out["checks"] = checks
        out["ok"] = all(checks.values())
        log("    after restart (%.1f s): %d answered 303, %d booked rows (%d committed without a response), missing %d; counter %d; "
            "emails %d (after %.0f s: sent %d, held by a pre-kill claim %d, still due %d), sent without .eml %d -> %s" % (
                out["restart_s"], len(ok), len(booked), out["booked_without_response"], out["missing_after_restart"], counter,
                len(mails), out["mail_wait_s"], len(sent), len(held), out["emails_due_undelivered"], out["sent_without_eml_file"],
                "OK" if out["ok"] else "FAILED %s" % [k for k, v in checks.items() if not v]))
    finally:
        srv2.stop()
    return out


# tmpfs directories made for the .eml sink, removed at the end (even with --keep).
SHM_DIRS = []


def run_backend(args, backend, binary, workdir, wrk, baseline):
    log("\n== backend: %s" % backend)
    res = {"backend": backend}
    bdir = os.path.join(workdir, backend)
    data_dir = os.path.join(bdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    if args.eml_dir == "shm" and os.path.isdir("/dev/shm"):
        # The mail worker's .eml sink (the file transport, standing in for an
        # SMTP relay) on tmpfs: on /tmp's ext4 each new file cost ~300 us of
        # inode allocation (find_inode_bit, recently_deleted: earlier runs
        # deleted hundreds of thousands), 31 % of the server's CPU during a
        # SQLite booking burst (BENCHMARKS.md, session 10). The database stays on /tmp.
        eml = tempfile.mkdtemp(prefix="naju-bench-eml-", dir="/dev/shm")
        SHM_DIRS.append(eml)
        os.symlink(eml, os.path.join(data_dir, "outbox"))
    pg_db = None
    if backend == "sqlite":
        db_url = os.path.join(data_dir, "naju-bench.db")
    else:
        pg_db = "naju_bench_%d_%d" % (os.getpid(), int(time.time()))
        admin = seedmod.PgDB(args.pg_url.rstrip("/") + "/postgres")
        admin.execute("CREATE DATABASE %s" % pg_db)
        db_url = args.pg_url.rstrip("/") + "/" + pg_db
    try:
        port = free_port()
        env = server_env(args, db_url, data_dir, port)
        t0 = time.time()
        p = subprocess.run([binary, "demo", "--reset"], env=env, capture_output=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("demo --reset failed: %s" % p.stderr.decode(errors="replace")[-2000:])
        res["migrate_demo_s"] = round(time.time() - t0, 2)
        log("  fresh database migrated and demo-loaded in %.1f s" % res["migrate_demo_s"])
        db = seedmod.open_db(db_url)
        info = seedmod.seed(db, SECRET, args.residents, args.visits, log=log)
        res["seed"] = {k: info[k] for k in ("rows", "total_rows", "seconds", "write_seconds")}
        res["seed"]["rows_per_s"] = round(info["total_rows"] / max(0.001, info["write_seconds"]), 0)
        residents = info["residents"]
        if args.has_results_rebuild:
            # The seed wrote raw rows behind the app's back: the report's maintained counts follow them.
            t0 = time.time()
            p = subprocess.run([binary, "results", "rebuild"], env=env, capture_output=True, timeout=1800)
            if p.returncode != 0:
                raise RuntimeError("results rebuild failed: %s" % p.stderr.decode(errors="replace")[-2000:])
            res["results_rebuild_s"] = round(time.time() - t0, 2)
            log("  results rebuild after the seed: %.1f s (%s)" % (res["results_rebuild_s"], p.stdout.decode(errors="replace").strip().splitlines()[-1]))

        # The class of the first open session: the burst's target.
        session_id, day = seedmod.first_open_session(db)
        due = (dt.date.fromisoformat(day) + dt.timedelta(days=60)).isoformat()
        burst_slot = seedmod.slot_of(db, session_id, "prenatal_yoga")
        open_slot = seedmod.slot_of(db, session_id, "breastfeeding")
        crash_slot = seedmod.slot_of(db, session_id, "childbirth_class")
        nb = args.burst
        db.execute("UPDATE clinic_slots SET capacity = %d WHERE id = %s" % (args.seats, seedmod.sql_str(burst_slot)))
        db.execute("UPDATE clinic_slots SET capacity = %d WHERE id = %s" % (nb, seedmod.sql_str(open_slot)))
        db.execute("UPDATE clinic_slots SET capacity = %d WHERE id = %s" % (args.crash_burst, seedmod.sql_str(crash_slot)))
        res["session_day"] = day

        srv = Server(binary, env, os.path.join(bdir, "server.log"))
        res["startup_s"] = round(srv.start(), 2)
        log("  server up in %.2f s (pid %d, port %d)" % (res["startup_s"], srv.pid, port))
        try:
            # Warm-up: a few of each page so templates and pools are ready.
            for path, tok in (("/my", residents[-1]["token"]), ("/clinic", residents[-1]["token"]), ("/staff/applications", info["staff"][0]["token"])):
                for _ in range(3):
                    http_get(port, path, "naju_sid=" + tok, timeout=120)
            if args.report_only:
                res["report"] = report_phase(port, info)
                st = proc_status(srv.pid)
                res["vm_hwm_kb"], res["vm_rss_kb"] = st.get("VmHWM"), st.get("VmRSS")
                return res
            res["burst"] = burst_phase(db, port, bdir, residents[:nb], session_id, burst_slot, due, args.seats, args.burst_concurrency, "burst",
                                       "burst (%d seats)" % args.seats)
            res["open_burst"] = burst_phase(db, port, bdir, residents[nb:2 * nb], session_id, open_slot, due, nb, args.burst_concurrency, "open-burst",
                                            "open burst (room for all)")
            res["mix"] = mix_phase(args, port, bdir, info, srv)
            if wrk:
                toks = [r["token"] for r in residents[3 * nb:3 * nb + 1000]] or [residents[-1]["token"]]
                with PerfRecord(args.perf, srv.pid, bdir, "wrk-my"):
                    w = run_wrk(wrk, port, "/my", toks, args.concurrency, min(args.duration, args.baseline_duration), bdir, "wrk-my")
                res["wrk_my"] = w
                log("  wrk GET /my: %s rps, p50 %s p99 %s ms, non-2xx %d" % (w["rps"], w.get("p50_ms"), w.get("p99_ms"), w["non_2xx"]))
            res["report"] = report_phase(port, info)
            res["outbox_pending_at_stop"] = int(db.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'"))
            log("  outbox: %d messages still pending when the load ends (the worker sends up to 25 per OUTBOX_POLL_MS)" % res["outbox_pending_at_stop"])
            st = proc_status(srv.pid)
            res["vm_hwm_kb"], res["vm_rss_kb"] = st.get("VmHWM"), st.get("VmRSS")
            log("  server memory: VmHWM %.1f MiB, VmRSS %.1f MiB" % ((st.get("VmHWM") or 0) / 1024, (st.get("VmRSS") or 0) / 1024))
            if wrk:
                # Last, so that its bookings and their emails do not weigh on the figures above.
                pool = residents[len(residents) // 2:][:args.wrk_book]
                try:
                    cpu0 = proc_cpu_s(srv.pid)
                    with PerfRecord(args.perf, srv.pid, bdir, "wrk-book"):
                        res["wrk_book"] = wrk_book_phase(wrk, db, port, bdir, pool, session_id, open_slot, due, args.concurrency,
                                                          min(30, 5 + len(pool) // 250))
                    cpu1 = proc_cpu_s(srv.pid)
                    if cpu0 is not None and cpu1 is not None and res["wrk_book"].get("booked"):
                        # Less moved by a busy machine than the rate: the server's CPU
                        # (all its threads, the mail worker's included) per booking.
                        res["wrk_book"]["server_cpu_us_per_booking"] = round((cpu1 - cpu0) * 1e6 / res["wrk_book"]["booked"])
                        log("  wrk open burst: server CPU %d us per booking" % res["wrk_book"]["server_cpu_us_per_booking"])
                except Exception as e:  # new in session 6 and not yet run end to end: report, keep going
                    log("  wrk open burst failed: %s" % e)
        finally:
            res["stop_s"] = round(srv.stop(), 2)
        res["server_log_errors"] = count_log_errors(os.path.join(bdir, "server.log"))

        if args.has_bench_db:
            try:
                res["raw_db"] = bench_db_phase(binary, env, args.db_tx, args.db_threads)
            except Exception as e:  # report, keep going
                log("  bench-db failed: %s" % e)
                res["raw_db"] = {"error": str(e)}
        else:
            log("  bench-db: SKIPPED (this binary has no `bench-db` command)")

        if args.crash:
            cr = residents[2 * nb:2 * nb + args.crash_burst]
            res["crash"] = crash_phase(args, binary, env, db, bdir, cr, session_id, crash_slot, due, data_dir, os.path.join(bdir, "server-crash.log"))
        db.close()
        ratios = {}
        base = baseline or {}
        if base.get("rps"):
            ratios["mix_rps / baseline_rps"] = round(res["mix"]["rps"] / base["rps"], 3)
            if base["latency"].get("p50_ms"):
                ratios["mix_p50 / baseline_p50"] = round(res["mix"]["latency"]["p50_ms"] / base["latency"]["p50_ms"], 2)
        if base.get("server_cpu_ms_per_req") and res["mix"].get("server_cpu_ms_per_req"):
            ratios["mix_cpu_per_req / baseline_cpu_per_req"] = round(res["mix"]["server_cpu_ms_per_req"] / base["server_cpu_ms_per_req"], 1)
        if base.get("wrk", {}).get("rps") and res.get("wrk_my", {}).get("rps"):
            ratios["wrk_my_rps / wrk_baseline_rps"] = round(res["wrk_my"]["rps"] / base["wrk"]["rps"], 3)
        raw = (res.get("raw_db") or {}).get("tx_per_s")
        if raw:
            ratios["open_burst_booked_per_s / raw_tx_per_s"] = round(res["open_burst"]["booked_per_s"] / raw, 3)
            ratios["burst_attempts_per_s / raw_tx_per_s"] = round(res["burst"]["attempts_per_s"] / raw, 3)
            if (res.get("wrk_book") or {}).get("booked_per_s"):
                ratios["wrk_booked_per_s / raw_tx_per_s"] = round(res["wrk_book"]["booked_per_s"] / raw, 3)
        grouped = (res.get("raw_db") or {}).get("grouped_tx_per_s")
        if grouped and (res.get("wrk_book") or {}).get("booked_per_s"):
            ratios["wrk_booked_per_s / grouped_raw_tx_per_s"] = round(res["wrk_book"]["booked_per_s"] / grouped, 3)
        res["ratios"] = ratios
        return res
    finally:
        if pg_db:
            try:
                seedmod.PgDB(args.pg_url.rstrip("/") + "/postgres").execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % pg_db)
            except Exception as e:
                log("  warning: could not drop database %s: %s" % (pg_db, e))


# -------------------------------------------------------------- summary ---


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%." + str(nd) + "f") % v
    return str(v)


def lat3(s):
    return "%s / %s / %s" % (fmt(s.get("p50_ms")), fmt(s.get("p95_ms")), fmt(s.get("p99_ms"))) if s and s.get("n") else "-"


def print_summary(run):
    log("\n" + "=" * 100)
    m = run["machine"]
    log("naju-helper load benchmark  %s  build: %s  binary: %s" % (run["started_at"], run["build"], run["binary"]))
    log("machine: %s cores, %s, %s; load average before/after: %s / %s" % (m["nproc"], m["cpu"], m["memory"], run.get("loadavg_before"), run.get("loadavg_after")))
    log("command: %s" % run["command"])
    b = run.get("baseline")
    if b:
        log("baseline (bench-baseline, 1 template, c=%d): %s rps, p50/p95/p99 %s ms, errors %d, server CPU %s ms/request, client used %s cores%s" % (
            run["args"]["concurrency"], fmt(b["rps"]), lat3(b["latency"]), b["errors"], fmt(b.get("server_cpu_ms_per_req"), 3),
            fmt(b.get("client_cpu_cores"), 2), ("; wrk %s rps" % fmt(b["wrk"]["rps"])) if b.get("wrk") else ""))
    else:
        log("baseline: skipped (%s)" % run.get("baseline_skipped", "-"))
    backends = run["backends"]
    names = [r["backend"] for r in backends]
    rows = []

    def row(label, f):
        vals = []
        for r in backends:
            try:
                vals.append(f(r))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append("-")
        rows.append((label, vals))

    row("seed: rows (rows/s)", lambda r: "%d (%s/s)" % (r["seed"]["total_rows"], fmt(r["seed"]["rows_per_s"], 0)))
    row("startup s", lambda r: fmt(r["startup_s"], 2))
    row("burst: attempts/s", lambda r: fmt(r["burst"]["attempts_per_s"]))
    row("burst: p50/p95/p99 ms", lambda r: lat3(r["burst"]["latency"]))
    row("burst: errors", lambda r: str(r["burst"]["errors"]))
    row("burst: booked / capacity", lambda r: "%d / %d %s" % (r["burst"]["booked_rows"], r["burst"]["capacity"], "OK" if r["burst"]["ok"] else "FAIL"))
    row("open burst: bookings/s", lambda r: fmt(r["open_burst"]["booked_per_s"]))
    row("open burst: p50/p95/p99 ms", lambda r: lat3(r["open_burst"]["latency"]))
    row("raw db tx/s (bench-db)", lambda r: fmt(r["raw_db"]["tx_per_s"]))
    row("  the same, group commit", lambda r: fmt(r["raw_db"].get("grouped_tx_per_s")))
    row("  bookings/s : raw tx/s", lambda r: fmt(r["ratios"]["open_burst_booked_per_s / raw_tx_per_s"], 3))
    row("  burst attempts/s : raw tx/s", lambda r: fmt(r["ratios"]["burst_attempts_per_s / raw_tx_per_s"], 3))
    row("wrk open burst: bookings/s", lambda r: "%s (%d/%d) %s" % (fmt(r["wrk_book"]["booked_per_s"]), r["wrk_book"]["booked"], r["wrk_book"]["residents"],
                                                                "OK" if r["wrk_book"]["ok"] else "FAIL"))
    row("  wrk bookings/s : raw tx/s", lambda r: fmt(r["ratios"]["wrk_booked_per_s / raw_tx_per_s"], 3))
    row("  server CPU us per booking", lambda r: fmt(r["wrk_book"].get("server_cpu_us_per_booking")))
    row("  the same : grouped raw tx/s", lambda r: fmt(r["ratios"].get("wrk_booked_per_s / grouped_raw_tx_per_s"), 3))
    row("mix: req/s", lambda r: fmt(r["mix"]["rps"]))
    row("  mix req/s : baseline", lambda r: fmt(r["ratios"]["mix_rps / baseline_rps"], 3))
    row("  mix p50 : baseline p50", lambda r: fmt(r["ratios"]["mix_p50 / baseline_p50"], 2))
    row("mix: p50/p95/p99 ms", lambda r: lat3(r["mix"]["latency"]))
    row("mix: server CPU ms/request", lambda r: fmt(r["mix"]["server_cpu_ms_per_req"], 2))
    row("  CPU/request : baseline", lambda r: fmt(r["ratios"]["mix_cpu_per_req / baseline_cpu_per_req"], 1))
    row("  client cores used", lambda r: fmt(r["mix"]["client_cpu_cores"], 2))
    row("mix: errors", lambda r: "%d / %d" % (r["mix"]["errors"], r["mix"]["requests"]))
    for op in ("my", "clinic", "queue", "results", "login_page", "login"):
        row("  %s p50/p95/p99" % op, lambda r, op=op: lat3(r["mix"]["by_op"].get(op)))
    row("wrk GET /my req/s", lambda r: fmt(r["wrk_my"]["rps"]))
    row("  wrk /my : wrk baseline", lambda r: fmt(r["ratios"]["wrk_my_rps / wrk_baseline_rps"], 3))
    row("results report ms (median)", lambda r: "%s (term %s)" % (fmt(r["report"]["year"]["median_ms"]), fmt(r["report"]["term"]["median_ms"])))
    row("server VmHWM MiB", lambda r: fmt(r["vm_hwm_kb"] / 1024.0))
    row("server log errors", lambda r: str(r["server_log_errors"]))
    row("crash: 303 / booked / missing", lambda r: "%d / %d / %d" % (r["crash"]["ok_303"], r["crash"]["booked_rows"], r["crash"]["missing_after_restart"]))
    row("outbox pending at end of load", lambda r: str(r["outbox_pending_at_stop"]))
    row("crash: emails/sent/held/due", lambda r: "%d / %d / %d / %d" % (r["crash"]["emails"], r["crash"]["emails_sent"], r["crash"]["emails_held_by_claim"],
                                                                         r["crash"]["emails_due_undelivered"]))
    row("crash: verdict", lambda r: "OK" if r["crash"]["ok"] else "FAIL " + ",".join(k for k, v in r["crash"]["checks"].items() if not v))
    w0 = max(len(l) for l, _ in rows) + 2
    w = max([22] + [len(v) + 2 for _, vs in rows for v in vs])
    log("%s%s" % ("".ljust(w0), "".join(n.ljust(w) for n in names)))
    for label, vals in rows:
        log("%s%s" % (label.ljust(w0), "".join(v.ljust(w) for v in vals)))
    log("=" * 100)


# ---------------------------------------------------------------- goals ---


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def goals(run):
    """Issue 15's goals, per backend: [label, figure, goal, verdict]; verdict
    "met", "not met", "n/a" (not measured in this run) or "reported" (no goal)."""
    base = run.get("baseline") or {}
    hashes = _get(run, "argon2", "hashes_per_s")
    out = {}
    for r in run["backends"]:
        ratios = r.get("ratios") or {}
        visits = _get(run, "args", "visits") or 0
        report_goal = 100.0 if visits >= 1000000 else 10.0
        logins = _get(r, "mix", "logins_per_s")
        rows = [
            ("wrk GET /my : wrk bare actix+tera page", ratios.get("wrk_my_rps / wrk_baseline_rps"), ">=", 0.25, "%.3f"),
            ("open-burst bookings/s : raw write tx/s (bench-db)", ratios.get("open_burst_booked_per_s / raw_tx_per_s"), ">=", 0.5, "%.3f"),
            ("  the same, bookings fired by wrk (server-side rate)", ratios.get("wrk_booked_per_s / raw_tx_per_s"), ">=", 0.5, "%.3f"),
            ("mix p99 of page views, ms", _get(r, "mix", "page_views", "p99_ms"), "<", 100.0, "%.1f"),
            ("mix p50 : baseline p50", ratios.get("mix_p50 / baseline_p50"), "<", 5.0, "%.1f"),
            ("results report alone, median ms (%d visits)" % visits, _get(r, "report", "year", "median_ms"), "<", report_goal, "%.1f"),
            ("results report p50 under the mix, ms", _get(r, "mix", "by_op", "results", "p50_ms"), "<", 50.0, "%.1f"),
            ("peak memory VmHWM, MiB", (r["vm_hwm_kb"] / 1024.0) if r.get("vm_hwm_kb") else None, "<=", 150.0, "%.0f"),
        ]
        table = []
        for label, v, op, goal, f in rows:
            if v is None:
                verdict = "n/a"
            else:
                verdict = "met" if {"<": v < goal, "<=": v <= goal, ">=": v >= goal}[op] else "not met"
            table.append([label, None if v is None else float(f % v), "%s %s" % (op, goal), verdict])
        ratio = round(logins / hashes, 3) if logins is not None and hashes else None
        figure = None if ratio is None else ratio
        table.append(["logins/s : argon2id hashes/s alone (%s : %s)" % (logins if logins is not None else "-", hashes if hashes else "n/a"), figure, "(reported)",
                      "reported" if figure is not None else "n/a"])
        out[r["backend"]] = table
    return out


def print_goals(run):
    g = run.get("goals") or {}
    if not g:
        return
    log("\nIssue 15's goals (both backends):")
    for backend, table in g.items():
        log("  %s" % backend)
        w = max(len(row[0]) for row in table) + 2
        for label, v, goal, verdict in table:
            log("    %s%-12s %-12s %s" % (label.ljust(w), "n/a" if v is None else fmt(v, 3 if abs(v) < 10 else 1), goal, verdict))


# ----------------------------------------------------------------- main ---


def parse_mix(s):
    out = {}
    for part in s.split(","):
        k, v = part.split("=")
        out[k.strip()] = float(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--residents", type=int, default=10000)
    ap.add_argument("--visits", type=int, default=50000)
    ap.add_argument("--burst", type=int, default=500, help="booking attempts in the burst (and in the open burst)")
    ap.add_argument("--seats", type=int, default=100, help="capacity of the class in the burst")
    ap.add_argument("--burst-concurrency", type=int, default=0, help="simultaneous clients in a burst (default min(burst, 256))")
    ap.add_argument("--duration", type=int, default=20, help="seconds of the page-view/login mix")
    ap.add_argument("--concurrency", type=int, default=64, help="clients in the mix and the baseline")
    ap.add_argument("--client-processes", type=int, default=2, help="load-client processes for the mix")
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("my=60,clinic=15,queue=10,results=5,login=10"))
    ap.add_argument("--baseline-duration", type=int, default=10)
    ap.add_argument("--db-tx", type=int, default=5000, help="transactions for bench-db")
    ap.add_argument("--db-threads", type=int, default=0, help="threads for bench-db (default min(concurrency, 16))")
    ap.add_argument("--crash", dest="crash", action="store_true", default=True)
    ap.add_argument("--no-crash", dest="crash", action="store_false")
    ap.add_argument("--crash-burst", type=int, default=0, help="attempts in the crash run (default 2 x burst)")
    ap.add_argument("--crash-at", type=float, default=0.3, help="kill when this share of the crash burst is booked")
    ap.add_argument("--crash-mail-wait", type=int, default=90, help="at most this many seconds for the mail worker to deliver after the restart")
    ap.add_argument("--workers", type=int, default=0, help="WORKERS for the servers (default: the app's default, one per CPU)")
    ap.add_argument("--wrk", choices=["auto", "yes", "no"], default="auto", help="wrk ceilings: auto = if installed, yes = apt-get install it")
    ap.add_argument("--wrk-book", type=int, default=4000, help="residents who book in the wrk open burst (from the second half of them)")
    ap.add_argument("--perf", action="store_true",
                    help="record the server with perf (linux-perf) during the wrk phases: <workdir>/<backend>/perf-<phase>.data (add --keep)")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server (a database is created and dropped)")
    ap.add_argument("--out", default=os.path.join(HERE, "last-run.json"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory under /tmp")
    ap.add_argument("--eml-dir", choices=["shm", "data"], default="shm",
                    help="where the mail worker's .eml files go: a tmpfs directory under /dev/shm [default], or DATA_DIR/outbox on /tmp as before session 10")
    ap.add_argument("--report-only", action="store_true",
                    help="only seed, rebuild the results and time the report alone (and VmHWM): e.g. --backends postgres --visits 1000000")
    args = ap.parse_args()

    args.burst_concurrency = args.burst_concurrency or min(args.burst, 256)
    args.crash_burst = args.crash_burst or 2 * args.burst
    args.db_threads = args.db_threads or min(args.concurrency, 16)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            ap.error("unknown backend %r" % b)
    need = 2 * args.burst + (args.crash_burst if args.crash else 0)
    if args.report_only:
        args.crash, need = False, 0
    if args.residents < need + 10:
        ap.error("--residents must be at least %d (2 x burst + crash burst + 10)" % (need + 10))
    if args.seats > args.burst:
        log("note: --seats %d > --burst %d: the class will not fill" % (args.seats, args.burst))
    host = args.pg_url.split("@")[-1].split("/")[0].split(":")[0]
    if "postgres" in backends and host not in ("127.0.0.1", "localhost"):
        ap.error("--pg-url must point at 127.0.0.1")

    binary = os.environ.get("NAJU_BIN", os.path.join(ROOT, "target", "release", "naju-helper"))
    if not os.path.isabs(binary):
        binary = os.path.join(os.getcwd(), binary)
    if not os.access(binary, os.X_OK):
        sys.exit("no binary at %s: run `cargo build --release` first, or set NAJU_BIN" % binary)
    helptext = subprocess.run([binary, "help"], capture_output=True, timeout=30).stdout.decode(errors="replace")
    args.has_bench_db = "bench-db" in helptext
    args.has_results_rebuild = "results rebuild" in helptext
    has_baseline = "bench-baseline" in helptext
    build = "release" if "/release/" in binary else ("debug" if "/debug/" in binary or "debug" in os.path.basename(binary) else "unknown")
    if build != "release":
        log("WARNING: %s is not a release build (%s): figures are for a trial only" % (binary, build))

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = tempfile.mkdtemp(prefix="naju-bench-", dir="/tmp")
    wrk = ensure_wrk(args.wrk)
    run = {"started_at": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "machine": machine_info(), "binary": binary, "build": build,
           "command": "NAJU_BIN=%s python3 %s" % (os.environ.get("NAJU_BIN", "target/release/naju-helper"), " ".join(["benches/bench.py"] + sys.argv[1:])),
           "args": {k: v for k, v in vars(args).items()}, "wrk": bool(wrk), "backends": []}
    run["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    if run["loadavg_before"][0] > 0.5:
        log("WARNING: load average %.2f before the run: something else is using the CPU, figures will be low" % run["loadavg_before"][0])
    log("naju-helper benchmark: %s (%s build); work dir %s; wrk %s" % (binary, build, workdir, wrk or "not used"))
    t_start = time.time()
    failed = False
    try:
        if args.report_only:
            run["baseline_skipped"] = "--report-only"
        elif has_baseline:
            run["baseline"] = baseline_phase(args, binary, workdir, wrk)
        else:
            run["baseline_skipped"] = "this binary has no `bench-baseline` command"
            log("\n== baseline: SKIPPED (this binary has no `bench-baseline` command)")
        if not args.has_bench_db:
            log("== bench-db: SKIPPED (this binary has no `bench-db` command)")
        if args.report_only:
            run["argon2"] = {"error": "--report-only"}
        elif "bench-argon2" in helptext:
            run["argon2"] = argon2_phase(args, binary, workdir)
        else:
            run["argon2"] = {"error": "this binary has no `bench-argon2` command"}
            log("== bench-argon2: SKIPPED (this binary has no `bench-argon2` command): logins/s : hashes/s is n/a")
        for b in backends:
            try:
                run["backends"].append(run_backend(args, b, binary, workdir, wrk, run.get("baseline")))
            except Exception as e:
                failed = True
                log("  backend %s FAILED: %s" % (b, e))
                run["backends"].append({"backend": b, "error": str(e)})
    except KeyboardInterrupt:
        failed = True
        log("interrupted")
    finally:
        for s in list(ALIVE):
            s.kill()
        run["total_s"] = round(time.time() - t_start, 1)
        run["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        with open(args.out, "w") as f:
            json.dump(run, f, indent=1)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        for d in SHM_DIRS:
            shutil.rmtree(d, ignore_errors=True)
    run["goals"] = goals(run)
    with open(args.out, "w") as f:
        json.dump(run, f, indent=1)
    print_summary(run)
    print_goals(run)
    log("total %.0f s; results in %s%s" % (run["total_s"], args.out, ("; work dir kept: %s" % workdir) if args.keep else ""))
    verdicts = [r.get(k, {}).get("ok", True) for r in run["backends"] for k in ("burst", "open_burst", "wrk_book", "crash")]
    return 1 if failed or not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
