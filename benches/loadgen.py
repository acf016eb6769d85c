#!/usr/bin/env python3
"""HTTP load client for benches/bench.py, run as its own process.

    python3 benches/loadgen.py JOB.json > RESULT.json

A job is one of:

- {"mode": "burst", "requests": [{"tag", "key", "method", "path", "cookie", "body"}...]}:
  `concurrency` threads each open a keep-alive connection, wait at one
  barrier, then take requests from the shared list until it is empty. Every
  response is recorded with its key (so the caller can check, per resident,
  who was told "booked").
- {"mode": "mix", "duration": S, "ops": {...}}: `concurrency` clients spread
  over `processes` processes send a weighted mix of page views and logins
  for S seconds.

Every loop is bounded in time (duration, per-request timeout) and in count
(max_requests). Targets must be on the loopback interface.
"""

import http.client
import json
import multiprocessing
import random
import re
import sys
import threading
import time
import urllib.parse

CSRF_RE = re.compile(rb'name="csrf_token" value="([0-9a-f]+)"')


def check_target(host):
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise SystemExit("loadgen: refusing non-loopback target %r" % host)


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.served = 0
        self.last_error = None

    def connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            self.served = 0

    def request(self, method, path, cookie=None, body=None):
        """Returns (status, headers, body bytes); status 0 on a transport error.

        A GET that fails on a reused keep-alive connection (the server may
        have closed it while idle) is retried once on a new connection, as
        browsers do; a POST never is."""
        reused = self.conn is not None and self.served > 0
        out = self._request(method, path, cookie, body)
        if out[0] == 0 and reused and method == "GET":
            out = self._request(method, path, cookie, body)
        return out

    def _request(self, method, path, cookie=None, body=None):
        headers = {"Host": "%s:%d" % (self.host, self.port)}
        if cookie:
            headers["Cookie"] = cookie
        if body is not None:
            if isinstance(body, dict):
                body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connect()
            self.conn.request(method, path, body=body, headers=headers)
            res = self.conn.getresponse()
            data = res.read()
            self.served += 1
            if res.getheader("connection", "").lower() == "close":
                self.close()
            return res.status, res.getheaders(), data
        except (OSError, http.client.HTTPException) as e:
            self.close()
            self.last_error = "%s: %s" % (type(e).__name__, e)
            return 0, [], self.last_error.encode()

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


def cookie_from(headers, name="naju_sid"):
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith(name + "="):
            return v.split(";", 1)[0]
    return None


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}  # tag -> [ms]
        self.status = {}  # tag -> {status: n}
        self.outcomes = []  # [key, status, ms]
        self.errors = {}  # transport error message -> count

    def error(self, msg):
        with self.lock:
            self.errors[msg] = self.errors.get(msg, 0) + 1

    def add(self, tag, status, ms, key=None):
        with self.lock:
            self.lat.setdefault(tag, []).append(ms)
            st = self.status.setdefault(tag, {})
            st[str(status)] = st.get(str(status), 0) + 1
            if key is not None:
                self.outcomes.append([key, status, round(ms, 3)])

    def dump(self):
        return {"lat": self.lat, "status": self.status, "outcomes": self.outcomes, "errors": self.errors}


# ---------------------------------------------------------------- burst ---


def run_burst(job):
    reqs = job["requests"]
    n_threads = max(1, min(job.get("concurrency", 64), len(reqs)))
    rec = Recorder()
    idx = [0]
    idx_lock = threading.Lock()
    barrier = threading.Barrier(n_threads + 1)
    timeout = job.get("timeout", 30)

    def worker():
        c = Client(job["host"], job["port"], timeout)
        try:
            c.connect()
        except OSError:
            c.close()
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        while True:
            with idx_lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(reqs):
                break
            r = reqs[i]
            t0 = time.perf_counter()
            status, _, _ = c.request(r["method"], r["path"], r.get("cookie"), r.get("body"))
            rec.add(r.get("tag", "req"), status, (time.perf_counter() - t0) * 1000, r.get("key"))
            if status == 0:
                rec.error(c.last_error)
        c.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    t0 = time.perf_counter()
    deadline = time.time() + job.get("max_seconds", 600)
    for t in threads:
        t.join(max(0.1, deadline - time.time()))
    wall = time.perf_counter() - t0
    out = rec.dump()
    out["wall_s"] = wall
    out["threads"] = n_threads
    return out


# ------------------------------------------------------------------ mix ---


def mix_process(job, proc_index, start_at, result_queue):
    random.seed(proc_index * 7919 + 1)
    ops = job["ops"]
    weights = [(name, w) for name, w in job["weights"].items() if w > 0 and name in ops]
    names = [n for n, _ in weights]
    cum = []
    total = 0
    for _, w in weights:
        total += w
        cum.append(total)
    residents = ops.get("residents", [])
    staff = ops.get("staff", [])
    logins = [a for i, a in enumerate(ops.get("logins", [])) if i % job["processes"] == proc_index]
    login_i = [0]
    login_lock = threading.Lock()
    rec = Recorder()
    n_threads = job["threads_per_process"][proc_index]
    duration = job["duration"]
    timeout = job.get("timeout", 30)
    max_requests = job.get("max_requests", 10_000_000)
    count = [0]
    count_lock = threading.Lock()

    def pick():
        x = random.random() * total
        for n, c in zip(names, cum):
            if x < c:
                return n
        return names[-1]

    def worker():
        c = Client(job["host"], job["port"], timeout)
        while time.time() < start_at:
            time.sleep(0.005)
        end = start_at + duration
        while time.time() < end:
            with count_lock:
                if count[0] >= max_requests:
                    break
                count[0] += 1
            op = pick()
            spec = ops[op]
            if op == "login":
                with login_lock:
                    if not logins:
                        continue
                    acct = logins[login_i[0] % len(logins)]
                    login_i[0] += 1
                anon = Client(job["host"], job["port"], timeout)
                t0 = time.perf_counter()
                status, headers, body = anon.request("GET", "/login")
                rec.add("login_page", status, (time.perf_counter() - t0) * 1000)
                if status == 0:
                    rec.error(anon.last_error)
                m = CSRF_RE.search(body)
                ck = cookie_from(headers)
                if status != 200 or not m or not ck:
                    rec.add("login", "no_form", 0.0)
                    anon.close()
                    continue
                form = {"email": acct["email"], "password": spec["password"], "csrf_token": m.group(1).decode(), "next": ""}
                t0 = time.perf_counter()
                status, _, _ = anon.request("POST", "/login", ck, form)
                rec.add("login", status, (time.perf_counter() - t0) * 1000)
                if status == 0:
                    rec.error(anon.last_error)
                anon.close()
                continue
            group = spec.get("as", "resident")
            cookie = None
            if group != "none":
                cookie = "naju_sid=" + random.choice(staff if group == "staff" else residents)["token"]
            t0 = time.perf_counter()
            status, _, _ = c.request("GET", spec["path"], cookie)
            rec.add(op, status, (time.perf_counter() - t0) * 1000)
            if status == 0:
                rec.error(c.last_error)
        c.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, start_at + duration + timeout + 5 - time.time()))
    result_queue.put(rec.dump())


def run_mix(job):
    conc = max(1, job.get("concurrency", 64))
    procs = max(1, min(job.get("processes", 2), conc))
    job["processes"] = procs
    job["threads_per_process"] = [conc // procs + (1 if i < conc % procs else 0) for i in range(procs)]
    q = multiprocessing.Queue()
    start_at = time.time() + 0.5 + 0.01 * conc
    ps = [multiprocessing.Process(target=mix_process, args=(job, i, start_at, q), daemon=True) for i in range(procs)]
    for p in ps:
        p.start()
    parts = []
    limit = start_at + job["duration"] + job.get("timeout", 30) + 30
    for _ in ps:
        try:
            parts.append(q.get(timeout=max(1, limit - time.time())))
        except Exception:
            break
    wall = time.time() - start_at
    for p in ps:
        p.join(1)
        if p.is_alive():
            p.terminate()
    out = {"lat": {}, "status": {}, "outcomes": [], "errors": {}}
    for part in parts:
        for k, v in part.get("errors", {}).items():
            out["errors"][k] = out["errors"].get(k, 0) + v
        for tag, xs in part["lat"].items():
            out["lat"].setdefault(tag, []).extend(xs)
        for tag, st in part["status"].items():
            d = out["status"].setdefault(tag, {})
            for k, v in st.items():
                d[k] = d.get(k, 0) + v
    out["wall_s"] = min(wall, job["duration"] + job.get("timeout", 30))
    out["duration_s"] = job["duration"]
    out["threads"] = conc
    out["processes"] = procs
    return out


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    check_target(job["host"])
    if job["mode"] == "burst":
        out = run_burst(job)
    elif job["mode"] == "mix":
        out = run_mix(job)
    else:
        raise SystemExit("unknown mode %r" % job["mode"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
