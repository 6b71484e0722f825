"""End-to-end: the compliance archive (issue 7) with the real ldexport and ld-simulator.

What a compliance team relies on: `ldexport verify` passes on an untouched archive and
names the first tampered record by file and line; the hash chain survives crashes and
replays; `changes` says exactly what changed; a window LaunchDarkly listed incompletely
is detected and repaired; retention prunes without breaking `verify`.
Run: python3 test_compliance.py <ld-simulator> <ldexport> [test names...]
"""
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

from harness import Simulator, Workspace, check, main

SEED = int(os.environ.get("LDX_TEST_SEED", "0")) or random.randrange(1, 1 << 30)


def write_config(ws, sim, **opts):
    """One audit_log stream into the file sink `archive`, in 256 KiB files; opts as Workspace.write_config."""
    ws.write_config(sim, **dict(dict(rotate="256KiB", progress="10s"), **opts))


def verify(ws, *args):
    p = subprocess.run([ws.ldexport, "verify"] + list(args), capture_output=True, text=True, timeout=600)
    ws.outputs.append(p.stdout + p.stderr)
    return p.returncode, p.stdout + p.stderr


def archive_files(root):
    return sorted(glob.glob(os.path.join(root, "audit_log", "audit_log-*.jsonl")))


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines(True)


def write_lines(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def recompute_chain_in_python(root):
    """The README's definition, independently of ldexport: every hash recomputes and
    every prev_hash is the hash before it. Returns the number of records."""
    prev = "0" * 64
    n = 0
    for path in archive_files(root):
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                stored = rec.pop("hash")
                rec.pop("observed_at")
                canonical = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                check(hashlib.sha256(canonical.encode("utf-8")).hexdigest() == stored,
                      "%s: record %s does not hash as the README says" % (path, rec["id"]))
                check(rec["prev_hash"] == prev, "%s: record %s does not follow its predecessor" % (path, rec["id"]))
                prev = stored
                n += 1
    return n


def tampered_copy(ws, name):
    dst = os.path.join(ws.dir, name)
    shutil.copytree(ws.archive, dst)
    return dst


def expect_broken(ws, root, kind, where):
    rc, out = verify(ws, "--archive", root)
    check(rc == 1, "verify exited %d on a tampered archive (%s):\n%s" % (rc, kind, out))
    m = re.search(r"NOT INTACT at (\S+): (\w[\w-]*):", out)
    check(m is not None, "no location in:\n" + out)
    check(m.group(1) == where and m.group(2) == kind,
          "expected %s at %s, verify said %s at %s:\n%s" % (kind, where, m.group(2), m.group(1), out))


def verify_finds_tampering_at_the_right_line(sim_bin, ldx):
    ws = Workspace(ldx, "verify")
    with Simulator(sim_bin, "--seed", 21, "--audit-entries", 4000, "--fault-rate", 0.03) as sim:
        write_config(ws, sim)
        ws.once(sim)
        ws.assert_exactly_once(sim.truth())
        files = archive_files(ws.archive)
        check(len(files) >= 3, "256 KiB rotation should give several files, got %d" % len(files))
        rc, out = verify(ws, "-c", ws.config)
        check(rc == 0 and "audit_log: intact: 4000 record(s)" in out and "matches the checkpoint" in out,
              "verify -c on the untouched archive: rc %d\n%s" % (rc, out))
        rc, out = verify(ws, "--archive", ws.archive)
        check(rc == 0, "verify --archive on the untouched archive: rc %d\n%s" % (rc, out))
        rc, out = verify(ws, "--archive", os.path.join(ws.archive, "audit_log"))
        check(rc == 0, "verify of the stream directory itself: rc %d\n%s" % (rc, out))
        check(recompute_chain_in_python(ws.archive) == 4000, "the Python recomputation saw every record")

        rel = "audit_log/" + os.path.basename(files[1])
        # A changed byte inside LaunchDarkly's data.
        root = tampered_copy(ws, "changed")
        path = os.path.join(root, rel)
        lines = read_lines(path)
        n = len(lines) // 2
        rec = json.loads(lines[n])
        old = '"_id":"%s"' % rec["id"]
        check(old in lines[n], "the record's data holds its _id")
        lines[n] = lines[n].replace(old, old[:-2] + ("0" if old[-2] != "0" else "1") + '"', 1)
        write_lines(path, lines)
        expect_broken(ws, root, "changed", "%s:%d" % (rel, n + 1))
        # A deleted line: the record after the gap is reported.
        root = tampered_copy(ws, "deleted")
        path = os.path.join(root, rel)
        lines = read_lines(path)
        del lines[n]
        write_lines(path, lines)
        expect_broken(ws, root, "removed", "%s:%d" % (rel, n + 1))
        # A duplicated line.
        root = tampered_copy(ws, "duplicated")
        path = os.path.join(root, rel)
        lines = read_lines(path)
        lines.insert(n + 1, lines[n])
        write_lines(path, lines)
        expect_broken(ws, root, "duplicated", "%s:%d" % (rel, n + 2))
        # Two swapped lines.
        root = tampered_copy(ws, "swapped")
        path = os.path.join(root, rel)
        lines = read_lines(path)
        lines[n], lines[n + 1] = lines[n + 1], lines[n]
        write_lines(path, lines)
        expect_broken(ws, root, "reordered", "%s:%d" % (rel, n + 1))
        # The newest record removed: the chain is consistent, only the checkpoint tells.
        root = tampered_copy(ws, "tail")
        last = archive_files(root)[-1]
        write_lines(last, read_lines(last)[:-1])
        rc, out = verify(ws, "--archive", root)
        check(rc == 0, "a cut tail cannot be seen from the archive alone:\n" + out)
        tail_cfg = os.path.join(ws.dir, "tail.yaml")
        with open(ws.config) as f:
            text = f.read()
        with open(tail_cfg, "w") as f:
            f.write(text.replace("path: %s," % ws.archive, "path: %s," % root))
        rc, out = verify(ws, "-c", tail_cfg)
        check(rc == 1 and "NOT INTACT" in out, "verify -c missed the removed tail:\n" + out)

        # The untouched archive goes on: new entries continue the same chain.
        sim.append(30)
        ws.once(sim)
        rc, out = verify(ws, "-c", ws.config)
        check(rc == 0 and "4030 record(s)" in out, "after a second run: rc %d\n%s" % (rc, out))
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def chain_survives_kill9_and_replays(sim_bin, ldx):
    rng = random.Random(SEED)
    print("seed", SEED, "(rerun with LDX_TEST_SEED=%d)" % SEED)
    ws = Workspace(ldx, "chain-kill9")
    with Simulator(sim_bin, "--seed", 13, "--audit-entries", 8000, "--fault-rate", 0.05,
                   "--rate-limit", 600) as sim:
        write_config(ws, sim, interval="1s")
        kills = 0
        for _ in range(5):
            p = ws.start_run(sim)
            time.sleep(rng.uniform(0.3, 3.0))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            ws.finish_run(p)
            # Whatever was committed so far verifies (the uncommitted tail is skipped).
            rc, out = verify(ws, "-c", ws.config)
            check(rc == 0, "after a kill -9 the committed archive does not verify:\n" + out)
        check(kills >= 4, "only %d kills landed" % kills)
        ws.once(sim)
        ws.assert_exactly_once(sim.truth())
        rc, out = verify(ws, "-c", ws.config)
        check(rc == 0 and "8000 record(s)" in out, "after kills and a clean run: rc %d\n%s" % (rc, out))
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def completeness_mismatch_is_detected_and_repaired(sim_bin, ldx):
    ws = Workspace(ldx, "completeness")
    with Simulator(sim_bin, "--seed", 17, "--audit-entries", 3000, "--fault-rate", 0.02) as sim:
        truth = sim.truth()  # newest first; entries span about 8 minutes
        # Entries LaunchDarkly leaves out of the first listing that meets them: old ones
        # (outside the 2 m lookback, so only the completeness check can find them), two of
        # them in one window, and the oldest entry of all.
        hidden = [truth[i] for i in (1200, 1700, 1701, 2400, len(truth) - 1)]
        got = sim._req("POST", "/_sim/hide?" + "&".join("id=" + i for i in hidden))
        check(sorted(got["hidden"]) == sorted(hidden), "hide answered %r" % got)
        write_config(ws, sim, stream_extra=", completeness_window: 1m, completeness_settle: 0s")
        first = ws.once(sim)
        out = first.stdout + first.stderr
        named = set()
        for line in out.splitlines():
            if "completeness: window" not in line:
                continue
            m = re.search(r"window (\d{4}-\d\d-\d\dT\d\d:\d\d):00\.000Z \.\. \S+: exported or dead-lettered (\d+) entries, "
                          r"LaunchDarkly lists (\d+)", line)
            check(m is not None, "the warning does not name its window and counts: %s" % line)
            check(int(m.group(2)) < int(m.group(3)), "counts do not show the gap: %s" % line)
            named.add(m.group(1))
        records = ws.assert_exactly_once(truth)
        check(set(hidden) <= {r["id"] for r in records}, "hidden entries were not re-fetched")
        # Exactly the one-minute windows holding a hidden entry were reported.
        windows = {r["occurred_at"][:16] for r in records if r["id"] in set(hidden)}
        check(named == windows, "reported windows %s, hidden entries are in %s" % (sorted(named), sorted(windows)))
        rc, vout = verify(ws, "-c", ws.config)
        check(rc == 0, "verify after the repair: rc %d\n%s" % (rc, vout))
        # Nothing left to repair: a second run adds nothing and warns about nothing.
        second = ws.once(sim)
        check("audit_log: 0 new records" in second.stdout, "second run: %r" % second.stdout)
        check("completeness: window" not in second.stdout + second.stderr, "a clean window was reported")
        ws.assert_exactly_once(truth)
    ws.cleanup()


def apply_changes(doc, changes):
    """Applies a `changes` list (JSON Pointer paths) to a copy of `doc`."""
    doc = json.loads(json.dumps(doc))

    def tokens(path):
        return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]

    # Removals from the end of arrays first, highest index first, so indices stay valid.
    removals = sorted((c for c in changes if c["change"] == "removed"),
                      key=lambda c: [int(t) if t.isdigit() else 0 for t in tokens(c["path"])], reverse=True)
    for c in [c for c in changes if c["change"] != "removed"] + removals:
        if c["path"] == "":
            doc = c.get("after")
            continue
        parts = tokens(c["path"])
        parent = doc
        for t in parts[:-1]:
            parent = parent[int(t)] if isinstance(parent, list) else parent[t]
        last = parts[-1]
        if isinstance(parent, list):
            i = int(last)
            if c["change"] == "added":
                check(i == len(parent), "array append out of order at %s" % c["path"])
                parent.append(c["after"])
            elif c["change"] == "removed":
                check(parent[i] == c["before"], "before value differs at %s" % c["path"])
                del parent[i]
            else:
                check(parent[i] == c["before"], "before value differs at %s" % c["path"])
                parent[i] = c["after"]
        else:
            if c["change"] == "added":
                check(last not in parent, "added over an existing value at %s" % c["path"])
                parent[last] = c["after"]
            elif c["change"] == "removed":
                check(parent[last] == c["before"], "before value differs at %s" % c["path"])
                del parent[last]
            else:
                check(parent[last] == c["before"], "before value differs at %s" % c["path"])
                parent[last] = c["after"]
    return doc


def changes_rebuild_the_current_version(sim_bin, ldx):
    ws = Workspace(ldx, "changes")
    with Simulator(sim_bin, "--seed", 3, "--audit-entries", 400, "--rate-limit", 2000) as sim:
        write_config(ws, sim, details=True)
        ws.once(sim)
        records = ws.assert_exactly_once(sim.truth())
        kinds = set()
        checked = 0
        for r in records:
            data = r["data"]
            has_versions = data.get("previousVersion") is not None or data.get("currentVersion") is not None
            check(has_versions == ("changes" in r), "record %s: changes present=%s, versions=%s" %
                  (r["id"], "changes" in r, has_versions))
            if not has_versions:
                continue
            for c in r["changes"]:
                kinds.add(c["change"])
                check(c["path"] == "" or c["path"].startswith("/"), "not a JSON Pointer: %r" % c["path"])
                check(("before" in c) == (c["change"] != "added") and ("after" in c) == (c["change"] != "removed"),
                      "before/after do not match the change kind: %s" % c)
            # The list is exact: applied to previousVersion it gives currentVersion.
            rebuilt = apply_changes(data.get("previousVersion"), r["changes"])
            check(rebuilt == data.get("currentVersion"), "record %s: changes do not rebuild currentVersion" % r["id"])
            checked += 1
        check(checked >= 300, "only %d records had versions" % checked)
        check({"added", "changed"} <= kinds, "the simulator's edits produced only %s" % kinds)
        check(recompute_chain_in_python(ws.archive) == len(records), "the Python recomputation saw every record")
        rc, out = verify(ws, "-c", ws.config)
        check(rc == 0, "verify: rc %d\n%s" % (rc, out))
    ws.cleanup()


def retention_prunes_and_verify_still_passes(sim_bin, ldx):
    ws = Workspace(ldx, "retention")
    with Simulator(sim_bin, "--seed", 9, "--audit-entries", 3000) as sim:
        # Every file is "old" one second after it was written.
        write_config(ws, sim, sink_extra=", retention: 1s")
        ws.once(sim)
        time.sleep(1.5)
        sim.append(20)
        ws.once(sim)  # prunes on start: all but the current file and the one before it
        files = archive_files(ws.archive)
        check(len(files) == 2, "expected the last two files kept, found %s" % [os.path.basename(f) for f in files])
        check(not files[0].endswith("-000001.jsonl"), "nothing was pruned")
        manifest = os.path.join(ws.archive, "_chain", "audit_log.jsonl")
        check(os.path.exists(manifest), "no chain manifest after pruning")
        with open(manifest) as f:
            events = [json.loads(l) for l in f]
        check(events and all(e["event"] == "prune" for e in events), "manifest: %s" % events)
        kept = sum(len(read_lines(f)) for f in files)
        pruned = sum(e["records"] for e in events)
        check(kept + pruned == 3020, "kept %d + pruned %d != 3020" % (kept, pruned))
        rc, out = verify(ws, "-c", ws.config)
        check(rc == 0 and "pruned by retention" in out, "verify after pruning: rc %d\n%s" % (rc, out))
        # Deleting the oldest kept file is not a prune.
        os.remove(files[0])
        rc, out = verify(ws, "--archive", ws.archive)
        check(rc == 1 and "missing" in out, "a removed file went unnoticed:\n" + out)
    ws.cleanup()


TESTS = {
    "verify_finds_tampering_at_the_right_line": verify_finds_tampering_at_the_right_line,
    "chain_survives_kill9_and_replays": chain_survives_kill9_and_replays,
    "completeness_mismatch_is_detected_and_repaired": completeness_mismatch_is_detected_and_repaired,
    "changes_rebuild_the_current_version": changes_rebuild_the_current_version,
    "retention_prunes_and_verify_still_passes": retention_prunes_and_verify_still_passes,
}

if __name__ == "__main__":
    main(TESTS)
