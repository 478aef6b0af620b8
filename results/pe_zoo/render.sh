#!/usr/bin/env bash
# Render the pe_zoo study from the runs in results/pe_zoo/runs into results/pe_zoo/report: the table
# (md, csv, json), the figure (png: metrics over seeds, each row's difference to learned APE alone,
# training curves, top-1 against test resolution) and index.html with all of it and each run's config.
# Every row is compared with learned APE alone (the one baseline row: paired by seed, Holm over each
# metric's 16 comparisons).
set -euo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
BASELINE=(--baseline pe.absolute=learned --baseline pe.name=none --baseline rpe.method=none)
mkdir -p results/pe_zoo/report
for format in md csv json png; do
  "$ABLATE" report --experiment pe_zoo --results-dir results/pe_zoo/runs --format "$format" "${BASELINE[@]}" \
    --output "results/pe_zoo/report/pe_zoo.$format"
done
"$ABLATE" report --experiment pe_zoo --results-dir results/pe_zoo/runs --format html "${BASELINE[@]}" \
  --output results/pe_zoo/report/index.html
