#!/usr/bin/env bash
# Peak memory of the population stage against the number of personas, this commit beside an older
# one in the same session (alternating old/new per size, so both see the same machine): wall time and
# peak RSS from /usr/bin/time for `persona personas build --model offline` (the population stage of
# `persona run`: census draw, enrichment, consistency filter, JSONL + Parquet + rejection log) at each
# size, the load average before each run, and that both wrote byte-identical files.
# Peak RSS per persona is the slope between the smallest and the largest size. Run it alone.
#   bash perf/memory/run.sh [OLD_REV=c50fc38] [sizes...=10000 100000]
# A whole `persona run` at these sizes is out of reach on a shared 2-core machine (the default
# schedule makes 20 pairs a persona: 2,000,000 pairs at 100,000 personas); see README.md here.
set -euo pipefail
cd "$(dirname "$0")/../.."
old=${1:-c50fc38}; shift || true
sizes=("${@:-10000 100000}")
cache=perf/.cache
src_old=$cache/memory-src-$old
if [ ! -d "$src_old" ]; then git worktree add --detach -f "$src_old" "$old" >/dev/null; fi
dotnet publish "$src_old/src/Persona.Cli" -c Release -o "$cache/memory-bin-old" -v q -nologo >/dev/null
dotnet publish src/Persona.Cli -c Release -o "$cache/memory-bin-new" -v q -nologo >/dev/null
# The old source is only needed for its build: the worktree is removed again.
git worktree remove --force "$src_old"
out=perf/results/memory-$(date +%F).jsonl
commit=$(git rev-parse --short HEAD)
for n in ${sizes[@]}; do
  for v in old new; do
    dir=$cache/memory-run-$v; rm -rf "$dir"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v -o "$cache/memory-time-$v.txt" "$cache/memory-bin-$v/persona" personas build --model offline --n "$n" --seed 1 --out "$dir" > "$cache/memory-log-$v.txt" 2>&1
    python3 - "$v" "$n" "$load" "$old" "$commit" >> "$out" <<'PY'
import json, re, sys
v, n, load, old, new = sys.argv[1:6]
t = open(f"perf/.cache/memory-time-{v}.txt").read()
wall = [float(x) for x in t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0].split(":")]
secs = wall[-1] + 60 * wall[-2] + (3600 * wall[-3] if len(wall) > 2 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
print(json.dumps({"bench": "population-memory", "version": v, "commit": old if v == "old" else new, "personas": int(n), "seconds": round(secs, 2),
                  "peak_rss_mb": round(rss / 1024, 1), "loadavg_before": load}))
PY
    tail -n 1 "$out"
  done
  for f in personas.jsonl personas.parquet rejections.jsonl split.json build-report.json; do
    cmp -s "$cache/memory-run-old/$f" "$cache/memory-run-new/$f" || { echo "$n personas: $f differs between $old and $commit" >&2; exit 3; }
  done
  echo "$n personas: old and new wrote byte-identical files"
done
python3 - "$out" "$old" "$commit" <<'PY'
import json, sys
path, old, new = sys.argv[1:4]
rows = [json.loads(l) for l in open(path) if l.strip()]
rows = [r for r in rows if r.get("bench") == "population-memory" and r["commit"] in (old, new)]
for v, c in (("old", old), ("new", new)):
    rs = {r["personas"]: r for r in rows if r["version"] == v and r["commit"] == c}
    if not rs: continue
    line = ", ".join(f"{n}: {r['peak_rss_mb']} MB in {r['seconds']} s" for n, r in sorted(rs.items()))
    lo, hi = min(rs), max(rs)
    slope = (rs[hi]["peak_rss_mb"] - rs[lo]["peak_rss_mb"]) * 1024 / (hi - lo) if hi > lo else float("nan")
    print(f"{v} ({c}): {line}; slope {slope:.1f} KB/persona; at 100,000 personas about {rs[lo]['peak_rss_mb'] + slope * (100000 - lo) / 1024:.0f} MB")
print("load average before each run:", [r["loadavg_before"] for r in rows])
PY
