#!/usr/bin/env bash
# One-command device check of the torch-batched backend on a CUDA machine with torch installed:
#   bash benchmarks/device_check.sh            # from the repository root
# 1. the backend's tests on the device (one step with injected draws equals numpy's; distribution vs numpy),
# 2. agent-steps per second at paper defaults (n = K = 30, r = 5, p = 0.4; k = 29 and k = 10) for batches of
#    10^4 .. 2 x 10^5 replicates, float64 and float32, eager and torch.compile, printed with PASS/FAIL
#    against 10^9 agent-steps per second; JSON in $OUT/device_check.json (or benchmarks/).
# Extra arguments go to benchmarks/device_check.py (e.g. --reps 20000 --steps 20 --compile off).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export PYTHONPATH="${PWD}/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
# The backend picks CUDA when torch sees it (IGMM_TORCH_DEVICE overrides).
"$PYTHON" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
if "$PYTHON" -c "import pytest, hypothesis" 2>/dev/null; then
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/backends/test_torch_batched.py || echo "device_check: tests FAILED (see above)"
else
  echo "device_check: pytest/hypothesis not installed: tests skipped"
fi
"$PYTHON" benchmarks/device_check.py "$@"
