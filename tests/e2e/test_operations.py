"""End-to-end operations checks: /metrics, /healthz, /readyz, graceful stop.
Run: python3 test_operations.py <ld-simulator> <ldexport> [test names...]
"""
import json
import os
import re
import shutil
import sys
import signal
import subprocess
import time

from harness import Simulator, Workspace, check, http_get, main


def metric(text, name, labels=""):
    pat = re.compile(r"^%s%s ([0-9.e+-]+|NaN)$" % (re.escape(name), re.escape(labels)), re.M)
    m = pat.search(text)
    check(m is not None, "metric %s%s not found" % (name, labels))
    return float(m.group(1))


def metrics_match_the_export(sim_bin, ldx):
    ws = Workspace(ldx, "metrics")
    with Simulator(sim_bin, "--seed", 9, "--audit-entries", 2000, "--rate-limit", 400, "--fault-rate", 0.03) as sim:
        ws.write_config(sim, interval="2s", progress="1s")
        p = ws.start_run(sim)
        try:
            port = ws.status_port(p)
            base = "http://127.0.0.1:%d" % port
            check(http_get(base + "/healthz")[0] == 200, "/healthz is not 200")
            deadline = time.time() + 120
            while time.time() < deadline and len(ws.archive_records()) < 2000:
                time.sleep(0.2)
            # Wait for a completed pass so the counters are settled.
            while time.time() < deadline:
                status, text = http_get(base + "/metrics")
                if metric(text, "ldexport_passes_total", '{stream="audit_log"}') >= 1:
                    break
                time.sleep(0.2)
            status, text = http_get(base + "/metrics")
            check(status == 200, "/metrics answered %d" % status)
            exported = len(ws.archive_records())
            check(exported == 2000, "archive holds %d" % exported)
            check(metric(text, "ldexport_records_exported_total", '{stream="audit_log"}') == exported,
                  "records metric does not match the archive")
            committed = metric(text, "ldexport_batch_duration_seconds_count", '{stream="audit_log"}')
            check(committed >= 1, "no committed batch counted")
            check(metric(text, "ldexport_sink_acks_total", '{stream="audit_log",sink="archive"}') >= committed,
                  "fewer sink acks than committed batches")
            check(metric(text, "ldexport_pages_total", '{stream="audit_log"}') >= 2000 / 20,
                  "fewer pages than 2000 entries need")
            stats = sim.stats()
            served = stats["requests_total"]
            seen = sum(metric(text, "ldexport_http_requests_total", '{status_class="%s"}' % c)
                       for c in ("2xx", "4xx", "5xx", "network_error"))
            # Faults that drop the connection are counted by both sides as one request each.
            check(seen == served, "ldexport counted %d requests, the simulator served %d" % (seen, served))
            check(metric(text, "ldexport_stream_fatal", '{stream="audit_log"}') == 0, "stream marked fatal")
            check(metric(text, "ldexport_lag_seconds", '{stream="audit_log"}') > 0, "no lag reported")
            check(http_get(base + "/readyz")[0] == 200, "/readyz is not ready after a clean export")
            promtool = shutil.which("promtool")
            check(promtool is not None, "promtool (Debian package prometheus) is not installed")
            pc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
            check(pc.returncode == 0, "promtool check metrics failed:\n%s%s" % (pc.stdout, pc.stderr))
            # Progress lines: committed records, and what the current pass has read so far.
            progress = re.compile(r"progress audit_log: (\d+) records, \d+ pages, \d+ dead letters; "
                                  r"(\d+) records read in this pass")
            line = None
            while line is None and time.time() < deadline:
                with open(p.log.name) as f:
                    for entry in f:
                        m = progress.search(entry)
                        if m and int(m.group(1)) == 2000:
                            line = json.loads(entry)
                time.sleep(0.2)
            check(line is not None, "no progress line with the 2000 committed records")
            check(line.get("stream") == "audit_log", "the progress line has no stream field: %s" % line)
        finally:
            rc = ws.finish_run(p)
        check(rc == 0, "SIGTERM exit code %d" % rc)
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def sigterm_mid_export_loses_nothing(sim_bin, ldx):
    ws = Workspace(ldx, "sigterm")
    with Simulator(sim_bin, "--seed", 21, "--audit-entries", 8000, "--rate-limit", 200) as sim:
        ws.write_config(sim, interval="1s")
        p = ws.start_run(sim)
        deadline = time.time() + 60
        while time.time() < deadline and len(ws.archive_records()) < 500:
            time.sleep(0.1)
        partial = len(ws.archive_records())
        check(0 < partial < 8000, "SIGTERM did not land mid-export (%d records)" % partial)
        t0 = time.time()
        rc = ws.finish_run(p, signal.SIGTERM, timeout=30)
        took = time.time() - t0
        check(rc == 0, "SIGTERM mid-export exited %d" % rc)
        # shutdown_timeout is 20 s in the test config; the process must have stopped by itself.
        check(took < 25, "graceful stop took %.1f s" % took)
        out = ws.outputs[-1]
        check("received SIGTERM" in out, "no shutdown log line")
        ws.once(sim)
        ws.assert_exactly_once(sim.truth())
    ws.cleanup()


def second_signal_exits_at_once_and_loses_nothing(sim_bin, ldx):
    ws = Workspace(ldx, "sigtwice")
    with Simulator(sim_bin, "--seed", 22, "--audit-entries", 6000, "--rate-limit", 200) as sim:
        ws.write_config(sim, interval="1s")
        p = ws.start_run(sim)
        deadline = time.time() + 60
        while time.time() < deadline and len(ws.archive_records()) < 300:
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        p.send_signal(signal.SIGINT)
        # Exit code: 0 if the graceful stop won the race, 128+signal otherwise; either is
        # documented. What matters: no torn line and no wrong cursor (checked below).
        ws.finish_run(p, signal.SIGINT, timeout=30)
        ws.once(sim)
        ws.assert_exactly_once(sim.truth())
    ws.cleanup()


TESTS = {
    "metrics_match_the_export": metrics_match_the_export,
    "sigterm_mid_export_loses_nothing": sigterm_mid_export_loses_nothing,
    "second_signal_exits_at_once_and_loses_nothing": second_signal_exits_at_once_and_loses_nothing,
}



def throwaway_postgres():
    """The tests' throw-away Postgres cluster (tests/support/pg_cluster.py), started."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import pg_cluster
    try:
        return pg_cluster.PgCluster()
    except pg_cluster.PgNotInstalled as e:
        raise AssertionError("Postgres server binaries missing: %s" % e)


def readyz_follows_sink_health(sim_bin, ldx):
    """/readyz turns unready while a sink (Postgres) is down, and ready again after."""
    ws = Workspace(ldx, "readyz")
    with throwaway_postgres() as pg:
        db = pg.create_database()
        with Simulator(sim_bin, "--audit-entries", 200, "--append-every", "300ms") as sim:
            ws.write_config(sim, interval="1s", extra_sinks="  - { name: warehouse, type: postgres, dsn: \"%s\" }\n"
                            % pg.dsn(db))
            p = ws.start_run(sim)
            try:
                base = "http://127.0.0.1:%d" % ws.status_port(p)

                def wait_for(code, seconds):
                    deadline = time.time() + seconds
                    last = None
                    while time.time() < deadline:
                        last = http_get(base + "/readyz")
                        if last[0] == code:
                            return last
                        time.sleep(0.2)
                    raise AssertionError("/readyz stayed %s, expected %d" % (last, code))

                wait_for(200, 60)
                pg.stop()
                status, body = wait_for(503, 30)
                check("warehouse" in body, "the unready reason does not name the sink: %r" % body)
                check(http_get(base + "/healthz")[0] == 200, "/healthz must stay 200 while a sink is down")
                pg.start()
                wait_for(200, 60)
            finally:
                rc = ws.finish_run(p)
            check(rc == 0, "SIGTERM exit code %d" % rc)
            truth_then = set(sim.truth())
            ws.once(sim)
            ids = [r["id"] for r in ws.archive_records()]
            check(len(ids) == len(set(ids)), "duplicates in the archive")
            if not truth_then <= set(ids):
                print(ws.outputs[-1][-3000:])
            check(truth_then <= set(ids), "%d entries missing after the outage, e.g. %s; archive %d, truth %d; dirs %s" % (len(truth_then - set(ids)), sorted(truth_then - set(ids))[:3], len(ids), len(truth_then), ws.dir))
            rows = pg.psql(db, "SELECT count(*), count(DISTINCT id) FROM launchdarkly.audit_log")
            check(rows[0][0] == rows[0][1] and int(rows[0][0]) >= len(truth_then),
                  "Postgres audit_log rows %s vs truth %d" % (rows, len(truth_then)))
    ws.cleanup()


TESTS["readyz_follows_sink_health"] = readyz_follows_sink_health


def run_waits_for_a_sink_that_is_down_at_start(sim_bin, ldx):
    """`run` started while Postgres is down stays up (healthz 200, readyz 503), retries,
    and exports everything once Postgres is back; `once` fails clearly instead."""
    ws = Workspace(ldx, "sink-down-at-start")
    with throwaway_postgres() as pg:
        db = pg.create_database()
        with Simulator(sim_bin, "--audit-entries", 300) as sim:
            ws.write_config(sim, interval="1s", extra_sinks="  - { name: warehouse, type: postgres, dsn: \"%s\" }\n"
                            % pg.dsn(db))
            pg.stop()
            once = ws.once(sim, timeout=120, expect_rc=1)
            # `once` logs on stdout (README "Logs"), one JSON object per line.
            check("cannot start" in once.stdout and "warehouse" in once.stdout,
                  "once with Postgres down: no clear error naming the sink:\n" + once.stdout[-2000:])
            p = ws.start_run(sim)
            try:
                base = "http://127.0.0.1:%d" % ws.status_port(p)
                deadline = time.time() + 30
                waiting = False
                while time.time() < deadline and not waiting:
                    with open(p.log.name) as f:
                        waiting = "sink warehouse is not available yet" in f.read()
                    time.sleep(0.2)
                check(waiting, "no 'not available yet' line while Postgres was down")
                with open(p.log.name) as f:
                    lines = [json.loads(l) for l in f if l.startswith("{")]
                waits = [l for l in lines if "is not available yet" in l["msg"]]
                check(waits and all(l.get("sink") == "warehouse" for l in waits),
                      "the waiting lines do not carry sink=warehouse: %r" % waits[:2])
                check(p.poll() is None, "ldexport run exited while Postgres was down (rc %s)" % p.poll())
                check(http_get(base + "/healthz")[0] == 200, "/healthz must answer while waiting for a sink")
                check(http_get(base + "/readyz")[0] == 503, "/readyz must not be ready while waiting for a sink")
                pg.start()
                deadline = time.time() + 90
                rows = 0
                while time.time() < deadline and rows < 300:
                    rows = int(pg.psql(db, "SELECT count(*) FROM launchdarkly.audit_log", check=False)[0][0]
                               if pg.psql(db, "SELECT to_regclass('launchdarkly.audit_log') IS NOT NULL")[0][0] == "t"
                               else 0)
                    time.sleep(0.3)
                check(rows == 300, "Postgres holds %d of 300 rows after it came back" % rows)
            finally:
                rc = ws.finish_run(p)
            check(rc == 0, "SIGTERM exit code %d" % rc)
            ids = [r["id"] for r in ws.archive_records()]
            check(sorted(ids) == sorted(set(sim.truth())), "the archive does not equal the truth")
    ws.cleanup()


TESTS["run_waits_for_a_sink_that_is_down_at_start"] = run_waits_for_a_sink_that_is_down_at_start


if __name__ == "__main__":
    main(TESTS)
