#!/usr/bin/env python3
"""Medians of perf/census/run.sh's raw lines, side by side, as markdown and JSON.

Before comparing, every run of a case (persona and pandas alike) must have loaded the same number
of census rows and drawn and decoded the same number of persons; otherwise it says which runs
differ and exits 3 without writing anything (a baseline that loads or draws less would show as
ours being slower).
"""
import json, os, statistics, sys

raw, stem = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["case"], r["tool"]), []).append(r)

problems = []
for case in sorted({r["case"] for r in rows}):
    runs = [r for r in rows if r["case"] == case]
    for what in ("rows", "drawn"):
        seen = {}
        for r in runs:
            seen.setdefault((r.get("detail") or {}).get(what), []).append(r["tool"])
        if len(seen) > 1 or None in seen:
            problems.append(f"case {case}: {what} differ between runs: " +
                            "; ".join(f"{v if v is not None else 'not reported'} ({', '.join(sorted(set(t)))})" for v, t in seen.items()))
if problems:
    print("perf/census: the tools did not do the same work, so nothing is compared or written:", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    sys.exit(3)

def med(rs, f):
    vals = [f(r) for r in rs if f(r) is not None]
    return statistics.median(vals) if vals else None

summary = []
for (case, tool), rs in groups.items():
    d = lambda k: (lambda r: r["detail"].get(k))
    summary.append({
        "case": case, "tool": tool, "repeats": len(rs),
        "wall_s": med(rs, lambda r: r["wall_s"]),
        "peak_rss_mb": med(rs, lambda r: r["peak_rss_mb"]),
        "rows": rs[0]["detail"].get("rows"),
        "load_s": med(rs, d("load_s")),
        "draw_decode_s": med(rs, lambda r: r["detail"].get("draw_decode_s", (r["detail"].get("draw_s") or 0) + (r["detail"].get("decode_s") or 0))),
        "personas_per_s": med(rs, d("personas_per_s")),
    })

def baseline(case):
    return next((s for s in summary if s["case"] == case and s["tool"].startswith("pandas")), None)

lines = ["# Census ingest benchmark", "",
         f"Medians of {max(s['repeats'] for s in summary)} repeats; machine: {os.cpu_count()} cores, load average at the end {open('/proc/loadavg').read().split()[:3]}.",
         "Each tool loads all files, draws 100,000 persons weighted by PWGTP and decodes them with the dictionary.", "",
         "| case | tool | rows | wall s | vs pandas | load s | draw+decode s | personas/s (draw+decode) | peak RSS MB |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for s in sorted(summary, key=lambda s: (s["case"], s["tool"])):
    b = baseline(s["case"])
    ratio = f"{b['wall_s'] / s['wall_s']:.1f}x faster" if b and s is not b else "baseline"
    fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"
    lines.append(f"| {s['case']} | {s['tool']} | {s['rows']:,} | {fmt(s['wall_s'])} | {ratio} | {fmt(s['load_s'])} | "
                 f"{fmt(s['draw_decode_s'])} | {fmt(s['personas_per_s'], 0)} | {fmt(s['peak_rss_mb'], 0)} |")
open(stem + ".md", "w").write("\n".join(lines) + "\n")
json.dump(summary, open(stem + ".json", "w"), indent=2)
print("\n".join(lines))
