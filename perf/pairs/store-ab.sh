#!/usr/bin/env bash
# The run store's layout, A/B: the full 1,586-persona schedule (317,200 pairs, verified in both
# orders, offline world) built by this checkout and by a baseline commit, alternating, ROUNDS
# times each. Per run: wall time, peak RSS, bytes written (ru_oublock x 512 from /usr/bin/time)
# and the store's size; medians and ratios at the end. Default baseline: 081c1aa, the last
# commit whose answers were keyed by their SHA-256 text key (WITHOUT ROWID).
# Both variants must build the same number of pairs: after each round the script checks it and
# stops (exit 3, no medians or ratios) when they differ.
# Run it alone (the load average is recorded).
#   bash perf/pairs/store-ab.sh [BASELINE_COMMIT] [ROUNDS]       default: 081c1aa 2
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-081c1aa}; rounds=${2:-2}
work=perf/.cache/store-ab; mkdir -p "$work"
dotnet publish src/Persona.Cli -c Release -o "$work/bin-new" -v q -nologo >/dev/null
rm -rf "$work/src-base"; git worktree add -f --detach "$work/src-base" "$base" >/dev/null 2>&1
dotnet publish "$work/src-base/src/Persona.Cli" -c Release -o "$work/bin-base" -v q -nologo >/dev/null
git worktree remove --force "$work/src-base"
python3 perf/pairs/prompts.py data/prism "$work/prompts.csv"
"$work/bin-new/persona" census sample --n 1586 --seed 1 --out "$work/personas.jsonl" >/dev/null
out=perf/results/pairs-store-ab-$(date +%F).jsonl; : > "$out"
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo +dirty)
same_pairs() { # every run so far, of either variant, built the same number of pairs
  python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seen = {}
for r in rows:
    seen.setdefault(r["pairs"], []).append(f"{r['variant']} ({r['code']}) round {r['round']}")
if len(seen) > 1:
    print("perf/pairs/store-ab.sh: the two variants did not build the same pairs, so no ratio is computed:", file=sys.stderr)
    for n, runs in seen.items():
        print(f"  {n:,} pairs: {', '.join(runs)}", file=sys.stderr)
    sys.exit(3)
PY
}
for r in $(seq "$rounds"); do
  for v in base new; do
    rm -rf "$work/run"; sync
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v -o "$work/time.txt" "$work/bin-$v/persona" pairs build --personas "$work/personas.jsonl" --prompts "$work/prompts.csv" \
        --model offline --out "$work/run" --verify all --concurrency 16 > "$work/log-$v.txt" 2>&1
    python3 - "$v" "$r" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "$work" "$base" "$commit" >> "$out" <<'PY'
import json, os, re, sys
v, r, load0, load1, work, base, commit = sys.argv[1:8]
t = open(f"{work}/time.txt").read()
parts = [float(x) for x in t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split("\n")[0].split(":")]
secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
num = lambda label: int(re.search(label + r": (\d+)", t).group(1))
pairs = json.load(open(f"{work}/run/pairs-report.json"))["pairs"]
print(json.dumps({"variant": v, "code": base if v == "base" else commit, "round": int(r), "pairs": pairs, "seconds": round(secs, 1),
                  "pairs_per_s": round(pairs / secs, 1), "peak_rss_mb": round(num(r"Maximum resident set size \(kbytes\)") / 1024, 1),
                  "written_gb": round(num("File system outputs") * 512 / 1e9, 2), "store_gb": round(os.path.getsize(f"{work}/run/store.sqlite") / 1e9, 2),
                  "loadavg_before": load0, "loadavg_after": load1}))
PY
    tail -n 1 "$out"
  done
  same_pairs
done
rm -rf "$work/run"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = {v: {k: statistics.median(r[k] for r in rows if r["variant"] == v) for k in ("seconds", "peak_rss_mb", "written_gb", "store_gb")} for v in ("base", "new")}
for k in ("seconds", "peak_rss_mb", "written_gb", "store_gb"):
    print(f"{k:12} base {med['base'][k]:>9} new {med['new'][k]:>9}  new/base {med['new'][k] / med['base'][k]:.2f}")
PY
