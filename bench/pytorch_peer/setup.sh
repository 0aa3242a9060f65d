#!/usr/bin/env bash
# Creates (or reuses) the virtual environment of the PyTorch benchmark peer and prints torch's
# version. A benchmark peer only: nothing in kiln's build or CI needs it. About 3 GB (PyPI's
# torch wheel pulls in its CUDA libraries; no GPU is needed).
#   KILN_PEER_VENV   where the environment lives (default: build/pytorch-venv in the repository)
set -euo pipefail

TORCH_VERSION=2.15.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${KILN_PEER_VENV:-$root/build/pytorch-venv}"

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import numpy, torch; assert torch.__version__.startswith('$TORCH_VERSION')" \
    2>/dev/null; then
  "$venv/bin/pip" install --upgrade pip
  # numpy only silences torch's warning that it is missing.
  "$venv/bin/pip" install "torch==$TORCH_VERSION" numpy
fi
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'
