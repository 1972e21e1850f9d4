#!/usr/bin/env bash
# Task engine benchmark: a two-role task (answer, then judge) on the offline provider through the
# full middleware stack and the sample log, at 10^5 and 10^6 items, beside the bare simulator
# (no middleware, no store) in the same run. One process per measurement so each peak RSS is its own.
# Run it alone: other work on the 2 cores makes the numbers meaningless (the load average is recorded).
#   bash perf/engine/run.sh [repeats] [sizes...]     e.g. bash perf/engine/run.sh 3 100000 1000000
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-3}; shift || true
sizes=("${@:-100000 1000000}")
dotnet build perf/engine -c Release -v q -nologo >/dev/null
bin=perf/engine/bin/Release/net10.0/Persona.Perf.Engine.dll
out=perf/results/engine-$(date +%F).jsonl
: > "$out"
for n in ${sizes[@]}; do
  for r in $(seq "$repeats"); do
    for config in raw engine; do
      dotnet "$bin" --items "$n" --config "$config" | tee -a "$out"
    done
  done
done
# Taken by an assignment: when the runs did not make the same calls, summarize.py exits 3 and the script stops without an .md.
md=$(python3 perf/engine/summarize.py "$out")
printf '%s\n' "$md" > "${out%.jsonl}.md"
cat "${out%.jsonl}.md"
