#!/usr/bin/env bash
# Census ingest benchmark: `persona` beside pandas on the same files, in the same run.
#
#   perf/census/run.sh [REPEATS]        (default 3; SHARED_DATA overrides ../shared/data)
#
# Cases (each run REPEATS times, alternating tools; wall time and peak RSS from /usr/bin/time):
#   2024: the 49 wide 2024 parquet files (2.74 M persons x 38 columns)
#         persona reads the parquet; persona and pandas both read the same rows as one CSV
#         (Debian 12 has no pyarrow, so pandas cannot read the parquet itself)
#   2018: the 14 official 2018 zips (173,916 persons x 286 columns), read in place by both
# Each tool loads everything, draws 100,000 persons weighted by PWGTP and decodes them with the
# dictionary. Results: perf/results/census-<date>.md and .json.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-3}
shared=${SHARED_DATA:-../shared/data}
[ -d "$shared/acs-pums" ] || { echo "shared data not found at $shared (set SHARED_DATA)"; exit 1; }
/usr/bin/python3 -c "import pandas" 2>/dev/null || apt-get install -y -qq python3-pandas >/dev/null

dotnet build -c Release -v q perf/census/Persona.Perf.Census >/dev/null
bin=perf/census/Persona.Perf.Census/bin/Release/net10.0/Persona.Perf.Census.dll
cache=perf/.cache; mkdir -p "$cache" perf/results
csv2024="$cache/pums-2024-1yr-49.csv"
[ -s "$csv2024" ] || dotnet "$bin" to-csv "$csv2024" "$shared"/acs-pums/2024-1yr/p_*.parquet
dict2023="$shared/acs-pums/dictionaries/PUMS_Data_Dictionary_2023.csv"
dict2018="$shared/acs-pums/dictionaries/PUMS_Data_Dictionary_2018.csv"

raw="$cache/census-raw.jsonl"; : > "$raw"
measure() { # case tool cmd...
  local case=$1 tool=$2; shift 2
  local t; t=$(mktemp)
  local out; out=$(/usr/bin/time -f '%e %M' -o "$t" "$@" | tail -n 1)
  read -r wall rss < "$t"; rm -f "$t"
  printf '{"case":"%s","tool":"%s","wall_s":%s,"peak_rss_mb":%s,"detail":%s}\n' \
    "$case" "$tool" "$wall" "$(awk "BEGIN{print $rss/1024}")" "$out" >> "$raw"
  echo "  $case $tool: ${wall}s, $((rss / 1024)) MB"
}

for r in $(seq "$repeats"); do
  echo "repeat $r/$repeats (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  measure 2024 persona-parquet dotnet "$bin" sample --n 100000 --seed "$r" --dictionary "$dict2023" "$shared"/acs-pums/2024-1yr/
  measure 2024 persona-csv dotnet "$bin" sample --n 100000 --seed "$r" --dictionary "$dict2023" "$csv2024"
  measure 2024 pandas-csv /usr/bin/python3 perf/census/pandas_baseline.py --n 100000 --seed "$r" --dictionary "$dict2023" "$csv2024"
  measure 2018 persona-zip dotnet "$bin" sample --n 100000 --seed "$r" --dictionary "$dict2018" "$shared"/acs-pums/2018-1yr/
  measure 2018 pandas-zip /usr/bin/python3 perf/census/pandas_baseline.py --n 100000 --seed "$r" --dictionary "$dict2018" "$shared"/acs-pums/2018-1yr/csv_p*.zip
done

/usr/bin/python3 perf/census/summarize.py "$raw" "perf/results/census-$(date +%F)"
