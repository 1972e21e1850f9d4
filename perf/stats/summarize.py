#!/usr/bin/env python3
"""Medians of perf/stats/run.sh's raw lines, side by side, as markdown and JSON.

Before comparing, every run of a case (persona and Python alike) must report the same amount of
work: twoway the same number of scores and of resamples, alpha the same number of ratings, kappa
the same number of items. Otherwise it says which runs differ and exits 3 without writing anything.
"""
import json, os, statistics, sys

raw, stem = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["case"], r["tool"]), []).append(r)

WORK = {"twoway": ("scores", "resamples"), "alpha-nominal": ("ratings",), "alpha-interval": ("ratings",), "kappa": ("items",)}
problems = []
for case in sorted({r["case"] for r in rows}):
    runs = [r for r in rows if r["case"] == case]
    for what in WORK.get(case, ()):
        seen = {}
        for r in runs:
            seen.setdefault(r["detail"].get(what), []).append(r["tool"])
        if len(seen) > 1 or None in seen:
            problems.append(f"{case}: {what} differ between runs: " +
                            "; ".join(f"{v if v is not None else 'not reported'} ({', '.join(sorted(set(t)))})" for v, t in seen.items()))
if problems:
    print("perf/stats: the tools did not do the same work, so nothing is compared or written:", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    sys.exit(3)

FLOORS = {"twoway": 5.0, "alpha-nominal": 1.0, "alpha-interval": 1.0}
VALUE = {"twoway": ("estimate", "se", "lo", "hi"), "alpha-nominal": ("alpha",), "alpha-interval": ("alpha",),
         "kappa": ("cohen", "cohen_se", "cohen_quadratic", "fleiss")}

summary = []
for (case, tool), rs in groups.items():
    summary.append({
        "case": case, "tool": tool, "repeats": len(rs),
        "compute_s": statistics.median(r["detail"]["compute_s"] for r in rs),
        "compute_s_all": [r["detail"]["compute_s"] for r in rs],
        "wall_s": statistics.median(r["wall_s"] for r in rs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
        "loadavg": [r["loadavg"] for r in rs],
        "values": {k: rs[0]["detail"].get(k) for k in VALUE.get(case, ())},
    })

def baseline(case):
    return next((s for s in summary if s["case"] == case and s["tool"] != "persona"), None)

lines = ["# Statistics benchmark (simulated data)", "",
         f"Medians of {max(s['repeats'] for s in summary)} repeats on {os.cpu_count()} cores shared with other builds; "
         "the 1-minute load average before each measurement is listed (range).",
         "compute s: timed inside the process after reading the file (alpha: from labels grouped by unit; kappa: from two label columns).", "",
         "| case | tool | compute s (median) | floor | vs Python | wall s | peak RSS MB | load avg (1 min) | values |",
         "|---|---|---:|---:|---:|---:|---:|---|---|"]
for s in sorted(summary, key=lambda s: (s["case"], s["tool"] != "persona")):
    b = baseline(s["case"])
    ratio = "baseline" if s is b or b is None else f"{b['compute_s'] / s['compute_s']:.1f}x"
    floor = FLOORS.get(s["case"]) if s["tool"] == "persona" else None
    ftxt = "-" if floor is None else (f"< {floor:g} s: {'met' if s['compute_s'] < floor else 'MISSED'}")
    loads = [float(l.split()[0]) for l in s["loadavg"]]
    vals = ", ".join(f"{k} {v:.6g}" for k, v in s["values"].items() if v is not None)
    lines.append(f"| {s['case']} | {s['tool']} | {s['compute_s']:.3f} | {ftxt} | {ratio} | {s['wall_s']:.2f} | "
                 f"{s['peak_rss_mb']:.0f} | {min(loads):.1f}-{max(loads):.1f} | {vals} |")
open(stem + ".md", "w").write("\n".join(lines) + "\n")
json.dump(summary, open(stem + ".json", "w"), indent=2)
print("\n".join(lines))
