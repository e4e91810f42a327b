"""Shared set-up of the project's tests.

The harness (building, grading and reading planted submissions) is ``tests/helpers.py``
and the planted submissions are data in ``tests/submissions/``; see docs/maintainers.md.
Both are imported by plain name, so this folder is put on ``sys.path`` whatever pytest's
import mode.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
