#!/usr/bin/env bash
# Set up everything grade and the tests need, on a fresh machine or an existing one.
#
# PyTorch is installed only when it is missing, pinned to 2.13.0: on the course machines
# that is a local CPU build, and a user who already has torch (say, a CUDA build for their
# GPU) keeps it. Then the package itself is installed in editable mode with its test, cluster
# and docs extras (docs: mkdocs and its Material theme, which build docs/).
#
# Where the interpreter is "externally managed" (PEP 668: Debian, Ubuntu, Homebrew and
# other system Pythons ship an EXTERNALLY-MANAGED file in their stdlib folder, and pip
# refuses to install into them) and no virtual environment is active, everything goes into
# a project virtual environment, .venv, made here; the script then says how to activate
# it, since grade lives there. An active virtual environment, or a Python pip may install
# into, is used as before.
#
# bubblewrap (bwrap, the sandbox Flatpak uses) runs every learner process in namespaces of
# its own (see docs/security.md). It is installed when it is missing, on Linux, as root, where
# apt-get is available; otherwise this script says so in one line and goes on: grading
# then uses a weaker sandbox (a fresh uid per learner process as root, else none).
#
# GRADE_INSTALL_DECIDE_ONLY=1 prints the decision (venv or system) and stops: the tests use
# it, with GRADE_INSTALL_STDLIB pointing at a stand-in for the stdlib folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# venv: make and use .venv; system: install for $PYTHON as before.
decide() {
    "$PYTHON" - <<'PY'
import os, sys, sysconfig
stdlib = os.environ.get("GRADE_INSTALL_STDLIB") or sysconfig.get_path("stdlib")
in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix) or bool(os.environ.get("VIRTUAL_ENV"))
managed = os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED"))
print("venv" if managed and not in_venv else "system")
PY
}
MODE="$(decide)"
if [ "${GRADE_INSTALL_DECIDE_ONLY:-}" = 1 ]; then
    echo "$MODE"
    exit 0
fi

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(uname -s)" = Linux ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (the learner-code sandbox)..."
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } \
            >/dev/null 2>&1 || true
    fi
    if ! command -v bwrap >/dev/null 2>&1; then
        echo "bubblewrap (bwrap) is not installed and could not be installed here:" \
             "grading will use a weaker sandbox (see docs/security.md)."
    fi
fi

if [ "$MODE" = venv ]; then
    echo "$PYTHON is managed by the system (PEP 668): installing into a project virtual environment, .venv"
    if [ ! -x .venv/bin/python ]; then
        if ! "$PYTHON" -m venv .venv; then
            echo "error: could not create .venv: on Debian and Ubuntu install the venv module first" \
                 "(sudo apt install python3-venv), then run this script again." >&2
            exit 2
        fi
    fi
    PYTHON="$PWD/.venv/bin/python"
fi

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "installing PyTorch 2.13.0 (CPU build)..."
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
"$PYTHON" -m pip install --quiet -e ".[test,cluster,docs]"

if [ "$MODE" = venv ]; then
    echo "Done. grade is installed in .venv: activate it in every new terminal before running grade" \
         "or the tests:"
    echo "    source .venv/bin/activate"
    echo "(or run .venv/bin/grade directly)."
fi
