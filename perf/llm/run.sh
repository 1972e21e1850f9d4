#!/usr/bin/env bash
# LM runtime benchmark (issue 3 item 6): our runtime vs a Python asyncio/aiohttp client, side by
# side in one run, against a fake OpenAI-compatible server in its own process on 127.0.0.1.
#   (a) latency 100 ms, concurrency 256, CALLS_A calls: efficiency vs the ideal 256/0.1 s (floor 90%)
#   (b) latency 0: calls/s and client CPU per call (floor 2,000 calls/s)
#   (c) replay of CALLS_C cached calls from a seeded store (floor 50,000/s)
# Usage: perf/llm/run.sh [REPEATS]   (env: CALLS_A=50000 CALLS_B=50000 CALLS_C=1000000 WORK=/tmp/persona-perf-llm
#                                          RESULTS=perf/results)
# Writes RESULTS/llm-<date>.json and .md (medians over REPEATS, default 3). A small check of the
# script itself, not a measurement: CALLS_A=300 CALLS_B=300 CALLS_C=3000 RESULTS=/tmp/llm-check perf/llm/run.sh 1
# Every runtime run and every Python baseline run must complete each scenario's calls, and in (c)
# find every cached answer (summarize.py --check-only after each repeat); otherwise the script stops
# with what differs (exit 3) instead of printing a ratio.
set -euo pipefail
REPEATS=${1:-3}
CALLS_A=${CALLS_A:-50000}; CALLS_B=${CALLS_B:-50000}; CALLS_C=${CALLS_C:-1000000}; CONC=${CONC:-256}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/persona-perf-llm}
RESULTS=${RESULTS:-$ROOT/perf/results}
PY=/usr/bin/python3
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null || apt-get install -y python3-aiohttp
rm -rf "$WORK"; mkdir -p "$WORK"
dotnet build "$ROOT/perf/llm/Persona.Perf.Llm" -c Release -v q -nologo >/dev/null
dotnet build "$ROOT/src/Persona.Cli" -c Release -v q -nologo >/dev/null
BIN="$ROOT/perf/llm/Persona.Perf.Llm/bin/Release/net10.0/Persona.Perf.Llm"
CLI="$ROOT/src/Persona.Cli/bin/Release/net10.0/persona"
RAW="$WORK/raw.jsonl"; : > "$RAW"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
serve() { # latency-ms; sets URL (not via $(...): a subshell would lose the server's pid)
  "$BIN" serve --latency-ms "$1" > "$WORK/server-$1.url" 2> "$WORK/server-$1.err" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/server-$1.url" ] && break; sleep 0.1; done
  URL=$(head -1 "$WORK/server-$1.url")
}
# The client's line is taken by an assignment, so a run that fails its own check (exit non-zero, e.g.
# --expect-cached finding fewer answers than requests) stops the script (set -e) instead of being recorded.
run_line() { LINE=$("$@"); }
record() { # scenario, json line
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[2]); d["scenario"]=sys.argv[1]; print(json.dumps(d))' "$1" "$2" >> "$RAW"
  echo "$1: $2"
}
same_work() { # stops the script as soon as a runtime or baseline run did other work than the scenario's
  "$PY" "$ROOT/perf/llm/summarize.py" --raw "$RAW" --calls "$CALLS_A,$CALLS_B,$CALLS_C" --check-only
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
serve 100; URL100=$URL; serve 0; URL0=$URL
"$BIN" requests --calls "$CALLS_A" --out "$WORK/a.jsonl" --prefix a
"$BIN" requests --calls "$CALLS_B" --out "$WORK/b.jsonl" --prefix b
"$BIN" requests --calls "$CALLS_C" --out "$WORK/c.jsonl" --prefix c

for r in $(seq "$REPEATS"); do
  # A fresh run dir per repeat: nothing is cached, every call goes to the server.
  run_line "$BIN" client --url "$URL100" --in "$WORK/a.jsonl" --run-dir "$WORK/a-$r" --concurrency "$CONC"; record a "$LINE"
  rm -rf "$WORK/a-$r"
  record a "$("$PY" "$ROOT/perf/llm/aiohttp_client.py" --url "$URL100" --calls "$CALLS_A" --concurrency "$CONC")"
  run_line "$BIN" client --url "$URL0" --in "$WORK/b.jsonl" --run-dir "$WORK/b-$r" --concurrency "$CONC"; record b "$LINE"
  rm -rf "$WORK/b-$r"
  record b "$("$PY" "$ROOT/perf/llm/aiohttp_client.py" --url "$URL0" --calls "$CALLS_B" --concurrency "$CONC")"
  same_work
done

# (c): a store holding CALLS_C completed calls, written by the runtime's own cache layer.
"$BIN" seed --in "$WORK/c.jsonl" --run-dir "$WORK/c-seed"
for r in $(seq "$REPEATS"); do
  cp -r "$WORK/c-seed" "$WORK/c-run"
  run_line "$BIN" client --url "$URL0" --in "$WORK/c.jsonl" --run-dir "$WORK/c-run" --concurrency "$CONC" --expect-cached; record c "$LINE"
  rm -rf "$WORK/c-run"
  # Recorded whatever its exit code (it exits 3 when answers are missing): same_work then says what differs.
  record c "$("$PY" "$ROOT/perf/llm/sqlite_replay.py" --in "$WORK/c.jsonl" --store "$WORK/c-seed/store.sqlite" --out "$WORK/c-py.jsonl" || true)"
  same_work
done

# The CLI end to end once per scenario b and c (reading the input, progress bar, manifest), under /usr/bin/time.
cli() { # scenario, url, input, run-dir
  local t0 t1 out
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/time-$1.txt" "$CLI" llm batch --in "$3" --out "$4/out.jsonl" --run-dir "$4" --model openai:fake-model \
      --base-url "$2" --concurrency "$CONC" > "$WORK/cli-$1.log" 2>&1
  t1=$(date +%s.%N)
  "$PY" - "$1" "$t0" "$t1" "$WORK/time-$1.txt" "$(wc -l < "$3")" >> "$RAW" <<'PYEOF'
import json, re, sys
scen, t0, t1, tf, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), open(sys.argv[4]).read(), int(sys.argv[5])
g = lambda k: float(re.search(re.escape(k) + r": ([0-9.]+)", tf).group(1))
wall = t1 - t0; cpu = g("User time (seconds)") + g("System time (seconds)")
print(json.dumps({"scenario": scen, "tool": "persona-cli", "calls": n, "wall_s": round(wall, 3), "calls_per_s": round(n / wall, 1),
                  "cpu_s": round(cpu, 3), "cpu_ms_per_call": round(1000 * cpu / n, 4), "peak_rss_mb": round(g("Maximum resident set size (kbytes)") / 1024, 1),
                  "note": "whole process: start-up, reading and validating the input, progress bar, output, manifest"}))
PYEOF
  tail -1 "$RAW"
}
cli b "$URL0" "$WORK/b.jsonl" "$WORK/b-cli"
cp -r "$WORK/c-seed" "$WORK/c-cli"
cli c "$URL0" "$WORK/c.jsonl" "$WORK/c-cli"
rm -rf "$WORK/c-cli" "$WORK/b-cli"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup; PIDS=()
"$PY" "$ROOT/perf/llm/summarize.py" --raw "$RAW" --out-dir "$RESULTS" --repeats "$REPEATS" \
  --concurrency "$CONC" --calls "$CALLS_A,$CALLS_B,$CALLS_C" --load "$LOAD_BEFORE|$LOAD_AFTER" \
  --command "perf/llm/run.sh $REPEATS (CALLS_A=$CALLS_A CALLS_B=$CALLS_B CALLS_C=$CALLS_C)"
