#!/usr/bin/env bash
# Rebuilds data/acs/pums-2024-us.parquet (and copies the 2023 data dictionary beside it) from the
# shared 2024 ACS PUMS files; see data/acs/README.md. Deterministic: same inputs + seed => same bytes.
# Usage: tools/build-default-source.sh [--shared-data DIR] [--n 100000] [--seed 2024]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dotnet run -c Release --project tools/BuildDefaultSource -- --out-dir data/acs "$@"
