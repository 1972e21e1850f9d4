#!/usr/bin/env bash
# The reward-model track at a given scale on the offline world: N census personas x 200 pairs
# (150 train-pool prompts of which 100 train pairs, 50 held-out: the original's schedule; N = 1586
# is the paper's 317,200 pairs), then `persona rm train` with the lexical featuriser, timed twice:
# cold (every text featurised) and warm (the content-hash cache: nothing featurised). Wall time and
# peak RSS from /usr/bin/time; featurising texts/s and each model's training seconds from
# rm-results.json. One JSON line per run to perf/results/rm-<date>.jsonl with the load average.
#   bash perf/rm/run.sh [personas] [release|debug]      default: 1586 release
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1586}; mode=${2:-release}
if [ "$mode" = release ]; then
  dotnet publish src/Persona.Cli -c Release -o perf/.cache/rm-bin -v q -nologo >/dev/null
  bin=(perf/.cache/rm-bin/persona)
else
  bin=(dotnet src/Persona.Cli/bin/Debug/net10.0/persona.dll)
fi
work=perf/.cache/rm-$n; mkdir -p "$work"
if [ ! -f "$work/pairs/pairs.jsonl" ]; then
  "${bin[@]}" personas build --n "$n" --model offline --out "$work/population" >/dev/null
  "${bin[@]}" prompts curate --model offline --limit 1200 --k 10 --out "$work/prompts" >/dev/null
  "${bin[@]}" pairs build --personas "$work/population/personas.jsonl" --prompts "$work/prompts/prompts.jsonl" --model offline \
      --out "$work/pairs" --train-prompts 150 --heldout-prompts 50 --train-pairs 100 --concurrency 16 >/dev/null
fi
out=perf/results/rm-$(date +%F).jsonl; touch "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo +dirty)
rm -rf "$work/rm"
for pass in cold warm; do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v -o "$work/time-$pass.txt" "${bin[@]}" rm train --pairs "$work/pairs" --out "$work/rm" --resamples 200 > "$work/log-$pass.txt" 2>&1
  python3 - "$n" "$pass" "$work" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "$commit" "$mode" >> "$out" <<'PY'
import json, sys
n, p, work, load0, load1, commit, mode = sys.argv[1:8]
t = open(f"{work}/time-{p}.txt").read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0]
parts = [float(x) for x in wall.split(":")]
secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
rss = int(t.split("Maximum resident set size (kbytes): ")[1].split("\n")[0])
r = json.load(open(f"{work}/rm/rm-results.json"))
tl = [l for l in open(f"{work}/log-{p}.txt") if l.startswith("timings: ")]
tm = json.loads(tl[-1][len("timings: "):])
pairs = sum(1 for _ in open(f"{work}/pairs/pairs.jsonl"))
texts = tm["texts_featurised"]
print(json.dumps({"personas": int(n), "pairs": pairs, "pass": p, "build": mode, "wall_s": secs, "peak_rss_mb": round(rss / 1024, 1),
                  "texts_featurised": texts, "cache_hits": tm["cache_hits"], "featurise_s": tm["featurise_s"],
                  "texts_per_s": round(texts / tm["featurise_s"], 1) if texts and tm["featurise_s"] > 0 else None,
                  "train_s": tm["train_s"], "train_pairs": r["train_pairs"],
                  "load_before": load0, "load_after": load1, "commit": commit, "nproc": 2}))
PY
  tail -1 "$out"
done
