#!/usr/bin/env python3
"""Checks deploy/ against what the repository builds (ctest label deploy).

Renders every kustomization under deploy/ with `kubectl kustomize` (or
`kustomize build`) and checks the rendered objects against:
  * the images scripts/image builds (images/<name>.Containerfile, the version
    in common/CMakeLists.txt) and their entrypoints;
  * the real flags of the binaries (`<binary> --help`, PAT_*_BIN), for every
    argument and every PAT_<FLAG> environment variable;
  * ports: each --listen/--admin_listen port is a containerPort and every
    containerPort is one of them; probes, Services, NetworkPolicies and the
    Prometheus scrape annotation name ports that exist;
  * the callers ConfigMap against the cert-manager Certificates' URI SANs;
  * the alert rules (`promtool check rules`) and the Grafana dashboard, whose
    metric names must all be ones the code exports.
Exits 1 with one line per problem.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
problems = []


def problem(msg):
    problems.append(msg)


def render(directory):
    if shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", directory]
    elif shutil.which("kustomize"):
        cmd = ["kustomize", "build", directory]
    else:
        sys.exit("neither kubectl nor kustomize is installed "
                 "(Debian: kubernetes-client)")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def binary_flags(path):
    """Flag names the binary really has, from --help (or --helpfull)."""
    names = set()
    for arg in ("--help", "--helpfull"):
        r = subprocess.run([path, arg], capture_output=True, text=True)
        text = r.stdout + r.stderr
        names |= set(re.findall(r"^\s+--([a-z_][a-z0-9_]*)(?:=|\s\()", text, re.M))
        if r.returncode == 0 and names:
            break
    return names - {"help", "version", "helpfull", "helpshort", "flagfile",
                    "fromenv", "tryfromenv", "undefok", "helpon",
                    "helpmatch", "helppackage", "only_check_args"}


def port_of(value):
    m = re.search(r":(\d+)$", value)
    return int(m.group(1)) if m else None


version = re.search(r'set\(PAT_VERSION "([^"]+)"',
                    open(os.path.join(ROOT, "common/CMakeLists.txt")).read()).group(1)
images = {}
for f in glob.glob(os.path.join(ROOT, "images", "*.Containerfile")):
    name = os.path.basename(f)[: -len(".Containerfile")]
    text = open(f).read()
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"', text, re.M).group(1)
    if "USER 65532" not in text:
        problem(f"{f}: the image does not run as the non-root user 65532")
    images["localhost/" + name] = entry
binaries = {
    "/usr/local/bin/pat-authority": os.environ.get("PAT_AUTHORITY_BIN"),
    "/usr/local/bin/pat-sidecar": os.environ.get("PAT_SIDECAR_BIN"),
    "/usr/local/bin/patctl": os.environ.get("PAT_PATCTL_BIN"),
    "/usr/local/bin/pat-console": os.environ.get("PAT_CONSOLE_BIN"),
}
flags = {}
for entry, path in binaries.items():
    if not path or not os.access(path, os.X_OK):
        sys.exit(f"set PAT_*_BIN to the built binaries (missing for {entry})")
    flags[entry] = binary_flags(path)
    if not flags[entry]:
        problem(f"{path}: no flags found in its --help output")

kustomizations = sorted(os.path.dirname(k) for k in
                        glob.glob(os.path.join(DEPLOY, "**", "kustomization.yaml"),
                                  recursive=True))
objects = []
for k in kustomizations:
    docs = render(k)
    if not docs:
        problem(f"{k}: renders no objects")
    objects += [(os.path.relpath(k, ROOT), d) for d in docs]

pods = []  # (where, metadata labels, pod spec, annotations)
for where, o in objects:
    kind = o.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        t = o["spec"]["template"]
        pods.append((f"{where}: {kind}/{o['metadata']['name']}",
                     t["metadata"].get("labels", {}), t["spec"],
                     t["metadata"].get("annotations", {})))

checked_containers = 0
for where, labels, spec, annotations in pods:
    pod_ports = {}
    listen_ports = {}
    for c in spec.get("containers", []):
        image = c.get("image", "")
        repo, _, tag = image.rpartition(":")
        cwhere = f"{where} container {c['name']}"
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        pod_ports.update({k: v for k, v in ports.items() if k})
        pod_ports.update({v: v for v in ports.values()})
        if not repo.startswith("localhost/pat") and "/pat" not in repo:
            continue  # not one of ours (the example API)
        checked_containers += 1
        if repo not in images:
            problem(f"{cwhere}: image {image} is not built by scripts/image "
                    f"({', '.join(sorted(images))})")
            continue
        if tag != version:
            problem(f"{cwhere}: image tag {tag} is not the version {version}")
        command = (c.get("command") or [images[repo]])[0]
        if command != images[repo]:
            problem(f"{cwhere}: command {command} is not the image's "
                    f"entrypoint {images[repo]}")
        known = flags.get(command, set())
        args = c.get("command", [])[1:] + c.get("args", [])
        for a in args:
            if not a.startswith("--"):
                if a != "migrate":
                    problem(f"{cwhere}: unexpected argument {a}")
                continue
            name, _, value = a[2:].partition("=")
            if name not in known:
                problem(f"{cwhere}: {command} has no flag --{name}")
            if name in ("listen", "admin_listen"):
                listen_ports[name] = port_of(value)
        for e in c.get("env", []):
            if e["name"].startswith("PAT_"):
                if e["name"][4:].lower() not in known:
                    problem(f"{cwhere}: {e['name']} is no flag of {command}")
        is_server = "migrate" not in args
        if is_server:
            for name, port in listen_ports.items():
                if port not in ports.values():
                    problem(f"{cwhere}: --{name} port {port} is not a containerPort")
            for pname, port in ports.items():
                if port not in listen_ports.values():
                    problem(f"{cwhere}: containerPort {pname}={port} is no "
                            f"--listen/--admin_listen port")
            # pat-console has no admin endpoint (no metrics yet): its probes
            # are /healthz on its --listen port (docs/console.md).
            console = command == "/usr/local/bin/pat-console"
            if console:
                listen_ports.setdefault("admin_listen", listen_ports.get("listen"))
            if "admin_listen" not in listen_ports:
                problem(f"{cwhere}: no --admin_listen (probes and metrics)")
            for probe in ("readinessProbe", "livenessProbe"):
                p = c.get(probe)
                if not p:
                    problem(f"{cwhere}: no {probe}")
                    continue
                port = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                if port not in ports and port not in ports.values():
                    problem(f"{cwhere}: {probe} port {port} is not a containerPort")
                elif (ports.get(port, port) != listen_ports.get("admin_listen")):
                    problem(f"{cwhere}: {probe} does not probe the admin port")
                path = (p.get("httpGet") or {}).get("path")
                want = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}[probe]
                if path != want and not (console and path == "/healthz"):
                    problem(f"{cwhere}: {probe} path {path}")
            if console:
                pass  # nothing to scrape (see above)
            elif annotations.get("prometheus.io/scrape") != "true":
                problem(f"{where}: no prometheus.io/scrape annotation")
            elif int(annotations.get("prometheus.io/port", 0)) != listen_ports.get("admin_listen"):
                problem(f"{where}: prometheus.io/port is not the admin port")
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem"):
                problem(f"{cwhere}: root filesystem is not read-only")
    # Services and NetworkPolicies selecting this pod.
    for owhere, o in objects:
        sel = None
        if o.get("kind") == "Service":
            sel = o["spec"].get("selector")
        elif o.get("kind") == "NetworkPolicy":
            sel = o["spec"]["podSelector"].get("matchLabels")
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            continue
        if o["kind"] == "Service":
            for p in o["spec"]["ports"]:
                if p.get("targetPort", p["port"]) not in pod_ports:
                    problem(f"{owhere}: Service {o['metadata']['name']} targets "
                            f"{p.get('targetPort')}, not a port of {where}")
        else:
            for rule in o["spec"].get("ingress", []):
                for p in rule.get("ports", []):
                    if p["port"] not in pod_ports:
                        problem(f"{owhere}: NetworkPolicy port {p['port']} is "
                                f"not a port of {where}")
if checked_containers < 3:
    problem(f"only {checked_containers} pat containers found in deploy/")

# Callers identities and certificates.
callers = set()
uris = set()
for where, o in objects:
    if o.get("kind") == "ConfigMap" and "callers.conf" in o.get("data", {}):
        for line in o["data"]["callers.conf"].splitlines():
            line = line.split("#")[0].strip()
            if line:
                callers.add(line.split()[0])
    if o.get("kind") == "Certificate":
        uris |= set(o["spec"].get("uris", []))
if not callers:
    problem("no callers.conf ConfigMap rendered")
for c in sorted(callers - uris):
    problem(f"callers identity {c} has no cert-manager Certificate example")
for u in sorted(uris - callers):
    problem(f"Certificate URI {u} is not in the callers config")

# Monitoring: rules and dashboard.
exported = set()
for f in glob.glob(os.path.join(ROOT, "server", "*.cc")) + \
        glob.glob(os.path.join(ROOT, "sidecar", "*.cc")):
    exported |= set(re.findall(r'"(pat_(?:authority|sidecar)_[a-z_]+)"', open(f).read()))
rules = os.path.join(DEPLOY, "monitoring", "pat-alerts.rules.yaml")
r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
if r.returncode != 0:
    problem(f"promtool check rules: {r.stdout}{r.stderr}")
exprs = [rule["expr"] for g in yaml.safe_load(open(rules))["groups"] for rule in g["rules"]]
dashboard = json.load(open(os.path.join(DEPLOY, "monitoring", "grafana-dashboard.json")))
exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
for e in exprs:
    for m in re.findall(r"\b(pat_(?:authority|sidecar)_[a-z_]+)", e):
        base = re.sub(r"_(bucket|sum|count)$", "", m)
        if m not in exported and base not in exported:
            problem(f"metric {m} (in {e[:60]}...) is exported by no code")
needed_alerts = {"PatSidecarWatchDown", "PatSidecarStalenessNearBound",
                 "PatSidecarAuthorityUnavailableDenials",
                 "PatAuthorityDbPoolExhausted", "PatSidecarRevisionLag"}
have = {rule.get("alert") for g in yaml.safe_load(open(rules))["groups"] for rule in g["rules"]}
for a in sorted(needed_alerts - have):
    problem(f"alert {a} is missing")

for p in problems:
    print("deploy:", p)
print(f"deploy: {len(kustomizations)} kustomizations, {len(objects)} objects, "
      f"{checked_containers} pat containers, {len(exprs)} metric expressions; "
      f"{len(problems)} problems")
sys.exit(1 if problems else 0)
