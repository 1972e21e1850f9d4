"""Medians per (config, items) of the engine benchmark's JSON lines, and the engine/raw ratio.

Before any ratio, every run at a size (the engine and the bare simulator alike) must have made the
same calls: two per item (answer, judge). Otherwise it says which runs differ and exits 3 with
nothing printed on stdout.
"""
import json, statistics, sys
from collections import defaultdict

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = defaultdict(list)
for r in runs:
    groups[(r["items"], r["config"])].append(r)

problems = [f"{r['config']} run at {r['items']:,} items made {r.get('calls')} calls, expected {2 * r['items']:,} (two per item)"
            for r in runs if r.get("calls") != 2 * r["items"]]
if problems:
    print("perf/engine: the engine and the bare simulator did not do the same work, so no ratio is computed:", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    sys.exit(3)
print("| items | config | runs | median calls/s | median s | median peak RSS MB | load averages |")
print("|---|---|---|---|---|---|---|")
for (items, config), rs in sorted(groups.items()):
    print(f"| {items:,} | {config} | {len(rs)} | {statistics.median(r['calls_per_s'] for r in rs):,.0f} | "
          f"{statistics.median(r['seconds'] for r in rs):.1f} | {statistics.median(r['peak_rss_mb'] for r in rs):.0f} | "
          + "; ".join(r["loadavg"].split()[0] for r in rs) + " |")
for items in sorted({k[0] for k in groups}):
    e, b = groups.get((items, "engine")), groups.get((items, "raw"))
    if e and b:
        print(f"\n{items:,} items: engine at {statistics.median(r['calls_per_s'] for r in e) / statistics.median(r['calls_per_s'] for r in b):.3f} of the bare simulator's calls/s")
