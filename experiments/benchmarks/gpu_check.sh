#!/usr/bin/env bash
# The GPU check of issue 14, for a machine with an NVIDIA CUDA device, in under 8 minutes:
#   1. the GPU tests (`pytest -m gpu`: Aer's GPU statevector against the CPU),
#   2. the Trotter step at N = 24-30 on the GPU against all CPU cores (N <= 26),
#   3. 200 disorder realizations bound in one Aer call per device, runtime binding off and on.
# Setup on that machine (the GPU build replaces the CPU one; never install both):
#   python3 -m venv .venv && .venv/bin/pip install -q -e ".[gpu,test]"
# Run from anywhere:  bash experiments/benchmarks/gpu_check.sh [OUT_DIR]
# Writes OUT_DIR/gpu_check.json and OUT_DIR/gpu_check_pytest.txt (OUT_DIR: experiments/benchmarks).
# Without a CUDA device, or with Aer's CPU build, it stops at once with exit code 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
out=${1:-experiments/benchmarks}

refuse() {
    echo "gpu_check: $1" >&2
    exit 2
}

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 ||
    refuse "no CUDA device here (nvidia-smi finds none): run this on a machine with an NVIDIA GPU"
"$python" -c "
import sys
from qiskit_aer import AerSimulator
sys.exit(0 if 'GPU' in AerSimulator().available_devices() else 1)
" || refuse "Aer sees no GPU: pip uninstall -y qiskit-aer && pip install -e '.[gpu,test]'"

mkdir -p "$out"
start=$SECONDS
nvidia-smi -L
timeout 150 "$python" -m pytest -q -m gpu -p no:cacheprovider 2>&1 | tee "$out/gpu_check_pytest.txt"
timeout 300 "$python" experiments/benchmarks/gpu_check.py --out "$out/gpu_check.json"
echo "gpu_check: done in $((SECONDS - start)) s; results in $out/gpu_check.json"
