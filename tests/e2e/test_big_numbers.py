"""End-to-end: a number beyond 64 bits in an API answer (API-NOTES §5: untyped fields
can hold any JSON number) costs only the item that holds it. simdjson refuses a whole
document for such a number; ldexport must still export the rest of the page, put the
item in the dead-letter output with the number as it came, and not ask for the page
forever.
Run: python3 test_big_numbers.py <ld-simulator> <ldexport> [test names...]
(ld-simulator is unused: a small fake LaunchDarkly in this file serves the answers.)
"""
import glob
import http.server
import json
import os
import subprocess
import threading
import urllib.parse

from harness import Workspace, check, main

BIG = "123456789012345678901234567890"
HUGE = "1e400"
TOKEN = "api-fake-token-for-big-numbers"


def audit_page(query):
    entries = [
        '{"_id":"ok-entry","date":1700000000002,"kind":"flag","name":"fine","accesses":[],"_links":{}}',
        '{"_id":"big-entry","date":1700000000001,"kind":"flag","name":"big","accesses":[],"_links":{},'
        '"triggerBody":{"n":%s,"f":%s}}' % (BIG, HUGE),
    ]
    dates = [1700000000002, 1700000000001]
    after = int(query.get("after", ["-9223372036854775808"])[0])
    before = int(query.get("before", ["9223372036854775807"])[0])
    items = [e for e, d in zip(entries, dates) if after < d < before]
    return '{"items":[%s],"_links":{},"totalCount":%d}' % (",".join(items), len(items))


def members_page(query):
    if int(query.get("offset", ["0"])[0]) > 0:
        return '{"items":[],"totalCount":2,"_links":{}}'
    return ('{"items":[{"_id":"m-ok","email":"ok@example.com","role":"reader","_lastSeen":1700000000000},'
            '{"_id":"m-big","email":"big@example.com","role":"reader","customRoles":[],'
            '"_lastSeen":%s}],"totalCount":2,"_links":{}}' % BIG)


class FakeLaunchDarkly:
    def __init__(self):
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                fake.requests.append(url.path)
                if self.headers.get("Authorization") != TOKEN:
                    self.reply(401, '{"code":"unauthorized","message":"bad token"}')
                elif url.path == "/api/v2/auditlog":
                    self.reply(200, audit_page(query))
                elif url.path == "/api/v2/members":
                    self.reply(200, members_page(query))
                elif url.path.startswith("/api/v2/members/"):
                    self.reply(404, '{"code":"not_found","message":"no such member"}')
                else:
                    self.reply(404, '{"code":"not_found","message":"not served by this fake"}')

            def reply(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def dead_letters(ws):
    out = []
    for path in sorted(glob.glob(os.path.join(ws.dead, "**", "*.jsonl"), recursive=True)):
        with open(path) as f:
            out.extend(json.loads(line) for line in f if line.strip())
    return out


def a_number_beyond_64_bits_dead_letters_only_its_item(_sim_bin, ldx):
    ws = Workspace(ldx, "bignum")
    with FakeLaunchDarkly() as fake:
        with open(ws.config, "w") as f:
            f.write("""launchdarkly:
  base_url: %s
  token: ${LD_API_TOKEN}
  retry_base: 100ms
  retry_max: 1s
  max_retries: 3
streams:
  audit_log: { interval: 1m, jitter: 0s, start: 2023-01-01T00:00:00Z }
  members: { interval: 1m, jitter: 0s }
sinks:
  - { name: archive, type: file, path: %s }
checkpoint: { type: file, path: %s }
dead_letter: { path: %s }
log: { level: info, format: json }
http: { enabled: false }
""" % (fake.base_url, ws.archive, ws.state, ws.dead))
        env = dict(os.environ)
        env["LD_API_TOKEN"] = TOKEN
        for run in (1, 2):
            p = subprocess.run([ldx, "once", "-c", ws.config], env=env, capture_output=True, text=True, timeout=120)
            ws.outputs.append(p.stdout + p.stderr)
            check(p.returncode == 0, "once #%d exited %d:\n%s" % (run, p.returncode, (p.stdout + p.stderr)[-3000:]))
            audit = [r["id"] for r in ws.archive_records("audit_log")]
            members = [r["id"] for r in ws.archive_records("members")]
            check(audit == ["ok-entry"], "audit archive after once #%d: %s" % (run, audit))
            check(members == ["m-ok"], "members archive after once #%d: %s" % (run, members))
            dead = dead_letters(ws)
            raws = [d["raw"] for d in dead]
            check(len(dead) == 2, "expected the two items in the dead-letter output once, got %d: %s" % (len(dead), raws))
            check(any('"_id":"big-entry"' in r and BIG in r and HUGE in r for r in raws),
                  "the audit entry is not dead-lettered with its numbers as they came: %s" % raws)
            check(any('"_id":"m-big"' in r and BIG in r for r in raws),
                  "the member is not dead-lettered with its number as it came: %s" % raws)
            check(all("64 bits" in d["reason"] for d in dead), "reasons: %s" % [d["reason"] for d in dead])
        check(fake.requests.count("/api/v2/auditlog") <= 6, "the audit page was asked for %d times"
              % fake.requests.count("/api/v2/auditlog"))
    ws.assert_token_nowhere(TOKEN)
    ws.cleanup()


TESTS = {t.__name__: t for t in [a_number_beyond_64_bits_dead_letters_only_its_item]}

if __name__ == "__main__":
    main(TESTS)
