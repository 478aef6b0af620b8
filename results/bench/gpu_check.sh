#!/usr/bin/env bash
# Every GPU check of the fused-kernel work as ONE command: under 8 minutes on one H100/H200, no network, all
# results in one folder. It runs on a CPU too (the CUDA tests skip; bench and training at toy sizes).
#
#   bash results/bench/fetch_wheels.sh               # here, once: .whl/ with what the GPU machine lacks
#   bash results/bench/gpu_check.sh OUT_DIR          # there (device tool: carry .whl, command with $OUT)
#
# 1. the kernels' CUDA tests at DeiT-S and DETR shapes, fp32/fp16/bf16, each autotuner tile in bf16 and the
#    tuning itself; in-memory data on the GPU                                 -> OUT/cuda_tests.txt
# 2. ablate bench: DeiT-S, batch 128, bf16, every row compiled: no RPE (the baseline) against contextual
#    iRPE-K and -QKV and bias iRPE-K on sdpa and triton; DETR-encoder rows; the fused kernels' tiles are
#    autotuned on each row's first call (4 configs, timings kept in Triton's cache for stage 3), and the
#    tiles chosen are in the rows (column `tiles`)                            -> OUT/bench.csv, OUT/bench.txt
# 3. short bf16 trainings on random tensors with the triton backend: the authors' DeiT-S
#    ctx_product_50_shared_k and DETR-R50 with rpe-2.0-product-ctx-1-k       -> OUT/random_train.json
# Each stage has its own time limit, so a stuck stage leaves the others' results.
set -uo pipefail
OUT=$(realpath -m "${1:?usage: gpu_check.sh OUT_DIR}")
cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
if ! $PY -c "import hydra, omegaconf, pycocotools, orjson" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/* || { echo "could not install .whl/ (run results/bench/fetch_wheels.sh here first)"; exit 1; }
fi
{ nvidia-smi 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, triton, timm; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'timm', timm.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
start=$SECONDS
timeout 140 $PY -m pytest -q -p no:cacheprovider -m cuda tests/test_kernels_cuda.py tests/test_data_cuda.py 2>&1 | tee "$OUT/cuda_tests.txt"
echo "tests: $((SECONDS - start)) s"
timeout 240 $PY -m ablate.cli bench --variants "K ctx,QKV ctx,K bias" --backends sdpa,triton \
  --output "$OUT/bench.csv" 2>&1 | tee "$OUT/bench.txt"
echo "bench: $((SECONDS - start)) s"
timeout 80 $PY -m ablate.bench.random_train "$OUT" --backend triton --steps 30 2>&1 | tee "$OUT/random_train.txt"
echo "all: $((SECONDS - start)) s" | tee "$OUT/time.txt"
