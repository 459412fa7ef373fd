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
python3 training/train.py --run gpu --init "$init" --size 256 320 384 448 --batch 32 --max-iters 3 \
  --workers "$(( $(nproc) - 3 ))" --click-threads 4 --minutes "$minutes" --time-schedule \
  --ckpt-min 1 --ckpt-copy "$OUT" "$@" 2>&1 | tee "$OUT/train_log.txt"
