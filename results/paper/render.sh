#!/usr/bin/env bash
# Render every paper table from the runs in results/paper/runs into results/paper/report:
# <table>.md, .tex, .csv, .json, .png per table, all.md, and index.html with all tables and figures.
# (The same as `ablate report --experiment paper/<table> --format ... --results-dir results/paper/runs`
# for each table and format, in one process.)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m ablate.results.paper.export results/paper/runs results/paper/report
