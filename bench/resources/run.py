#!/usr/bin/env python3
"""Resources of the real binary: `ldexport once` against ld-simulator (real HTTP, no
recorded pages), one fresh simulator, archive and checkpoint per run.

  contexts  the contexts stream alone at each size (one project, one environment):
            peak RSS of ldexport (wait4's ru_maxrss: the child's VmHWM) and how fast it
            rises while the export runs (VmHWM sampled every 0.1 s), CPU seconds
            (user + sys) per million records, wall time, API requests per 1000 records
            beside the minimum the page size allows (search limit 50: ceil(N/50) pages,
            plus one discovery request, GET /api/v2/projects?expand=environments).
  audit_log the audit log alone (details off): the same figures; the minimum is
            ceil(N/20) pages (limit 20).

Writes a Markdown table (--out) and a JSON summary (--json) for bench/report.py.
Standard library only. Usage:
  run.py --ldexport PATH --simulator PATH [--sizes 250000,500000,1000000]
         [--audit-entries 200000] [--out FILE] [--json FILE] [--command TEXT]
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

TOKEN = "bench-token"


class Simulator:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary, "--port", "0", "--token", TOKEN, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("ld-simulator did not start: %r" % line)
        self.base = "http://127.0.0.1:%s" % m.group(1)

    def requests_total(self):
        with urllib.request.urlopen(self.base + "/_sim/stats", timeout=30) as r:
            return json.load(r)["requests_total"]

    def stop(self):
        """Stops the simulator; returns its peak RSS in MiB."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid, _, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.proc.returncode = 0
                return usage.ru_maxrss / 1024.0
            time.sleep(0.2)
        self.proc.kill()
        _, _, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = -9
        return usage.ru_maxrss / 1024.0


def run_once(ldexport, sim, streams_yaml, work):
    """Runs `ldexport once` into a fresh archive under `work`; returns its measurements."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    config = os.path.join(work, "ldexport.yaml")
    with open(config, "w") as f:
        f.write(
            "launchdarkly: { base_url: %s, token: %s }\n"
            "streams:\n%s"
            "sinks:\n  - { name: archive, type: file, path: %s/data }\n"
            "checkpoint: { type: file, path: %s/state }\n"
            "dead_letter: { path: %s/dead-letter }\n"
            "log: { level: warn }\n"
            "http: { enabled: false }\n" % (sim.base, TOKEN, streams_yaml, work, work, work))
    before = sim.requests_total()
    with open(os.path.join(work, "stdout"), "w") as out, open(os.path.join(work, "stderr"), "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([ldexport, "once", "-c", config], stdout=out, stderr=err)
        hwm = []  # (seconds, VmHWM MiB), sampled every 0.1 s while it runs
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                with open("/proc/%d/status" % proc.pid) as st:
                    kib = int(re.search(r"VmHWM:\s+(\d+)", st.read()).group(1))
                hwm.append((time.monotonic() - t0, kib / 1024.0))
            except (OSError, AttributeError):
                pass
            time.sleep(0.1)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = open(os.path.join(work, "stdout")).read()
    if proc.returncode != 0:
        raise RuntimeError("ldexport once failed (%d):\n%s\n%s" % (
            proc.returncode, summary, open(os.path.join(work, "stderr")).read()[-3000:]))
    m = re.search(r"^(\w+): (\d+) new records, (\d+) pages, (\d+) requests", summary, re.M)
    total = re.search(r"^total: (\d+) requests", summary, re.M)
    archive_bytes = sum(os.path.getsize(os.path.join(d, f))
                        for d, _, fs in os.walk(os.path.join(work, "data")) for f in fs)
    result = {
        "records": int(m.group(2)),
        "pages": int(m.group(3)),
        "requests": int(total.group(1)),
        "simulator_requests": sim.requests_total() - before,
        "peak_rss_mib": usage.ru_maxrss / 1024.0,
        "rss_growth_mib_per_million": growth_per_million(hwm, wall, int(m.group(2))),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "wall_s": wall,
        "archive_mib": archive_bytes / 1048576.0,
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def derive(r, page_limit, discovery):
    n = r["records"]
    r["cpu_s_per_million"] = r["cpu_s"] / n * 1e6
    r["records_per_s"] = n / r["wall_s"]
    r["requests_per_1000"] = r["requests"] / n * 1000
    r["minimum_requests"] = math.ceil(n / page_limit) + discovery
    r["minimum_per_1000"] = r["minimum_requests"] / n * 1000
    return r


def growth_per_million(hwm, wall, records):
    """How fast the peak RSS rises once the export is under way, in MiB per million
    records: the least-squares slope of VmHWM over the last 80 % of the run (the first 20 %
    is start-up and the first batches). Memory that does not depend on the data gives ~0."""
    pts = [(t, m) for t, m in hwm if t >= 0.2 * wall]
    if len(pts) < 5 or records == 0:
        return 0.0
    mt = sum(t for t, _ in pts) / len(pts)
    mm = sum(m for _, m in pts) / len(pts)
    var = sum((t - mt) ** 2 for t, _ in pts)
    slope = sum((t - mt) * (m - mm) for t, m in pts) / var if var else 0.0  # MiB per second
    return slope * wall / records * 1e6


FLAT_MIB_PER_MILLION = 0.5  # below this, the peak does not grow with the data


def flat(r):
    return r["rss_growth_mib_per_million"] < FLAT_MIB_PER_MILLION


SMALL = ["--flags", "1", "--segments", "1", "--members", "1", "--teams", "1", "--metrics", "1",
         "--experiments", "0"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ldexport", required=True)
    ap.add_argument("--simulator", required=True)
    ap.add_argument("--sizes", default="250000,500000,1000000")
    ap.add_argument("--audit-entries", type=int, default=200000)
    ap.add_argument("--out")
    ap.add_argument("--json")
    ap.add_argument("--command", default="bench/resources/run.py")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ldx-resources-")
    contexts = []
    try:
        for n in [int(s) for s in a.sizes.split(",")]:
            print("contexts: %d ..." % n, flush=True)
            sim = Simulator(a.simulator, ["--seed", "11", "--projects", "1", "--environments", "1",
                                          "--contexts", str(n), "--audit-entries", "1", *SMALL])
            try:
                r = derive(run_once(a.ldexport, sim, "  contexts: {}\n", os.path.join(work, "run")), 50, 1)
            finally:
                sim_rss = sim.stop()
            r["contexts"] = n
            r["simulator_peak_rss_mib"] = sim_rss
            print("  %s" % json.dumps(r), flush=True)
            contexts.append(r)
        print("audit log: %d ..." % a.audit_entries, flush=True)
        sim = Simulator(a.simulator, ["--seed", "11", "--projects", "1", "--environments", "1",
                                      "--audit-entries", str(a.audit_entries), *SMALL])
        try:
            audit = derive(run_once(a.ldexport, sim,
                                    "  audit_log: { start: 2000-01-01T00:00:00Z, details: false }\n",
                                    os.path.join(work, "run")), 20, 0)
        finally:
            audit_sim_rss = sim.stop()
        audit["simulator_peak_rss_mib"] = audit_sim_rss
        print("  %s" % json.dumps(audit), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rss = [c["peak_rss_mib"] for c in contexts]
    lines = [
        "# Resources of `ldexport once` (real binary, real HTTP, ld-simulator)",
        "",
        "Command:",
        "",
        "```",
        a.command,
        "```",
        "",
        "Each run: a fresh ld-simulator (`--seed 11 --projects 1 --environments 1`), a fresh archive and "
        "checkpoint directory, `ldexport once` with one stream and the file sink (defaults: `batch_records` "
        "2000, `page_limit` the maximum). Peak RSS is the child's `ru_maxrss` from `wait4` (its VmHWM); CPU is "
        "user + system of ldexport alone (the simulator runs on the same 2 cores).",
        "",
        "| Stream | Records | Wall s | Records/s | Peak RSS MiB | CPU s (user+sys) | CPU s per million | "
        "Requests | Requests per 1000 | Minimum per 1000 | Archive MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r, name in [(c, "contexts") for c in contexts] + [(audit, "audit_log")]:
        lines.append("| %s | %d | %.1f | %.0f | %.1f | %.2f | %.2f | %d | %.2f | %.2f | %.0f |" % (
            name, r["records"], r["wall_s"], r["records_per_s"], r["peak_rss_mib"], r["cpu_s"],
            r["cpu_s_per_million"], r["requests"], r["requests_per_1000"], r["minimum_per_1000"],
            r["archive_mib"]))
    lines += [
        "",
        "Peak RSS at %s contexts: %s MiB; while each export ran, the peak rose by %s MiB per million "
        "records (slope of VmHWM over the last 80 %% of the run; flat: under %.1f at the largest size, "
        "the longest run). Target under 64 MiB and flat: %s." % (
            " / ".join("{:,}".format(c["contexts"]) for c in contexts),
            " / ".join("%.1f" % x for x in rss),
            " / ".join("%.1f" % c["rss_growth_mib_per_million"] for c in contexts), FLAT_MIB_PER_MILLION,
            "met" if max(rss) < 64 and flat(contexts[-1]) else "NOT met"),
        "The simulator itself peaked at %s MiB for the context runs (it holds every context as a JSON "
        "document); it is not part of ldexport." % " / ".join("%.0f" % c["simulator_peak_rss_mib"] for c in contexts),
        "Requests: the simulator counted %s for the context runs and %d for the audit log; ldexport's own "
        "count (the `once` summary) %s." % (
            ", ".join(str(c["simulator_requests"]) for c in contexts), audit["simulator_requests"],
            "agrees" if all(r["requests"] == r["simulator_requests"] for r in contexts + [audit])
            else "differs: " + ", ".join(str(r["requests"]) for r in contexts + [audit])),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"contexts": contexts, "audit_log": audit}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
