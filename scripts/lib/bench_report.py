#!/usr/bin/env python3
"""Turns the raw results of scripts/bench into benchmarks.json, the markdown
report and SVG plots. Standard library only.

  bench_report.py --raw DIR --json OUT.json --markdown OUT.md --plots DIR

Every figure is reported as min / median / max over the rounds of the run;
every ratio is computed per round (the systems of a round ran back to back)
and then summarised the same way. A target is "met" when the median meets
it; the min and max show how firm that is.
"""

import argparse
import glob
import html
import json
import math
import os
import re
import statistics

ANALYSIS_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "bench",
                             "analysis.md")


def load(path):
    with open(path) as f:
        return json.load(f)


def load_rounds(raw, pattern):
    """{round: json} for files raw/pattern with {round} replaced by a number."""
    out = {}
    regex = re.compile(re.escape(pattern).replace(r"\{round\}", r"(\d+)") + "$")
    for path in glob.glob(os.path.join(raw, pattern.replace("{round}", "*"))):
        m = regex.search(os.path.basename(path))
        if m:
            out[int(m.group(1))] = load(path)
    return dict(sorted(out.items()))


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values),
            "max": max(values), "n": len(values)}


def fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, int) or (abs(v) >= 100 and digits <= 3):
        return f"{v:,.0f}"
    if abs(v) < 1:
        return f"{v:,.{digits}g}"
    return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"


def fmt_summary(s, digits=3, unit=""):
    if s is None:
        return "—"
    return (f"{fmt(s['median'], digits)}{unit} "
            f"({fmt(s['min'], digits)} – {fmt(s['max'], digits)})")


class Report:
    def __init__(self, raw):
        self.raw = raw
        self.data = {"targets": []}
        self.md = []

    def target(self, name, measured, op, limit, unit, note=""):
        """Records a target; measured is a summary dict (median decides)."""
        met = None
        margin = None
        if measured is not None:
            v = measured["median"]
            met = v <= limit if op == "<=" else v >= limit
            margin = (v / limit) if limit else None
        self.data["targets"].append({
            "target": name, "op": op, "limit": limit, "unit": unit,
            "measured": measured, "met": met, "ratio_to_limit": margin,
            "note": note})

    # ---------------------------------------------------------------- phases

    def decision(self):
        path = os.path.join(self.raw, "decision.json")
        if not os.path.exists(path):
            return None
        doc = load(path)
        runs = {}
        for b in doc["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            runs.setdefault(b.get("run_name", b["name"]), []).append(b)
        out = {"context": doc.get("context", {}), "cases": {}}
        for name, reps in runs.items():
            entry = {}
            for key in ("p50_ns", "p99_ns", "p999_ns", "max_ns", "items_per_second",
                        "real_time", "cpu_time"):
                entry[key] = summary([r.get(key) for r in reps])
            out["cases"][name] = entry
        self.data["decision"] = out
        allowed = out["cases"].get("BM_Decision/allowed")
        if allowed:
            self.target("Decision p50 (allowed request, one core)", allowed["p50_ns"],
                        "<=", 500, "ns")
            self.target("Decision p99 (allowed request, one core)", allowed["p99_ns"],
                        "<=", 1500, "ns")
        single = {k: v for k, v in out["cases"].items()
                  if k.startswith("BM_Decision/") and "threads" not in k
                  and v.get("p99_ns")}
        if single:
            worst = max(single.items(), key=lambda kv: kv[1]["p99_ns"]["median"])
            self.target(f"Decision p99, slowest case ({worst[0].split('/', 1)[1]})",
                        worst[1]["p99_ns"], "<=", 1500, "ns")
        return out

    def proxy(self):
        systems = ["direct", "nginx", "haproxy", "nginx_auth", "pat", "pat_mix", "pat_deny"]
        wrk = {s: load_rounds(self.raw, f"wrk-{s}-{{round}}.json") for s in systems}
        if not any(wrk.values()):
            return None
        cpu = {s: load_rounds(self.raw, f"cpu-{s}-{{round}}.json") for s in systems}
        ol = {s: load_rounds(self.raw, f"ol-{s}-{{round}}.json") for s in systems}
        rate_path = os.path.join(self.raw, "openloop-rate")
        rate = int(open(rate_path).read().strip()) if os.path.exists(rate_path) else None
        out = {"closed_loop": {}, "open_loop": {"rate": rate, "systems": {}},
               "ratios": {}, "added_latency_us": {}}
        # CPU microseconds per request of round r (None without a CPU file).
        def cpu_us(s, r):
            c = cpu[s].get(r)
            w = wrk[s].get(r)
            if c is None or w is None or not w["requests"]:
                return None
            return c["cpu_seconds"] * 1e6 / w["requests"]
        for s in systems:
            if not wrk[s]:
                continue
            rounds = wrk[s].values()
            out["closed_loop"][s] = {
                "rps": summary([r["rps"] for r in rounds]),
                "p50_us": summary([r["latency_us"]["p50"] for r in rounds]),
                "p99_us": summary([r["latency_us"]["p99"] for r in rounds]),
                "cpu_us_per_request": summary([cpu_us(s, r) for r in wrk[s]]),
                "non_2xx": sum(r["errors"]["status"] for r in rounds),
                "socket_errors": sum(r["errors"]["connect"] + r["errors"]["read"] +
                                     r["errors"]["write"] + r["errors"]["timeout"]
                                     for r in rounds),
            }
        for s in systems:
            if not ol[s]:
                continue
            rounds = list(ol[s].values())
            lat = lambda k: summary([r["latency_us"][k] for r in rounds])
            out["open_loop"]["systems"][s] = {
                "achieved_rps": summary([r["achieved_rps"] for r in rounds]),
                "p50_us": lat("p50"), "p99_us": lat("p99"), "p999_us": lat("p999"),
                "max_us": lat("max"),
                "errors": sum(sum(r.get("errors", {}).values()) for r in rounds),
            }

        def per_round(a, b, fn):
            common = sorted(set(a) & set(b))
            return summary([fn(a[r], b[r]) for r in common])

        rps = lambda x, y: x["rps"] / y["rps"]
        ratios = out["ratios"]
        if wrk["pat"] and wrk["nginx"] and wrk["haproxy"]:
            common = sorted(set(wrk["pat"]) & set(wrk["nginx"]) & set(wrk["haproxy"]))
            ratios["pat_vs_fastest_plain_proxy"] = summary([
                wrk["pat"][r]["rps"] / max(wrk["nginx"][r]["rps"], wrk["haproxy"][r]["rps"])
                for r in common])
            self.target("Throughput, pat-sidecar (enforcing) ÷ the faster of nginx proxy_pass "
                        "and HAProxy (no auth)", ratios["pat_vs_fastest_plain_proxy"],
                        ">=", 1.0, "×")
        for anchor in ("nginx", "haproxy", "nginx_auth"):
            if wrk["pat"] and wrk[anchor]:
                ratios[f"pat_vs_{anchor}"] = per_round(wrk["pat"], wrk[anchor], rps)
        if wrk["pat_mix"] and wrk["nginx"]:
            ratios["pat_mix_vs_nginx"] = per_round(wrk["pat_mix"], wrk["nginx"], rps)
        if wrk["pat_deny"] and wrk["nginx"]:
            ratios["pat_deny_vs_nginx"] = per_round(wrk["pat_deny"], wrk["nginx"], rps)
            self.target("Denials (401/403 from the cache) ÷ nginx proxy_pass throughput",
                        ratios["pat_deny_vs_nginx"], ">=", 2.0, "×")
        for s in ("nginx", "haproxy", "nginx_auth", "pat", "pat_mix", "pat_deny"):
            if wrk[s] and wrk["direct"]:
                ratios[f"{s}_vs_direct"] = per_round(wrk[s], wrk["direct"], rps)
        common = sorted(set(cpu["pat"]) & set(cpu["nginx"]))
        cpu_ratio = summary([
            cpu_us("pat", r) / cpu_us("nginx", r) for r in common
            if cpu_us("pat", r) is not None and cpu_us("nginx", r)])
        if cpu_ratio:
            ratios["pat_cpu_per_request_vs_nginx"] = cpu_ratio
            self.target("CPU per request (user + system), pat-sidecar ÷ nginx proxy_pass",
                        cpu_ratio, "<=", 1.0, "×")
        added = out["added_latency_us"]
        for s in ("nginx", "haproxy", "nginx_auth", "pat"):
            if ol[s] and ol["direct"]:
                for k in ("p50", "p99", "p999"):
                    added[f"{s}_added_{k}_us"] = per_round(
                        ol[s], ol["direct"],
                        lambda x, y, k=k: x["latency_us"][k] - y["latency_us"][k])
        if ol["pat"] and ol["nginx"]:
            names = {"p50": "p50", "p99": "p99", "p999": "p99.9"}
            for k, label in names.items():
                # pat's added latency minus nginx's, per round (direct cancels).
                v = per_round(ol["pat"], ol["nginx"],
                              lambda x, y, k=k: x["latency_us"][k] - y["latency_us"][k])
                added[f"pat_minus_nginx_added_{k}_us"] = v
                self.target(f"Added {label} latency over direct, pat-sidecar − nginx "
                            "(open loop at 50% of nginx's capacity)", v, "<=", 0, "µs")
        self.data["proxy"] = out
        self._ol_raw = ol
        self._wrk_raw = wrk
        return out

    def propagation(self):
        path = os.path.join(self.raw, "propagation.json")
        if not os.path.exists(path):
            return None
        doc = load(path)
        self.data["propagation"] = doc

        def as_summary(d, key="p99"):
            if not d or d.get(key) is None:
                return None
            v = d[key]
            return {"min": v, "median": v, "max": v, "n": 1}

        self.target("Revocation: p99 RevokeToken → event on each of 100 watch streams",
                    as_summary(doc.get("stream_delay_ms")), "<=", 100, "ms",
                    "one run; p99 over every (revocation, stream) pair")
        if doc.get("sidecar_401_ms", {}).get("count"):
            self.target("Revocation: p99 RevokeToken → pat-sidecar answers 401",
                        as_summary(doc.get("sidecar_401_ms")), "<=", 100, "ms",
                        "one run; p99 over the revocations")
        return doc

    def authority(self):
        labels = ["validate_warm", "validate_cold", "get", "create", "refresh", "revoke"]
        runs = {l: load_rounds(self.raw, f"auth-{l}-{{round}}.json") for l in labels}
        pg = {m: load_rounds(self.raw, f"pgbench-{m}-{{round}}.json") for m in ("S", "N")}
        if not any(runs.values()):
            return None
        out = {"rpcs": {}, "pgbench": {}, "ratios": {}}
        for l, rounds in runs.items():
            if not rounds:
                continue
            vals = list(rounds.values())
            out["rpcs"][l] = {
                "rps": summary([r["rps"] for r in vals]),
                "p50_us": summary([r["latency_us"]["p50"] for r in vals]),
                "p99_us": summary([r["latency_us"]["p99"] for r in vals]),
                "errors": sum(sum(r.get("errors", {}).values()) for r in vals),
                "concurrency": vals[0].get("concurrency"),
            }
        for m, rounds in pg.items():
            if rounds:
                out["pgbench"][m] = {"tps": summary([r["tps"] for r in rounds.values()]),
                                     "latency_ms": summary([r["latency_ms"]
                                                            for r in rounds.values()])}

        def ratio(a, b):
            common = sorted(set(a) & set(b))
            return summary([a[r]["rps"] / b[r]["tps"] for r in common])

        if runs["validate_warm"] and pg["S"]:
            out["ratios"]["validate_warm_vs_pgbench_S"] = ratio(runs["validate_warm"], pg["S"])
            self.target("Authority ValidateToken (warm) ÷ pgbench -S",
                        out["ratios"]["validate_warm_vs_pgbench_S"], ">=", 1.0, "×")
        if runs["validate_cold"] and pg["S"]:
            cold = list(runs["validate_cold"].values())[0]["rps"]
            out["ratios"]["validate_cold_vs_pgbench_S"] = summary(
                [cold / r["tps"] for r in pg["S"].values()])
            self.target("Authority ValidateToken (cold) ÷ pgbench -S",
                        out["ratios"]["validate_cold_vs_pgbench_S"], ">=", 0.5, "×")
        for l in ("create", "refresh", "revoke"):
            if runs[l] and pg["N"]:
                out["ratios"][f"{l}_vs_pgbench_N"] = ratio(runs[l], pg["N"])
        self.data["authority"] = out
        return out

    def fleet(self):
        sizes = sorted({int(m.group(1)) for m in (
            re.match(r"fleet-(\d+)-\d+\.json$", os.path.basename(p))
            for p in glob.glob(os.path.join(self.raw, "fleet-*-*.json"))) if m})
        if not sizes:
            return None
        out = {"streams": {}}
        for n in sizes:
            rounds = load_rounds(self.raw, f"fleet-{n}-{{round}}.json")
            out["streams"][str(n)] = {
                "p50_ms": summary([r["stream_delay_ms"]["p50"] for r in rounds.values()]),
                "p99_ms": summary([r["stream_delay_ms"]["p99"] for r in rounds.values()]),
                "max_ms": summary([r["stream_delay_ms"]["max"] for r in rounds.values()]),
                "cpu_us_per_stream_event": summary(
                    [r.get("target_cpu_us_per_stream_event") for r in rounds.values()]),
                "rss_mib": summary([r.get("target_rss_kib", 0) / 1024 for r in rounds.values()]),
                "failures": sum(sum(r["failures"].values()) for r in rounds.values()),
            }
        if "1000" in out["streams"]:
            self.target("Revoke → event on every one of 1,000 watch streams, p99",
                        out["streams"]["1000"]["p99_ms"], "<=", 50, "ms")
        storm = os.path.join(self.raw, "fleet-storm.json")
        if os.path.exists(storm):
            st = load(storm)
            out["storm"] = st
            errors = sum(st["failures"].values()) + int(st.get("delta_db_pool_timeouts_total", 0))
            self.target(f"Start-up storm ({st['streams']} streams, {st['tokens_in_database']:,} "
                        "tokens): errors and pool timeouts", summary([errors]), "<=", 0, "")
        self.data["fleet"] = out
        return out

    def scale(self):
        path = os.path.join(self.raw, "scale.jsonl")
        if not os.path.exists(path):
            return None
        rows = {r["mode"]: r for r in (json.loads(l) for l in open(path) if l.strip())}
        self.data["scale"] = rows
        used = rows.get("used")
        if used:
            self.target(f"Sidecar (--cache_mode=used) RSS after {used['distinct_tokens']:,} "
                        f"distinct tokens, {used['tokens']:,} in the database",
                        summary([used["rss_served_kib"] / 1024]), "<=", 64, "MiB")
            self.target(f"Sidecar (--cache_mode=used) start → ready, {used['tokens']:,} tokens",
                        summary([used["ready_ms"]]), "<=", 1000, "ms")
        return rows

    def memory(self):
        path = os.path.join(self.raw, "memory.jsonl")
        if not os.path.exists(path):
            return None
        rows = [json.loads(l) for l in open(path) if l.strip()]
        out = {}
        for g in sorted({r["grants"] for r in rows}):
            sel = [r for r in rows if r["grants"] == g]
            out[str(g)] = {"rss_mib": summary([r["rss_kib"] / 1024 for r in sel]),
                           "ready_ms": summary([r["ready_ms"] for r in sel])}
        after = os.path.join(self.raw, "sidecar-after-load.json")
        if os.path.exists(after):
            a = load(after)
            out["after_proxy_load"] = {"grants_held": a["grants_held"],
                                       "rss_mib": a["rss_kib"] / 1024}
        self.data["memory"] = out
        if "100000" in out:
            self.target("Sidecar RSS holding 100,000 grants", out["100000"]["rss_mib"],
                        "<=", 64, "MiB")
        return out


# ------------------------------------------------------------------ plots

COLORS = {"direct": "#555555", "nginx": "#1f77b4", "haproxy": "#9467bd",
          "nginx_auth": "#ff7f0e", "pat": "#2ca02c", "pat_mix": "#98df8a",
          "pat_deny": "#d62728"}


def svg_percentile_curves(path, curves, title):
    """curves: {system: [[percentile, latency_us], ...]}; x in 'nines'."""
    w, h, ml, mr, mt, mb = 720, 420, 70, 150, 40, 50
    pts = {s: [(p, v) for p, v in c if p < 100 and v > 0] for s, c in curves.items()}
    pts = {s: c for s, c in pts.items() if c}
    if not pts:
        return False
    xs = lambda p: -math.log10(1 - p / 100.0)
    xmax = max(xs(p) for c in pts.values() for p, _ in c)
    xmax = max(xmax, 3)
    ymin = min(v for c in pts.values() for _, v in c)
    ymax = max(v for c in pts.values() for _, v in c)
    ly0, ly1 = math.floor(math.log10(ymin)), math.ceil(math.log10(ymax))
    if ly1 == ly0:
        ly1 += 1
    X = lambda x: ml + (w - ml - mr) * x / xmax
    Y = lambda v: h - mb - (h - mt - mb) * (math.log10(v) - ly0) / (ly1 - ly0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
           f'{html.escape(title)}</text>']
    for d in range(ly0, ly1 + 1):
        y = Y(10 ** d)
        out.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{w - mr}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** d:g} µs</text>')
    for n, label in ((0, "p0"), (1, "p90"), (2, "p99"), (3, "p99.9"), (4, "p99.99"),
                     (5, "p99.999")):
        if n > xmax + 1e-9:
            break
        x = X(n)
        out.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{h - mb}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{h - mb + 16}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 10}" text-anchor="middle">'
               f'percentile (log scale of 1/(1-p))</text>')
    for i, (s, c) in enumerate(pts.items()):
        d = " ".join(f"{'M' if j == 0 else 'L'}{X(xs(p)):.1f},{Y(v):.1f}"
                     for j, (p, v) in enumerate(c))
        col = COLORS.get(s, "#000")
        out.append(f'<path d="{d}" fill="none" stroke="{col}" stroke-width="2"/>')
        ly = mt + 20 * i + 10
        out.append(f'<line x1="{w - mr + 10}" y1="{ly}" x2="{w - mr + 30}" y2="{ly}" '
                   f'stroke="{col}" stroke-width="3"/>')
        out.append(f'<text x="{w - mr + 35}" y="{ly + 4}">{html.escape(s)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def svg_bars(path, rows, title, unit):
    """rows: [(label, summary)] drawn as median bars with min-max whiskers."""
    rows = [(l, s) for l, s in rows if s]
    if not rows:
        return False
    w, bh, ml, mr, mt = 720, 26, 230, 90, 40
    h = mt + bh * len(rows) + 40
    vmax = max(s["max"] for _, s in rows) * 1.05
    X = lambda v: ml + (w - ml - mr) * v / vmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
           f'{html.escape(title)}</text>']
    for i, (label, s) in enumerate(rows):
        y = mt + i * bh
        col = COLORS.get(label, "#4c72b0")
        out.append(f'<text x="{ml - 8}" y="{y + bh / 2 + 4}" text-anchor="end">'
                   f'{html.escape(label)}</text>')
        out.append(f'<rect x="{ml}" y="{y + 4}" width="{X(s["median"]) - ml:.1f}" '
                   f'height="{bh - 8}" fill="{col}"/>')
        out.append(f'<line x1="{X(s["min"]):.1f}" y1="{y + bh / 2}" x2="{X(s["max"]):.1f}" '
                   f'y2="{y + bh / 2}" stroke="black"/>')
        out.append(f'<text x="{X(s["max"]) + 6:.1f}" y="{y + bh / 2 + 4}">'
                   f'{fmt(s["median"])} {html.escape(unit)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


# --------------------------------------------------------------- markdown

def write_markdown(rep, path, plots_rel, plots):
    d = rep.data
    m = d.get("machine", {})
    L = []
    L.append("# pat benchmarks")
    L.append("")
    L.append("Generated by `scripts/bench` "
             f"(`{d.get('mode', '?')}` mode) — do not edit by hand; the analysis "
             "section comes from `bench/analysis.md`.")
    L.append("")
    L.append(f"- Run: {d.get('started_at', '?')} → {d.get('finished_at', '?')}, "
             f"pat `{m.get('pat_commit', '?')}`{' (uncommitted changes)' if m.get('pat_dirty') else ''}, "
             f"{m.get('build_type', '?')} build")
    L.append(f"- Machine: {m.get('cores', '?')} cores ({m.get('cpu', '?')}), "
             f"{m.get('memory_gib', '?')} GiB, {m.get('os', '?')}, Linux {m.get('kernel', '?')}")
    L.append(f"- Binaries: `{m.get('sidecar_bin', '?')}` {m.get('sidecar_flags', '')}, "
             f"`{m.get('authority_bin', '?')}`; pat-sidecar runs with `--access_log=false`")
    L.append(f"- Versions: g++ {m.get('gxx', '?')}, {m.get('nginx', '?')}, wrk {m.get('wrk', '?')}, "
             f"PostgreSQL {m.get('postgresql', '?')} (durable: fsync and synchronous_commit on)")
    L.append(f"- Rounds: {m.get('rounds', '?')} per comparison, run interleaved (A B C…, A B C…); "
             f"{m.get('duration_s', '?')} s each; {m.get('connections', '?')} connections. "
             "Every figure is **median (min – max)** over the rounds; every ratio is computed "
             "per round and summarised the same way.")
    L.append("- Everything (load generator, proxies, upstream, authority, PostgreSQL) shares "
             "the same cores, so absolute numbers are low and drift between runs; the ratios "
             "are what the targets are judged on.")
    L.append("")
    L.append("## Targets (SPEC §8)")
    L.append("")
    L.append("| target | limit | measured: median (min – max) | met | median ÷ limit |")
    L.append("|---|---|---|---|---|")
    for t in d["targets"]:
        met = {True: "**met**", False: "**not met**", None: "not measured"}[t["met"]]
        unit = t["unit"]
        L.append(f"| {t['target']} | {t['op']} {fmt(t['limit'])} {unit} | "
                 f"{fmt_summary(t['measured'], 3, ' ' + unit)} | {met} | "
                 f"{fmt(t['ratio_to_limit']) if t['ratio_to_limit'] is not None else '—'} |")
    L.append("")

    dec = d.get("decision")
    if dec:
        L.append("## 1. Decision path, in process")
        L.append("")
        L.append("`bench/decision/decision_bench.cc` (Google Benchmark): the sidecar's real "
                 "`PatAuthorizer::Authorize` over a warm cache of "
                 f"{dec['context'].get('pat_bench_grants', '100,000')} grants — secret shape and "
                 "checksum, SHA-256, cache lookup, route match over the full REST catalog, "
                 "scope and resource checks. Per-decision percentiles come from timing each "
                 "call (the timer's own cost is `BM_ClockOverhead`).")
        L.append("")
        L.append("| case | p50 ns | p99 ns | p99.9 ns | CPU ns per call | calls/s (one thread) |")
        L.append("|---|---|---|---|---|---|")
        for name, c in sorted(dec["cases"].items()):
            L.append(f"| `{name}` | {fmt_summary(c.get('p50_ns'))} | {fmt_summary(c.get('p99_ns'))} | "
                     f"{fmt_summary(c.get('p999_ns'))} | {fmt_summary(c.get('cpu_time'))} | "
                     f"{fmt_summary(c.get('items_per_second'))} |")
        L.append("")
        if "decision" in plots:
            L.append(f"![decision latency]({plots_rel}/{plots['decision']})")
            L.append("")

    px = d.get("proxy")
    if px:
        L.append("## 2. Proxy, end to end")
        L.append("")
        L.append("All against the same `pat-sample-upstream` on loopback, with the same "
                 "request file (1,000 distinct tokens × 16 files; the `Authorization` header is "
                 "sent to every system), the same client and connection count:")
        L.append("")
        L.append("- `direct`: the upstream itself (the floor);")
        L.append("- `nginx`: `proxy_pass` with keep-alive upstream connections, no auth "
                 "(`bench/proxy/nginx.conf.in`, one worker per core, access log off);")
        L.append(f"- `haproxy`: HAProxy {m.get('haproxy', '')} in http mode, keep-alive on both "
                 "sides, `http-reuse always`, `nbthread` = cores, no log "
                 "(`bench/proxy/haproxy.cfg.in`);")
        L.append("- `nginx_auth`: the same nginx plus `auth_request` to a separate "
                 "`pat-sample-upstream` that answers 200 to everything — the cheapest "
                 "possible authorizer, so this is nginx auth_request's best case;")
        L.append("- `pat`: pat-sidecar enforcing real tokens (all allowed), holding "
                 f"{d.get('memory', {}).get('after_proxy_load', {}).get('grants_held', '100k+')} "
                 "grants, access log off;")
        L.append("- `pat_mix`: pat-sidecar with 80% allowed and 20% denied requests "
                 "(revoked, unknown, scope_missing, resource_not_allowed, token_missing);")
        L.append("- `pat_deny`: pat-sidecar with every request denied from its cache "
                 "(revoked, scope_missing, resource_not_allowed, token_missing): 401/403 "
                 "without the upstream.")
        L.append("")
        L.append("### Capacity (wrk, closed loop)")
        L.append("")
        L.append("CPU per request is the user + system time of the system under test "
                 "(`/proc/PID/stat` of the process and its children, read before and after "
                 "each run) divided by the requests wrk completed; `direct` is charged the "
                 "upstream's. The upstream's own CPU is not in any proxy's figure.")
        L.append("")
        L.append("| system | requests/s | p50 µs | p99 µs | CPU µs per request | non-2xx | socket errors |")
        L.append("|---|---|---|---|---|---|---|")
        for s, c in px["closed_loop"].items():
            L.append(f"| {s} | {fmt_summary(c['rps'])} | {fmt_summary(c['p50_us'])} | "
                     f"{fmt_summary(c['p99_us'])} | {fmt_summary(c.get('cpu_us_per_request'))} | "
                     f"{c['non_2xx']} | {c['socket_errors']} |")
        L.append("")
        L.append("| ratio (per round) | median (min – max) |")
        L.append("|---|---|")
        for k, v in px["ratios"].items():
            L.append(f"| {k} | {fmt_summary(v, 3, '×')} |")
        L.append("")
        if "throughput" in plots:
            L.append(f"![throughput]({plots_rel}/{plots['throughput']})")
            L.append("")
        L.append(f"### Latency at 50% of nginx's capacity (open loop, {fmt(px['open_loop']['rate'])} req/s)")
        L.append("")
        L.append("`pat-loadgen` (`bench/loadgen/`) sends on a fixed schedule and measures each "
                 "latency from the request's intended send time (as wrk2 does), so a stall "
                 "counts against every request it delays.")
        L.append("")
        L.append("A system whose capacity (above) is below this rate is saturated here: its "
                 "latency is queueing, not service time.")
        L.append("")
        L.append("| system | achieved req/s | p50 µs | p99 µs | p99.9 µs | max µs | errors |")
        L.append("|---|---|---|---|---|---|---|")
        for s, c in px["open_loop"]["systems"].items():
            L.append(f"| {s} | {fmt_summary(c['achieved_rps'])} | {fmt_summary(c['p50_us'])} | "
                     f"{fmt_summary(c['p99_us'])} | {fmt_summary(c['p999_us'])} | "
                     f"{fmt_summary(c['max_us'])} | {c['errors']} |")
        L.append("")
        L.append("| added latency (per round) | median (min – max) |")
        L.append("|---|---|")
        for k, v in px.get("added_latency_us", {}).items():
            L.append(f"| {k} | {fmt_summary(v, 3, ' µs')} |")
        L.append("")
        if "latency" in plots:
            L.append(f"![latency percentiles]({plots_rel}/{plots['latency']})")
            L.append("")

    pr = d.get("propagation")
    if pr:
        L.append("## 3. Revocation propagation")
        L.append("")
        L.append(f"`pat-bench-propagation` holds {pr.get('streams')} WatchGrants streams, "
                 f"revokes {pr.get('revocations')} tokens one at a time and times, from "
                 "`RevokeToken` returning, the event's arrival on every stream and the "
                 "running pat-sidecar's first 401 for the token.")
        L.append("")
        L.append("| measure (ms) | p50 | p99 | p99.9 | max | count |")
        L.append("|---|---|---|---|---|---|")
        for key in ("revoke_rpc_ms", "stream_delay_ms", "per_revocation_slowest_stream_ms",
                    "sidecar_401_ms"):
            v = pr.get(key) or {}
            L.append(f"| {key} | {fmt(v.get('p50'))} | {fmt(v.get('p99'))} | "
                     f"{fmt(v.get('p999'))} | {fmt(v.get('max'))} | {v.get('count', '—')} |")
        L.append("")
        L.append(f"Failures: `{json.dumps(pr.get('failures', {}))}`")
        L.append("")

    au = d.get("authority")
    if au:
        L.append("## 4. Authority throughput")
        L.append("")
        L.append("`pat-bench-authority load` (synchronous gRPC clients over several HTTP/2 "
                 "connections) next to `pgbench` on the same PostgreSQL cluster, interleaved. "
                 "`validate_warm` cycles over 1,000 tokens; `validate_cold` validates each of "
                 "many bulk-inserted tokens once, right after an authority restart (one pass).")
        L.append("")
        L.append("| RPC | calls/s | p50 µs | p99 µs | errors | clients |")
        L.append("|---|---|---|---|---|---|")
        for l, c in au["rpcs"].items():
            L.append(f"| {l} | {fmt_summary(c['rps'])} | {fmt_summary(c['p50_us'])} | "
                     f"{fmt_summary(c['p99_us'])} | {c['errors']} | {c['concurrency']} |")
        for mde, c in au["pgbench"].items():
            name = {"S": "pgbench -S (select only)", "N": "pgbench -N (simple update)"}[mde]
            L.append(f"| {name} | {fmt_summary(c['tps'])} | — | — | — | 16 |")
        L.append("")
        L.append("| ratio (per round) | median (min – max) |")
        L.append("|---|---|")
        for k, v in au["ratios"].items():
            L.append(f"| {k} | {fmt_summary(v, 3, '×')} |")
        L.append("")

    me = d.get("memory")
    if me:
        L.append("## 5. Sidecar memory and start-up")
        L.append("")
        L.append("RSS (`VmRSS`) of an idle pat-sidecar one second after `/readyz` first "
                 "answered 200, and the time from starting the process to that answer "
                 "(the snapshot holds the grants).")
        L.append("")
        L.append("| grants | RSS MiB | start → ready ms |")
        L.append("|---|---|---|")
        for g, c in me.items():
            if g == "after_proxy_load":
                continue
            L.append(f"| {int(g):,} | {fmt_summary(c['rss_mib'])} | {fmt_summary(c['ready_ms'])} |")
        if "after_proxy_load" in me:
            a = me["after_proxy_load"]
            L.append(f"| {a['grants_held']:,} (after the proxy runs) | {fmt(a['rss_mib'])} | — |")
        L.append("")

    fl = d.get("fleet")
    if fl:
        L.append("## 6. The authority at fleet scale")
        L.append("")
        L.append("WatchGrants streams held by `pat-bench-propagation` on gRPC's callback client "
                 "API (one HTTP/2 connection each), 100 revocations 20 ms apart per round; "
                 "delay = RevokeToken returned → the REVOKED event read on a stream, over every "
                 "stream and revocation; authority CPU (user + system, `/proc`) over the "
                 "revocations ÷ (revocations × streams).")
        L.append("")
        L.append("| streams | p50 ms | p99 ms | max ms | authority CPU µs per stream event | "
                 "authority RSS MiB | failures |")
        L.append("|---|---|---|---|---|---|---|")
        for n, c in fl["streams"].items():
            L.append(f"| {int(n):,} | {fmt_summary(c['p50_ms'])} | {fmt_summary(c['p99_ms'])} | "
                     f"{fmt_summary(c['max_ms'])} | {fmt_summary(c['cpu_us_per_stream_event'])} | "
                     f"{fmt_summary(c['rss_mib'])} | {c['failures']} |")
        st = fl.get("storm")
        if st:
            L.append("")
            L.append(f"Start-up storm: {st['streams']} streams from revision 0 at once, each "
                     f"taking the full snapshot ({st['snapshot_events_per_stream']:,} records; "
                     f"{st['tokens_in_database']:,} tokens in the database): all synced in "
                     f"**{st['all_synced_ms'] / 1000:.1f} s**, failures {sum(st['failures'].values())}, "
                     f"snapshot reads {st['delta_snapshot_reads_total']:.0f} "
                     f"(shared {st['delta_snapshot_shared_total']:.0f}), pool timeouts "
                     f"{st['delta_db_pool_timeouts_total']:.0f}, peak pool connections "
                     f"{st['peak_pool_connections']} of {st['db_pool_size']} "
                     f"({st['peak_connections']} with the feed's and the readiness probe's "
                     f"own connections).")
        L.append("")

    sc = d.get("scale")
    if sc:
        L.append("## 7. A million tokens: cache modes side by side")
        L.append("")
        L.append("One pat-sidecar per cache mode against the same database (bulk tokens plus "
                 "the served ones): start → `/readyz` 200, RSS at ready, then every served "
                 "token through it (closed loop, 16 connections; in `used` mode each token's "
                 "first request costs one ValidateToken), RSS one second after.")
        L.append("")
        L.append("| mode | tokens in the database | start → ready ms | RSS at ready MiB | "
                 "distinct tokens served | RSS after MiB | requests | grants held | statuses |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for mde, r in sc.items():
            L.append(f"| {mde} | {r['tokens']:,} | {r['ready_ms']:.1f} | "
                     f"{r['rss_ready_kib'] / 1024:.1f} | {r['distinct_tokens']:,} | "
                     f"{r['rss_served_kib'] / 1024:.1f} | {r['requests']:,} | "
                     f"{int(r['cache_size'] or 0):,} | {r['status']} |")
        if "used" in sc and "full" in sc:
            u, f = sc["used"], sc["full"]
            L.append("")
            L.append(f"used ÷ full: start → ready {u['ready_ms'] / f['ready_ms']:.3f}×, "
                     f"RSS after serving {u['rss_served_kib'] / f['rss_served_kib']:.3f}×.")
        L.append("")

    if os.path.exists(ANALYSIS_FILE):
        L.append(open(ANALYSIS_FILE).read().rstrip())
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--plots", required=True)
    args = ap.parse_args()

    rep = Report(args.raw)
    for name in ("mode", "started_at", "finished_at"):
        p = os.path.join(args.raw, name)
        if os.path.exists(p):
            rep.data[name] = open(p).read().strip()
    mp = os.path.join(args.raw, "machine.json")
    if os.path.exists(mp):
        rep.data["machine"] = load(mp)
    rep.decision()
    rep.memory()
    rep.proxy()
    rep.propagation()
    rep.authority()
    rep.fleet()
    rep.scale()

    os.makedirs(args.plots, exist_ok=True)
    plots = {}
    dec = rep.data.get("decision")
    if dec:
        rows = [(n.replace("BM_Decision/", ""), c.get("p99_ns"))
                for n, c in sorted(dec["cases"].items()) if n.startswith("BM_Decision/")]
        if svg_bars(os.path.join(args.plots, "decision_p99.svg"), rows,
                    "Decision p99 per case (ns, median of repetitions)", "ns"):
            plots["decision"] = "decision_p99.svg"
    px = rep.data.get("proxy")
    if px:
        rows = [(s, c["rps"]) for s, c in px["closed_loop"].items()]
        if svg_bars(os.path.join(args.plots, "throughput.svg"), rows,
                    "Capacity, requests/s (wrk, median; whiskers min–max)", "req/s"):
            plots["throughput"] = "throughput.svg"
        curves = {}
        for s, rounds in rep._ol_raw.items():
            if not rounds:
                continue
            vals = sorted(rounds.values(), key=lambda r: r["latency_us"]["p99"])
            med = vals[len(vals) // 2]
            if med.get("percentile_curve"):
                curves[s] = med["percentile_curve"]
        if svg_percentile_curves(os.path.join(args.plots, "latency_percentiles.svg"), curves,
                                 f"Open-loop latency at {px['open_loop']['rate']} req/s "
                                 "(round with the median p99)"):
            plots["latency"] = "latency_percentiles.svg"

    with open(args.json, "w") as f:
        json.dump(rep.data, f, indent=2, sort_keys=True)
        f.write("\n")
    rel = os.path.relpath(args.plots, os.path.dirname(os.path.abspath(args.markdown)))
    write_markdown(rep, args.markdown, rel, plots)


if __name__ == "__main__":
    main()
