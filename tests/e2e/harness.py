"""Helpers for end-to-end tests: run ld-simulator and ldexport as real processes on
loopback, read the archive, compare with the simulator's ground truth.

Every wait is bounded; every process is killed at the end (use `with Simulator(...)`).
"""
import collections
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


class Simulator:
    def __init__(self, binary, *args, token=None):
        self.binary = binary
        self.token = token or "sim-" + secrets.token_hex(16)
        self.args = [str(a) for a in args]
        self.proc = None
        self.base_url = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", "0", "--token", self.token] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("listening on 127.0.0.1:"), "simulator did not start: %r" % line)
        self.base_url = "http://" + line.split()[-1].strip()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _req(self, method, path):
        req = urllib.request.Request(self.base_url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode() or "null")

    def truth(self, stream="audit_log"):
        return self._req("GET", "/_sim/truth/" + stream)

    def stats(self):
        return self._req("GET", "/_sim/stats")

    def append(self, n):
        return self._req("POST", "/_sim/append?n=%d" % n)

    def set_faults(self, rate):
        return self._req("POST", "/_sim/faults?rate=%s" % rate)


class Workspace:
    """A temp dir with archive/, state/, dead-letter/ and a config for one export."""

    def __init__(self, ldexport, name="e2e"):
        self.ldexport = ldexport
        self.dir = tempfile.mkdtemp(prefix="ldx-%s-" % name)
        self.archive = os.path.join(self.dir, "archive")
        self.state = os.path.join(self.dir, "state")
        self.dead = os.path.join(self.dir, "dead-letter")
        self.config = os.path.join(self.dir, "ldexport.yaml")
        self.outputs = []  # everything ldexport printed, for the token check

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_config(self, sim, interval="2s", lookback="2m", details=False, extra_sinks="", progress="2s", *,
                     streams=None, stream_extra="", rotate="1MiB", sink_extra="", archive=None, state=None,
                     listen="127.0.0.1:0", include_secrets=None, projects=None, environments=None):
        """The one config writer of the e2e tests. By default one audit_log stream
        (interval, lookback, details; details=None leaves the key out; stream_extra is
        appended to its keys) into the file sink `archive` (at archive or self.archive;
        sink_extra is appended to its keys, extra_sinks are whole sink lines after it).
        streams: {name: "extra: keys, ..."} in place of audit_log, each with interval.
        listen=None disables the status listener. include_secrets, projects and
        environments are written under launchdarkly when given."""
        if streams is None:
            keys = "start: 2020-01-01T00:00:00Z"
            if details is not None:
                keys += ", details: %s" % ("true" if details else "false")
            streams = {"audit_log": keys + ", lookback: %s%s" % (lookback, stream_extra)}
        stream_lines = "".join("  %s: { interval: %s, jitter: 0s%s }\n" % (name, interval, (", " + keys) if keys else "")
                               for name, keys in streams.items())
        selection = ""
        if include_secrets is not None:
            selection += "  include_secrets: %s\n" % ("true" if include_secrets else "false")
        if projects is not None:
            selection += "  projects: [%s]\n" % ", ".join('"%s"' % p for p in projects)
        if environments is not None:
            selection += "  environments: [%s]\n" % ", ".join('"%s"' % e for e in environments)
        with open(self.config, "w") as f:
            f.write("""launchdarkly:
  base_url: %s
  token: ${LD_API_TOKEN}
  retry_base: 100ms
  retry_max: 2s
  max_retries: 12
%sstreams:
%ssinks:
  - { name: archive, type: file, path: %s, rotate_bytes: %s%s }
%scheckpoint: { type: file, path: %s }
dead_letter: { path: %s }
log: { level: info, format: json, progress_interval: %s }
http: { %s }
shutdown_timeout: 20s
""" % (sim.base_url, selection, stream_lines, archive or self.archive, rotate, sink_extra, extra_sinks,
       state or self.state, self.dead, progress, "listen: %s" % listen if listen else "enabled: false"))

    def env(self, sim):
        e = dict(os.environ)
        e["LD_API_TOKEN"] = sim.token
        return e

    def once(self, sim, timeout=600, expect_rc=0):
        p = subprocess.run([self.ldexport, "once", "-c", self.config], env=self.env(sim), capture_output=True,
                           text=True, timeout=timeout)
        self.outputs.append(p.stdout + p.stderr)
        if expect_rc is not None and p.returncode != expect_rc:
            sys.stderr.write(p.stdout[-5000:] + "\n" + p.stderr[-5000:] + "\n")
            raise TestFailure("ldexport once exited %d, expected %d" % (p.returncode, expect_rc))
        return p

    def start_run(self, sim):
        out = open(os.path.join(self.dir, "run-%d.log" % len(self.outputs)), "w+")
        p = subprocess.Popen([self.ldexport, "run", "-c", self.config], env=self.env(sim), stdout=out,
                             stderr=subprocess.STDOUT, text=True)
        p.log = out
        return p

    def finish_run(self, p, sig=signal.SIGTERM, timeout=60):
        if p.poll() is None:
            p.send_signal(sig)
        rc = p.wait(timeout)
        p.log.seek(0)
        self.outputs.append(p.log.read())
        p.log.close()
        return rc

    def status_port(self, p, timeout=30):
        """The port of `ldexport run`'s status listener, read from its log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(p.log.name) as f:
                for line in f:
                    if "metrics and health on" in line:
                        return int(line.split("metrics and health on ")[1].split(" ")[0].split(":")[1])
            check(p.poll() is None, "ldexport exited before listening")
            time.sleep(0.1)
        raise TestFailure("no status listener line in the log")

    def archive_records(self, stream="audit_log"):
        records = []
        for path in sorted(glob.glob(os.path.join(self.archive, stream, "*.jsonl"))):
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    check(line.endswith("\n"), "%s:%d: torn line" % (path, n))
                    records.append(json.loads(line))
        return records

    def assert_exactly_once(self, truth_ids, stream="audit_log"):
        records = self.archive_records(stream)
        counts = collections.Counter(r["id"] for r in records)
        dups = [i for i, c in counts.items() if c > 1]
        missing = set(truth_ids) - set(counts)
        extra = set(counts) - set(truth_ids)
        check(not dups, "%d duplicate ids in the archive, e.g. %s" % (len(dups), dups[:5]))
        check(not missing, "%d ground-truth ids missing from the archive, e.g. %s" % (len(missing),
                                                                                       sorted(missing)[:5]))
        check(not extra, "%d archive ids unknown to the simulator, e.g. %s" % (len(extra), sorted(extra)[:5]))
        for r in records[:50]:
            check(r["schema"] == "ldexport.v1" and r["stream"] == stream and r["op"] == "upsert",
                  "bad envelope: %s" % r)
        return records

    def assert_token_nowhere(self, token):
        for out in self.outputs:
            check(token not in out, "the token appears in ldexport's output")
        for root, _, files in os.walk(self.dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    check(token.encode() not in f.read(), "the token appears in " + os.path.join(root, name))


def http_get(url, timeout=10):
    """(status, body) of a GET; HTTP errors are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main(tests):
    """Runs test functions by name from argv: `python3 test_x.py SIM LDEXPORT name`."""
    sim_bin, ldexport = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(tests)
    failed = 0
    for name in names:
        t0 = time.time()
        try:
            tests[name](sim_bin, ldexport)
            print("PASS %s (%.1f s)" % (name, time.time() - t0), flush=True)
        except Exception as e:  # report and go on to the next test
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    sys.exit(1 if failed else 0)
