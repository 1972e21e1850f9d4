#!/usr/bin/env bash
# Preference pairs at the original's scale on the offline world: 1,586 personas x 200 pairs
# (317,200 pairs, verified in both orders), then 10,000 personas (2 M pairs) to show that peak
# memory does not grow with the number of pairs. Wall time and peak RSS from /usr/bin/time; the
# resident set sampled every 30 s (pairs written, VmRSS, VmHWM, RssAnon/RssFile, load) goes to
# perf/results/pairs-<N>-mem-<date>.jsonl, so flatness shows as a series, not one number.
# Inputs: census personas drawn from the bundled extract, and the 8,011 PRISM prompts with a
# seeded 3,000 / 868 split (the curation's LM classifier is not what is measured here).
# Run it alone (the load average is recorded).
#   bash perf/pairs/run.sh [personas...]      default: 1586 10000
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("${@:-1586 10000}")
dotnet publish src/Persona.Cli -c Release -o perf/.cache/pairs-bin -v q -nologo >/dev/null
bin=perf/.cache/pairs-bin/persona
work=perf/.cache/pairs; mkdir -p "$work"
python3 perf/pairs/prompts.py data/prism "$work/prompts.csv"
# Appended, not truncated: a later run of one size the same day must not erase the other's line.
out=perf/results/pairs-$(date +%F).jsonl; touch "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo +dirty)
for n in ${sizes[@]}; do
  rm -rf "$work/run-$n"
  "$bin" census sample --n "$n" --seed 1 --out "$work/personas-$n.jsonl" >/dev/null
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  series=perf/results/pairs-$n-mem-$(date +%F).jsonl; : > "$series"
  /usr/bin/time -v -o "$work/time-$n.txt" "$bin" pairs build --personas "$work/personas-$n.jsonl" --prompts "$work/prompts.csv" \
      --model offline --out "$work/run-$n" --verify all --concurrency 16 > "$work/log-$n.txt" 2>&1 &
  timer=$!
  pid=""; for _ in $(seq 50); do pid=$(pgrep -P "$timer" || true); [ -n "$pid" ] && break; sleep 0.1; done
  [ -n "$pid" ] && python3 perf/pairs/memwatch.py "$pid" "$work/run-$n" "$series" 30 &
  watcher=$!
  wait "$timer"
  wait "$watcher" || true
  python3 - "$n" "$work" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "$series" "$commit" >> "$out" <<'PY'
import json, re, sys
n, work, load0, load1, series, commit = sys.argv[1:7]
t = open(f"{work}/time-{n}.txt").read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0]
parts = [float(x) for x in wall.split(":")]
secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
m = json.load(open(f"{work}/run-{n}/manifest.json"))
calls = sum(r["paid_calls"] for r in m["roles"].values())
rep = json.load(open(f"{work}/run-{n}/pairs-report.json"))
# VmHWM when 10%, 50% and 100% of the pairs were written (the first sample at or past each share).
rows = [json.loads(l) for l in open(series) if l.strip()]
def hwm_at(share):
    hit = [r for r in rows if r["pairs_written"] >= share * rep["pairs"]]
    return hit[0]["vm_hwm_mb"] if hit else (rows[-1]["vm_hwm_mb"] if rows else None)
print(json.dumps({"personas": int(n), "pairs": rep["pairs"], "calls": calls, "seconds": round(secs, 1),
                  "calls_per_s": round(calls / secs, 1), "pairs_per_s": round(rep["pairs"] / secs, 1),
                  "peak_rss_mb": round(rss / 1024, 1), "loadavg_before": load0, "loadavg_after": load1,
                  "hwm_mb_at_10_50_100pct": [hwm_at(0.1), hwm_at(0.5), hwm_at(1.0)], "series": series, "commit": commit}))
PY
  tail -n 1 "$out"
done
