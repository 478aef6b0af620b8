#!/usr/bin/env bash
# Render every paper table from the runs in results/paper/runs into results/paper/report:
# <table>.md, .tex, .csv, .json, .png per table, and index.html with all tables and figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
RUNS=results/paper/runs
OUT=results/paper/report
mkdir -p "$OUT"
for table in table1 table2 table3 table4 table5 table6 buckets; do
  for format in md:md latex:tex csv:csv json:json png:png; do
    "$ABLATE" report --experiment paper/$table --format "${format%%:*}" --output "$OUT/$table.${format##*:}" \
      --results-dir "$RUNS"
  done
done
"$ABLATE" report --experiment paper --format md --output "$OUT/all.md" --results-dir "$RUNS"
"$ABLATE" report --experiment paper --format html --output "$OUT/index.html" --results-dir "$RUNS"
