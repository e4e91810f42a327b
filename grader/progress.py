"""A small state file remembering each exercise's last status, for ``grade list``.

Kept at ``.grade/progress.json`` in the current directory, keyed by the graded folder.
It only feeds displays: verdicts are always computed afresh.
"""
from __future__ import annotations

import json
import os
import tempfile

from .results import Report

STATE_DIR = ".grade"
STATE_FILE = os.path.join(STATE_DIR, "progress.json")


def load(source_dir: str) -> dict:
    """``{exercise: {"status", "score", "max_score"}}`` from the last runs on ``source_dir``."""
    try:
        with open(STATE_FILE, encoding="utf-8") as f:
            data = json.load(f)
        entry = data.get(os.path.abspath(source_dir), {})
        return entry if isinstance(entry, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def save(source_dir: str, report: Report) -> None:
    """Merge this run's statuses in; a failure to write never affects grading."""
    try:
        try:
            with open(STATE_FILE, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        entry = data.setdefault(os.path.abspath(source_dir), {})
        for e in report.exercises:
            entry[e.name] = {"status": e.status, "score": e.score, "max_score": e.max_score}
        os.makedirs(STATE_DIR, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=STATE_DIR, prefix=".progress-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, STATE_FILE)
    except OSError:
        pass
