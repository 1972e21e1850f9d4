#!/usr/bin/env bash
# Statistics benchmark: Persona.Statistics beside Python (numpy / scikit-learn / statsmodels) on the
# same simulated files, in the same run.
#
#   perf/stats/run.sh [REPEATS]        (default 5)
#
# Cases (each REPEATS times, tools alternating; the load average is recorded beside every measurement
# because other work shares the 2 cores):
#   twoway    1,000 two-way clustered bootstrap resamples of accuracy over 317,200 binary scores
#             (1,586 personas x 200 prompts). Python: numpy, hand-written (no library has it).
#   alpha-*   Krippendorff's alpha over 10^6 ratings (250,000 items x 4 raters), nominal and interval,
#             from labels grouped by unit. Python: numpy, hand-written (Debian has no krippendorff package).
#   kappa     Cohen's kappa (unweighted, quadratic, with SE) of two raters and Fleiss' kappa of four over
#             250,000 items. Python: scikit-learn cohen_kappa_score, statsmodels cohens_kappa / fleiss_kappa.
# compute_s is timed inside each process, after the file is read; wall_s is the whole process.
# Results: perf/results/stats-<date>.md and .json. All data are simulated.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-5}
/usr/bin/python3 -c "import statsmodels, sklearn, pandas" 2>/dev/null || apt-get install -y -qq python3-statsmodels python3-sklearn python3-pandas >/dev/null

dotnet build -c Release -v q perf/stats/Persona.Perf.Stats >/dev/null
bin=perf/stats/Persona.Perf.Stats/bin/Release/net10.0/Persona.Perf.Stats.dll
cache=perf/.cache/stats; mkdir -p "$cache" perf/results
[ -s "$cache/scores.csv" ] && [ -s "$cache/ratings.csv" ] || dotnet "$bin" gen "$cache"

raw="$cache/stats-raw.jsonl"; : > "$raw"
measure() { # case tool cmd...
  local case=$1 tool=$2; shift 2
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  local t; t=$(mktemp)
  local out; out=$(/usr/bin/time -f '%e %M' -o "$t" "$@" | tail -n 1)
  read -r wall rss < "$t"; rm -f "$t"
  printf '{"case":"%s","tool":"%s","wall_s":%s,"peak_rss_mb":%s,"loadavg":"%s","detail":%s}\n' \
    "$case" "$tool" "$wall" "$(awk "BEGIN{print $rss/1024}")" "$load" "$out" >> "$raw"
  echo "  $case $tool: compute $(echo "$out" | sed 's/.*"compute_s": *\([0-9.]*\).*/\1/')s, wall ${wall}s (load $load)"
}

for r in $(seq "$repeats"); do
  echo "repeat $r/$repeats"
  measure twoway persona dotnet "$bin" twoway "$cache/scores.csv" 1000 "$r"
  measure twoway numpy /usr/bin/python3 perf/stats/python_baseline.py twoway "$cache/scores.csv" 1000 "$r"
  for level in nominal interval; do
    measure "alpha-$level" persona dotnet "$bin" alpha "$cache/ratings.csv" "$level"
    measure "alpha-$level" numpy /usr/bin/python3 perf/stats/python_baseline.py alpha "$cache/ratings.csv" "$level"
  done
  measure kappa persona dotnet "$bin" kappa "$cache/ratings.csv"
  measure kappa sklearn+statsmodels /usr/bin/python3 perf/stats/python_baseline.py kappa "$cache/ratings.csv"
done

/usr/bin/python3 perf/stats/summarize.py "$raw" "perf/results/stats-$(date +%F)"
