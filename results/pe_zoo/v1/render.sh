#!/usr/bin/env bash
# Render the pe_zoo study from the runs in results/pe_zoo/runs into results/pe_zoo/report: the table
# (md, csv, json), the figure (png: metrics over seeds, training curves, top-1 against test resolution)
# and index.html with all of it and each run's config.
set -euo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
mkdir -p results/pe_zoo/report
for format in md csv json png; do
  "$ABLATE" report --experiment pe_zoo --results-dir results/pe_zoo/runs --format "$format" \
    --output "results/pe_zoo/report/pe_zoo.$format"
done
"$ABLATE" report --experiment pe_zoo --results-dir results/pe_zoo/runs --format html \
  --output results/pe_zoo/report/index.html
