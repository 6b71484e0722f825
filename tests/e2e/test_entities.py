"""End-to-end: the entity streams (projects, environments, flags, segments, contexts,
members, teams, metrics, experiments) against the simulator's ground truth.

What a data team relies on: after the last pass, for every stream, the archive's latest
record per id is the simulator's latest version of every live entity and a `delete` for
every deleted one it ever exported; kill -9 mid-pass, 5xx/drops/truncations and a tight
rate limit change nothing of that; no SDK or mobile key is archived unless
include_secrets is on; a selection exports exactly what it selects; a steady state
costs no more requests than the data set's list pages, as `once` reports.
Run: python3 test_entities.py <ld-simulator> <ldexport> [test names...]
"""
import collections
import json
import math
import os
import random
import re
import signal
import time

from harness import Simulator, TestFailure, Workspace, check, main

SEED = int(os.environ.get("LDX_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
STREAMS = ["projects", "environments", "flags", "segments", "contexts", "members", "teams", "metrics",
           "experiments"]
SUMMARY = re.compile(r"^(\w+): (\d+) new records, (\d+) pages, (\d+) requests, (\d+) dead letters$", re.M)


def write_config(ws, sim, streams, projects=("*",), environments=("*",), include_secrets=False, interval="1s"):
    """streams: {name: "extra: keys, ..."}; no status listener."""
    ws.write_config(sim, interval=interval, progress="5s", streams=streams, listen=None,
                    include_secrets=include_secrets, projects=projects, environments=environments)


def sim_post(sim, path):
    return sim._req("POST", path)


def summary(out):
    """{stream: (records, pages, requests, dead letters)} from `once`'s summary."""
    return {m.group(1): tuple(int(m.group(i)) for i in range(2, 6)) for m in SUMMARY.finditer(out)}


def id_scope(stream, ident):
    """(project, environment) an id names, None where the stream has no such part."""
    parts = ident.split("/")
    if stream in ("members", "teams"):
        return None, None
    if stream == "projects":
        return parts[0], None
    if stream in ("flags", "metrics"):
        return parts[0], None
    return parts[0], parts[1]


def selected(stream, ident, projects, environments):
    p, e = id_scope(stream, ident)
    if p is not None and "*" not in projects and p not in projects:
        return False
    if e is not None and "*" not in environments and e not in environments:
        return False
    return True


def check_stream(ws, sim, stream, projects=("*",), environments=("*",)):
    """The archive's latest record per id equals the simulator's truth; no replayed duplicate."""
    truth = sim.truth(stream)
    live = {x["id"]: x["version"] for x in truth["live"] if selected(stream, x["id"], projects, environments)}
    deleted = {i for i in truth["deleted"] if selected(stream, i, projects, environments)}
    last, prev = {}, {}
    records = ws.archive_records(stream)
    for r in records:
        check(r["schema"] == "ldexport.v1" and r["stream"] == stream, "bad envelope: %s" % r)
        check(r["op"] in ("upsert", "delete"), "bad op: %s" % r)
        key = (r["op"], r["version"], json.dumps(r["data"], sort_keys=True))
        # A batch replayed after a crash must not show: the same state twice in a row is a duplicate.
        check(prev.get(r["id"]) != key, "%s: %s archived twice in a row" % (stream, r["id"]))
        prev[r["id"]] = key
        last[r["id"]] = r
    for ident, version in live.items():
        check(ident in last, "%s: live %s missing from the archive" % (stream, ident))
        r = last[ident]
        check(r["op"] == "upsert", "%s: live %s ends with a %s" % (stream, ident, r["op"]))
        if version is not None:
            check(r["version"] == version, "%s: %s archived at version %s, LaunchDarkly has %s" %
                  (stream, ident, r["version"], version))
    for ident in deleted:
        # contexts are append-only (README: no deletes): those of a deleted environment
        # or project keep their last upsert.
        if ident in last and stream != "contexts":  # never exported (created and deleted between passes): nothing to delete
            check(last[ident]["op"] == "delete", "%s: deleted %s ends with an upsert" % (stream, ident))
            check(last[ident]["data"] is None, "%s: a delete carries data" % stream)
    extra = set(last) - set(live) - deleted
    check(not extra, "%s: %d archived ids are not (selected) simulator ids, e.g. %s" %
          (stream, len(extra), sorted(extra)[:3]))
    return last, records


def deleted_history(sim, history=None):
    """{stream: every id the simulator's truth has listed as deleted so far}, merged into
    history. The truth's `deleted` keeps every id ever deleted (an entity itself, or with
    its environment or project) and no key or id is ever reused, so the union of what it
    listed is the history "deleted at some point"; sampling it during the run as well
    checks that contract instead of assuming it."""
    history = history if history is not None else {s: set() for s in STREAMS}
    for s in STREAMS:
        truth = sim.truth(s)
        live, deleted = {x["id"] for x in truth["live"]}, set(truth["deleted"])
        check(not live & deleted, "simulator %s truth: ids both live and deleted, e.g. %s" %
              (s, sorted(live & deleted)[:5]))
        forgotten = history[s] - deleted
        check(not forgotten, "simulator %s truth no longer lists as deleted %s (its deleted list "
                             "must keep every id ever deleted)" % (s, sorted(forgotten)[:5]))
        back = history[s] & live
        check(not back, "simulator %s truth: deleted ids live again %s (ids are never reused)" % (s, sorted(back)[:5]))
        history[s] |= deleted
    return history


def assert_deletes_only_of_deleted(ws, sim, stream, records, ever_deleted):
    """Every `delete` archived for stream names an id LaunchDarkly deleted at some point
    (itself, or its environment or project). The final-state comparison cannot see a
    delete archived for a live entity that a later pass upserted again, yet Kafka
    compaction and Postgres current-state tables would have dropped it in between.
    contexts are append-only: they have no deletes (a delete there is always wrong too)."""
    wrong = sorted({r["id"] for r in records if r["op"] == "delete"} - (ever_deleted if stream != "contexts" else set()))
    if not wrong:
        return
    truth = sim.truth(stream)
    state = {x["id"]: "live" for x in truth["live"]}
    state.update((i, "deleted") for i in truth["deleted"])
    lines = []
    for ident in wrong[:5]:
        seq = ["%s v%s observed %s" % (r["op"], r["version"], r.get("observed_at")) for r in records if r["id"] == ident]
        logs = [l.strip()[:300] for out in ws.outputs for l in out.splitlines()
                if ident in l and any(w in l for w in ("delet", "404", "gone"))][:5]
        lines.append("  %s (%s in the simulator at the end): archive %s; ldexport log: %s" %
                     (ident, state.get(ident, "unknown"), " -> ".join(seq), logs or "nothing"))
    raise TestFailure("%s: %d archived deletes of ids LaunchDarkly never deleted: %s\n%s" %
                      (stream, len(wrong), wrong[:20], "\n".join(lines)))


def assert_odd_context_keys(last):
    """Context keys are arbitrary strings: the export covered keys with '/', ':' and '%',
    and pairs whose ids joined raw would be one (key "K/APP" without an application, key
    "K" of application APP) are distinct records."""
    raw = collections.Counter()
    keys = []
    for r in last.values():
        ctx, app = r["data"]["context"], r["data"].get("applicationId")
        keys.append(ctx["key"])
        raw["%s/%s/%s/%s%s" % (r["project"], r["environment"], ctx["kind"], ctx["key"], "/" + app if app else "")] += 1
    for ch in "/:%":
        check(any(ch in k for k in keys), "contexts: no key with %r was exported" % ch)
    check(any(n > 1 for n in raw.values()), "contexts: no pair whose raw ids would collide was exported")


def open_snapshots(ws):
    """Streams whose committed cursor holds a snapshot in progress (a pass was cut short)."""
    out = []
    for name in os.listdir(ws.state) if os.path.isdir(ws.state) else []:
        if not name.endswith(".checkpoint.json"):
            continue
        with open(os.path.join(ws.state, name)) as f:
            cursor = json.load(f).get("source") or {}
        if isinstance(cursor, dict) and (cursor.get("snapshot") or {}).get("open"):
            out.append(name.split(".")[0])
    return out


def assert_no_secrets(ws):
    """No SDK or mobile key anywhere: archive, checkpoints, dead letters."""
    pat = re.compile(rb"(sdk|mob)-[0-9a-f]{8}-[0-9a-f]{4}-")
    for root, _, files in os.walk(ws.dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                m = pat.search(f.read())
            check(m is None, "an SDK or mobile key is in %s" % os.path.join(root, name))


def all_streams_match_truth_through_mutations_faults_and_kill9(sim_bin, ldx):
    rng = random.Random(SEED)
    print("seed", SEED, "(rerun with LDX_TEST_SEED=%d)" % SEED)
    ws = Workspace(ldx, "entities")
    with Simulator(sim_bin, "--seed", 21, "--projects", 3, "--environments", 3, "--flags", 130,
                   "--segments", 55, "--contexts", 120, "--members", 30, "--teams", 6, "--metrics", 55,
                   "--experiments", 2, "--audit-entries", 50, "--fault-rate", 0.05, "--rate-limit", 150) as sim:
        streams = {s: "" for s in STREAMS}
        streams["segments"] = "full_every: 20s"
        write_config(ws, sim, streams)
        first = ws.once(sim)
        for s in STREAMS:
            check_stream(ws, sim, s)
        assert_odd_context_keys(check_stream(ws, sim, "contexts")[0])
        print("initial export:", summary(first.stdout))

        # Several passes while the simulator mutates every stream; hard kills mid-pass.
        # LaunchDarkly also deletes two environments and a project while the selection
        # ("*") still covers them: everything in them must end deleted, not stay live.
        sim_post(sim, "/_sim/mutate-every?every=100ms")
        kills, cut = 0, set()
        ever_deleted = deleted_history(sim)
        for deletion in ("environment_deleted", "project_deleted", "environment_deleted"):
            p = ws.start_run(sim)
            time.sleep(rng.uniform(0.5, 3.0))
            sim_post(sim, "/_sim/mutate?n=1&kind=" + deletion)
            # Kill while a snapshot is open in a committed cursor (bounded wait): the kill
            # then lands inside a pass, after some of its pages were committed.
            deadline = time.time() + 60
            while time.time() < deadline and p.poll() is None and not open_snapshots(ws):
                time.sleep(0.01)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            ws.finish_run(p)
            cut.update(open_snapshots(ws))
            deleted_history(sim, ever_deleted)
        p = ws.start_run(sim)
        time.sleep(3)
        rc = ws.finish_run(p, signal.SIGTERM)
        check(rc == 0, "ldexport run exited %d on SIGTERM" % rc)
        check(kills >= 2, "only %d kills landed" % kills)
        check(cut, "no kill landed inside a snapshot")
        sim_post(sim, "/_sim/mutate-every?every=off")
        mutated = sim.stats()
        # The first pass finishes what a kill interrupted (a snapshot resumes where it was,
        # so pages read before the kill may predate the last mutations); the second is a
        # complete snapshot of the quiet state.
        ws.once(sim)
        ws.once(sim)
        deleted_history(sim, ever_deleted)
        deletes = collections.Counter()
        for s in STREAMS:
            last, records = check_stream(ws, sim, s)
            deletes[s] = sum(1 for r in last.values() if r["op"] == "delete")
            # Every archived delete names an id LaunchDarkly deleted at some point in the run
            # (a wrong delete of an entity that was deleted for real later still passes:
            # the truth keeps no deletion times).
            assert_deletes_only_of_deleted(ws, sim, s, records, ever_deleted[s])
        print("after %d kills (snapshots cut short: %s): deletes archived per stream %s; simulator %s" %
              (kills, sorted(cut), dict(deletes), mutated))
        for s in ("flags", "segments", "members", "projects", "environments", "metrics", "experiments"):
            check(deletes[s] > 0, "no %s delete was exercised" % s)
        # Experiments are confirmed only inside deleted environments, where a wrong path
        # would answer 404 as well: their deletes prove the path only if ldexport asked the
        # spec's route (the one the simulator serves for a single experiment).
        routes = sim.stats()["by_route"]
        experiment_get = "GET /api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}"
        check(routes.get(experiment_get, 0) > 0,
              "experiment deletes were never confirmed on the spec's route: %s" % sorted(routes))
        assert_no_secrets(ws)
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


def selection_exports_exactly_those(sim_bin, ldx):
    # 23 environments per project: more than an embedded collection holds (20), so
    # discovery has to follow the environments endpoint.
    with Simulator(sim_bin, "--seed", 4, "--projects", 3, "--environments", 23, "--flags", 12,
                   "--segments", 3, "--contexts", 4, "--metrics", 3, "--experiments", 1, "--rate-limit", 1000) as sim:
        ws = Workspace(ldx, "selection")
        projects, environments = ("default", "project-3"), ("production", "env-3", "env-22")
        chosen = ["environments", "flags", "segments", "contexts", "metrics"]
        write_config(ws, sim, {s: "" for s in chosen}, projects, environments)
        ws.once(sim)
        archived = sorted(d for d in os.listdir(ws.archive)
                          if not d.startswith(".") and os.path.isdir(os.path.join(ws.archive, d)))
        check(archived == sorted(chosen), "archived streams %s, configured %s" % (archived, chosen))
        for s in chosen:
            last, records = check_stream(ws, sim, s, projects, environments)
            check(last, "%s: nothing exported" % s)
            for r in records:
                check(r["project"] in projects, "%s: project %s was not selected" % (s, r["project"]))
                if s != "flags" and s != "metrics":
                    check(r["environment"] in environments, "%s: environment %s was not selected" %
                          (s, r["environment"]))
        # Flags carry the targeting of the selected environments only.
        flag = next(iter(check_stream(ws, sim, "flags", projects, environments)[0].values()))
        check(sorted(flag["data"]["environments"]) == sorted(environments),
              "flag environments %s" % sorted(flag["data"]["environments"]))
        ws.cleanup()

        ws = Workspace(ldx, "every-environment")
        write_config(ws, sim, {"environments": ""})
        out = ws.once(sim).stdout
        last, _ = check_stream(ws, sim, "environments")
        check(len(last) == 3 * 23, "%d environments exported" % len(last))
        # One projects page with the embedded environments, then each project's list.
        check(summary(out)["environments"][2] == 1 + 3, "requests: %s" % out)
        assert_no_secrets(ws)
        ws.cleanup()


def pages(n, limit):
    return max(1, math.ceil(n / limit))


def steady_state_costs_only_the_list_pages(sim_bin, ldx):
    shape = dict(projects=3, environments=2, flags=230, segments=120, contexts=130, members=1300, teams=140,
                 metrics=70, experiments=2)
    args = []
    for k, v in shape.items():
        args += ["--" + k, v]
    with Simulator(sim_bin, "--seed", 8, "--audit-entries", 20, *args) as sim:
        ws = Workspace(ldx, "steady")
        write_config(ws, sim, {s: "" for s in STREAMS})
        first = summary(ws.once(sim).stdout)
        before = sim.stats()["requests_total"]
        out = ws.once(sim).stdout
        served = sim.stats()["requests_total"] - before
        steady = summary(out)
        print("first pass", first)
        print("steady pass", steady)
        P, E = shape["projects"], shape["environments"]
        discovery = pages(P, 100)  # projects with their embedded environments (E <= 20)
        flags_per_project = collections.Counter(i.split("/")[0] for i in
                                                (x["id"] for x in sim.truth("flags")["live"]))
        metrics_per_project = collections.Counter(x["id"].split("/")[0] for x in sim.truth("metrics")["live"])
        bound = {
            "projects": pages(P, 100),
            "environments": discovery,
            # unarchived + archived lists: at most one page more than all of them together
            "flags": discovery + sum(pages(n, 100) + 1 for n in flags_per_project.values()),
            "segments": discovery + P * E * pages(shape["segments"], 50),
            "contexts": discovery + P * E * pages(shape["contexts"], 50),
            "members": pages(shape["members"], 1000),
            "teams": pages(shape["teams"], 100),
            "metrics": discovery + sum(pages(n, 50) for n in metrics_per_project.values()),
            "experiments": discovery + P * E * pages(shape["experiments"], 100),
        }
        for s in STREAMS:
            records, _, requests, dead = steady[s]
            check(records == 0, "%s: %d records in a steady state" % (s, records))
            check(dead == 0, "%s: dead letters" % s)
            check(requests <= bound[s], "%s: %d requests in a steady state, the data set needs %d list pages" %
                  (s, requests, bound[s]))
            check(first[s][2] <= bound[s], "%s: first pass %d requests > %d" % (s, first[s][2], bound[s]))
        # The incremental streams read one page per environment when nothing changed.
        check(steady["contexts"][2] == discovery + P * E, "contexts: %s" % (steady["contexts"],))
        check(steady["segments"][2] == discovery + P * E, "segments: %s" % (steady["segments"],))
        # What `once` reports is what the API served (no faults here: no retries).
        check(sum(v[2] for v in steady.values()) == served,
              "the summary counts %d requests, the simulator served %d" % (sum(v[2] for v in steady.values()),
                                                                           served))
        check("total: %d requests" % served in out, "total line: %s" % out)
        ws.cleanup()


def flags_refresh_from_the_audit_log(sim_bin, ldx):
    with Simulator(sim_bin, "--seed", 12, "--projects", 2, "--flags", 250, "--audit-entries", 30,
                   "--fault-rate", 0.03, "--rate-limit", 400) as sim:
        ws = Workspace(ldx, "refresh")
        write_config(ws, sim, {"flags": "refresh: audit_log, full_every: 1h, lookback: 2m"})
        ws.once(sim)  # the first pass is a full snapshot
        check_stream(ws, sim, "flags")
        sim.set_faults(0)
        for kind, n in (("flag_changed", 12), ("flag_deleted", 3), ("flag_created", 3), ("flag_archived", 2)):
            sim_post(sim, "/_sim/mutate?n=%d&kind=%s" % (n, kind))
        out = ws.once(sim).stdout
        last, _ = check_stream(ws, sim, "flags")
        check(any(r["op"] == "delete" for r in last.values()), "no delete from a 404")
        requests = summary(out)["flags"][2]
        # Discovery, the audit pages of 20 mutations, one GET per named flag.
        check(requests <= 1 + 2 + 20, "refresh pass spent %d requests: %s" % (requests, out))
        out = ws.once(sim).stdout
        records, _, requests, _ = summary(out)["flags"]
        check(records == 0 and requests <= 1 + 2, "steady refresh: discovery and the audit page(s): %s" % out)
        check_stream(ws, sim, "flags")
        # LaunchDarkly deletes an environment: the audit log names no flag, yet every flag
        # of its project loses that environment's configuration (its _version unchanged).
        # The next pass is a full snapshot that upserts them without it, not full_every later.
        done = sim_post(sim, "/_sim/mutate?n=1&kind=environment_deleted")["mutations"]
        check(len(done) == 1 and done[0]["kind"] == "environment_deleted", "mutation: %r" % done)
        project, env = done[0]["id"].split("/")
        p = ws.once(sim)
        last, _ = check_stream(ws, sim, "flags")
        stale = sorted(i for i, r in last.items() if i.split("/")[0] == project and r["op"] == "upsert"
                       and env in (r["data"].get("environments") or {}))
        check(not stale, "flags still hold deleted environment %s/%s: %s\n%s" %
              (project, env, stale[:5], p.stdout[-3000:]))
        line = "stream flags: project %s: environments changed (%s no longer listed by LaunchDarkly)" % (project, env)
        check(line in p.stdout + p.stderr, "no log line %r:\n%s" % (line, (p.stdout + p.stderr)[-3000:]))
        ws.cleanup()


def contexts_page_on_the_next_link_alone(sim_bin, ldx):
    """Pages whose continuationToken is only in _links.next.href (the form the spec
    prefers): every context of every environment is exported, not only the first page,
    on the first pass and on later ones."""
    with Simulator(sim_bin, "--seed", 7, "--projects", 2, "--environments", 2, "--flags", 2, "--segments", 1,
                   "--contexts", 130, "--contexts-next-link-only") as sim:
        ws = Workspace(ldx, "contexts-next-link")
        write_config(ws, sim, {"contexts": ""})
        out = ws.once(sim).stdout
        last, _ = check_stream(ws, sim, "contexts")
        check(len(last) == len(sim.truth("contexts")["live"]) and len(last) > 4 * 50,
              "%d contexts exported: %s" % (len(last), out))
        assert_odd_context_keys(last)
        for kind in ("context_first_seen", "context_seen_again"):
            sim_post(sim, "/_sim/mutate?n=60&kind=" + kind)
        ws.once(sim)
        last, _ = check_stream(ws, sim, "contexts")
        check(len(last) == len(sim.truth("contexts")["live"]), "after new contexts: %d exported" % len(last))
        ws.cleanup()


def include_secrets_opts_in_with_a_warning(sim_bin, ldx):
    with Simulator(sim_bin, "--seed", 2, "--projects", 1, "--environments", 2) as sim:
        ws = Workspace(ldx, "secrets")
        write_config(ws, sim, {"environments": ""}, include_secrets=True)
        p = ws.once(sim)
        check("include_secrets is on" in p.stdout + p.stderr, "no warning at start")
        last, _ = check_stream(ws, sim, "environments")
        for r in last.values():
            check(r["data"]["apiKey"].startswith("sdk-") and r["data"]["mobileKey"].startswith("mob-"),
                  "include_secrets: keys missing from %s" % r["id"])
        ws.cleanup()


TESTS = {
    "all_streams_match_truth_through_mutations_faults_and_kill9":
        all_streams_match_truth_through_mutations_faults_and_kill9,
    "selection_exports_exactly_those": selection_exports_exactly_those,
    "steady_state_costs_only_the_list_pages": steady_state_costs_only_the_list_pages,
    "flags_refresh_from_the_audit_log": flags_refresh_from_the_audit_log,
    "include_secrets_opts_in_with_a_warning": include_secrets_opts_in_with_a_warning,
    "contexts_page_on_the_next_link_alone": contexts_page_on_the_next_link_alone,
}

if __name__ == "__main__":
    main(TESTS)
