#!/usr/bin/env bash
# Set up everything grade and the tests need, on a fresh machine or an existing one.
#
# PyTorch is installed only when it is missing, pinned to 2.13.0: on the course machines
# that is a local CPU build, and a user who already has torch (say, a CUDA build for their
# GPU) keeps it. Then the package itself is installed in editable mode with its test extra.
#
# bubblewrap (bwrap, the sandbox Flatpak uses) runs every learner process in namespaces of
# its own (see SECURITY.md). It is installed when it is missing, on Linux, as root, where
# apt-get is available; otherwise this script says so in one line and goes on: grading
# then uses a weaker sandbox (a fresh uid per learner process as root, else none).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(uname -s)" = Linux ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (the learner-code sandbox)..."
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } \
            >/dev/null 2>&1 || true
    fi
    if ! command -v bwrap >/dev/null 2>&1; then
        echo "bubblewrap (bwrap) is not installed and could not be installed here:" \
             "grading will use a weaker sandbox (see SECURITY.md)."
    fi
fi
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "installing PyTorch 2.13.0 (CPU build)..."
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
