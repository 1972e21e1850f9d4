#!/usr/bin/env bash
# Survey benchmark (offline world; see README.md). Two parts, each beside its baseline in the same run:
#  1. panel: the survey stage's steps (perf/survey/Program.cs `panel`) at paper scale, 1,586 personas x 133 questions,
#     mode persona, elicitation verbalized, on the offline simulator through the LM runtime: wall time per step, peak
#     memory (/usr/bin/time -v), and the real tokens per call beside the dry run's estimate (cost per persona).
#  2. score: `persona survey score` on 100,000 prediction rows (CLI end to end, wall and peak memory), and the scoring
#     alone in-process (median of REPEAT) beside a Python + numpy reimplementation of the same statistics on the same rows
#     (Debian's /usr/bin/python3 with python3-numpy), whose numbers must agree.
# Writes perf/results/survey-<date>.json (all parts' JSON and the /usr/bin/time lines). PERSONAS=1586 QUESTIONS= (all) REPEAT=3.
set -euo pipefail
cd "$(dirname "$0")/../.."
PERSONAS=${PERSONAS:-1586}
REPEAT=${REPEAT:-3}
QUESTIONS=${QUESTIONS:-}
PY=/usr/bin/python3
$PY -c "import numpy" 2>/dev/null || { echo "perf/survey: needs numpy for Debian's python3 (apt-get install python3-numpy)" >&2; exit 2; }
work=$(mktemp -d /tmp/persona-survey-perf.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=perf/results/survey-$(date -u +%F).json
log="$work/log.jsonl"
note() { echo "$1" | tee -a "$work/notes.txt"; }
note "loadavg before: $(cat /proc/loadavg) ($(nproc) cores, shared)"

dotnet build src/Persona.Cli -c Release -v q -nologo > /dev/null
dotnet build perf/survey -c Release -v q -nologo > /dev/null
persona=src/Persona.Cli/bin/Release/net10.0/persona
perf="dotnet perf/survey/bin/Release/net10.0/Persona.Perf.Survey.dll"

# 1. The panel. The population is built first (not timed here: perf/personas measures it).
$persona personas build --n "$PERSONAS" --seed 1 --model offline --out "$work/personas" > /dev/null
note "loadavg before the panel: $(cat /proc/loadavg)"
/usr/bin/time -v $perf panel "$work/personas/personas.jsonl" "$work/panel" ${QUESTIONS:+--questions $QUESTIONS} --modes persona --elicitation verbalized \
    > "$work/panel.json" 2> "$work/panel.time"
cat "$work/panel.json"
note "panel: $(grep -E 'Elapsed \(wall' "$work/panel.time" | sed 's/^\s*//'); $(grep -E 'Maximum resident' "$work/panel.time" | sed 's/^\s*//')"

# The dry run's own lines for the same configuration (tokens and cost per mode), priced as gpt-4o-mini.
$persona run --out "$work/dry" --dry-run --scale paper --personas "$PERSONAS" --survey-modes persona --survey-elicitation verbalized --model openai:gpt-4o-mini \
    | grep -E "survey answers" | tee "$work/dry.txt"

# 2. Scoring 100,000 rows.
$PY perf/survey/make_rows.py "$work/big-survey.jsonl" "$work/preds.jsonl" 100000
note "loadavg before scoring: $(cat /proc/loadavg)"
/usr/bin/time -v $persona survey score --predictions "$work/preds.jsonl" --survey "$work/big-survey.jsonl" --out "$work/scored" --model offline > /dev/null 2> "$work/cli.time"
note "survey score CLI (100,000 rows, 1,000 resamples, results + heat map + Every Eval Ever): $(grep -E 'Elapsed \(wall' "$work/cli.time" | sed 's/^\s*//'); $(grep -E 'Maximum resident' "$work/cli.time" | sed 's/^\s*//')"
$perf score "$work/big-survey.jsonl" "$work/preds.jsonl" --resamples 1000 --repeat "$REPEAT" > "$work/score.json"
$PY perf/survey/numpy_baseline.py "$work/big-survey.jsonl" "$work/preds.jsonl" 1000 "$REPEAT" > "$work/numpy.json"
note "loadavg after: $(cat /proc/loadavg)"

$PY - "$work" "$out" <<'PY'
import json, sys, os
work, out = sys.argv[1], sys.argv[2]
j = lambda n: json.load(open(os.path.join(work, n)))
score, base, panel = j("score.json"), j("numpy.json"), j("panel.json")
diff = max(abs(score["groups_mean_distance"][g] - base["groups_mean_distance"][g]) for g in base["groups_mean_distance"])
diff = max(diff, abs(score["overall_mean_distance"] - base["overall_mean_distance"]), abs(score["prior"] - base["prior"]), abs(score["uniform"] - base["uniform"]))
if diff > 1e-9:
    print(f"perf/survey: C# and numpy disagree by {diff}: the timings compare different work; nothing written", file=sys.stderr); sys.exit(3)
result = {"panel": panel, "score": score, "numpy_baseline": base, "max_abs_difference": diff,
          "score_ratio_csharp_over_numpy": round(score["score_median_s"] / base["score_median_s"], 2),
          "read_ratio_csharp_over_python": round(score["read_s"] / base["read_s"], 2),
          "notes": open(os.path.join(work, "notes.txt")).read().splitlines(),
          "dry_run_lines": open(os.path.join(work, "dry.txt")).read().splitlines()}
json.dump(result, open(out, "w"), indent=2)
print(f"C# scoring median {score['score_median_s']} s vs numpy {base['score_median_s']} s (ratio {result['score_ratio_csharp_over_numpy']}); "
      f"reading {score['read_s']} s vs {base['read_s']} s; numbers agree to {diff:.1e}. Wrote {out}")
PY
