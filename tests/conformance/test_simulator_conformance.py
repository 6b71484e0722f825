#!/usr/bin/env python3
"""Conformance test: ld-simulator against the real LaunchDarkly OpenAPI spec.

Usage: test_simulator_conformance.py <ld-simulator binary> <shared dir>

Starts ld-simulator on a free loopback port, validates real responses against the
response schemas that openapi.yaml declares for each operation (looked up by path,
method and status), and checks the semantics the exporter relies on: newest-first
pages, `next` links that yield every entry exactly once even when a millisecond's
entries straddle a page boundary, and exclusive `before`/`after`.

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
        validator = self.jsonschema.Draft4Validator(schema)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{method} {path} {status}: response does not match the spec schema:"]
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

    def request(self, method, target, token=TOKEN, timeout=15):
        """One request on a fresh connection. Returns (status, headers, parsed JSON body)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            headers = {"Accept": "application/json", "LD-API-Version": "20240415"}
            if token is not None:
                headers["Authorization"] = token
            conn.request(method, target, headers=headers)
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
    print(f"PASS: {spec.checked} responses valid against the spec "
          f"in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
