"""A throw-away Postgres cluster for tests and benchmarks (the Python twin of
pg_cluster.h): initdb into a temp directory, pg_ctl start on a free loopback port with
the unix socket in the same directory, stop and remove at the end. When run as root,
the server runs as the `postgres` OS user (the directory is chowned to it).

A watchdog process stops the server and removes the directory if this process dies
without cleaning up (kill -9, ctest timeout).

    with PgCluster() as pg:
        db = pg.create_database()
        pg.psql(db, "SELECT 1")

Binaries: $LDX_PG_BIN, else /usr/lib/postgresql/15/bin.
"""
import os
import pwd
import random
import shlex
import shutil
import socket
import string
import subprocess
import sys
import tempfile

DEFAULT_BIN = "/usr/lib/postgresql/15/bin"

_WATCHDOG = r"""
import subprocess, shutil, sys
sys.stdin.read()  # returns when the owner closes the pipe or dies
subprocess.run(sys.argv[1:-1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(sys.argv[-1], ignore_errors=True)
"""


class PgClusterError(RuntimeError):
    pass


class PgNotInstalled(PgClusterError):
    """No server binaries: callers skip (exit 77); any other PgClusterError is a failure."""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, settings=("fsync=off", "full_page_writes=off"), bin_dir=None):
        self.bin = bin_dir or os.environ.get("LDX_PG_BIN", DEFAULT_BIN)
        for tool in ("initdb", "pg_ctl", "psql"):
            if not os.access(os.path.join(self.bin, tool), os.X_OK):
                raise PgNotInstalled(f"no {tool} in {self.bin} (set LDX_PG_BIN)")
        self.settings = list(settings)
        self.as_postgres = os.geteuid() == 0
        self.user = None
        if self.as_postgres:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise PgClusterError("running as root and there is no 'postgres' OS user")
        self.dir = tempfile.mkdtemp(prefix="ldx-pg-")
        if self.as_postgres:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        # The server appends to this log too, as postgres: create it as its owner.
        with open(self.log, "ab"):
            pass
        if self.as_postgres:
            os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
        self.port = 0
        self.running = False
        stop_cmd = self._cmd([os.path.join(self.bin, "pg_ctl"), "stop", "-m", "immediate", "-D", self.data])
        self._watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG] + stop_cmd + [self.dir],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                       "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            for _ in range(5):
                self.port = _free_port()
                if self.start(check=False):
                    break
            else:
                raise PgClusterError("pg_ctl start failed:\n" + self.server_log())
        except BaseException:
            self.close()
            raise

    # --- process helpers -------------------------------------------------------------
    def _cmd(self, argv):
        return (["runuser", "-u", "postgres", "--"] + argv) if self.as_postgres else argv

    def _run(self, argv, check=True):
        with open(self.log, "ab") as log:
            rc = subprocess.run(self._cmd(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log).returncode
        if check and rc != 0:
            raise PgClusterError(f"{shlex.join(argv)} failed ({rc}):\n" + self.server_log())
        return rc == 0

    def server_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # --- lifecycle -------------------------------------------------------------------
    def start(self, check=True):
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}"
        for s in self.settings:
            opts += f" -c {s}"
        self.running = self._run([os.path.join(self.bin, "pg_ctl"), "start", "-w", "-t", "60", "-D", self.data,
                                  "-l", self.log, "-o", opts], check=check)
        return self.running

    def stop(self, mode="fast"):
        if self.running:
            self._run([os.path.join(self.bin, "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode, "-D", self.data])
            self.running = False

    def restart(self, mode="fast"):
        self.stop(mode)
        self.start()

    def close(self):
        try:
            if self.running:
                self.stop("immediate")
        finally:
            if self._watchdog is not None:
                self._watchdog.stdin.close()
                self._watchdog.wait(timeout=60)
                self._watchdog = None
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- SQL -------------------------------------------------------------------------
    def dsn(self, dbname="postgres"):
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user=postgres"

    def psql(self, dbname, sql, check=True):
        """Runs `sql` (no user values spliced in by callers) and returns rows as lists of strings."""
        out = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-d", dbname, "-c", sql], capture_output=True, text=True)
        if check and out.returncode != 0:
            raise PgClusterError(f"psql failed: {out.stderr.strip()}")
        return [line.split("\t") for line in out.stdout.splitlines() if line != ""]

    def create_database(self, prefix="ldx_test"):
        name = prefix + "_" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return name
