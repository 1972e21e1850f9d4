#!/usr/bin/env bash
# `persona run` of this commit beside an older one, in the same session, alternating, so the machine's
# state is shared: wall time and peak RSS per run (/usr/bin/time), seconds per stage from each run's
# manifest; medians and new/old ratios over the runs, for the whole run and for the stages both have
# (a stage one of them lacks, such as the survey stage added since, is listed apart). Run it alone.
#   bash perf/run/compare.sh OLD_REV [reps=3] [scale=default]
set -euo pipefail
cd "$(dirname "$0")/../.."
old=${1:?usage: compare.sh OLD_REV [reps] [scale]}; reps=${2:-3}; scale=${3:-default}
cache=perf/.cache
src_old=$cache/compare-src-$old
if [ ! -d "$src_old" ]; then git worktree add --detach -f "$src_old" "$old" >/dev/null; fi
dotnet publish "$src_old/src/Persona.Cli" -c Release -o "$cache/compare-bin-old" -v q -nologo >/dev/null
dotnet publish src/Persona.Cli -c Release -o "$cache/compare-bin-new" -v q -nologo >/dev/null
out=perf/results/run-compare-$(date +%F).jsonl
commit=$(git rev-parse --short HEAD)
for i in $(seq "$reps"); do
  for v in old new; do
    dir=$cache/compare-run-$v; rm -rf "$dir"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v -o "$cache/compare-time-$v.txt" "$cache/compare-bin-$v/persona" run --scale "$scale" --out "$dir" > "$cache/compare-log-$v.txt" 2>&1
    python3 - "$v" "$dir" "$load" "$i" "$scale" "$old" "$commit" >> "$out" <<'PY'
import json, re, sys
v, d, load, i, scale, old, new = sys.argv[1:8]
t = open(f"perf/.cache/compare-time-{v}.txt").read()
wall = [float(x) for x in t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0].split(":")]
secs = wall[-1] + 60 * wall[-2] + (3600 * wall[-3] if len(wall) > 2 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
m = json.load(open(f"{d}/manifest.json"))
# Stage times are the invocation's: invocations.jsonl's last line, or manifest.json for a build from before that file.
try: m = [json.loads(l) for l in open(f"{d}/invocations.jsonl") if l.strip()][-1]
except FileNotFoundError: pass
print(json.dumps({"version": v, "commit": old if v == "old" else new, "rep": int(i), "scale": scale, "seconds": round(secs, 2),
                  "peak_rss_mb": round(rss / 1024, 1), "stage_seconds": {k: s["seconds"] for k, s in m["stages"].items()}, "loadavg_before": load}))
PY
    tail -n 1 "$out" | cut -c1-160
  done
done
python3 - "$out" "$old" "$commit" "$scale" <<'PY'
import json, statistics, sys
path, old, new, scale = sys.argv[1:5]
rows = [json.loads(l) for l in open(path) if l.strip()]
rows = [r for r in rows if r["scale"] == scale and r["commit"] in (old, new)]
by = {v: [r for r in rows if r["version"] == v] for v in ("old", "new")}
med = lambda xs: statistics.median(xs) if xs else float("nan")
common = sorted(set.intersection(*(set(r["stage_seconds"]) for r in rows)))
only_new = sorted(set().union(*(r["stage_seconds"] for r in by["new"])) - set(common))
def common_secs(r): return sum(r["stage_seconds"][s] for s in common)
print(f"{scale}: {len(by['old'])} runs of {old}, {len(by['new'])} of {new}")
for name, f in [("wall seconds", lambda r: r["seconds"]), ("peak RSS MB", lambda r: r["peak_rss_mb"]), ("seconds in common stages", common_secs)]:
    o, n = med([f(r) for r in by["old"]]), med([f(r) for r in by["new"]])
    print(f"  {name}: old {o:.2f}, new {n:.2f}, new/old {n / o:.3f}")
for s in common:
    o, n = med([r["stage_seconds"][s] for r in by["old"]]), med([r["stage_seconds"][s] for r in by["new"]])
    print(f"    {s}: old {o:.2f}, new {n:.2f}")
for s in only_new:
    print(f"    {s} (new only): {med([r['stage_seconds'].get(s, 0) for r in by['new']]):.2f}")
print(f"  load average before each run: {[r['loadavg_before'] for r in rows]}")
PY
