#!/usr/bin/env bash
# Fetch the wheels the GPU machine lacks (its python3 3.12 has torch, triton, timm, typer, rich, pandas, scipy,
# pytest, but not these) into .whl/ (git-ignored), for results/bench/gpu_check.sh. Run here, with PyPI reachable.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS -d .whl \
  hydra-core==1.3.8 omegaconf==2.3.1 pycocotools==2.0.11 orjson timm==1.0.31
# antlr4 4.9.3 (omegaconf's parser) exists only as a source archive: build its (pure Python) wheel here.
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3
rm -f .whl/antlr4-python3-runtime-*.tar.gz
ls .whl
