#!/usr/bin/env python3
"""Chaos suite (issue 8): ldexport exports the simulator's audit log and several entity
streams into the file archive, Kafka (kafka-mock) and Postgres (a throw-away cluster) at
once, while this driver, for a bounded time, follows a schedule drawn from --seed:

  kill -9 of `ldexport run` at random moments, then a restart   (--kills, at least)
  Kafka brokers down and up (all of them, or one)
  Postgres stopped (fast or immediate) and started again
  API fault storms (5xx, slow answers, dropped connections, truncated bodies)
  429 bursts (the simulator's rate limit cut to a few requests per window)
  audit-log appends (now, late, and groups larger than a page that share a millisecond)

while the simulator mutates flags, segments, contexts, members, teams and metrics. Then
it stops the chaos (mutations off, faults off, every service up), stops the daemon with
SIGTERM, runs `ldexport once` twice so every stream catches up on the quiet data, and
compares every sink with the simulator's ground truth (GET /_sim/truth/<stream>):

  archive   audit_log: every truth id exactly once; entity streams: the last record per
            id is the truth (version, or a delete), no state archived twice in a row;
            `ldexport verify -c` passes (hash chain); no dead letter
  Postgres  audit_log rows = truth ids, each once; entity tables: current row per id is
            the truth (deleted_at for deletes), no extra id, no history revision that
            repeats the one before it; no dead letter
  Kafka     every topic read to its end: every truth id present, the last message per id
            is the truth (at least once); with --exactly-once also: the committed
            transactions (read back from the checkpoint topic, since the mock shows
            aborted transactions to read_committed readers) hold every audit id exactly
            once and no (id, content) of any stream twice

The schedule is a function of the seed, so a failure is replayed with the same seed (the
daemon's own timing still varies). Exit 0 pass, 1 fail, 77 skipped (a tool is missing).

  python3 tests/chaos/chaos.py --seed 7 --duration 120 --kills 22 \\
      --ldexport build/chaos/bin/ldexport --simulator build/chaos/bin/ld-simulator \\
      --kafka-mock build/chaos/bin/kafka-mock [--exactly-once] [--checkpoint postgres]
"""
import argparse
import collections
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Simulator, TestFailure, Workspace, check  # noqa: E402
from test_entities import check_stream  # noqa: E402
import pg_cluster  # noqa: E402

SKIP = 77
ENTITY_STREAMS = ["flags", "segments", "contexts", "members", "teams", "metrics"]
STREAMS = ["audit_log"] + ENTITY_STREAMS
TOPIC = "chaos.{stream}"
CHECKPOINT_TOPIC = "chaos.checkpoints"
PG_SCHEMA = "chaos"
BASE_RATE_LIMIT = 1000  # per 10 s: rate-limit headers on every answer, 429s only in bursts


def log(msg):
    print("[%7.1f] %s" % (time.time() - T0, msg), flush=True)


T0 = time.time()


# --------------------------------------------------------------------------- kafka-mock

class KafkaMock:
    """The kafka-mock tool: first stdout line "bootstrap ...", control lines on stdin."""

    def __init__(self, binary, workdir, topics):
        self.err = open(os.path.join(workdir, "kafka-mock.log"), "w")
        argv = [binary, "--brokers", "3"]
        for t in topics:
            argv += ["--topic", t]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     bufsize=0)
        self._buf = b""
        line = self._line(30)
        check(line.startswith("bootstrap 127.0.0.1:"), "kafka-mock did not start: %r" % line)
        self.bootstrap = line.split()[1]

    def _line(self, timeout):
        deadline = time.time() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.time()
            check(left > 0, "kafka-mock did not answer within %d s" % timeout)
            check(self.proc.poll() is None, "kafka-mock exited (%s)" % self.proc.returncode)
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                check(chunk, "kafka-mock closed its stdout")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def control(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        answer = self._line(20)
        check(answer == "ok", "kafka-mock: %r answered %r" % (line, answer))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# --------------------------------------------------------------------------- schedule

def make_schedule(rng, duration, kills):
    """[(t, action, arg)] sorted by t: every event of the run, drawn from the seed alone."""
    ev = []
    slot = duration / kills
    for i in range(kills):
        ev.append((i * slot + rng.uniform(0.15, 0.95) * slot, "kill", None))

    def windows(n, dmin, dmax, start, stop):
        """n non-overlapping (begin, length) windows in [start, stop)."""
        out, width = [], (stop - start) / n
        for i in range(n):
            length = rng.uniform(dmin, min(dmax, width * 0.8))
            out.append((start + i * width + rng.uniform(0, width - length), length))
        return out

    span = duration - 2
    for begin, length in windows(max(2, int(duration // 40)), 2, 8, 2, span):
        target = rng.choice(["all", "all", "1", "2", "3"])
        ev.append((begin, "kafka_down", target))
        ev.append((begin + length, "kafka_up", target))
    for begin, length in windows(max(2, int(duration // 45)), 2, 7, 3, span):
        ev.append((begin, "pg_down", rng.choice(["fast", "immediate"])))
        ev.append((begin + length, "pg_up", None))
    for begin, length in windows(max(2, int(duration // 30)), 3, 10, 1, span):
        ev.append((begin, "faults", round(rng.uniform(0.15, 0.6), 2)))
        ev.append((begin + length, "faults", 0))
    for begin, length in windows(max(2, int(duration // 40)), 2, 9, 1, span):
        ev.append((begin, "rate_limit", rng.randint(1, 6)))
        ev.append((begin + length, "rate_limit", BASE_RATE_LIMIT))
    t = 0.0
    while t < span:  # audit-log entries besides the mutations' own
        t += rng.uniform(0.3, 2.5)
        r = rng.random()
        if r < 0.08:
            ev.append((t, "append", (rng.randint(21, 45), 0)))  # a millisecond larger than a page
        elif r < 0.2:
            ev.append((t, "append", (rng.randint(1, 3), rng.randint(1000, 20000))))  # late: dated in the past
        else:
            ev.append((t, "append", (rng.randint(1, 3), 0)))
    ev.sort(key=lambda e: e[0])
    return ev


# --------------------------------------------------------------------------- config

def write_config(ws, sim, kafka, pg, db, exactly_once, checkpoint):
    streams = [
        "  audit_log: { interval: 1s, jitter: 0s, start: 2020-01-01T00:00:00Z, lookback: 45s }",
        "  flags: { interval: 2s, jitter: 0s }",
        "  segments: { interval: 2s, jitter: 0s, full_every: 15s }",
        "  contexts: { interval: 2s, jitter: 0s }",
        "  members: { interval: 3s, jitter: 0s }",
        "  teams: { interval: 3s, jitter: 0s }",
        "  metrics: { interval: 3s, jitter: 0s }",
    ]
    kafka_sink = ("  - name: events\n    type: kafka\n    brokers: %s\n    topic: %s\n    timeout: 10s\n"
                  % (kafka.bootstrap, TOPIC))
    if exactly_once:
        kafka_sink += "    exactly_once: true\n    checkpoint_topic: %s\n" % CHECKPOINT_TOPIC
    dsn = pg.dsn(db)
    if checkpoint == "postgres":
        cp = 'checkpoint: { type: postgres, dsn: "%s", schema: %s }' % (dsn, PG_SCHEMA)
    else:
        cp = "checkpoint: { type: file, path: %s }" % ws.state
    with open(ws.config, "w") as f:
        f.write("""launchdarkly:
  base_url: %s
  token: ${LD_API_TOKEN}
  connect_timeout: 2s
  request_timeout: 10s
  retry_base: 100ms
  retry_max: 2s
  max_retries: 12
streams:
%s
sinks:
  - { name: archive, type: file, path: %s, rotate_bytes: 256KiB }
%s  - { name: warehouse, type: postgres, dsn: "%s", schema: %s, standby_retry: 500ms }
%s
dead_letter: { path: %s }
log: { level: info, format: json, progress_interval: 10s }
http: { enabled: false }
shutdown_timeout: 20s
""" % (sim.base_url, "\n".join(streams), ws.archive, kafka_sink, dsn, PG_SCHEMA, cp, ws.dead))


# --------------------------------------------------------------------------- checks

def check_archive(ws, sim, truths, archived):
    """archived: filled with {stream: ids in the archive}, i.e. ids some committed batch held."""
    out = {}
    audit = ws.assert_exactly_once(truths["audit_log"])
    out["audit_log"] = len(audit)
    for s in ENTITY_STREAMS:
        last, records = check_stream(ws, sim, s)
        archived[s] = set(last)
        out[s] = len(records)
    dead = [os.path.join(r, f) for r, _, files in os.walk(ws.dead) for f in files] if os.path.isdir(ws.dead) else []
    lines = sum(1 for p in dead for _ in open(p))
    check(lines == 0, "%d dead letters in %s" % (lines, ws.dead))
    p = subprocess.run([ws.ldexport, "verify", "-c", ws.config], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "ldexport verify -c exited %d:\n%s%s" % (p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return out


def check_postgres(pg, db, truths):
    q = lambda sql: pg.psql(db, sql)  # noqa: E731
    out = {}
    ids = [r[0] for r in q("SELECT id FROM %s.audit_log" % PG_SCHEMA)]
    truth = set(truths["audit_log"])
    check(len(ids) == len(set(ids)), "postgres audit_log: %d rows, %d distinct ids" % (len(ids), len(set(ids))))
    missing, extra = truth - set(ids), set(ids) - truth
    check(not missing, "postgres audit_log: %d truth ids missing, e.g. %s" % (len(missing), sorted(missing)[:5]))
    check(not extra, "postgres audit_log: %d unknown ids, e.g. %s" % (len(extra), sorted(extra)[:5]))
    out["audit_log"] = len(ids)
    for s in ENTITY_STREAMS:
        live = {x["id"]: x["version"] for x in truths[s]["live"]}
        deleted = set(truths[s]["deleted"])
        rows = {}
        for ident, op, version, gone in q("SELECT id, op, coalesce(version::text, ''), deleted_at IS NOT NULL "
                                          "FROM %s.%s" % (PG_SCHEMA, s)):
            check(ident not in rows, "postgres %s: id %s twice" % (s, ident))
            rows[ident] = (op, version, gone == "t")
        for ident, version in live.items():
            check(ident in rows, "postgres %s: live %s missing" % (s, ident))
            op, v, gone = rows[ident]
            check(op == "upsert" and not gone, "postgres %s: live %s is %s (deleted_at set: %s)" % (s, ident, op, gone))
            if version is not None:
                check(v == str(version), "postgres %s: %s at version %s, LaunchDarkly has %s" % (s, ident, v, version))
        for ident in deleted & set(rows):
            check(rows[ident][2] and rows[ident][0] == "delete", "postgres %s: deleted %s is not marked deleted" %
                  (s, ident))
        extra = set(rows) - set(live) - deleted
        check(not extra, "postgres %s: %d unknown ids, e.g. %s" % (s, len(extra), sorted(extra)[:3]))
        # A replayed record must not become a second revision equal to the one before it.
        repeats = q("SELECT id, revision FROM (SELECT id, revision, op, version, occurred_at, data, "
                    "lag(op) OVER w AS pop, lag(version) OVER w AS pv, lag(occurred_at) OVER w AS po, "
                    "lag(data) OVER w AS pd, lag(revision) OVER w AS prev FROM %s.%s_history "
                    "WINDOW w AS (PARTITION BY id ORDER BY revision)) h WHERE prev IS NOT NULL AND op = pop AND "
                    "version IS NOT DISTINCT FROM pv AND occurred_at IS NOT DISTINCT FROM po AND "
                    "data IS NOT DISTINCT FROM pd LIMIT 5" % (PG_SCHEMA, s))
        check(not repeats, "postgres %s_history: revisions repeat the one before them: %s" % (s, repeats))
        # History answers "what did it look like at time X": per id, revisions 1..k without
        # a gap, each valid until the next one starts, only the last one open, and the last
        # one is the row of the current-state table (a deleted row keeps its last data there,
        # with deleted_at; its history ends with the delete).
        broken = q("SELECT id, revision FROM (SELECT id, revision, valid_to, lead(revision) OVER w AS nrev, "
                   "lead(valid_from) OVER w AS nfrom, row_number() OVER w AS rn FROM %s.%s_history "
                   "WINDOW w AS (PARTITION BY id ORDER BY revision)) h WHERE revision <> rn OR "
                   "(nrev IS NOT NULL AND valid_to IS DISTINCT FROM nfrom) OR (nrev IS NULL AND valid_to IS NOT NULL) "
                   "LIMIT 5" % (PG_SCHEMA, s))
        check(not broken, "postgres %s_history: revisions with a gap, an overlap or a wrong end: %s" % (s, broken))
        stale = q("SELECT t.id, t.revision, t.op, t.version, h.revision, h.op, h.version, h.valid_to IS NULL, "
                  "h.data IS NOT DISTINCT FROM t.data, (SELECT max(revision) FROM %s.%s_history x WHERE x.id = t.id) "
                  "FROM %s.%s t LEFT JOIN %s.%s_history h ON h.id = t.id AND h.revision = t.revision "
                  "WHERE h.id IS NULL OR h.op <> t.op OR h.valid_to IS NOT NULL OR (t.op = 'upsert' AND "
                  "(h.version IS DISTINCT FROM t.version OR h.data IS DISTINCT FROM t.data)) LIMIT 5"
                  % (PG_SCHEMA, s, PG_SCHEMA, s, PG_SCHEMA, s))
        check(not stale, "postgres %s: current rows that are not their history's latest revision: %s" % (s, stale))
        out[s] = int(q("SELECT count(*) FROM %s.%s_history" % (PG_SCHEMA, s))[0][0])
    dead = q("SELECT count(*) FROM %s.dead_letter" % PG_SCHEMA)[0][0]
    check(dead == "0", "postgres: %s dead letters" % dead)
    return out


def consume(bootstrap, topic):
    """[(partition, offset, key, value)] of a whole topic, read_committed."""
    p = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%p\t%o\t%k\t%s\n"],
                       capture_output=True, timeout=300)
    check(p.returncode == 0, "kcat %s exited %d: %s" % (topic, p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    msgs, first = [], {}
    for line in p.stdout.decode(errors="replace").split("\n"):
        if not line:
            continue
        part, off, key, value = line.split("\t", 3)
        first.setdefault(int(part), int(off))
        msgs.append((int(part), int(off), key, value))
    dropped = {pt: o for pt, o in first.items() if o != 0}
    check(not dropped, "%s: the mock dropped old records (it keeps ~5 MB per partition), first offsets %s; use "
                       "fewer data or a shorter run" % (topic, dropped))
    return msgs


def mock_artifacts(bootstrap, workdir):
    """{stream: ids} the exactly-once sink may have skipped because of the mock, not itself.

    On start the sink reads the checkpoint topic back read_committed; a checkpoint record
    newer than the pipeline's checkpoint means "Kafka committed transaction N", and the
    records listed there are skipped when the source replays them. A real broker hides the
    record of a transaction that never committed (the new producer's init_transactions
    aborts it first); the librdkafka 2.0.2 mock does not. So a daemon killed after its
    checkpoint record reached one broker but before every data record reached another
    (a broker was down) leaves a record the next daemon believes. Only ids listed in such
    a transaction, one a daemon log names as taken over this way, are excused, and only
    when they are absent from the data topic (proof that the transaction never committed)."""
    assumed = set()
    pat = re.compile(r"stream (\w+): Kafka committed transaction (\d+) after the pipeline's last checkpoint")
    for name in os.listdir(workdir):
        if name.startswith("run-") and name.endswith(".log"):
            with open(os.path.join(workdir, name), errors="replace") as f:
                assumed.update((m.group(1), int(m.group(2))) for m in pat.finditer(f.read()))
    out = collections.defaultdict(set)
    for part, off, key, value in consume(bootstrap, CHECKPOINT_TOPIC):
        rec = json.loads(value)
        if (rec["stream"], rec["txn"]) in assumed:
            out[rec["stream"]].update(i for i, _ in rec["written"])
    return out


def check_kafka(bootstrap, truths, exactly_once, workdir, archived):
    out = {}
    excusable = mock_artifacts(bootstrap, workdir) if exactly_once else {}
    excused = collections.Counter()
    phantoms = collections.Counter()
    for s in STREAMS:
        msgs = consume(bootstrap, TOPIC.replace("{stream}", s))
        last, seen = {}, collections.Counter()
        for part, off, key, value in sorted(msgs):
            env = json.loads(value)
            check(env["id"] == key and env["stream"] == s, "kafka %s: key %s carries %s/%s" % (s, key, env["stream"],
                                                                                          env["id"]))
            last[key] = env
            seen[(key, env["op"], env["version"], json.dumps(env["data"], sort_keys=True))] += 1
        ok_missing = excusable.get(s, set())
        if s == "audit_log":
            truth = set(truths[s])
            missing, extra = truth - set(last), set(last) - truth
            excused[s] += len(missing & ok_missing)
            missing -= ok_missing
            check(not missing, "kafka audit_log: %d truth ids missing, e.g. %s" % (len(missing), sorted(missing)[:5]))
            check(not extra, "kafka audit_log: %d unknown ids, e.g. %s" % (len(extra), sorted(extra)[:5]))
        else:
            live = {x["id"]: x["version"] for x in truths[s]["live"]}
            deleted = set(truths[s]["deleted"])
            for ident, version in live.items():
                if ident in ok_missing and (ident not in last or last[ident]["op"] != "upsert" or
                                            (version is not None and last[ident]["version"] != version)):
                    excused[s] += 1
                    continue
                check(ident in last, "kafka %s: live %s missing" % (s, ident))
                check(last[ident]["op"] == "upsert", "kafka %s: live %s ends with a %s" % (s, ident, last[ident]["op"]))
                if version is not None:
                    check(last[ident]["version"] == version, "kafka %s: %s last at version %s, LaunchDarkly has %s" %
                          (s, ident, last[ident]["version"], version))
            for ident in deleted & set(last):
                if exactly_once and last[ident]["op"] != "delete" and ident not in archived[s]:
                    # Written by a transaction that was aborted (the daemon was killed), then
                    # deleted before any committed pass saw it. read_committed readers never
                    # see it on a real broker; the 2.0.2 mock shows aborted transactions. (At
                    # least once, the ids were committed as unconfirmed before the batch was
                    # produced, and the next pass deleted them: no allowance.)
                    phantoms[s] += 1
                    continue
                check(last[ident]["op"] == "delete", "kafka %s: deleted %s ends with an upsert" % (s, ident))
            extra = set(last) - set(live) - deleted
            check(not extra, "kafka %s: %d unknown ids, e.g. %s" % (s, len(extra), sorted(extra)[:3]))
        out[s] = (len(msgs), sum(c - 1 for c in seen.values()))  # messages, redelivered copies
    out["uncommitted_upserts_of_deleted"] = dict(phantoms)
    if exactly_once:
        out["committed"] = check_kafka_committed(bootstrap, truths)
        out["mock_artifacts"] = dict(excused)
    return out


def check_kafka_committed(bootstrap, truths):
    """Exactly once for read_committed readers, from the committed transactions' checkpoint
    records (the mock also shows aborted transactions' messages to read_committed readers).
    Attempts of one transaction number are sequential and N+1 starts only after N committed,
    so the last record of each number (in its partition) is the committed one."""
    by_stream = collections.defaultdict(dict)
    for part, off, key, value in sorted(consume(bootstrap, CHECKPOINT_TOPIC)):
        rec = json.loads(value)
        check(rec.get("v") == 1 and rec["stream"] == key, "checkpoint record: %s" % value[:300])
        by_stream[key][rec["txn"]] = rec
    summary = {}
    for s in STREAMS:
        txns = by_stream.get(s, {})
        check(sorted(txns) == list(range(1, len(txns) + 1)), "kafka %s: committed transaction numbers are not 1..%d: "
                                                             "%s" % (s, len(txns), sorted(txns)[:20]))
        seen = collections.Counter()
        for n, rec in txns.items():
            check(rec["written"] or not rec["records"], "kafka %s: transaction %d lists nothing it wrote" % (s, n))
            for ident, digest in rec["written"]:
                seen[(ident, digest)] += 1
        twice = [k for k, c in seen.items() if c > 1]
        check(not twice, "kafka %s: %d records committed twice, e.g. %s" % (s, len(twice), twice[:5]))
        ids = collections.Counter(i for i, _ in seen)
        if s == "audit_log":
            truth = set(truths[s])
            missing = truth - set(ids)
            check(not missing, "kafka audit_log: %d truth ids in no committed transaction, e.g. %s" %
                  (len(missing), sorted(missing)[:5]))
            check(set(ids) == truth, "kafka audit_log: committed ids unknown to the simulator")
            check(max(ids.values() or [1]) == 1, "kafka audit_log: an id committed twice")
        else:
            missing = {x["id"] for x in truths[s]["live"]} - set(ids)
            check(not missing, "kafka %s: live ids in no committed transaction, e.g. %s" % (s, sorted(missing)[:5]))
        summary[s] = (len(txns), len(seen))
    return summary


# --------------------------------------------------------------------------- the run

class Chaos:
    def __init__(self, args, rng):
        self.a = args
        self.rng = rng
        self.counts = collections.Counter()
        self.unexpected = []  # (rc, log tail) of daemons that exited without being told to
        self.proc = None
        self.kafka_down = set()
        self.pg_down = False

    def start_daemon(self):
        self.proc = self.ws.start_run(self.sim)
        self.counts["starts"] += 1

    def reap(self, p):
        """Collects a finished daemon's log (bounded memory: the tail only)."""
        self.ws.finish_run(p, sig=signal.SIGKILL, timeout=30)
        self.ws.outputs[-1] = self.ws.outputs[-1][-20000:]

    def supervise(self):
        """Restarts a daemon that exited (as a restart policy would). `ldexport run` never
        exits on its own, not even when a sink is unreachable at start (it waits for it),
        so any exit is a failure, reported at the end."""
        p = self.proc
        rc = p.poll()
        if rc is None:
            return
        p.log.flush()
        with open(p.log.name, errors="replace") as f:
            tail = f.read()[-3000:]
        self.unexpected.append((rc, p.log.name, tail))
        log("ldexport exited on its own with %s (%s)" % (rc, p.log.name))
        self.reap(p)
        time.sleep(1)
        self.start_daemon()

    def kill(self):
        self.supervise()
        self.proc.send_signal(signal.SIGKILL)
        self.counts["kill -9"] += 1
        self.proc.wait(30)
        self.reap(self.proc)
        self.start_daemon()

    def apply(self, action, arg):
        sim = self.sim
        if action == "kill":
            self.kill()
        elif action == "kafka_down":
            self.kafka.control("down %s" % arg)
            self.kafka_down.add(arg)
            self.counts["kafka down"] += 1
        elif action == "kafka_up":
            self.kafka.control("up %s" % arg)
            self.kafka_down.discard(arg)
        elif action == "pg_down":
            self.pg.stop(arg)
            self.pg_down = True
            self.counts["postgres down"] += 1
        elif action == "pg_up":
            self.pg.start()
            self.pg_down = False
        elif action == "faults":
            sim.set_faults(arg)
            if arg:
                self.counts["fault storms"] += 1
        elif action == "rate_limit":
            sim._req("POST", "/_sim/rate-limit?limit=%d" % arg)
            if arg != BASE_RATE_LIMIT:
                self.counts["429 bursts"] += 1
        elif action == "append":
            n, ago = arg
            path = "/_sim/append?n=%d" % n
            if ago:
                path += "&date=%d" % (int(time.time() * 1000) - ago)
            sim._req("POST", path)
            self.counts["appended"] += n
        else:
            raise ValueError(action)

    def run(self):
        a = self.a
        self.ws = Workspace(a.ldexport, "chaos")
        self.pg = pg_cluster.PgCluster()
        self.db = self.pg.create_database("ldx_chaos")
        sim_seed = self.rng.randint(1, 1 << 30)
        self.sim = Simulator(a.simulator, "--seed", sim_seed, "--audit-entries", 300, "--projects", 2,
                             "--environments", 2, "--flags", 20, "--segments", 6, "--contexts", 30, "--members", 8,
                             "--teams", 3, "--metrics", 4, "--experiments", 0, "--rate-limit", BASE_RATE_LIMIT,
                             "--fault-delay-max", "800ms").start()
        topics = ["%s:4" % TOPIC.replace("{stream}", s) for s in STREAMS] + ["%s:8" % CHECKPOINT_TOPIC]
        self.kafka = KafkaMock(a.kafka_mock, self.ws.dir, topics)
        write_config(self.ws, self.sim, self.kafka, self.pg, self.db, a.exactly_once, a.checkpoint)
        log("workdir %s; simulator %s (seed %d); kafka %s; postgres port %d" %
            (self.ws.dir, self.sim.base_url, sim_seed, self.kafka.bootstrap, self.pg.port))

        schedule = make_schedule(self.rng, a.duration, a.kills)
        self.sim._req("POST", "/_sim/mutate-every?every=%dms" % a.mutate_every_ms)
        self.start_daemon()
        t0 = time.time()
        for at, action, arg in schedule:
            while time.time() < t0 + at:
                self.supervise()
                time.sleep(min(0.2, max(0.0, t0 + at - time.time())))
            if action not in ("append",):
                log("%s %s" % (action, "" if arg is None else arg))
            self.apply(action, arg)
        log("chaos over after %.0f s; quieting down" % (time.time() - t0))

        # Quiet: everything up, no faults, no mutations; then the daemon stops on SIGTERM.
        self.sim._req("POST", "/_sim/mutate-every?every=off")
        self.sim.set_faults(0)
        self.sim._req("POST", "/_sim/rate-limit?limit=%d" % BASE_RATE_LIMIT)
        self.kafka.control("up all")
        if self.pg_down:
            self.pg.start()
            self.pg_down = False
        self.kafka_down.clear()
        for _ in range(15):
            self.supervise()
            time.sleep(0.2)
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        self.reap(self.proc)
        check(rc == 0, "ldexport run exited %s on SIGTERM (log %s)" % (rc, self.proc.log.name))
        # The first pass finishes what the last kill interrupted; the second is a complete
        # pass over the quiet data.
        for _ in range(2):
            p = self.ws.once(self.sim, timeout=600)
            self.ws.outputs[-1] = self.ws.outputs[-1][-20000:]
        # The summary lines (the JSON log lines share stdout with them).
        log("caught up:\n" + "\n".join(l for l in p.stdout.splitlines() if l.strip() and not l.startswith("{")))

        check(not self.unexpected, "%d daemon(s) exited without being killed: %s" %
              (len(self.unexpected), "\n".join("rc %s, %s:\n%s" % u for u in self.unexpected[:2])))
        truths = {s: self.sim.truth(s) for s in STREAMS}
        stats = self.sim.stats()
        archived = {}
        results = {"archive": check_archive(self.ws, self.sim, truths, archived),
                   "postgres": check_postgres(self.pg, self.db, truths),
                   "kafka": check_kafka(self.kafka.bootstrap, truths, a.exactly_once, self.ws.dir, archived)}
        self.ws.assert_token_nowhere(self.sim.token)
        # The chaos must have reached the daemon, or the run proves little.
        check(self.counts["kill -9"] >= a.kills, "only %d kills landed" % self.counts["kill -9"])
        check(stats["faults"]["total"] > 0, "no fault was served")
        check(stats["rate_limited_total"] > 0, "no 429 was served")
        return truths, stats, results

    def cleanup(self):
        for name, fn in (("daemon", lambda: self.proc and self.proc.poll() is None and
                          (self.proc.kill(), self.proc.wait())),
                         ("kafka-mock", lambda: self.kafka.stop()), ("simulator", lambda: self.sim.stop()),
                         ("postgres", lambda: self.pg.close())):
            try:
                fn()
            except AttributeError:
                pass  # never started
            except Exception as e:  # clean up the rest regardless
                print("cleanup of %s: %s" % (name, e), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="schedule seed (0: a random one, printed)")
    ap.add_argument("--duration", type=float, default=120, help="seconds of chaos")
    ap.add_argument("--kills", type=int, default=22, help="kill -9 of the daemon, spread over the duration")
    ap.add_argument("--exactly-once", action="store_true", help="Kafka sink with exactly_once: true")
    ap.add_argument("--checkpoint", choices=["file", "postgres"], default="file")
    ap.add_argument("--mutate-every-ms", type=int, default=250)
    ap.add_argument("--ldexport", required=True)
    ap.add_argument("--simulator", required=True)
    ap.add_argument("--kafka-mock", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, archive) on success too")
    a = ap.parse_args()
    a.seed = a.seed or random.SystemRandom().randrange(1, 1 << 31)
    replay = [sys.executable, os.path.abspath(__file__), "--seed", str(a.seed), "--duration", "%g" % a.duration,
              "--kills", str(a.kills), "--checkpoint", a.checkpoint, "--mutate-every-ms", str(a.mutate_every_ms),
              "--ldexport", a.ldexport, "--simulator", a.simulator, "--kafka-mock", a.kafka_mock] + \
        (["--exactly-once"] if a.exactly_once else [])
    mode = "exactly-once" if a.exactly_once else "at-least-once"
    print("chaos seed %d (%s, %g s, %d kills, %s checkpoints)" % (a.seed, mode, a.duration, a.kills, a.checkpoint),
          flush=True)

    for b in (a.ldexport, a.simulator, a.kafka_mock):
        if not os.access(b, os.X_OK):
            print("SKIP: %s is not an executable" % b)
            return SKIP
    if shutil.which("kcat") is None:
        print("SKIP: kcat is not installed (apt-get install kcat)")
        return SKIP

    # ctest's timeout and ^C end the run through the cleanup below (SystemExit passes
    # `except Exception`), so no simulator, kafka-mock, daemon or Postgres is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    chaos = Chaos(a, random.Random(a.seed))
    ok = False
    try:
        truths, stats, results = chaos.run()
        ok = True
        c = chaos.counts
        print("archive (records per stream): %s" % results["archive"])
        print("postgres (audit rows, else history revisions): %s" % results["postgres"])
        print("kafka (messages, redelivered copies; in exactly-once mode committed: transactions, records): %s" % results["kafka"])
        print("simulator: %d requests, %d 429s, faults %s; truth: %s" % (
            stats["requests_total"], stats["rate_limited_total"], stats["faults"],
            {s: len(t) if s == "audit_log" else "%d live/%d deleted" % (len(t["live"]), len(t["deleted"]))
             for s, t in truths.items()}))
        print("PASS chaos seed=%d mode=%s duration=%gs kills=%d daemon_starts=%d kafka_outages=%d "
              "postgres_outages=%d fault_storms=%d 429_bursts=%d appended=%d audit_ids=%d 429s=%d "
              "faults=%d wall=%.0fs" % (a.seed, mode, a.duration, c["kill -9"], c["starts"], c["kafka down"],
                              c["postgres down"], c["fault storms"], c["429 bursts"], c["appended"],
                              len(truths["audit_log"]), stats["rate_limited_total"], stats["faults"]["total"],
                              time.time() - T0), flush=True)
        return 0
    except pg_cluster.PgNotInstalled as e:
        print("SKIP: %s" % e)
        return SKIP
    except Exception as e:  # any failure: say how to replay it
        print("FAIL chaos seed=%d: %s: %s" % (a.seed, type(e).__name__, e), flush=True)
        if getattr(chaos, "ws", None):
            print("work directory kept: %s" % chaos.ws.dir)
        print("replay: %s" % shlex.join(replay), flush=True)
        return 1
    finally:
        chaos.cleanup()
        if ok and getattr(chaos, "ws", None) and not a.keep:
            chaos.ws.cleanup()


if __name__ == "__main__":
    sys.exit(main())
