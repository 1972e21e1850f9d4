#!/usr/bin/env bash
# PERSONA Bench benchmark (offline world): 1,586 personas x 3 questions x 4 modes = 19,032 samples.
#  1. in-process (perf/bench/Program.cs): bare simulator vs the engine cold vs warm, then statistics,
#     figures and exports timed apart -> perf/results/bench-<date>.json
#  2. the user-facing verb: `persona bench run` (Release build) end to end, wall time and peak RSS.
# Extra arguments go to the program of step 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/persona-bench-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "loadavg before: $(cat /proc/loadavg)"
# Stops here (exit 3, nothing written) when the configurations did not do the same work; those lines start "perf/bench:".
/usr/bin/time -v dotnet run -c Release --project perf/bench -- "$@" 2> >(grep -E "Maximum resident|Elapsed \(wall|^perf/bench:" >&2)

dotnet build src/Persona.Cli -c Release -v q -nologo > /dev/null
persona=src/Persona.Cli/bin/Release/net10.0/persona
$persona personas build --n 1586 --seed 1 --model offline --out "$work/personas" > /dev/null
python3 - "$work/questions.jsonl" <<'PY'
import json, sys
prompts = json.load(open("data/prism/prism_opening_prompts.json"))
qs = []
for t in prompts:
    t = t if isinstance(t, str) else t.get("text", "")
    if t.rstrip().endswith("?") and len(t.split()) >= 5 and t not in qs: qs.append(t)
with open(sys.argv[1], "w") as f:
    for i, t in enumerate(qs[:600]): f.write(json.dumps({"id": f"q{i}", "question": t}) + "\n")
PY
echo "loadavg before the CLI run: $(cat /proc/loadavg)"
/usr/bin/time -v $persona bench run --personas "$work/personas" --prompts "$work/questions.jsonl" --split all --per-persona 3 \
    --model offline --critic-model offline --mode all --out "$work/bench" --seed 1 2> "$work/time.txt" | tail -3
grep -E "Maximum resident|Elapsed \(wall" "$work/time.txt"
echo "samples.jsonl lines: $(wc -l < "$work/bench/samples.jsonl")"
echo "loadavg after: $(cat /proc/loadavg)"
