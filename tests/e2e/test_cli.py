"""End-to-end: the command line around the export (README "Using it", "ldexport verify"):
`checkpoints reset` resets only streams ldexport knows, `verify -c` sees a removed
archive, exit codes keep 2 for config and usage errors, start failures name their stream
and sink, and the read-only commands (`checkpoints list`, `verify -c`) run beside a
running ldexport without the token and create nothing.
Run: python3 test_cli.py <ld-simulator> <ldexport> [test names...]
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import time

from harness import Simulator, Workspace, check, main


def write_config(ws, sim, **opts):
    """One audit_log stream in batches of 100 into the file sink `archive`; opts as Workspace.write_config."""
    ws.write_config(sim, **dict(dict(interval="1s", details=None, stream_extra=", batch_records: 100", progress="10s"),
                                **opts))


def ldx_cmd(ws, *args, env=None, config=None):
    """Runs an ldexport command (not run/once) without LD_API_TOKEN unless env is given."""
    if env is None:
        env = dict(os.environ)
        env.pop("LD_API_TOKEN", None)
    p = subprocess.run([ws.ldexport] + list(args) + ["-c", config or ws.config], env=env, capture_output=True,
                       text=True, timeout=300)
    ws.outputs.append(p.stdout + p.stderr)
    return p


def json_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def reset_accepts_only_known_streams(sim_bin, ldx):
    ws = Workspace(ldx, "cli-reset")
    with Simulator(sim_bin, "--audit-entries", 50) as sim:
        write_config(ws, sim)
        ws.once(sim)
        checkpoint = os.path.join(ws.state, "audit_log.checkpoint.json")
        check(os.path.exists(checkpoint), "no checkpoint after once")
        # A file outside the state directory that a path-like name would reach.
        victim_dir = os.path.join(ws.dir, "victim")
        os.makedirs(victim_dir)
        victim = os.path.join(victim_dir, "x.checkpoint.json")
        with open(victim, "w") as f:
            f.write("{}")
        for bad in ("../victim/x", os.path.join(victim_dir, "x"), "bogus", ""):
            p = ldx_cmd(ws, "checkpoints", "reset", bad)
            check(p.returncode == 2, "reset %r exited %d, expected 2 (usage):\n%s%s"
                  % (bad, p.returncode, p.stdout, p.stderr))
            check("removed" not in p.stdout, "reset %r claims a removal:\n%s" % (bad, p.stdout))
            check("known streams: audit_log" in p.stderr, "reset %r does not name the known streams:\n%s"
                  % (bad, p.stderr))
        check(os.path.exists(victim), "checkpoints reset removed a file outside the state directory")
        check(os.path.exists(checkpoint), "a refused reset removed the audit_log checkpoint")
        # A stream removed from the config but still checkpointed can be reset.
        shutil.copy(checkpoint, os.path.join(ws.state, "flags.checkpoint.json"))
        p = ldx_cmd(ws, "checkpoints", "reset", "flags")
        check(p.returncode == 0 and "checkpoint of flags removed" in p.stdout,
              "reset of a checkpointed stream no longer configured: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
        check(not os.path.exists(os.path.join(ws.state, "flags.checkpoint.json")), "flags checkpoint still there")
        p = ldx_cmd(ws, "checkpoints", "reset", "audit_log")
        check(p.returncode == 0 and not os.path.exists(checkpoint),
              "reset audit_log: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    ws.cleanup()


def exported_archive(ws, sim):
    write_config(ws, sim, rotate="64KiB")
    ws.once(sim)
    files = sorted(glob.glob(os.path.join(ws.archive, "audit_log", "audit_log-*.jsonl")))
    check(len(files) >= 3, "64 KiB rotation should give several files, got %d" % len(files))
    p = ldx_cmd(ws, "verify")
    check(p.returncode == 0 and "verify: intact" in p.stdout, "untouched: rc %d\n%s%s"
          % (p.returncode, p.stdout, p.stderr))
    return files


def verify_names_a_missing_file_as_readme_says(sim_bin, ldx):
    """README: a whole file gone is kind `missing-file`, and the count is the records before it."""
    ws = Workspace(ldx, "cli-verify-kind")
    with Simulator(sim_bin, "--seed", 5, "--audit-entries", 1200) as sim:
        files = exported_archive(ws, sim)
        with open(files[0]) as f:
            in_first = sum(1 for _ in f)
        middle = tmp_copy(ws, "middle")
        os.remove(os.path.join(middle, "audit_log", os.path.basename(files[1])))
        p = subprocess.run([ldx, "verify", "--archive", middle], capture_output=True, text=True, timeout=300)
        want = "NOT INTACT at audit_log/%s: missing-file:" % os.path.basename(files[1])
        check(p.returncode == 1 and want in p.stdout, "missing middle file: rc %d, expected %r in:\n%s"
              % (p.returncode, want, p.stdout))
        check("%d record(s) before it verified" % in_first in p.stdout,
              "the count should be the %d records of the first file:\n%s" % (in_first, p.stdout))
        # The newest (committed) file removed, seen with -c.
        cfg = os.path.join(ws.dir, "copy.yaml")
        last = tmp_copy(ws, "last")
        os.remove(os.path.join(last, "audit_log", os.path.basename(files[-1])))
        write_config_copy(ws, cfg, last)
        p = ldx_cmd(ws, "verify", config=cfg)
        want = "NOT INTACT at audit_log/%s: missing-file:" % os.path.basename(files[-1])
        check(p.returncode == 1 and want in p.stdout, "committed file removed: rc %d, expected %r in:\n%s%s"
              % (p.returncode, want, p.stdout, p.stderr))
    ws.cleanup()


def verify_c_sees_a_removed_stream_directory(sim_bin, ldx):
    """README: `-c` verifies up to the committed position; a committed archive that is gone is not intact."""
    ws = Workspace(ldx, "cli-verify-gone")
    with Simulator(sim_bin, "--seed", 5, "--audit-entries", 1200) as sim:
        exported_archive(ws, sim)
        shutil.rmtree(os.path.join(ws.archive, "audit_log"))
        p = ldx_cmd(ws, "verify")
        check(p.returncode == 1 and "audit_log: NOT INTACT" in p.stdout and "missing-file" in p.stdout
              and "verify: NOT INTACT" in p.stdout,
              "verify -c after rm -rf archive/audit_log: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
        shutil.rmtree(ws.archive)
        p = ldx_cmd(ws, "verify")
        check(p.returncode == 1 and "audit_log: NOT INTACT" in p.stdout and "missing-file" in p.stdout,
              "verify -c after rm -rf of the archive root: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    ws.cleanup()


def tmp_copy(ws, name):
    dst = os.path.join(ws.dir, name)
    shutil.copytree(ws.archive, dst)
    return dst


def write_config_copy(ws, path, archive):
    with open(ws.config) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("path: %s," % ws.archive, "path: %s," % archive))


def start_failures_exit_1(sim_bin, ldx):
    """Exit 2 is for config and usage errors only; a start that fails at run time is 1."""
    ws = Workspace(ldx, "cli-exit")
    with Simulator(sim_bin, "--audit-entries", 300) as sim:
        write_config(ws, sim)
        ws.once(sim)
        # Another process holds the archive's lock.
        p = ws.start_run(sim)
        try:
            wait_for(lambda: any("stream(s)" in l.get("msg", "") for l in json_lines(open(p.log.name).read())),
                     "run to open its sinks")
            o = ws.once(sim, timeout=120, expect_rc=None)
            check(o.returncode == 1, "once beside a running ldexport exited %d, expected 1:\n%s"
                  % (o.returncode, o.stdout[-2000:]))
            check("cannot start" in o.stdout, "no 'cannot start' line:\n" + o.stdout[-2000:])
        finally:
            ws.finish_run(p)
        # An archive file cut short outside ldexport.
        last = sorted(glob.glob(os.path.join(ws.archive, "audit_log", "audit_log-*.jsonl")))[-1]
        with open(last, "r+b") as f:
            f.truncate(os.path.getsize(last) // 2)
        o = ws.once(sim, timeout=120, expect_rc=None)
        check(o.returncode == 1, "once on a cut-short archive exited %d, expected 1:\n%s"
              % (o.returncode, o.stdout[-2000:]))
        # The status server cannot listen.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            ws2 = Workspace(ldx, "cli-exit-port")
            write_config(ws2, sim, listen="127.0.0.1:%d" % busy.getsockname()[1])
            o = ws2.once(sim, timeout=120, expect_rc=None)
            check(o.returncode == 1 and "cannot listen" in o.stdout,
                  "once with the port in use exited %d, expected 1:\n%s" % (o.returncode, o.stdout[-2000:]))
            ws2.cleanup()
        finally:
            busy.close()
        # A config error is still 2.
        with open(ws.config, "a") as f:
            f.write("bogus_key: 1\n")
        o = ws.once(sim, timeout=120, expect_rc=None)
        check(o.returncode == 2, "once on an invalid config exited %d, expected 2" % o.returncode)
    ws.cleanup()


def start_failure_lines_name_stream_and_sink(sim_bin, ldx):
    """README "Logs": a JSON line about a stream or a sink carries `stream` / `sink`."""
    ws = Workspace(ldx, "cli-fields")
    with Simulator(sim_bin, "--audit-entries", 300) as sim:
        write_config(ws, sim)
        ws.once(sim)
        p = ws.start_run(sim)
        try:
            wait_for(lambda: any("stream(s)" in l.get("msg", "") for l in json_lines(open(p.log.name).read())),
                     "run to open its sinks")
            o = ws.once(sim, timeout=120, expect_rc=None)
        finally:
            ws.finish_run(p)
        lines = [l for l in json_lines(o.stdout) if l["msg"].startswith("cannot start: sink archive:")]
        check(lines, "no 'cannot start: sink archive' line:\n" + o.stdout[-2000:])
        check(lines[0].get("sink") == "archive", "the line lacks sink=archive: %r" % lines[0])

        last = sorted(glob.glob(os.path.join(ws.archive, "audit_log", "audit_log-*.jsonl")))[-1]
        with open(last, "r+b") as f:
            f.truncate(os.path.getsize(last) // 2)
        o = ws.once(sim, timeout=120, expect_rc=None)
        lines = [l for l in json_lines(o.stdout) if l["msg"].startswith("cannot start: stream audit_log, sink archive:")]
        check(lines, "no 'cannot start: stream audit_log, sink archive' line:\n" + o.stdout[-2000:])
        check(lines[0].get("stream") == "audit_log" and lines[0].get("sink") == "archive",
              "the line lacks stream=audit_log or sink=archive: %r" % lines[0])
    ws.cleanup()


def read_only_commands_beside_a_running_daemon(sim_bin, ldx):
    ws = Workspace(ldx, "cli-readonly")
    with Simulator(sim_bin, "--audit-entries", 400) as sim:
        write_config(ws, sim)
        p = ws.start_run(sim)
        try:
            wait_for(lambda: os.path.exists(os.path.join(ws.state, "audit_log.checkpoint.json")), "a checkpoint")
            # No LD_API_TOKEN in the environment (ldx_cmd drops it), the daemon holds the locks.
            c = ldx_cmd(ws, "checkpoints", "list")
            check(c.returncode == 0 and re.search(r"^audit_log\tcommitted_at=", c.stdout, re.M),
                  "checkpoints list beside a running ldexport, without the token: rc %d\n%s%s"
                  % (c.returncode, c.stdout, c.stderr))
            v = ldx_cmd(ws, "verify")
            check(v.returncode == 0 and "matches the checkpoint" in v.stdout,
                  "verify -c beside a running ldexport: rc %d\n%s%s" % (v.returncode, v.stdout, v.stderr))
        finally:
            check(ws.finish_run(p) == 0, "run did not stop cleanly")

        # Nothing is created for a checkpoint directory that does not exist.
        nowhere = os.path.join(ws.dir, "no-state")
        cfg = os.path.join(ws.dir, "no-state.yaml")
        with open(ws.config) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("path: %s }" % ws.state, "path: %s }" % nowhere))
        c = ldx_cmd(ws, "checkpoints", "list", config=cfg)
        check(c.returncode == 0 and "no checkpoints yet" in c.stdout, "list without a state directory: rc %d\n%s%s"
              % (c.returncode, c.stdout, c.stderr))
        check(not os.path.exists(nowhere), "checkpoints list created the checkpoint directory")
        v = ldx_cmd(ws, "verify", config=cfg)
        check(not os.path.exists(nowhere), "verify -c created the checkpoint directory")
        check(v.returncode == 0, "verify -c without checkpoints: rc %d\n%s%s" % (v.returncode, v.stdout, v.stderr))

        # An unreadable checkpoint: exit 1 with a message naming it.
        with open(os.path.join(ws.state, "audit_log.checkpoint.json"), "w") as f:
            f.write("{not json")
        c = ldx_cmd(ws, "checkpoints", "list")
        check(c.returncode == 1 and "audit_log: unreadable" in c.stdout and "cannot be read" in c.stderr,
              "list with an unreadable checkpoint: rc %d\n%s%s" % (c.returncode, c.stdout, c.stderr))
        ws.assert_token_nowhere(sim.token)
    ws.cleanup()


TESTS = {
    "reset_accepts_only_known_streams": reset_accepts_only_known_streams,
    "verify_c_sees_a_removed_stream_directory": verify_c_sees_a_removed_stream_directory,
    "verify_names_a_missing_file_as_readme_says": verify_names_a_missing_file_as_readme_says,
    "start_failures_exit_1": start_failures_exit_1,
    "start_failure_lines_name_stream_and_sink": start_failure_lines_name_stream_and_sink,
    "read_only_commands_beside_a_running_daemon": read_only_commands_beside_a_running_daemon,
}

if __name__ == "__main__":
    main(TESTS)
