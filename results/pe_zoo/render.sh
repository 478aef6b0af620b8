#!/usr/bin/env bash
# Render each pe_zoo study from its runs into its report folder: the fair study (results/pe_zoo/runs) and the
# first one (results/pe_zoo/v1/runs, upsample tests only): the table (md, csv, json), the figure (png: metrics
# over seeds, training curves, top-1 against test resolution in one panel per mode) and index.html with all of it
# and each run's config.
set -euo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
for study in results/pe_zoo results/pe_zoo/v1; do
  mkdir -p "$study/report"
  for format in md csv json png; do
    "$ABLATE" report --experiment pe_zoo --results-dir "$study/runs" --format "$format" \
      --output "$study/report/pe_zoo.$format"
  done
  "$ABLATE" report --experiment pe_zoo --results-dir "$study/runs" --format html --output "$study/report/index.html"
done
