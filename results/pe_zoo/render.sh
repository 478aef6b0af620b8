#!/usr/bin/env bash
# Render each pe_zoo study from its runs into its report folder: the fair study (results/pe_zoo/runs) and the
# first one (results/pe_zoo/v1/runs, upsample tests only): the table (md, csv, json), the figure (png: metrics
# over seeds, each row's difference to learned APE alone, training curves, top-1 against test resolution in one
# panel per mode) and index.html with all of it and each run's config. Every row is compared with learned APE
# alone at its values of the other factors (paired by seed, Holm over each metric's comparisons); findings.md
# holds the contrasts across test columns (results/pe_zoo/findings.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
BASELINE=(--baseline pe.absolute=learned --baseline pe.name=none --baseline rpe.method=none)
for study in results/pe_zoo results/pe_zoo/v1; do
  mkdir -p "$study/report"
  for format in md csv json png; do
    "$ABLATE" report --experiment pe_zoo --results-dir "$study/runs" --format "$format" "${BASELINE[@]}" \
      --output "$study/report/pe_zoo.$format"
  done
  "$ABLATE" report --experiment pe_zoo --results-dir "$study/runs" --format html "${BASELINE[@]}" \
    --output "$study/report/index.html"
done
# The contrasts across test columns that the README quotes (the fair study only).
"${PYTHON:-.venv/bin/python}" results/pe_zoo/findings.py > results/pe_zoo/report/findings.md
