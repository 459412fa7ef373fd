#!/usr/bin/env bash
# One fixed-length training run on a CUDA machine that has no ../shared beside the repo:
# the data travels in .devdata/ (git-ignored locally, never committed) and the checkpoint
# is copied to $OUT every minute so a run cut short still returns its weights.
# Usage: OUT=/some/dir bash training/gpu_run.sh INIT_CKPT MINUTES [more train.py options]
set -euo pipefail
init=${1:?init checkpoint}; minutes=${2:?minutes}; shift 2
export LIMNER_SHARED=${LIMNER_SHARED:-$PWD/.devdata} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv || true
python3 -c "import torch, cv2, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# Same sample recipe as the CPU runs (sizes 256-384, 2 click iterations, fp32): the session-4 run
# with bf16, 448 px crops and 3 iterations learned clicks but lost box-only prompts (box-only mIoU
# 0.66 -> 0.35; cause not isolated). fp32 costs little here: the GPU is not the bottleneck.
# The log showed ~50 % of the wall time in click simulation and ~2 % waiting for samples, so
# threads move from sample workers to click simulation.
n=$(nproc)
python3 training/train.py --run gpu --init "$init" --size 256 320 384 --batch 32 --max-iters 2 --amp off \
  --workers "$(( n / 2 ))" --click-threads "$(( n / 2 - 1 ))" --minutes "$minutes" --time-schedule \
  --ckpt-min 1 --ckpt-copy "$OUT" "$@" 2>&1 | tee "$OUT/train_log.txt"
