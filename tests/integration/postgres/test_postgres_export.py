#!/usr/bin/env python3
"""The ldexport binary exporting the simulator's audit log into a real Postgres that
this test starts itself (tests/support/pg_cluster.py), under the faults issue 5 names:

  kill9           ldexport is killed with SIGKILL twice mid-export and restarted
  server_restart  Postgres is restarted (crash-like, then clean) mid-export; the sink
                  and `checkpoint: { type: postgres }` retry and reconnect
  two_daemons     two daemons on one database: the second stands by while the first
                  writes, takes over when the first is killed, and exports new entries

Each ends with the audit_log table equal to the simulator's ground truth
(GET /_sim/truth/audit_log): every id once, none missing, none extra.

Usage: test_postgres_export.py CASE --ldexport BIN --simulator BIN --support DIR
Exit 77 (skipped) when no Postgres server binaries are installed.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ENTRIES = 2000        # 100 pages of 20
RATE_LIMIT = 100      # requests per 10 s: ~10 pages/s, so an export takes ~10 s


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def wait_until(pred, what, timeout=90.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))


class Simulator:
    def __init__(self, binary, workdir, *args):
        self.token = "sim-" + secrets.token_hex(12)
        self.out = open(os.path.join(workdir, "simulator.log"), "w+")
        self.proc = subprocess.Popen([binary, "--port", "0", "--token", self.token] + [str(a) for a in args],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        line = wait_until(self._first_line, "the simulator to listen", timeout=30)
        check(line.startswith("listening on 127.0.0.1:"), "simulator did not start: %r" % line)
        self.base_url = "http://" + line.split()[-1].strip()

    def _first_line(self):
        check(self.proc.poll() is None, "the simulator exited")
        with open(self.out.name) as f:
            line = f.readline()
        return line if line.endswith("\n") else None

    def _req(self, method, path):
        req = urllib.request.Request(self.base_url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode() or "null")

    def truth(self):
        return self._req("GET", "/_sim/truth/audit_log")

    def append(self, n):
        return self._req("POST", "/_sim/append?n=%d" % n)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


class Export:
    """Config and processes of one or more ldexport daemons writing to one schema."""

    def __init__(self, ldexport, workdir, sim, pg, db, checkpoint):
        self.ldexport = ldexport
        self.workdir = workdir
        self.sim = sim
        self.pg = pg
        self.db = db
        self.schema = "ld_" + secrets.token_hex(4)
        self.checkpoint = checkpoint
        self.procs = []

    def config(self, name):
        path = os.path.join(self.workdir, name + ".yaml")
        if self.checkpoint == "postgres":
            cp = "{ type: postgres, dsn: \"${PG_DSN}\", schema: %s }" % self.schema
        else:
            cp = "{ type: file, path: %s }" % os.path.join(self.workdir, name + "-state")
        with open(path, "w") as f:
            f.write("""launchdarkly:
  base_url: %s
  token: ${LD_API_TOKEN}
  retry_base: 100ms
  retry_max: 2s
streams:
  audit_log: { interval: 1s, jitter: 0s, start: 2020-01-01T00:00:00Z, lookback: 2m, batch_records: 20 }
sinks:
  - { name: warehouse, type: postgres, dsn: "${PG_DSN}", schema: %s, standby_retry: 500ms }
checkpoint: %s
dead_letter: { path: %s }
log: { level: info, format: text, progress_interval: 2s }
http: { listen: "127.0.0.1:0" }
shutdown_timeout: 20s
""" % (self.sim.base_url, self.schema, cp, os.path.join(self.workdir, name + "-dead-letter")))
        return path

    def env(self):
        e = dict(os.environ)
        e["LD_API_TOKEN"] = self.sim.token
        e["PG_DSN"] = self.pg.dsn(self.db)
        return e

    def start(self, name, mode="run"):
        log = open(os.path.join(self.workdir, "%s-%d.log" % (name, len(self.procs))), "w+")
        p = subprocess.Popen([self.ldexport, mode, "-c", self.config(name)], env=self.env(), stdout=log,
                             stderr=subprocess.STDOUT)
        p.logfile = log
        self.procs.append(p)
        return p

    def once(self, name, timeout=120):
        p = self.start(name, "once")
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failure("ldexport once did not finish in %d s:\n%s" % (timeout, log_of(p)[-3000:]))
        check(rc == 0, "ldexport once exited %d:\n%s" % (rc, log_of(p)[-3000:]))
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def rows(self):
        """(count, distinct ids) of the audit_log table; (0, set()) before it exists."""
        exists = self.pg.psql(self.db, "SELECT to_regclass('%s.audit_log') IS NOT NULL" % self.schema)[0][0] == "t"
        if not exists:
            return 0, set()
        ids = [r[0] for r in self.pg.psql(self.db, "SELECT id FROM %s.audit_log" % self.schema)]
        return len(ids), set(ids)

    def count(self):
        return self.rows()[0]

    def assert_equals_truth(self):
        truth = self.sim.truth()
        count, ids = self.rows()
        check(len(truth) == len(set(truth)), "the simulator's truth has duplicates")
        check(count == len(ids), "%d rows but %d distinct ids: duplicates" % (count, len(ids)))
        missing = set(truth) - ids
        extra = ids - set(truth)
        check(not missing, "%d ground-truth ids missing, e.g. %s" % (len(missing), sorted(missing)[:5]))
        check(not extra, "%d ids unknown to the simulator, e.g. %s" % (len(extra), sorted(extra)[:5]))
        dead = self.pg.psql(self.db, "SELECT count(*) FROM %s.dead_letter" % self.schema)[0][0]
        check(dead == "0", "%s records were dead-lettered" % dead)
        print("audit_log table == ground truth: %d ids, each once" % count)
        self.assert_hash_chain_linked(count)

    def assert_hash_chain_linked(self, count):
        """The audit_log rows carry the archive's hash chain: one unbroken chain from the
        genesis through every row, whatever kills and replays happened."""
        rows = self.pg.psql(self.db, "SELECT prev_hash, hash FROM %s.audit_log" % self.schema)
        check(all(len(h) == 64 and len(p) == 64 for p, h in rows), "a row without its chain links")
        nxt = {}
        for prev, h in rows:
            check(prev not in nxt, "two rows follow the same hash %s: the chain forks" % prev)
            nxt[prev] = h
        link, seen = "0" * 64, 0
        while link in nxt:
            link, seen = nxt[link], seen + 1
        check(seen == count, "the chain from the genesis reaches %d of %d rows" % (seen, count))


def log_of(p):
    p.logfile.flush()
    with open(p.logfile.name, errors="replace") as f:
        return f.read()


def case_kill9(ex):
    for threshold in (300, 900):
        p = ex.start("daemon")
        wait_until(lambda: ex.count() >= threshold or p.poll() is not None, "%d rows" % threshold)
        check(p.poll() is None, "ldexport exited before the kill:\n" + log_of(p)[-3000:])
        p.kill()
        p.wait()
        n = ex.count()
        check(n < ENTRIES, "the export finished before the kill (%d rows); the test proves nothing" % n)
        print("killed ldexport with SIGKILL at %d rows" % n)
    ex.once("daemon")
    ex.assert_equals_truth()


def case_server_restart(ex):
    p = ex.start("daemon", "once")
    for threshold, mode in ((300, "immediate"), (900, "fast")):
        wait_until(lambda: ex.count() >= threshold or p.poll() is not None, "%d rows" % threshold)
        check(p.poll() is None, "ldexport finished before the restart:\n" + log_of(p)[-3000:])
        ex.pg.restart(mode)
        print("restarted Postgres (%s) at about %d rows" % (mode, threshold))
    rc = p.wait(120)
    out = log_of(p)
    check(rc == 0, "ldexport once exited %d after the restarts:\n%s" % (rc, out[-3000:]))
    check("not available" in out or "checkpoint commit failed" in out,
          "ldexport never noticed the restarts; the test proves nothing:\n" + out[-3000:])
    ex.assert_equals_truth()


def case_two_daemons(ex):
    a = ex.start("a")
    wait_until(lambda: ex.count() >= 200 or a.poll() is not None, "200 rows from daemon a")
    check(a.poll() is None, "daemon a exited:\n" + log_of(a)[-3000:])
    b = ex.start("b")
    wait_until(lambda: "standing by" in log_of(b) or b.poll() is not None, "daemon b to stand by")
    check(b.poll() is None, "daemon b exited instead of standing by:\n" + log_of(b)[-3000:])
    locks = ex.pg.psql(ex.db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0]
    check(locks == "1", "%s writer locks granted with two daemons running" % locks)
    wait_until(lambda: ex.count() >= 700 or a.poll() is not None, "700 rows from daemon a")
    check("writer lock acquired" not in log_of(b), "daemon b took the lock while daemon a was alive")
    n = ex.count()
    check(n < ENTRIES, "daemon a finished the backfill before it was killed (%d rows)" % n)
    a.kill()
    a.wait()
    print("killed daemon a with SIGKILL at %d rows" % n)
    wait_until(lambda: "writer lock acquired" in log_of(b) or b.poll() is not None, "daemon b to take over")
    check(b.poll() is None, "daemon b exited:\n" + log_of(b)[-3000:])
    ex.sim.append(40)  # new entries after the takeover
    expected = len(ex.sim.truth())
    wait_until(lambda: ex.count() >= expected, "daemon b to export all %d entries" % expected, timeout=120)
    b.send_signal(signal.SIGTERM)
    b.wait(30)
    ex.assert_equals_truth()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["kill9", "server_restart", "two_daemons"])
    ap.add_argument("--ldexport", required=True)
    ap.add_argument("--simulator", required=True)
    ap.add_argument("--support", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.support)
    import pg_cluster  # noqa: E402

    workdir = tempfile.mkdtemp(prefix="ldx-pg-e2e-")
    os.chmod(workdir, 0o755)
    sim = ex = pg = None
    try:
        try:
            pg = pg_cluster.PgCluster()
        except pg_cluster.PgNotInstalled as e:
            print("SKIP: %s" % e)
            return 77
        db = pg.create_database()
        sim = Simulator(args.simulator, workdir, "--seed", 5, "--audit-entries", ENTRIES, "--rate-limit", RATE_LIMIT)
        checkpoint = "file" if args.case == "kill9" else "postgres"
        ex = Export(args.ldexport, workdir, sim, pg, db, checkpoint)
        {"kill9": case_kill9, "server_restart": case_server_restart, "two_daemons": case_two_daemons}[args.case](ex)
        print("PASS %s" % args.case)
        return 0
    except Failure as e:
        print("FAIL %s: %s" % (args.case, e))
        for p in (ex.procs if ex else []):
            print("---- %s\n%s" % (p.logfile.name, log_of(p)[-2000:]))
        return 1
    finally:
        if ex:
            ex.kill_all()
        if sim:
            sim.stop()
        if pg:
            pg.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
