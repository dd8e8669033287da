#!/usr/bin/env bash
# The batched-CAM table on a GPU in one call (written on a machine without a GPU: not run yet).
# Random-init ViT-B/16, VOC-sized 500x375 images, K = 3: floor, (a) the official loop,
# (b) the one-image path, (c) batches of 8 and 32 in fp32 and bf16, the CRF on one CPU
# process; then the projection for VOC train_aug and COCO train. About 3-5 minutes on an H100.
#   bash benchmarks/gpu_bench.sh [OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-benchmarks/results_batch_cuda.md}
export HF_HUB_OFFLINE=1 PYTHONPATH=${PYTHONPATH:-}:$PWD/lib
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible"
print("GPU:", torch.cuda.get_device_name(0))
PY
"$PY" benchmarks/bench_batch.py --device cuda --images 64 --batch-size 8 32 \
    --precisions fp32 bf16 --threads 4 --out "$OUT"
