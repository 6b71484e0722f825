#!/usr/bin/env python3
"""Conformance test: ld-simulator against the real LaunchDarkly OpenAPI spec.

Usage: test_simulator_conformance.py <ld-simulator binary> <shared dir>

Starts ld-simulator on a free loopback port, validates real responses against the
response schemas that openapi.yaml declares for each operation (looked up by path,
method and status), and checks the semantics the exporter relies on: newest-first
pages, `next` links that yield every entry exactly once even when a millisecond's
entries straddle a page boundary, and exclusive `before`/`after`.

The entity endpoints (projects, environments, flags, segments, contexts, members, teams,
metrics, experiments) are checked the same way on a second simulator: every page of
every listing valid, `next`/offset paging and the contexts continuation token yielding
each `/_sim/truth/<stream>` id exactly once with its version, 404 for unknown projects,
and mutations (/_sim/mutate) that show up in the listings, the truth and the audit log.
The single-entity GETs that ldexport uses to confirm a disappearance answer 200 (the
entity as listed) for every live id and 404 for every deleted one, deleted environments
and projects included.

Exit codes: 0 pass, 1 fail, 77 skipped (spec not available).
"""

import datetime
import http.client
import json
import os
import selectors
import subprocess
import sys
import time
import urllib.parse

SKIP = 77
TOKEN = "api-conformance-token"
HOST = "127.0.0.1"
AUDIT_ENTRIES = 500
SEED = 7
PAGE_LIMIT = 20


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


# --------------------------------------------------------------------------- spec


def to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema (draft 4) as jsonschema understands it.

    Handles `nullable`, drops annotation-only keywords (`example`, ...). `$ref`s keep
    pointing into the same document (#/components/schemas/...). Nothing is made
    stricter: `additionalProperties` stays exactly as the spec says.
    """
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("example", "examples", "xml", "externalDocs", "discriminator", "deprecated"):
            continue
        if key == "properties" and isinstance(value, dict):
            # property names are data, not keywords: never drop them
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
            continue
        out[key] = to_json_schema(value)
    if out.pop("nullable", False):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        if "$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, path):
        import jsonschema
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(path, "rb") as f:
            self.raw = yaml.load(f, Loader=loader)
        # The converted components travel inside every root schema, so that
        # "#/components/schemas/..." resolves against the root with any jsonschema version
        # (RefResolver in 4.x, the referencing library later) and no resolver setup.
        self.components = to_json_schema(self.raw.get("components", {}))
        self.jsonschema = jsonschema
        self.checked = 0

    def _resolve(self, node):
        # Response objects may themselves be $refs (#/components/responses/...).
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 10:
            ref = node["$ref"]
            check(ref.startswith("#/"), f"unsupported $ref {ref}")
            node = self.raw
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
        return node

    def response_schema(self, path, method, status):
        op = self.raw["paths"].get(path, {}).get(method.lower())
        check(op is not None, f"spec has no operation {method} {path}")
        responses = op.get("responses", {})
        response = responses.get(str(status))
        check(response is not None,
              f"{method} {path}: status {status} is not declared in the spec "
              f"(declared: {sorted(responses)})")
        response = self._resolve(response)
        content = response.get("content", {})
        media = content.get("application/json")
        check(media is not None and "schema" in media,
              f"{method} {path} {status}: spec declares no application/json schema")
        return to_json_schema(media["schema"])

    def validate(self, path, method, status, body):
        schema = dict(self.response_schema(path, method, status), components=self.components)
        self._check(schema, body, f"{method} {path} {status}")

    def validate_component(self, name, body, what):
        """Against components/schemas/<name>, for answers the spec does not declare (e.g. the
        404 of contexts/search, which real servers send for an unknown project)."""
        check(name in self.components.get("schemas", {}), f"spec has no schema {name}")
        schema = {"$ref": f"#/components/schemas/{name}", "components": self.components}
        self._check(schema, body, what)

    def _check(self, schema, body, what):
        validator = self.jsonschema.Draft4Validator(schema)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{what}: response does not match the spec schema:"]
            for e in errors[:10]:
                where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                lines.append(f"  at {where}: {e.message[:300]}")
            raise Failure("\n".join(lines))
        self.checked += 1


# --------------------------------------------------------------------------- simulator


class Simulator:
    def __init__(self, binary, *args):
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--token", TOKEN, *args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.port = None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
        sel.close()
        text = line.decode(errors="replace").strip()
        prefix = "listening on 127.0.0.1:"
        check(text.startswith(prefix), f"unexpected first line from ld-simulator: {text!r}")
        self.port = int(text[len(prefix):])
        check(0 < self.port < 65536, f"bad port in {text!r}")

    def stop(self):
        """SIGTERM, then wait; returns the exit code (ld-simulator exits 0 on SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def request(self, method, target, token=TOKEN, timeout=15, body=None, headers=None):
        """One request on a fresh connection. Returns (status, headers, parsed JSON body).
        `body` (JSON-encoded when not None) and `headers` (added or overriding) are optional."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            sent = {"Accept": "application/json", "LD-API-Version": "20240415"}
            if token is not None:
                sent["Authorization"] = token
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            sent.update(headers or {})
            conn.request(method, target, body=payload, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise Failure(f"{method} {target}: body is not JSON: {raw[:200]!r}")
            return resp.status, hdrs, body
        finally:
            conn.close()

    def get(self, target, **kw):
        return self.request("GET", target, **kw)


# --------------------------------------------------------------------------- checks

LIST = "/api/v2/auditlog"
DETAIL = "/api/v2/auditlog/{id}"


def walk(sim, spec, first_target, max_pages):
    """Follows `next` from first_target; returns the pages' items (validated)."""
    pages = []
    target = first_target
    for _ in range(max_pages):
        status, _, body = sim.get(target)
        check(status == 200, f"GET {target}: status {status}: {body}")
        spec.validate(LIST, "GET", 200, body)
        pages.append(body["items"])
        nxt = body["_links"].get("next")
        if nxt is None:
            return pages
        href = nxt["href"]
        check(href.startswith("/api/v2/auditlog?"), f"next href not relative to base URL: {href}")
        check(body["items"], f"GET {target}: empty page but a next link")
        target = href
    raise Failure(f"following next from {first_target}: more than {max_pages} pages")


def flatten(pages):
    return [item for page in pages for item in page]


def check_newest_first(items, what):
    dates = [it["date"] for it in items]
    for i in range(1, len(dates)):
        check(dates[i] <= dates[i - 1],
              f"{what}: not newest-first at position {i}: {dates[i - 1]} then {dates[i]}")


def check_exactly_once(items, expected_ids, what):
    ids = [it["_id"] for it in items]
    dupes = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
    check(not dupes, f"{what}: {len(dupes)} ids returned more than once, e.g. {sorted(dupes)[:3]}")
    missing = set(expected_ids) - set(ids)
    extra = set(ids) - set(expected_ids)
    check(not missing, f"{what}: {len(missing)} ids never returned, e.g. {sorted(missing)[:3]}")
    check(not extra, f"{what}: {len(extra)} unexpected ids, e.g. {sorted(extra)[:3]}")


def test_validator_bites(spec, page):
    """The schema check must be able to fail; otherwise a broken $ref resolution would pass
    everything silently."""
    import copy

    broken = copy.deepcopy(page)
    item = broken["items"][0]
    del item["_id"]
    item["date"] = "yesterday"
    try:
        spec.validate(LIST, "GET", 200, broken)
    except Failure:
        pass
    else:
        raise Failure("the spec validator accepted an entry without _id and with a string date")
    try:
        spec.validate(LIST, "GET", 200, {"items": []})
    except Failure:
        pass
    else:
        raise Failure("the spec validator accepted a collection without _links")


def test_listing(sim, spec):
    status, _, truth = sim.get("/_sim/truth/audit_log", token=None)
    check(status == 200 and isinstance(truth, list), f"truth: {status} {truth!r:.200}")
    check(all(isinstance(i, str) for i in truth), "truth must be a list of strings")
    check(len(truth) == AUDIT_ENTRIES, f"truth has {len(truth)} ids, expected {AUDIT_ENTRIES}")
    check(len(set(truth)) == len(truth), "truth ids are not unique")

    # Default page: 10 items, newest first, with a next link.
    status, _, body = sim.get(LIST)
    check(status == 200, f"GET {LIST}: {status}")
    spec.validate(LIST, "GET", 200, body)
    check(len(body["items"]) == 10, f"default limit: got {len(body['items'])} items, expected 10")
    check("next" in body["_links"], "first page has no next link")
    check("self" in body["_links"], "page has no self link")
    test_validator_bites(spec, body)

    # Full walk at the maximum page size: every id exactly once, globally newest-first.
    max_pages = AUDIT_ENTRIES // PAGE_LIMIT + 5
    pages = walk(sim, spec, f"{LIST}?limit={PAGE_LIMIT}", max_pages)
    items = flatten(pages)
    check(all(len(p) == PAGE_LIMIT for p in pages[:-1]), "a non-final page is not full")
    check_newest_first(items, "limit=20 walk")
    check_exactly_once(items, truth, "limit=20 walk")
    straddles = sum(1 for a, b in zip(pages, pages[1:]) if a[-1]["date"] == b[0]["date"])
    check(straddles > 0, "no millisecond straddles a page boundary; the data set does not "
                         "exercise ties (expected with --audit-entries 500)")
    print(f"  walked {len(pages)} pages of {PAGE_LIMIT}: {len(items)} ids, exactly once; "
          f"{straddles} boundaries split a millisecond")

    # A second page size, so different boundaries split different groups.
    items7 = flatten(walk(sim, spec, f"{LIST}?limit=7", AUDIT_ENTRIES // 7 + 5))
    check_newest_first(items7, "limit=7 walk")
    check_exactly_once(items7, truth, "limit=7 walk")
    return items


def pick_tie_date(items):
    counts = {}
    for it in items:
        counts[it["date"]] = counts.get(it["date"], 0) + 1
    # Largest group not at either end, so both sides are non-empty.
    dates = sorted(counts)
    inner = [d for d in dates[1:-1]]
    return max(inner, key=lambda d: (counts[d], d)), counts


def test_before_after(sim, spec, items):
    tie, counts = pick_tie_date(items)
    check(counts[tie] > 1, "expected a millisecond shared by several entries")
    by_date = lambda pred: [it["_id"] for it in items if pred(it["date"])]
    pages = AUDIT_ENTRIES // PAGE_LIMIT + 5

    got = flatten(walk(sim, spec, f"{LIST}?limit={PAGE_LIMIT}&before={tie}", pages))
    check(all(it["date"] < tie for it in got), "before= is not exclusive (date < before)")
    check_newest_first(got, "before walk")
    check_exactly_once(got, by_date(lambda d: d < tie), f"before={tie} walk")

    got = flatten(walk(sim, spec, f"{LIST}?limit={PAGE_LIMIT}&after={tie}", pages))
    check(all(it["date"] > tie for it in got), "after= is not exclusive (date > after)")
    check_newest_first(got, "after walk")
    check_exactly_once(got, by_date(lambda d: d > tie), f"after={tie} walk")

    # The window (tie-1, tie+1) holds exactly the entries of that millisecond.
    got = flatten(walk(sim, spec, f"{LIST}?limit=3&before={tie + 1}&after={tie - 1}", 30))
    check_exactly_once(got, by_date(lambda d: d == tie), f"one-millisecond window {tie}")

    # Exclusive on both sides at once: before == after + 1 leaves nothing.
    status, _, body = sim.get(f"{LIST}?before={tie}&after={tie - 1}&limit=20")
    spec.validate(LIST, "GET", status, body)
    check(status == 200 and body["items"] == [], "before/after window (tie-1, tie) is not empty")
    print(f"  before/after exclusive around {tie} ({counts[tie]} entries in that ms)")


def test_detail(sim, spec, items):
    listing = {it["_id"]: it for it in items}
    sample = items[:3]
    for kind in ("environment", "segment", "member", "project"):
        sample += [it for it in items if it["kind"] == kind][:2]
    sample += [it for it in items if "token" in it][:2]
    sample += items[::25]
    nulls = objects = 0
    saw_secret = False
    for it in sample:
        target = f"{LIST}/{it['_id']}"
        status, _, body = sim.get(target)
        check(status == 200, f"GET {target}: {status}")
        spec.validate(DETAIL, "GET", 200, body)
        for key, value in listing[it["_id"]].items():
            check(body.get(key) == value, f"detail {it['_id']}: field {key} differs from listing")
        for key in ("previousVersion", "currentVersion", "delta", "subentries"):
            check(key in body, f"detail {it['_id']}: no {key}")
        if body["delta"] is None:
            nulls += 1
        else:
            check(isinstance(body["delta"], dict), "delta is neither null nor an object")
            objects += 1
        if body["kind"] == "environment":
            for version in ("previousVersion", "currentVersion"):
                v = body[version]
                check(isinstance(v, dict) and v.get("apiKey", "").startswith("sdk-")
                      and v.get("mobileKey", "").startswith("mob-"),
                      f"environment entry {it['_id']}: {version} lacks apiKey/mobileKey")
            saw_secret = True
        status2, _, body2 = sim.get(target)
        check(status2 == 200 and body2 == body, f"detail {it['_id']} is not stable across requests")
    check(nulls > 0 and objects > 0, f"delta should be null for some and an object for others "
                                     f"(null {nulls}, object {objects})")
    check(saw_secret, "no environment entry in the sample")
    print(f"  {len(sample)} detail entries valid (delta null {nulls}, object {objects})")


def test_errors(sim, spec):
    for token in ("wrong-token", f"Bearer {TOKEN}", None):
        status, _, body = sim.get(f"{LIST}?limit=5", token=token)
        check(status == 401, f"token {token!r}: expected 401, got {status}")
        spec.validate(LIST, "GET", 401, body)
        check(body["code"] == "unauthorized", f"401 code: {body}")
    status, _, body = sim.get(f"{LIST}/{'0' * 24}", token="wrong-token")
    check(status == 401, f"detail with a bad token: {status}")
    spec.validate(DETAIL, "GET", 401, body)

    for query in ("limit=21", "limit=0", "limit=abc", "before=yesterday", "after=1.5"):
        status, _, body = sim.get(f"{LIST}?{query}")
        check(status == 400, f"{query}: expected 400, got {status}")
        spec.validate(LIST, "GET", 400, body)
        check(body["code"] == "invalid_request", f"400 code: {body}")

    status, _, body = sim.get(f"{LIST}/{'f' * 24}")
    check(status == 404, f"unknown id: expected 404, got {status}")
    spec.validate(DETAIL, "GET", 404, body)
    check(body["code"] == "not_found", f"404 code: {body}")

    status, _, body = sim.get("/_sim/truth/no-such-stream", token=None)
    check(status == 404, f"/_sim/truth/no-such-stream: expected 404, got {status}")
    print("  401 / 400 / 404 responses valid")


def test_append(sim, spec):
    status, _, before = sim.get("/_sim/truth/audit_log", token=None)
    status, _, body = sim.request("POST", "/_sim/append?n=3", token=None)
    check(status == 200 and len(body["appended"]) == 3, f"append: {status} {body}")
    status, _, after = sim.get("/_sim/truth/audit_log", token=None)
    check(len(after) == len(before) + 3 and set(body["appended"]) <= set(after),
          "appended ids are not in the truth")
    status, _, page = sim.get(f"{LIST}?limit=5")
    spec.validate(LIST, "GET", 200, page)
    top = [it["_id"] for it in page["items"][:3]]
    check(set(top) == set(body["appended"]), "appended entries are not the newest")
    print("  /_sim/append adds entries at the top and to the truth")


def snapshot(sim):
    status, _, truth = sim.get("/_sim/truth/audit_log", token=None)
    check(status == 200, "truth")
    status, _, page = sim.get(f"{LIST}?limit=20")
    check(status == 200, "first page")
    status, _, detail = sim.get(f"{LIST}/{truth[len(truth) // 2]}")
    check(status == 200, "detail")
    return truth, page, detail


def test_deterministic(binary, baseline):
    """Same seed => same data set across restarts (an export run twice finds nothing new)."""
    for seed, same in ((SEED, True), (SEED + 1, False)):
        sim = Simulator(binary, "--audit-entries", str(AUDIT_ENTRIES), "--seed", str(seed))
        try:
            again = snapshot(sim)
        finally:
            rc = sim.stop()
        check(rc == 0, f"ld-simulator exited with {rc} on SIGTERM, expected 0")
        if same:
            check(again == baseline, "same --seed after a restart gives a different data set")
        else:
            check(set(again[0]).isdisjoint(baseline[0]), "a different --seed gives the same ids")
    print("  data set identical across restarts with the same seed, different with another")


def test_rate_limit(binary, spec):
    sim = Simulator(binary, "--rate-limit", "3", "--audit-entries", "30", "--seed", str(SEED))
    try:
        statuses = []
        limited = None
        for _ in range(12):  # bounded; a window boundary can refill the budget once
            status, headers, body = sim.get(f"{LIST}?limit=1")
            statuses.append(status)
            for h in ("x-ratelimit-global-remaining", "x-ratelimit-route-remaining"):
                check(h in headers, f"status {status}: missing header {h}")
            if status == 429:
                limited = (headers, body)
                break
            check(status == 200, f"rate-limited simulator: unexpected status {status}")
            reset = int(headers["x-ratelimit-reset"])
            now = int(time.time() * 1000)
            check(now - 1000 <= reset <= now + 11000, f"X-Ratelimit-Reset {reset} is not epoch ms "
                                                      f"within the 10 s window (now {now})")
        check(limited is not None, f"no 429 after {len(statuses)} requests with --rate-limit 3")
        check(statuses.count(200) <= 6, f"too many successes before a 429: {statuses}")
        headers, body = limited
        spec.validate(LIST, "GET", 429, body)
        check(body["code"] == "rate_limited", f"429 code: {body}")
        if "retry-after" in headers:
            check(int(headers["retry-after"]) >= 1, "Retry-After must be whole seconds >= 1")

        # The detail route is limited too, and its 429 matches the spec.
        status = None
        for _ in range(8):
            status, _, body = sim.get(f"{LIST}/{'a' * 24}")
            if status == 429:
                break
        check(status == 429, "detail route never rate-limited")
        spec.validate(DETAIL, "GET", 429, body)

        # Control endpoints are never rate-limited.
        for _ in range(5):
            status, headers, stats = sim.get("/_sim/stats", token=None)
            check(status == 200, f"/_sim/stats was limited: {status}")
            check("x-ratelimit-global-remaining" not in headers, "/_sim/ carries rate headers")
        check(stats["rate_limited_total"] >= 2, f"stats do not count 429s: {stats}")
        check(stats["max_requests_any_10s"] >= len(statuses), f"stats window max: {stats}")
        print(f"  429 after {statuses.count(200)} successes; 429 bodies valid; stats count them")

        # POST /_sim/rate-limit changes the limit at once: 0 lifts it (no headers), N restores it.
        status, _, body = sim.request("POST", "/_sim/rate-limit?limit=0", token=None)
        check(status == 200 and body["rate_limit"] == 0, f"lift the rate limit: {status} {body}")
        status, headers, _ = sim.get(f"{LIST}?limit=1")
        check(status == 200 and "x-ratelimit-global-remaining" not in headers, f"limit 0: {status} {headers}")
        status, _, body = sim.request("POST", "/_sim/rate-limit?limit=1", token=None)
        check(status == 200 and body["rate_limit"] == 1, f"set the rate limit: {status} {body}")
        status, _, _ = sim.request("POST", "/_sim/rate-limit?limit=-1", token=None)
        check(status == 400, f"a negative limit was accepted: {status}")
        check(sim.get("/_sim/stats", token=None)[2]["rate_limit"] == 1, "stats do not show the new limit")
    finally:
        rc = sim.stop()
    check(rc == 0, f"ld-simulator (rate-limited) exited with {rc} on SIGTERM, expected 0")


def test_faults(sim):
    status, _, body = sim.request("POST", "/_sim/faults?rate=1", token=None)
    check(status == 200 and body["fault_rate"] == 1, f"set fault rate: {status} {body}")
    outcomes = {}
    try:
        for _ in range(30):
            try:
                status, _, _ = sim.get(f"{LIST}?limit=20", timeout=10)
                kind = "ok" if status == 200 else f"http_{status}"
            except (http.client.IncompleteRead, ValueError, Failure):
                kind = "truncated"
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                kind = "dropped"
            outcomes[kind] = outcomes.get(kind, 0) + 1
    finally:
        status, _, body = sim.request("POST", "/_sim/faults?rate=0", token=None)
        check(status == 200, "could not reset the fault rate")
    status, _, stats = sim.get("/_sim/stats", token=None)
    check(stats["faults"]["total"] >= 30, f"faults not counted: {stats['faults']}")
    check(outcomes.get("ok", 0) < 30, f"fault rate 1 produced no faults: {outcomes}")
    status, _, _ = sim.get(f"{LIST}?limit=1")
    check(status == 200, "fault rate 0 still faults")
    print(f"  fault injection at rate 1: {outcomes}")


# --------------------------------------------------------------------------- entities

# A data set small enough to walk quickly and large enough that every listing spans
# several pages at the page sizes below.
ENTITY_ARGS = ["--seed", str(SEED), "--audit-entries", "50", "--projects", "2",
               "--environments", "3", "--flags", "45", "--segments", "12", "--contexts", "120",
               "--members", "30", "--teams", "7", "--metrics", "9", "--experiments", "4"]
ENTITY_STREAMS = ("projects", "environments", "flags", "segments", "contexts", "members",
                  "teams", "metrics", "experiments")
BETA = {"LD-API-Version": "beta"}
PROJECTS = "/api/v2/projects"
PROJECT = "/api/v2/projects/{projectKey}"
ENVIRONMENTS = "/api/v2/projects/{projectKey}/environments"
FLAGS = "/api/v2/flags/{projectKey}"
FLAG = "/api/v2/flags/{projectKey}/{featureFlagKey}"
SEGMENTS = "/api/v2/segments/{projectKey}/{environmentKey}"
CONTEXTS = "/api/v2/projects/{projectKey}/environments/{environmentKey}/contexts/search"
MEMBERS = "/api/v2/members"
TEAMS = "/api/v2/teams"
METRICS = "/api/v2/metrics/{projectKey}"
EXPERIMENTS = "/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments"


def truth_of(sim, stream):
    status, _, truth = sim.get(f"/_sim/truth/{stream}", token=None)
    check(status == 200 and set(truth) == {"live", "deleted"}, f"truth/{stream}: {status} {truth!r:.200}")
    ids = [e["id"] for e in truth["live"]]
    check(len(set(ids)) == len(ids), f"truth/{stream}: live ids are not unique")
    check(not set(ids) & set(truth["deleted"]), f"truth/{stream}: an id is both live and deleted")
    return {e["id"]: e["version"] for e in truth["live"]}, set(truth["deleted"])


def walk_offset(sim, spec, spec_path, first_target, max_pages, headers=None, count="totalCount"):
    """Follows _links.next from first_target; validates every page. Returns all items."""
    items = []
    target = first_target
    prefix = first_target.split("?")[0] + "?"
    totals = set()
    for _ in range(max_pages):
        status, _, body = sim.request("GET", target, headers=headers)
        check(status == 200, f"GET {target}: status {status}: {body}")
        spec.validate(spec_path, "GET", 200, body)
        check("self" in body["_links"], f"GET {target}: no self link")
        if count in body:
            totals.add(body[count])
        items += body["items"]
        nxt = body["_links"].get("next")
        if nxt is None:
            check(len(totals) <= 1, f"{first_target}: {count} changed during the walk: {totals}")
            if totals and "offset=" not in first_target:
                check(totals.pop() == len(items), f"{first_target}: {count} is not the number of items")
            return items
        check(nxt["href"].startswith(prefix), f"next href {nxt['href']} does not continue {prefix}")
        check(body["items"], f"GET {target}: empty page with a next link")
        target = nxt["href"]
    raise Failure(f"following next from {first_target}: more than {max_pages} pages")


def check_ids_once(ids, expected, what):
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    check(not dupes, f"{what}: ids returned more than once, e.g. {dupes[:3]}")
    missing = sorted(set(expected) - set(ids))
    extra = sorted(set(ids) - set(expected))
    check(not missing, f"{what}: {len(missing)} truth ids never returned, e.g. {missing[:3]}")
    check(not extra, f"{what}: {len(extra)} ids not in the truth, e.g. {extra[:3]}")


def check_versions(items, truth, id_of, version_of, what):
    for it in items:
        check(truth[id_of(it)] == version_of(it),
              f"{what}: {id_of(it)} has version {version_of(it)}, truth says {truth[id_of(it)]}")


def test_projects_environments(sim, spec):
    projects, _ = truth_of(sim, "projects")
    envs, _ = truth_of(sim, "environments")
    items = walk_offset(sim, spec, PROJECTS, f"{PROJECTS}?limit=1", 10)
    check_ids_once([p["key"] for p in items], projects, "projects walk")
    check(all(v is None for v in projects.values()), "projects have no version")
    seen_envs = []
    for key in projects:
        status, _, body = sim.get(f"{PROJECTS}/{key}")
        check(status == 200 and body["key"] == key, f"GET project {key}: {status}")
        spec.validate(PROJECT, "GET", 200, body)
        walked = walk_offset(sim, spec, ENVIRONMENTS, f"{PROJECTS}/{key}/environments?limit=2", 10)
        for e in walked:
            check(e["apiKey"].startswith("sdk-") and e["mobileKey"].startswith("mob-"),
                  f"environment {key}/{e['key']}: apiKey/mobileKey are not sdk-/mob- keys")
        seen_envs += [f"{key}/{e['key']}" for e in walked]
    check_ids_once(seen_envs, envs, "environments walks")
    # expand=environments embeds the first page of each project's environments.
    expanded = walk_offset(sim, spec, PROJECTS, f"{PROJECTS}?expand=environments&limit=1", 10)
    for p in expanded:
        embedded = p["environments"]
        check(embedded["totalCount"] == len([e for e in envs if e.startswith(p["key"] + "/")]),
              f"project {p['key']}: embedded totalCount is wrong")
    print(f"  projects ({len(projects)}) and environments ({len(envs)}) walked once each, "
          f"with secrets; expand=environments valid")


def test_embedded_environment_paging(binary, spec):
    """More than 20 environments: the embedded collection is only the first page."""
    sim = Simulator(binary, "--projects", "1", "--environments", "23", "--flags", "1",
                    "--segments", "0", "--contexts", "0", "--audit-entries", "0")
    try:
        status, _, body = sim.get(f"{PROJECTS}?expand=environments")
        check(status == 200, f"expand=environments: {status}")
        spec.validate(PROJECTS, "GET", 200, body)
        embedded = body["items"][0]["environments"]
        check(embedded["totalCount"] == 23 and len(embedded["items"]) == 20,
              f"embedded environments: totalCount {embedded['totalCount']}, "
              f"{len(embedded['items'])} items (expected 23 and the first 20)")
        rest = walk_offset(sim, spec, ENVIRONMENTS, embedded["_links"]["next"]["href"], 5)
        keys = [e["key"] for e in embedded["items"] + rest]
        check(len(set(keys)) == 23, f"embedded page plus its next link: {len(set(keys))} environments")
    finally:
        check(sim.stop() == 0, "ld-simulator (23 environments) did not exit 0")
    print("  expand=environments with 23 environments: first 20 embedded, next link gives the rest")


def flag_id(project):
    return lambda f: f"{project}/{f['key']}"


def test_flags(sim, spec):
    truth, deleted = truth_of(sim, "flags")
    projects, _ = truth_of(sim, "projects")
    envs, _ = truth_of(sim, "environments")
    ids = []
    for p in projects:
        p_envs = sorted(e.split("/")[1] for e in envs if e.startswith(p + "/"))
        live = walk_offset(sim, spec, FLAGS, f"/api/v2/flags/{p}?limit=7", 30)
        check(live and all("environments" not in f for f in live),
              f"flags {p}: items without env= must carry no environments map")
        check(all(not f["archived"] for f in live), f"flags {p}: archived flag in the default list")
        archived = walk_offset(sim, spec, FLAGS, f"/api/v2/flags/{p}?filter=state:archived&limit=2", 30)
        check(all(f["archived"] for f in archived), f"flags {p}: unarchived flag in the archived list")
        both = live + archived
        check_versions(both, truth, flag_id(p), lambda f: f["_version"], f"flags {p}")
        ids += [flag_id(p)(f) for f in both]

        env_q = "&".join(f"env={e}" for e in p_envs)
        full = walk_offset(sim, spec, FLAGS, f"/api/v2/flags/{p}?{env_q}&summary=0&limit=100", 3)
        check(len(full) == len(live), f"flags {p}: limit=100 walk differs from limit=7 walk")
        for f in full:
            check(sorted(f["environments"]) == p_envs, f"flag {p}/{f['key']}: environments "
                                                       f"{sorted(f['environments'])}, asked {p_envs}")
            for c in f["environments"].values():
                check("rules" in c and "targets" in c and "prerequisites" in c,
                      f"flag {p}/{f['key']}: summary=0 omits targeting")
        one_env = walk_offset(sim, spec, FLAGS, f"/api/v2/flags/{p}?env={p_envs[0]}&limit=50", 3)
        for f in one_env:
            check(list(f["environments"]) == [p_envs[0]], f"flag {p}/{f['key']}: env= not applied")
            c = f["environments"][p_envs[0]]
            check("rules" not in c and "_summary" in c, f"flag {p}/{f['key']}: without summary=0 "
                                                        "a configuration must omit its rules")
        for f in (live[:2] + archived[:1]):
            status, _, body = sim.get(f"/api/v2/flags/{p}/{f['key']}")
            check(status == 200, f"GET flag {p}/{f['key']}: {status}")
            spec.validate(FLAG, "GET", 200, body)
            check(sorted(body["environments"]) == p_envs, f"GET flag {p}/{f['key']}: every "
                                                          "environment expected")
            status, _, body = sim.get(f"/api/v2/flags/{p}/{f['key']}?env={p_envs[-1]}")
            check(status == 200 and list(body["environments"]) == [p_envs[-1]],
                  f"GET flag {p}/{f['key']}?env=: not restricted")
    check_ids_once(ids, truth, "flags walks (default + filter=state:archived)")
    status, _, body = sim.get("/api/v2/flags/default?limit=101")
    check(status == 400, f"flags limit=101: expected 400, got {status}")
    spec.validate(FLAGS, "GET", 400, body)
    print(f"  flags: {len(ids)} ids once (default + archived walks), versions match; env=, "
          f"summary=0 and single-flag GETs valid")
    return len(deleted)


def test_segments(sim, spec):
    truth, _ = truth_of(sim, "segments")
    envs, _ = truth_of(sim, "environments")
    ids = []
    bigs = 0
    for pe in envs:
        p, e = pe.split("/")
        items = walk_offset(sim, spec, SEGMENTS, f"/api/v2/segments/{p}/{e}?limit=5", 20)
        seg_id = lambda s: f"{pe}/{s['key']}"
        check_versions(items, truth, seg_id, lambda s: s["version"], f"segments {pe}")
        ids += [seg_id(s) for s in items]
        for s in items:
            if s["unbounded"]:
                bigs += 1
                check(not s.get("included") and not s.get("excluded"),
                      f"big segment {pe}/{s['key']} lists included/excluded targets")
        recent = walk_offset(sim, spec, SEGMENTS, f"/api/v2/segments/{p}/{e}?sort=-lastModified&limit=5", 20)
        dates = [s["lastModifiedDate"] for s in recent]
        check(dates == sorted(dates, reverse=True), f"segments {pe}: sort=-lastModified is not descending")
        check(sorted(map(seg_id, recent)) == sorted(map(seg_id, items)), f"segments {pe}: sorted walk differs")
        status, _, body = sim.get(f"/api/v2/segments/{p}/{e}?limit=500")
        check(status == 200 and len(body["items"]) == min(50, len(items)),
              f"segments limit=500: expected at most 50 items, got {status} {len(body.get('items', []))}")
    check_ids_once(ids, truth, "segments walks")
    check(bigs > 0, "no big (unbounded) segment in the data set")
    print(f"  segments: {len(ids)} ids once, versions match, sort=-lastModified descending, "
          f"{bigs} big segments without lists")


def search(sim, spec, pe, body=None, query=""):
    p, e = pe.split("/")
    target = f"/api/v2/projects/{p}/environments/{e}/contexts/search{query}"
    status, _, page = sim.request("POST", target, body={} if body is None else body)
    check(status == 200, f"POST {target} {body}: {status} {page}")
    spec.validate(CONTEXTS, "POST", 200, page)
    return page


def context_id(pe, record):
    """The exported id (README, contexts): '%' and '/' in the key percent-encoded."""
    c = record["context"]
    key = c["key"].replace("%", "%25").replace("/", "%2F")
    cid = f"{pe}/{c['kind']}/{key}"
    return cid + (f"/{record['applicationId']}" if "applicationId" in record else "")


def walk_contexts(sim, spec, pe, sort, limit, via_query, token=None):
    """Re-POSTs with each page's continuationToken until a short page. Returns (items, last token)."""
    items = []
    for _ in range(500):
        params = {"sort": sort, "limit": limit}
        if token:
            params["continuationToken"] = token
        if via_query:
            page = search(sim, spec, pe, query="?" + urllib.parse.urlencode(params))
        else:
            page = search(sim, spec, pe, body=params)
        check(len(page["items"]) <= limit, f"contexts {pe}: more than limit={limit} items")
        items += page["items"]
        if page["items"]:
            check("continuationToken" in page, f"contexts {pe}: a non-empty page without a token")
            token = page["continuationToken"]
        if "next" not in page["_links"]:
            return items, token
        check(len(page["items"]) == limit, f"contexts {pe}: a short page with a next link")
    raise Failure(f"contexts {pe}: more than 500 pages")


def test_contexts(sim, spec):
    truth, _ = truth_of(sim, "contexts")
    envs, _ = truth_of(sim, "environments")
    ids = []
    tokens = {}
    for pe in envs:
        items, token = walk_contexts(sim, spec, pe, "ts", 50, via_query=False)
        seen = [it["lastSeen"] for it in items]
        check(seen == sorted(seen, key=parse_rfc3339), f"contexts {pe}: sort=ts is not lastSeen ascending")
        ids += [context_id(pe, it) for it in items]
        tokens[pe] = token
        back, _ = walk_contexts(sim, spec, pe, "-ts", 7, via_query=True)
        check([context_id(pe, it) for it in back] == [context_id(pe, it) for it in reversed(items)],
              f"contexts {pe}: the -ts walk is not the ts walk reversed")
    check_ids_once(ids, truth, "contexts walks (continuation token)")
    apps = sum(1 for i in ids if i.count("/") > 3)
    check(0 < apps < len(ids), "contexts: expected some records with and some without applicationId")
    kind_keys = [i.split("/")[2:4] for i in ids]
    check(any(kind_keys.count(k) > 1 for k in kind_keys),
          "contexts: no kind+key seen by two applications (identity must include applicationId)")

    pe = next(iter(envs))
    p, e = pe.split("/")
    target = f"/api/v2/projects/{p}/environments/{e}/contexts/search?limit=5"
    status, _, body = sim.request("POST", target, body={"sort": "ts"})
    check(status == 400, f"contexts: query and body parameters together: expected 400, got {status}")
    spec.validate(CONTEXTS, "POST", 400, body)
    status, _, body = sim.request("POST", target.replace("limit=5", "limit=51"), body={})
    check(status == 400, f"contexts limit=51: expected 400, got {status}")
    status, _, body = sim.request("POST", target.split("?")[0], body={"limit": 5, "sort": "ts",
                                                                      "continuationToken": "bogus"})
    check(status == 400, f"contexts with a bad token: expected 400, got {status}")
    page = search(sim, spec, pe, body={"limit": 3, "filter": 'kind equals "organization"'})
    check(all(it["context"]["kind"] == "organization" for it in page["items"]), "kind filter not applied")
    print(f"  contexts: {len(ids)} ids once over continuation tokens (ts and -ts), {apps} with an "
          f"applicationId; both-parameter forms and bad limits rejected")
    return tokens


def parse_rfc3339(text):
    """'2025-11-24T15:00:57.526470334Z' -> (datetime to the second, nanoseconds)."""
    check(text.endswith("Z"), f"lastSeen {text!r} is not UTC RFC 3339")
    whole, _, frac = text[:-1].partition(".")
    base = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return base, int((frac + "000000000")[:9])


def test_people(sim, spec):
    members, _ = truth_of(sim, "members")
    items = walk_offset(sim, spec, MEMBERS, f"{MEMBERS}?limit=7", 20)
    check_ids_once([m["_id"] for m in items], members, "members walk")
    status, _, body = sim.get(f"{MEMBERS}?limit=1000")
    check(status == 200 and len(body["items"]) == len(members), "members limit=1000: one page expected")
    teams, _ = truth_of(sim, "teams")
    items = walk_offset(sim, spec, TEAMS, f"{TEAMS}?limit=3&expand=members,roles,maintainers", 10)
    check_ids_once([t["key"] for t in items], teams, "teams walk")
    check_versions(items, teams, lambda t: t["key"], lambda t: t["_version"], "teams")
    check(all("totalCount" in t["members"] for t in items), "teams: expand=members not applied")
    metrics, _ = truth_of(sim, "metrics")
    projects, _ = truth_of(sim, "projects")
    ids = []
    for p in projects:
        items = walk_offset(sim, spec, METRICS, f"/api/v2/metrics/{p}?limit=4", 10)
        check_versions(items, metrics, flag_id(p), lambda m: m["_version"], f"metrics {p}")
        check(all(isinstance(m["lastModified"]["date"], str) for m in items),
              "metrics: lastModified must be {date: RFC 3339}")
        ids += [flag_id(p)(m) for m in items]
    check_ids_once(ids, metrics, "metrics walks")
    print(f"  members ({len(members)}), teams ({len(teams)}) and metrics ({len(metrics)}) "
          f"walked once each, versions match")


def test_experiments(sim, spec):
    truth, _ = truth_of(sim, "experiments")
    envs, _ = truth_of(sim, "environments")
    pe = next(iter(envs))
    p, e = pe.split("/")
    target = f"/api/v2/projects/{p}/environments/{e}/experiments"
    status, _, body = sim.get(target)
    check(status == 403, f"experiments without the beta header: expected 403, got {status}")
    spec.validate(EXPERIMENTS, "GET", 403, body)
    ids = []
    archived = 0
    for pe in envs:
        p, e = pe.split("/")
        target = f"/api/v2/projects/{p}/environments/{e}/experiments"
        both = walk_offset(sim, spec, EXPERIMENTS, f"{target}?lifecycleState=active,archived&limit=2",
                           10, headers=BETA, count="total_count")
        active = walk_offset(sim, spec, EXPERIMENTS, f"{target}?limit=2", 10, headers=BETA,
                             count="total_count")
        check(all("archivedDate" not in x for x in active), "experiments: default lists archived ones")
        archived += len(both) - len(active)
        ids += [f"{pe}/{x['key']}" for x in both]
    check_ids_once(ids, truth, "experiments walks (lifecycleState=active,archived)")
    check(archived > 0, "no archived experiment in the data set")
    print(f"  experiments (beta): 403 without the header; {len(ids)} ids once, {archived} archived")


def test_entity_not_found(sim, spec):
    unknown = "no-such-project"
    cases = [(PROJECT, f"{PROJECTS}/{unknown}", None),
             (ENVIRONMENTS, f"{PROJECTS}/{unknown}/environments", None),
             (FLAGS, f"/api/v2/flags/{unknown}", None),
             (FLAG, f"/api/v2/flags/{unknown}/flag-1", None),
             (FLAG, "/api/v2/flags/default/no-such-flag", None),
             (SEGMENTS, f"/api/v2/segments/{unknown}/production", None),
             (SEGMENTS, "/api/v2/segments/default/no-such-env", None),
             (METRICS, f"/api/v2/metrics/{unknown}", None),
             (EXPERIMENTS, f"{PROJECTS}/{unknown}/environments/production/experiments", BETA)]
    for spec_path, target, headers in cases:
        status, _, body = sim.request("GET", target, headers=headers)
        check(status == 404, f"GET {target}: expected 404, got {status}")
        spec.validate(spec_path, "GET", 404, body)
        check(body["code"] == "not_found", f"GET {target}: 404 code {body}")
    # contexts/search declares no 404; a real server still answers one, with an error body.
    target = f"{PROJECTS}/{unknown}/environments/production/contexts/search"
    status, _, body = sim.request("POST", target, body={})
    check(status == 404, f"POST {target}: expected 404, got {status}")
    spec.validate_component("NotFoundErrorRep", body, f"POST {target} 404")
    status, _, body = sim.get(f"/api/v2/flags/default", token="wrong-token")
    check(status == 401, f"flags with a bad token: {status}")
    spec.validate(FLAGS, "GET", 401, body)
    print(f"  404 for unknown projects/environments/flags on {len(cases) + 1} routes; 401 applies")


def test_mutations(sim, spec, context_tokens):
    before = {s: truth_of(sim, s) for s in ENTITY_STREAMS}
    kinds = ["flag_created", "flag_changed", "flag_archived", "flag_deleted", "segment_edited",
             "segment_deleted", "context_first_seen", "context_seen_again", "member_added",
             "member_removed", "team_changed", "metric_changed"]
    done = []
    for kind in kinds:
        status, _, body = sim.request("POST", f"/_sim/mutate?n=2&kind={kind}", token=None)
        check(status == 200 and len(body["mutations"]) == 2, f"mutate {kind}: {status} {body}")
        done += body["mutations"]
    status, _, body = sim.request("POST", "/_sim/mutate?n=20", token=None)
    check(status == 200 and len(body["mutations"]) == 20, f"mutate n=20: {status}")
    done += body["mutations"]
    after = {s: truth_of(sim, s) for s in ENTITY_STREAMS}
    last = {}
    for m in done:
        last[(m["stream"], m["id"])] = m
    for (stream, mid), m in last.items():
        live, deleted = after[stream]
        if m["op"] == "delete":
            check(mid in deleted and mid not in live, f"{m}: not deleted in the truth")
        else:
            check(mid in live, f"{m}: not live in the truth")
            if m["kind"] in ("flag_changed", "flag_archived", "segment_edited", "team_changed",
                             "metric_changed") and mid in before[stream][0]:
                check(live[mid] > before[stream][0][mid], f"{m}: version did not grow")
    audited = 0
    for m in done:
        if m["stream"] not in ("flags", "segments"):
            check("audit_id" not in m, f"{m}: only flag and segment mutations are audited")
            continue
        status, _, entry = sim.get(f"/api/v2/auditlog/{m['audit_id']}")
        check(status == 200, f"audit entry of {m}: {status}")
        spec.validate(DETAIL, "GET", 200, entry)
        parts = m["id"].split("/")
        kind = "flag" if m["stream"] == "flags" else "segment"
        resource = entry["accesses"][0]["resource"]
        if kind == "segment":
            env = parts[1]
        elif m["kind"] == "flag_changed":
            # the environment whose targeting changed
            env = resource.split(":")[1][len("env/"):]
            check(f"{parts[0]}/{env}" in after["environments"][0], f"audit entry of {m}: {resource}")
        else:
            env = "*"  # created, archived, deleted: the flag in every environment
        expected = f"proj/{parts[0]}:env/{env}:{kind}/{parts[-1]}"
        check(entry["kind"] == kind and resource == expected and entry["target"]["resources"] == [expected],
              f"audit entry of {m}: kind {entry['kind']}, resource {resource} (expected {expected})")
        audited += 1
    # A flag that was deleted is gone from the API too; an archived one moves lists.
    flags_live, flags_deleted = after["flags"]
    for mid in list(flags_deleted - before["flags"][1])[:2]:
        p, k = mid.split("/")
        status, _, body = sim.get(f"/api/v2/flags/{p}/{k}")
        check(status == 404, f"deleted flag {mid}: GET gave {status}")
    # Incremental contexts: from the token saved at the end of the ts walk, a re-POST
    # returns exactly the contexts seen since (first time or again).
    seen = {m["id"] for m in done if m["stream"] == "contexts"}
    got = []
    for pe, token in context_tokens.items():
        items, _ = walk_contexts(sim, spec, pe, "ts", 50, via_query=False, token=token)
        got += [context_id(pe, it) for it in items]
    check(sorted(got) == sorted(seen), f"contexts after the saved tokens: {sorted(got)[:4]}..., "
                                       f"expected the {len(seen)} mutated ones")
    print(f"  {len(done)} mutations reflected in the truth; {audited} audit entries name their "
          f"flag/segment; saved context tokens return exactly the {len(seen)} contexts seen since")


def test_background_mutations(sim):
    _, deleted0 = truth_of(sim, "flags")
    before = {s: truth_of(sim, s) for s in ENTITY_STREAMS}
    status, _, body = sim.request("POST", "/_sim/mutate-every?every=20ms", token=None)
    check(status == 200 and body["mutate_every_ms"] == 20, f"mutate-every: {status} {body}")
    changed = False
    try:
        for _ in range(250):  # bounded: at most ~5 s
            time.sleep(0.02)
            if any(truth_of(sim, s) != before[s] for s in ("flags", "segments", "contexts", "members",
                                                          "teams", "metrics")):
                changed = True
                break
    finally:
        status, _, body = sim.request("POST", "/_sim/mutate-every?every=off", token=None)
        check(status == 200 and body["mutate_every_ms"] == 0, "could not stop background mutations")
    check(changed, "background mutations (every 20ms) changed nothing")
    print("  background mutations change the truth; /_sim/mutate-every turns them off")


def entity_snapshot(sim):
    snap = {s: sim.get(f"/_sim/truth/{s}", token=None)[2] for s in ENTITY_STREAMS}
    for target in (f"{PROJECTS}?expand=environments", "/api/v2/flags/default?env=production&summary=0",
                   "/api/v2/segments/default/test", MEMBERS, f"{TEAMS}?expand=members",
                   "/api/v2/metrics/mobile-app"):
        snap[target] = sim.get(target)[2]
    snap["contexts search"] = sim.request("POST", CONTEXTS.replace("{projectKey}", "default")
                                   .replace("{environmentKey}", "production"), body={"limit": 50})[2]
    return snap


def test_entities(binary, spec):
    sim = Simulator(binary, *ENTITY_ARGS)
    try:
        baseline = entity_snapshot(sim)
        test_projects_environments(sim, spec)
        test_flags(sim, spec)
        test_segments(sim, spec)
        tokens = test_contexts(sim, spec)
        test_people(sim, spec)
        test_experiments(sim, spec)
        test_entity_not_found(sim, spec)
        test_mutations(sim, spec, tokens)
        test_background_mutations(sim)
        # Walks stay complete after mutations (deleted and archived entities included).
        test_flags(sim, spec)
        test_segments(sim, spec)
    finally:
        rc = sim.stop()
    check(rc == 0, f"ld-simulator (entities) exited with {rc} on SIGTERM, expected 0")
    for seed, same in ((SEED, True), (SEED + 1, False)):
        args = list(ENTITY_ARGS)
        args[1] = str(seed)
        sim = Simulator(binary, *args)
        try:
            again = entity_snapshot(sim)
        finally:
            check(sim.stop() == 0, "ld-simulator did not exit 0")
        if same:
            diff = [k for k in baseline if baseline[k] != again[k]]
            check(not diff, f"same --seed after a restart gives different entities: {diff}")
        else:
            check(baseline["members"] != again["members"] and baseline[MEMBERS] != again[MEMBERS],
                  "a different --seed gives the same members")
    print("  entities identical across restarts with the same seed, different with another")
    test_embedded_environment_paging(binary, spec)
    test_single_gets(binary, spec)


# The GET of one entity per stream (the path ldexport confirms a disappearance with), by
# truth id. Experiments are beta.
SINGLE_GETS = {
    "projects": (PROJECT, lambda p: f"{PROJECTS}/{p}", None),
    "environments": ("/api/v2/projects/{projectKey}/environments/{environmentKey}",
                     lambda p, e: f"{PROJECTS}/{p}/environments/{e}", None),
    "flags": (FLAG, lambda p, k: f"/api/v2/flags/{p}/{k}", None),
    "segments": ("/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}",
                 lambda p, e, k: f"/api/v2/segments/{p}/{e}/{k}", None),
    "members": ("/api/v2/members/{id}", lambda i: f"{MEMBERS}/{i}", None),
    "teams": ("/api/v2/teams/{teamKey}", lambda k: f"{TEAMS}/{k}", None),
    "metrics": ("/api/v2/metrics/{projectKey}/{metricKey}", lambda p, k: f"/api/v2/metrics/{p}/{k}", None),
    "experiments": ("/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}",
                    lambda p, e, k: f"{PROJECTS}/{p}/environments/{e}/experiments/{k}", BETA),
}
SINGLE_VERSION = {"flags": "_version", "segments": "version", "teams": "_version", "metrics": "_version"}


def single_get(sim, stream, mid):
    spec_path, target_of, headers = SINGLE_GETS[stream]
    parts = [urllib.parse.quote(x, safe="") for x in mid.split("/")]
    target = target_of(*parts)
    status, _, body = sim.request("GET", target, headers=headers)
    return spec_path, target, status, body


def listed_entities(sim, spec):
    """Every listed entity by truth id, as the listings (without expand) serve it."""
    out = {s: {} for s in SINGLE_GETS}
    for project in walk_offset(sim, spec, PROJECTS, f"{PROJECTS}?limit=50", 5):
        p = project["key"]
        out["projects"][p] = project
        for e in walk_offset(sim, spec, ENVIRONMENTS, f"{PROJECTS}/{p}/environments?limit=50", 5):
            pe = f"{p}/{e['key']}"
            out["environments"][pe] = e
            for s in walk_offset(sim, spec, SEGMENTS, f"/api/v2/segments/{pe}?limit=50", 5):
                out["segments"][f"{pe}/{s['key']}"] = s
            for x in walk_offset(sim, spec, EXPERIMENTS,
                                 f"{PROJECTS}/{p}/environments/{e['key']}/experiments?lifecycleState=active,archived",
                                 5, headers=BETA, count="total_count"):
                out["experiments"][f"{pe}/{x['key']}"] = x
        for m in walk_offset(sim, spec, METRICS, f"/api/v2/metrics/{p}?limit=50", 5):
            out["metrics"][f"{p}/{m['key']}"] = m
    for m in walk_offset(sim, spec, MEMBERS, f"{MEMBERS}?limit=1000", 5):
        out["members"][m["_id"]] = m
    for t in walk_offset(sim, spec, TEAMS, f"{TEAMS}?limit=100", 5):
        out["teams"][t["key"]] = t
    return out


def test_single_gets(binary, spec):
    """The confirmation GETs: 200 with the entity for a live one, 404 once it is deleted."""
    sim = Simulator(binary, "--seed", str(SEED), "--audit-entries", "0", "--projects", "3",
                    "--environments", "3", "--flags", "6", "--segments", "5", "--contexts", "0",
                    "--members", "6", "--teams", "3", "--metrics", "3", "--experiments", "4")
    try:
        def check_live(stream, mid, version, listed):
            spec_path, target, status, body = single_get(sim, stream, mid)
            check(status == 200, f"GET {target} (live {stream} {mid}): {status} {body}")
            spec.validate(spec_path, "GET", 200, body)
            own = body["_id"] if stream == "members" else body["key"]
            check(own == mid.split("/")[-1], f"GET {target}: answered for {own}")
            if stream in SINGLE_VERSION:
                check(body[SINGLE_VERSION[stream]] == version,
                      f"GET {target}: version {body[SINGLE_VERSION[stream]]}, truth says {version}")
            if stream != "flags":  # a flag's single GET has every environment: checked in test_flags
                check(body == listed.get(mid), f"GET {target}: differs from the listed {stream} item")

        def check_deleted(stream, mid):
            spec_path, target, status, body = single_get(sim, stream, mid)
            check(status == 404, f"GET {target} (deleted {stream} {mid}): expected 404, got {status}")
            spec.validate(spec_path, "GET", 404, body)
            check(body["code"] == "not_found", f"GET {target}: 404 code {body}")

        def check_all(what):
            listed = listed_entities(sim, spec)
            counts = {}
            for stream in SINGLE_GETS:
                live, deleted = truth_of(sim, stream)
                for mid, version in live.items():
                    check_live(stream, mid, version, listed[stream])
                for mid in deleted:
                    check_deleted(stream, mid)
                counts[stream] = (len(live), len(deleted))
            return counts

        before = check_all("before mutations")
        # Beta: the single experiment needs the header too.
        some_experiment = next(iter(truth_of(sim, "experiments")[0]))
        p, e, k = some_experiment.split("/")
        status, _, body = sim.get(f"{PROJECTS}/{p}/environments/{e}/experiments/{k}")
        check(status == 403, f"single experiment without the beta header: expected 403, got {status}")
        spec.validate(SINGLE_GETS["experiments"][0], "GET", 403, body)
        # Unknown entities of existing scopes.
        for stream, mid in (("environments", "default/no-such-env"),
                            ("segments", "default/production/no-such-segment"),
                            ("members", "no-such-member"), ("teams", "no-such-team"),
                            ("metrics", "default/no-such-metric"),
                            ("experiments", "default/production/no-such-experiment")):
            check_deleted(stream, mid)
        # Deletions of every kind, including a whole environment and a whole project.
        for kind in ("flag_deleted", "segment_deleted", "member_removed", "environment_deleted",
                     "project_deleted"):
            status, _, body = sim.request("POST", f"/_sim/mutate?n=1&kind={kind}", token=None)
            check(status == 200 and body["mutations"][0]["kind"] == kind, f"mutate {kind}: {status} {body}")
        after = check_all("after deletions")
        for stream in SINGLE_GETS:
            if stream != "teams":  # no mutation deletes a team
                check(after[stream][1] > before[stream][1], f"{stream}: nothing deleted by the mutations")
        status, _, stats = sim.get("/_sim/stats", token=None)
        for stream, (spec_path, _, _) in SINGLE_GETS.items():
            check(stats["by_route"].get(f"GET {spec_path}", 0) > 0,
                  f"/_sim/stats counts no GET {spec_path}: {sorted(stats['by_route'])}")
    finally:
        rc = sim.stop()
    check(rc == 0, f"ld-simulator (single GETs) exited with {rc} on SIGTERM, expected 0")
    print("  single-entity GETs: 200 with the listed entity for every live id, 404 for every "
          "deleted one (flags, segments, members, an environment, a project); "
          + ", ".join(f"{s} {n[0]}/{n[1]}" for s, n in after.items()) + " live/deleted")


# --------------------------------------------------------------------------- main


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, shared = argv[1], argv[2]
    spec_path = os.path.join(shared, "launchdarkly", "openapi.yaml")
    if not os.path.isfile(spec_path):
        print("SKIPPED: ../shared/launchdarkly/openapi.yaml not found; conformance not checked")
        return SKIP
    started = time.monotonic()
    spec = Spec(spec_path)
    print(f"loaded {spec_path} in {time.monotonic() - started:.1f}s")

    sim = Simulator(binary, "--audit-entries", str(AUDIT_ENTRIES), "--seed", str(SEED),
                    "--fault-delay-max", "200ms")
    try:
        print(f"ld-simulator on port {sim.port}")
        baseline = snapshot(sim)
        items = test_listing(sim, spec)
        test_before_after(sim, spec, items)
        test_detail(sim, spec, items)
        test_errors(sim, spec)
        test_append(sim, spec)
        test_faults(sim)
    finally:
        rc = sim.stop()
    check(rc == 0, f"ld-simulator exited with {rc} on SIGTERM, expected 0")
    test_deterministic(binary, baseline)
    test_rate_limit(binary, spec)
    test_entities(binary, spec)
    print(f"PASS: {spec.checked} responses valid against the spec "
          f"in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
