"""``grade gradescope-zip``: the autograder zip Gradescope asks for.

Gradescope's *Autograder Specifications*: the zip holds, at its root, ``setup.sh`` (a Bash
script run once, as root, when the image is built; Ubuntu, so apt works) and
``run_autograder`` (an executable with a ``#!`` line). The zip is unpacked in
``/autograder/source``; ``run_autograder`` is copied to ``/autograder/run_autograder`` and
runs, in ``/autograder``, once per submission: the learner's files are in
``/autograder/submission`` and the report must be written to
``/autograder/results/results.json``.

What this zip holds:

- ``setup.sh``: python3, pip and venv from apt when missing; bubblewrap from apt when apt is
  there (learner code then runs in namespaces); a virtual environment in
  ``/autograder/venv`` (no clash with an externally managed system Python); CPU-only torch
  from PyTorch's CPU wheel index (not the CUDA build, gigabytes the container cannot use);
  then the grader, pinned to the requirement given with ``--pin``.
- ``run_autograder``: copies the submission (the modules, or a folder ``exercises/`` holding
  them) into a fresh ``exercises`` folder, grades it with ``grade --format gradescope
  --output /autograder/results/results.json``, and writes a fallback results.json (score 0,
  the error as ``output``) whenever grading leaves none, so Gradescope never shows a bare
  "autograder failed". The reference solutions come with the zip (``solutions/``, for the
  timed runs: the zip never reaches students) and are put off limits for learner code, as
  is the secret seed file when there is one.
- ``solutions/`` (the course's reference modules) and, with ``--secret-seed-file``,
  ``secret_seed``.

For tests, ``run_autograder`` reads its paths from the environment: ``GRADESCOPE_ROOT``
(default ``/autograder``) and ``DLGRADE_GRADE`` (the grade command; default the venv's, else
``grade`` on PATH).
"""
from __future__ import annotations

import os
import shlex
import stat
import zipfile

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image.
# Written by grade gradescope-zip; the grader is pinned to: __PIN_COMMENT__
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PIN=__PIN__

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -y && APT_UPDATED=1; fi
    apt-get install -y --no-install-recommends "$@"
}

# Python 3 with pip and venv.
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1 \
        || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    apt_install python3 python3-pip python3-venv
fi

# bubblewrap: learner code runs in namespaces of its own where the container allows it
# (the grader falls back to a separate user otherwise, and says which in every report).
if ! command -v bwrap >/dev/null 2>&1; then
    apt_install bubblewrap || echo "setup.sh: bubblewrap is not available; learner code runs as a separate user instead"
fi

# A virtual environment, so an externally managed system Python (PEP 668) is no obstacle.
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
# CPU-only torch from PyTorch's CPU wheel index, before the grader, so pip keeps it.
"$ROOT/venv/bin/python" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
"$ROOT/venv/bin/python" -m pip install "$PIN"
"$ROOT/venv/bin/grade" --version
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission, in /autograder. Written by grade gradescope-zip.
# It always leaves a results.json: if grading fails, one with score 0 and the error.
set -u
ROOT="${GRADESCOPE_ROOT:-/autograder}"
SOURCE="$ROOT/source"
SUBMISSION="$ROOT/submission"
RESULTS="$ROOT/results/results.json"
if [ -n "${DLGRADE_GRADE:-}" ]; then
    GRADE="$DLGRADE_GRADE"
elif [ -x "$ROOT/venv/bin/grade" ]; then
    GRADE="$ROOT/venv/bin/grade"
else
    GRADE="grade"
fi
PYTHON=python3
[ -x "$ROOT/venv/bin/python" ] && PYTHON="$ROOT/venv/bin/python"

mkdir -p "$ROOT/results"
rm -f "$RESULTS"
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/dlgrade.XXXXXX")
log="$work/grade.log"

# The learner uploads their modules (vectors.py, ...), or their exercises/ folder.
src="$SUBMISSION"
[ -d "$SUBMISSION/exercises" ] && src="$SUBMISSION/exercises"
mkdir -p "$work/exercises"
cp -R "$src/." "$work/exercises/" 2>>"$log" || true

options=(--source "$work/exercises" --format gradescope --no-progress --output "$RESULTS")
# Quiz numbers are per learner: the submitter's email from Gradescope's metadata.
student=$("$PYTHON" - "$ROOT/submission_metadata.json" <<'PY' 2>/dev/null
import json, sys
try:
    users = json.load(open(sys.argv[1], encoding="utf-8")).get("users") or []
    print(users[0].get("email") or users[0].get("id") or "")
except Exception:
    print("")
PY
)
[ -n "$student" ] && options+=(--student "$student")
[ -f "$SOURCE/secret_seed" ] && options+=(--secret-seed-file "$SOURCE/secret_seed")
# The reference solutions time the learner's code; learner code may not read them.
[ -d "$SOURCE/solutions" ] && export GRADE_SOLUTIONS="$SOURCE/solutions"
export GRADE_FORBIDDEN_DIRS="$SOURCE${GRADE_FORBIDDEN_DIRS:+:$GRADE_FORBIDDEN_DIRS}"

( cd "$work" && "$GRADE" "${options[@]}" ) >>"$log" 2>&1
status=$?
cat "$log"

# Exit 0 or 1 is a graded submission; anything else, or no valid report, gets the fallback.
if ! "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict) and "score" in d' \
        "$RESULTS" >/dev/null 2>&1; then
    "$PYTHON" - "$RESULTS" "$log" "$status" "$started" <<'PY' || \
        printf '{"score": 0, "output": "The autograder could not grade this submission.", "tests": []}\n' >"$RESULTS"
import json, sys, time
results, log, status, started = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    text = open(log, encoding="utf-8", errors="replace").read()
except OSError:
    text = ""
text = text[-8000:].strip() or f"grade exited with status {status} and printed nothing"
data = {"score": 0, "execution_time": round(max(0.0, time.time() - started), 2),
        "output": f"The autograder could not grade this submission (grade exited with status {status}):\n{text}",
        "output_format": "text", "tests": [], "extra_data": {"error": True, "exit_status": int(status)}}
with open(results, "w", encoding="utf-8") as f:
    json.dump(data, f, ensure_ascii=False, indent=2)
PY
fi
rm -rf "$work"
exit 0
"""


class ZipError(Exception):
    """A set-up problem: one paragraph for the teacher."""


def setup_script(pin: str) -> str:
    comment = pin.replace("\n", " ")
    return SETUP_SH.replace("__PIN_COMMENT__", comment).replace("__PIN__", shlex.quote(pin))


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_zip(out: str, pin: str, course_dir: str = ".", secret_seed_file: str | None = None) -> dict:
    """Write the autograder zip to ``out``; returns ``{"out", "files", "solutions"}``."""
    if not pin or not pin.strip() or "\n" in pin:
        raise ZipError("--pin needs the pip requirement of the grader (e.g. 'dlgrade @ "
                       "git+https://github.com/ORG/COURSE@v1.0', or a wheel's URL) on one line.")
    solutions = os.path.join(course_dir, "solutions")
    modules = sorted(f for f in os.listdir(solutions) if f.endswith(".py")) if os.path.isdir(solutions) else []
    secret = None
    if secret_seed_file is not None:
        try:
            with open(secret_seed_file, "rb") as f:
                secret = f.read()
        except OSError as e:
            raise ZipError(f"--secret-seed-file {secret_seed_file}: {e.strerror or e}.") from None
    files = []
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    partial = out + ".partial"
    with zipfile.ZipFile(partial, "w") as archive:
        _add(archive, "setup.sh", setup_script(pin).encode(), 0o755)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        files += ["setup.sh", "run_autograder"]
        for module in modules:
            with open(os.path.join(solutions, module), "rb") as f:
                _add(archive, f"solutions/{module}", f.read(), 0o644)
            files.append(f"solutions/{module}")
        if secret is not None:
            _add(archive, "secret_seed", secret, 0o600)
            files.append("secret_seed")
    os.replace(partial, out)
    return {"out": out, "files": files, "solutions": len(modules)}
