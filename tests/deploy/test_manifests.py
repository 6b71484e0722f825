"""Every manifest under deploy/ parses, and what matters in each is checked: probes
point at the real port and paths, the image and pods run as non-root with a read-only
root filesystem, the shipped configs pass `ldexport validate`, the alert rules pass
promtool, and every metric the dashboard and alerts query exists in a real /metrics.
Run: python3 test_manifests.py <repo> <ld-simulator> <ldexport>
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import Simulator, Workspace, check, http_get  # noqa: E402

REPO, SIM, LDX = sys.argv[1], sys.argv[2], sys.argv[3]
DEPLOY = os.path.join(REPO, "deploy")


def load_all():
    docs = {}
    for path in sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            docs[os.path.relpath(path, DEPLOY)] = [d for d in yaml.safe_load_all(f) if d is not None]
    for path in glob.glob(os.path.join(DEPLOY, "**", "*.json"), recursive=True):
        with open(path) as f:
            docs[os.path.relpath(path, DEPLOY)] = [json.load(f)]
    check(docs, "no manifests found under deploy/")
    return docs


def validate_config(text, label):
    d = tempfile.mkdtemp(prefix="ldx-deploy-")
    try:
        token = os.path.join(d, "token")
        with open(token, "w") as f:
            f.write("api-validate-only\n")
        text = text.replace("/var/run/secrets/ldexport/token", token)
        path = os.path.join(d, "ldexport.yaml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, LD_API_TOKEN="api-validate-only")
        p = subprocess.run([LDX, "validate", "-c", path], capture_output=True, text=True, env=env)
        check(p.returncode == 0, "%s does not pass ldexport validate:\n%s" % (label, p.stderr))
    finally:
        shutil.rmtree(d)


def check_pod_security(spec, label):
    psc = spec["securityContext"]
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, label + ": pod must run as non-root")
    for c in spec["containers"]:
        sc = c["securityContext"]
        check(sc.get("readOnlyRootFilesystem") is True, label + ": root filesystem must be read-only")
        check(sc.get("allowPrivilegeEscalation") is False, label + ": privilege escalation must be off")
        check("ALL" in sc.get("capabilities", {}).get("drop", []), label + ": capabilities must be dropped")
        check("limits" in c.get("resources", {}), label + ": resource limits missing")
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        check("/var/lib/ldexport" in mounts, label + ": state/archive volume not mounted")


def main():
    docs = load_all()
    k8s = {name: ds[0] for name, ds in docs.items() if name.startswith("k8s/")}

    # kustomization lists only files that exist
    for res in k8s["k8s/kustomization.yaml"]["resources"]:
        check(os.path.exists(os.path.join(DEPLOY, "k8s", res)), "kustomization names missing " + res)

    config_text = k8s["k8s/configmap.yaml"]["data"]["ldexport.yaml"]
    validate_config(config_text, "the ConfigMap's config")
    cfg = yaml.safe_load(config_text)
    port = int(cfg["http"]["listen"].rsplit(":", 1)[1])

    dep = k8s["k8s/deployment.yaml"]
    check(dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate",
          "Deployment must be one replica with Recreate")
    pod = dep["spec"]["template"]["spec"]
    check_pod_security(pod, "Deployment")
    c = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("http-metrics") == port, "containerPort %s != http.listen port %d" % (ports, port))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = c[probe]["httpGet"]
        check(g["path"] == path, "%s path %s" % (probe, g["path"]))
        check(g["port"] in ("http-metrics", port), "%s port %s" % (probe, g["port"]))
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    check(ann["prometheus.io/port"] == str(port) and ann["prometheus.io/path"] == "/metrics", "scrape annotations")
    grace = pod["terminationGracePeriodSeconds"]
    check(int(cfg["shutdown_timeout"].rstrip("s")) < grace, "shutdown_timeout must stay under the grace period")
    check(c["args"][:1] == ["run"], "Deployment runs `ldexport run`")
    secret_vol = [v for v in pod["volumes"] if "secret" in v]
    check(secret_vol and secret_vol[0]["secret"]["secretName"] == k8s["k8s/secret.yaml"]["metadata"]["name"],
          "the token Secret is not mounted")

    svc = k8s["k8s/service.yaml"]
    check(svc["spec"]["ports"][0]["targetPort"] in ("http-metrics", port), "Service targets the metrics port")
    check(svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"], "Service selector matches the pods")

    cron = k8s["k8s/cronjob.yaml"]
    cpod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    check_pod_security(cpod, "CronJob")
    check(cpod["containers"][0]["args"][:1] == ["once"], "CronJob runs `ldexport once`")

    # Alert rules pass promtool.
    rules = k8s["k8s/prometheusrule.yaml"]["spec"]
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool (Debian package prometheus) is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
    p = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check(p.returncode == 0, "promtool check rules:\n" + p.stdout + p.stderr)

    # Compose: the ldexport service uses the Dockerfile and a config that validates.
    compose = docs["compose/docker-compose.yaml"][0]
    svc = compose["services"]["ldexport"]
    check(svc["build"]["dockerfile"] == "Dockerfile" and svc.get("read_only") is True, "compose ldexport service")
    check({"kafka", "postgres"} <= set(compose["services"]), "compose must run real Kafka and Postgres")
    with open(os.path.join(DEPLOY, "compose", "ldexport.yaml")) as f:
        validate_config(f.read(), "deploy/compose/ldexport.yaml")

    # Dockerfile: multi-stage, non-root, healthcheck on the real port and path.
    with open(os.path.join(REPO, "Dockerfile")) as f:
        df = f.read()
    check(df.count("\nFROM ") + df.startswith("FROM ") >= 2, "Dockerfile is not multi-stage")
    check("scripts/install-deps.sh" in df, "Dockerfile must build with the install script")
    user = re.findall(r"^USER\s+(\S+)", df, re.M)
    check(user and user[-1].split(":")[0] not in ("root", "0"), "image must run as non-root")
    check(re.search(r"HEALTHCHECK.*\n?.*127\.0\.0\.1:%d/healthz" % port, df), "HEALTHCHECK must hit /healthz")
    check("EXPOSE %d" % port in df, "Dockerfile must expose the metrics port")

    # Every metric the dashboard and alerts query exists in a real /metrics scrape.
    queried = set()
    dash = docs["grafana/ldexport-dashboard.json"][0]
    for panel in dash["panels"]:
        for t in panel["targets"]:
            queried |= set(re.findall(r"ldexport_[a-z0-9_]+", t["expr"]))
    for g in rules["groups"]:
        for r in g["rules"]:
            queried |= set(re.findall(r"ldexport_[a-z0-9_]+", r["expr"]))
    ws = Workspace(LDX, "deploy")
    with Simulator(SIM, "--audit-entries", 50) as sim:
        ws.write_config(sim)
        p = ws.start_run(sim)
        try:
            base = "http://127.0.0.1:%d" % ws.status_port(p)
            deadline = time.time() + 60
            text = ""
            while time.time() < deadline:
                _, text = http_get(base + "/metrics")
                if re.search(r'^ldexport_passes_total\{stream="audit_log"\} [1-9]', text, re.M):
                    break
                time.sleep(0.2)
        finally:
            ws.finish_run(p)
    ws.cleanup()
    exposed = set(re.findall(r"^(ldexport_[a-z0-9_]+)", text, re.M))
    missing = sorted(m for m in queried if m not in exposed)
    check(not missing, "queried but not exposed by /metrics: %s" % missing)
    print("checked %d manifests; %d queried metrics all exposed" % (len(docs), len(queried)))


if __name__ == "__main__":
    try:
        main()
        print("1 passed, 0 failed")
    except AssertionError as e:
        print("FAIL:", e)
        print("0 passed, 1 failed")
        sys.exit(1)
