#!/usr/bin/env bash
# `persona run` end to end on the offline world: the default scale and the paper scale (1,586
# personas, every kept prompt, 317,200 pairs verified in both orders, bench in every mode,
# leave-one-out 40 x 20, pass@k 16). Wall time per stage from the run's manifest, total wall time
# and peak RSS from /usr/bin/time; each stage's peak RSS from a 2 s sampler (stagewatch.py, series in
# perf/results/run-<scale>-mem-<date>.jsonl). Run it alone: the load average before and after is recorded.
# A scale of the form personas=N runs the default schedule for N personas (`--personas N`).
#   bash perf/run/run.sh [scales...]      default: default paper      e.g. personas=10000
set -euo pipefail
cd "$(dirname "$0")/../.."
scales=("${@:-default paper}")
dotnet publish src/Persona.Cli -c Release -o perf/.cache/run-bin -v q -nologo >/dev/null
bin=perf/.cache/run-bin/persona
out=perf/results/run-$(date +%F).jsonl
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for s in ${scales[@]}; do
  dir=perf/.cache/run-$s
  rm -rf "$dir"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  series=perf/results/run-$s-mem-$(date +%F).jsonl; : > "$series"
  case $s in personas=*) size=(--personas "${s#personas=}");; *) size=(--scale "$s");; esac
  /usr/bin/time -v -o "perf/.cache/time-run-$s.txt" "$bin" run "${size[@]}" --out "$dir" > "perf/.cache/log-run-$s.txt" 2>&1 &
  timer=$!
  pid=""; for _ in $(seq 50); do pid=$(pgrep -P "$timer" || true); [ -n "$pid" ] && break; sleep 0.1; done
  [ -n "$pid" ] && python3 perf/run/stagewatch.py "$pid" "$dir" "$series" 2 &
  watcher=$!
  wait "$timer"
  wait "$watcher" || true
  python3 - "$s" "$dir" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "$commit" "$series" >> "$out" <<'PY'
import json, re, sys
s, d, load0, load1, commit, series = sys.argv[1:7]
t = open(f"perf/.cache/time-run-{s}.txt").read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0]
parts = [float(x) for x in wall.split(":")]
secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
m = json.load(open(f"{d}/manifest.json"))
# Times and paid calls are this invocation's: invocations.jsonl's last line (a build before it existed kept them in manifest.json).
try: inv = [json.loads(l) for l in open(f"{d}/invocations.jsonl") if l.strip()][-1]
except FileNotFoundError: inv = m
stages = {k: v["seconds"] for k, v in inv["stages"].items()}
calls = sum(r["paid_calls"] for r in inv["roles"].values())
peaks = {}
for line in open(series):
    if line.strip():
        r = json.loads(line)
        peaks[r["stage"]] = max(peaks.get(r["stage"], 0), r["vm_rss_mb"] or 0)
print(json.dumps({"scale": s, "seconds": round(secs, 1), "peak_rss_mb": round(rss / 1024, 1), "paid_calls": calls,
                  "pairs": m["stages"]["pairs"]["counts"]["pairs"], "stage_seconds": stages, "stage_peak_rss_mb": peaks,
                  "loadavg_before": load0, "loadavg_after": load1, "commit": commit}))
PY
  tail -n 1 "$out"
done
