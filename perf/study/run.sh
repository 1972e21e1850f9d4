#!/usr/bin/env bash
# Study web app benchmark (issue 12): 50 simulated raters complete a study at once against a real
# `persona study serve` on 127.0.0.1 (Release build, production rate limits) after one untimed
# warm-up rater; then the same clients hit "/" (no database) as the baseline of the same run.
# Half the raters post every answer twice, as a retry or a second tab would.
# Floor: p99 of a submission under 200 ms; 0 lost and 0 duplicated answers.
# Usage: perf/study/run.sh [REPEATS]   (env: RATERS=50 WORK=/tmp/persona-perf-study RESULTS=perf/results)
# Writes RESULTS/study-<date>.json (one line per repeat, load average before and after each).
# A repeat stops the script when the baseline did not make all its RATERS x 20 requests to "/" with
# each served (exit 3), as when answers are lost or duplicated (exit 2).
set -euo pipefail
REPEATS=${1:-3}
RATERS=${RATERS:-50}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/persona-perf-study}
rm -rf "$WORK"; mkdir -p "$WORK"
dotnet build "$ROOT/src/Persona.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$ROOT/perf/study" -c Release -v q -nologo >/dev/null
CLI="$ROOT/src/Persona.Cli/bin/Release/net10.0/persona"
BENCH="$ROOT/perf/study/bin/Release/net10.0/Persona.Perf.Study"
export PERSONA_STUDY_ADMIN_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# 4 raters per persona: enough personas that every simulated rater, and the warm-up rater, gets a place.
PERSONAS=$(( (RATERS + 4) / 4 ))
"$BENCH" pairs --personas "$PERSONAS" --items 10 --out "$WORK/pairs"
OUT="${RESULTS:-$ROOT/perf/results}/study-$(date -u +%Y-%m-%d).json"; mkdir -p "$(dirname "$OUT")"
: > "$WORK/results.jsonl"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true; }
trap cleanup EXIT
for r in $(seq "$REPEATS"); do
  "$CLI" study create --pairs "$WORK/pairs" --out "$WORK/study-$r" --persona-count "$PERSONAS" --seed "$r" > /dev/null
  "$CLI" study serve "$WORK/study-$r" --urls http://127.0.0.1:0 > "$WORK/serve-$r.log" 2>&1 &
  SERVER=$!
  ENTRY=""
  for _ in $(seq 150); do
    ENTRY=$(grep -o 'http://127\.0\.0\.1:[0-9]*/s/[A-Za-z0-9_-]*' "$WORK/serve-$r.log" | head -1 || true)
    [ -n "$ENTRY" ] && break; sleep 0.1
  done
  [ -n "$ENTRY" ] || { echo "server did not start"; cat "$WORK/serve-$r.log"; exit 1; }
  BASE=${ENTRY%%/s/*}; PATH_PART=/s/${ENTRY#*/s/}
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  LINE=$(timeout 300 "$BENCH" load --base "$BASE" --entry "$PATH_PART" --raters "$RATERS" --baseline-requests 20)
  LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["repeat"]=int(sys.argv[2]); d["loadavg_before"]=sys.argv[3]; d["loadavg_after"]=sys.argv[4]; print(json.dumps(d))' \
    "$LINE" "$r" "$LOAD_BEFORE" "$LOAD_AFTER" | tee -a "$WORK/results.jsonl"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
cp "$WORK/results.jsonl" "$OUT"
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda f: statistics.median(f(r) for r in rows)
print(f"median over {len(rows)} runs: {med(lambda r: r['requests_per_s']):.0f} req/s; submit p50 {med(lambda r: r['submit']['p50_ms']):.1f} ms, "
      f"p99 {med(lambda r: r['submit']['p99_ms']):.1f} ms; page p50 {med(lambda r: r['page']['p50_ms']):.1f} ms, p99 {med(lambda r: r['page']['p99_ms']):.1f} ms; "
      f"baseline '/' p50 {med(lambda r: r['baseline']['latency']['p50_ms']):.1f} ms, p99 {med(lambda r: r['baseline']['latency']['p99_ms']):.1f} ms; "
      f"lost {sum(r['lost'] for r in rows)}, duplicated {sum(r['duplicated'] for r in rows)}, failures {sum(r['failures'] for r in rows)}")
PY
