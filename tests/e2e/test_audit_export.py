"""End-to-end: the ldexport binary exports the simulator's audit log into the archive.

Each test proves what a compliance user relies on: every ground-truth entry exactly
once, through faults, 429s, kill -9 and live appends; the token nowhere.
Run: python3 test_audit_export.py <ld-simulator> <ldexport> [test names...]
"""
import json
import os
import random
import signal
import subprocess
import time

from harness import Simulator, Workspace, check, main

SEED = int(os.environ.get("LDX_TEST_SEED", "0")) or random.randrange(1, 1 << 30)


def complete_with_faults(sim_bin, ldx):
    ws = Workspace(ldx, "complete")
    with Simulator(sim_bin, "--seed", 7, "--audit-entries", 20000, "--fault-rate", 0.05,
                   "--rate-limit", 300) as sim:
        ws.write_config(sim)
        first = ws.once(sim)
        truth = sim.truth()
        check(len(truth) == 20000, "simulator truth has %d ids" % len(truth))
        records = ws.assert_exactly_once(truth)
        check("audit_log: 20000 new records" in first.stdout, "summary: %r" % first.stdout)
        stats = sim.stats()
        print("simulator stats:", stats)
        # The client slows down before the budget runs out instead of hammering.
        check(stats["rate_limited_total"] <= max(20, stats["requests_total"] // 50),
              "too many 429s: %s" % stats)
        # A second run adds nothing and duplicates nothing.
        size_before = sum(os.path.getsize(os.path.join(ws.archive, "audit_log", f))
                          for f in os.listdir(os.path.join(ws.archive, "audit_log")))
        second = ws.once(sim)
        check("audit_log: 0 new records" in second.stdout, "second run summary: %r" % second.stdout)
        ws.assert_exactly_once(truth)
        size_after = sum(os.path.getsize(os.path.join(ws.archive, "audit_log", f))
                         for f in os.listdir(os.path.join(ws.archive, "audit_log")))
        check(size_before == size_after, "the second run changed the archive")
        check(len(os.listdir(os.path.join(ws.archive, "audit_log"))) > 1, "1 MiB rotation never happened")
        check(records[0]["occurred_at"].endswith("Z"), "occurred_at is not RFC 3339 UTC")
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def kill9_then_clean_run(sim_bin, ldx):
    rng = random.Random(SEED)
    print("seed", SEED, "(rerun with LDX_TEST_SEED=%d)" % SEED)
    ws = Workspace(ldx, "kill9")
    with Simulator(sim_bin, "--seed", 11, "--audit-entries", 20000, "--fault-rate", 0.05,
                   "--rate-limit", 600) as sim:
        ws.write_config(sim, interval="1s")
        kills = 0
        for _ in range(6):
            p = ws.start_run(sim)
            time.sleep(rng.uniform(0.3, 4.0))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            ws.finish_run(p)
        check(kills >= 5, "only %d kills landed" % kills)
        partial = len(ws.archive_records())
        print("after %d kills the archive holds %d records" % (kills, partial))
        ws.once(sim)
        ws.assert_exactly_once(sim.truth())
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def live_appends_reach_the_archive(sim_bin, ldx):
    ws = Workspace(ldx, "live")
    interval = 2.0
    with Simulator(sim_bin, "--seed", 5, "--audit-entries", 300, "--append-every", "700ms",
                   "--late-rate", 0.2, "--fault-rate", 0.02) as sim:
        ws.write_config(sim, interval="2s")
        p = ws.start_run(sim)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and len(ws.archive_records()) < 300:
                time.sleep(0.2)
            check(len(ws.archive_records()) >= 300, "the initial export did not finish in 120 s")
            added = sim.append(5)
            new_ids = set(added["appended"])
            check(len(new_ids) == 5, "append answered %r" % added)
            t0 = time.time()
            # One interval plus the time of a page (generous: faults are injected).
            limit = interval + 15.0
            while time.time() - t0 < limit:
                ids = {r["id"] for r in ws.archive_records()}
                if new_ids <= ids:
                    break
                time.sleep(0.1)
            took = time.time() - t0
            check(new_ids <= {r["id"] for r in ws.archive_records()},
                  "appended entries not in the archive %.1f s later" % took)
            print("appended entries archived after %.1f s" % took)
        finally:
            rc = ws.finish_run(p, signal.SIGTERM)
        check(rc == 0, "ldexport run exited %d on SIGTERM" % rc)
        truth_then = set(sim.truth())
        ws.once(sim)
        records = ws.archive_records()
        ids = [r["id"] for r in records]
        check(len(ids) == len(set(ids)), "duplicates after live appends")
        check(truth_then <= set(ids), "%d entries missing" % len(truth_then - set(ids)))
        check(set(ids) <= set(sim.truth()), "archive holds ids the simulator never had")
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def details_carry_versions_without_secrets(sim_bin, ldx):
    ws = Workspace(ldx, "details")
    with Simulator(sim_bin, "--seed", 3, "--audit-entries", 400, "--rate-limit", 1000) as sim:
        ws.write_config(sim, details=True)
        ws.once(sim)
        records = ws.assert_exactly_once(sim.truth())
        for r in records:
            check("currentVersion" in r["data"] and "previousVersion" in r["data"],
                  "record %s has no versions" % r["id"])
        kinds = {r["kind"] for r in records}
        check("environment" in kinds, "no environment entries to check redaction on: %s" % kinds)
        for root, _, files in os.walk(ws.archive):
            for name in files:
                with open(os.path.join(root, name)) as f:
                    text = f.read()
                check('"sdk-' not in text and '"mob-' not in text, "an SDK or mobile key is in " + name)
    ws.cleanup()


def bad_token_fails_clearly(sim_bin, ldx):
    ws = Workspace(ldx, "auth")
    with Simulator(sim_bin, "--audit-entries", 10) as sim:
        ws.write_config(sim)
        env = ws.env(sim)
        env["LD_API_TOKEN"] = "api-wrong-" + "7" * 20
        p = subprocess.run([ldx, "once", "-c", ws.config], env=env, capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        check(p.returncode != 0, "a wrong token exited 0")
        check("401 unauthorized" in out, "no clear auth message: %s" % out[-2000:])
        check(env["LD_API_TOKEN"] not in out, "the token was printed")
        # The JSON log line of the failure names its stream, request path and status.
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        failed = [l for l in lines if l["level"] == "error" and "401 unauthorized" in l["msg"]]
        check(failed, "no JSON error line on stdout for the 401: %s" % p.stdout[-2000:])
        check(failed[0].get("stream") == "audit_log" and failed[0].get("status") == 401
              and failed[0].get("path", "").startswith("/api/v2/auditlog"),
              "the 401 line lacks stream, path or status: %r" % failed[0])
    ws.cleanup()


def validate_names_every_problem(sim_bin, ldx):
    ws = Workspace(ldx, "validate")
    with open(ws.config, "w") as f:
        f.write("launchdarkly:\n  base_url: https://app.launchdarkly.com\n  token: x\n"
                "streams:\n  audit_log: { interval: often, lookbak: 2m }\n"
                "sinks:\n  - { type: file, path: /tmp/x, rotate: 5 }\ncheckpoint: { type: file }\n")
    p = subprocess.run([ldx, "validate", "-c", ws.config], capture_output=True, text=True, timeout=60)
    check(p.returncode == 2, "validate exited %d on a broken config" % p.returncode)
    for want in (":5:26: streams.audit_log.interval", ":5:33: unknown key 'streams.audit_log.lookbak'",
                 ":7:33: unknown key 'sinks[0].rotate'"):
        check(want in p.stderr, "missing %r in:\n%s" % (want, p.stderr))
    ok = subprocess.run([ldx, "validate", "-c", ws.config.replace("ldexport.yaml", "nope.yaml")],
                        capture_output=True, text=True, timeout=60)
    check(ok.returncode == 2 and "cannot open config file" in ok.stderr, "missing file: %s" % ok.stderr)
    ws.cleanup()


TESTS = {
    "complete_with_faults": complete_with_faults,
    "kill9_then_clean_run": kill9_then_clean_run,
    "live_appends_reach_the_archive": live_appends_reach_the_archive,
    "details_carry_versions_without_secrets": details_carry_versions_without_secrets,
    "bad_token_fails_clearly": bad_token_fails_clearly,
    "validate_names_every_problem": validate_names_every_problem,
}

if __name__ == "__main__":
    main(TESTS)
