#!/usr/bin/env bash
# Set up everything grade and the tests need, on a fresh machine or an existing one.
#
# PyTorch is installed only when it is missing, pinned to 2.13.0: on the course machines
# that is a local CPU build, and a user who already has torch (say, a CUDA build for their
# GPU) keeps it. Then the package itself is installed in editable mode with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "installing PyTorch 2.13.0 (CPU build)..."
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
