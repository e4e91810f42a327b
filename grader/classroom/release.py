"""``grade release OUT``: build a class repository from the course repository.

The result is a new git repository in OUT with two branches:

- ``main``: the stubs (``exercises/``, built from the solutions' markers as ``grade author build``
  writes them, without quiz answers), the grader package, ``pyproject.toml``, the
  install script, a learner-facing ``README.md``, ``.gitignore`` and the class workflow
  ``.github/workflows/classroom.yml``, which installs the grader pinned by ``pin`` (never the
  repository's own ``grader/``). No ``solutions/``, no reference quiz answers (the
  quiz files in the grader carry only salted digests), no tests that would quote answers.
- ``solutions``: main plus the solved modules in ``exercises/`` and the reference quiz
  answers in ``exercises/quizzes/``, so ``grade --ref solutions`` scores full marks and
  ``grade compare EXERCISE --ref solutions`` has something to compare with.

Push only ``main`` to a class template; keep ``solutions`` for self-study copies.
Everything is done with the git command line, in OUT only; the course repository is read,
never changed.
"""
from __future__ import annotations

import os
import shutil
import string
import subprocess

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".hypothesis", ".grade", ".DS_Store"}
GITIGNORE = """__pycache__/
*.py[cod]
*.egg-info/
.hypothesis/
.pytest_cache/
.grade/
build/
dist/
"""
COMMITTER = ("dlgrade release", "release@dlgrade.invalid")
# The class workflow installs the grader from this pip requirement, never from the class
# repository's own grader/ folder; `grade release --pin` fills it in.
PIN_PLACEHOLDER = '"REPLACE-ME: dlgrade @ git+https://github.com/<teacher>/<course>@<tag>"'


class ReleaseError(Exception):
    """The course folder or OUT cannot be used; the message says why."""


def _git(args: list[str], cwd: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=300)
    except FileNotFoundError:
        raise ReleaseError("grade release needs git, and the git command was not found.") from None
    if proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed in {cwd}: {' '.join(proc.stderr.split())}")
    return proc.stdout


def _ignore(folder, names):
    return [n for n in names if n in SKIP_NAMES or n.endswith((".pyc", ".pyo")) or n.endswith(".egg-info")]


def check_course(root: str) -> None:
    missing = [p for p in ("exercises", "solutions", "grader", "pyproject.toml")
               if not os.path.exists(os.path.join(root, p))]
    if missing:
        raise ReleaseError(f"{os.path.abspath(root)} does not look like the course repository (it has no "
                           f"{', '.join(missing)}). Run grade release from the course folder, or name it "
                           f"with --course DIR.")


def exercise_table(course) -> str:
    lines = ["| # | exercise | points | what you build |", "|---|---|---|---|"]
    for i, e in enumerate(course.exercises, 1):
        points = e.max_score
        points = int(points) if points == int(points) else points
        lines.append(f"| {i} | `{e.name}` | {points} | {e.title} |")
    return "\n".join(lines)


def readme_text(course) -> str:
    with open(os.path.join(TEMPLATES, "class-README.md"), encoding="utf-8") as f:
        template = string.Template(f.read())
    return template.safe_substitute(exercise_table=exercise_table(course))


def _ignore_answers(quizzes: str):
    """Skip the quiz answers in ``exercises/quizzes/`` (the author's own, maybe): each learner
    writes theirs with ``grade quiz``. What else is there (its README) goes to the class."""
    def ignore(folder, names):
        skipped = _ignore(folder, names)
        if os.path.realpath(folder) == os.path.realpath(quizzes):
            skipped += [n for n in names if n.endswith((".yaml", ".yml"))]
        return skipped
    return ignore


def check_pin(pin: str) -> str:
    """The pip requirement the class workflow installs, checked; ReleaseError if unusable."""
    pin = pin.strip()
    if not pin or any(ord(c) < 32 for c in pin) or "${{" in pin or pin.startswith("REPLACE-ME"):
        raise ReleaseError(f"--pin {pin!r}: give one pip requirement pinned to your release, e.g. "
                           f"'dlgrade @ git+https://github.com/ORG/CLASS-TEMPLATE@v1.0' or a wheel's URL.")
    return pin


def workflow_text(pin: str | None) -> str:
    """The class workflow, with the grader pinned to ``pin`` (left a placeholder when None:
    the workflow then stops with a message saying so)."""
    import json

    with open(os.path.join(TEMPLATES, "classroom.yml"), encoding="utf-8") as f:
        text = f.read()
    if pin is not None:
        if text.count(PIN_PLACEHOLDER) != 1:
            raise ReleaseError("grader/templates/classroom.yml has no DLGRADE_PIN placeholder to fill in.")
        text = text.replace(PIN_PLACEHOLDER, json.dumps(check_pin(pin)))  # a JSON string is a YAML one
    return text


def _copy_main(root: str, out: str, course, pin: str | None = None) -> None:
    shutil.copytree(os.path.join(root, "exercises"), os.path.join(out, "exercises"),
                    ignore=_ignore_answers(os.path.join(root, "exercises", "quizzes")))
    # The stubs come from their one source, the solutions' markers (grade author build), never
    # from the working copy of exercises/, where the author may have tried an exercise out.
    from ..author.build import write_stubs
    from ..author.markers import MarkerError

    try:
        write_stubs(os.path.join(root, "solutions"), os.path.join(out, "exercises"))
    except MarkerError as e:
        raise ReleaseError(f"the stubs cannot be built from the solutions: {e}") from None
    shutil.copytree(os.path.join(root, "grader"), os.path.join(out, "grader"), ignore=_ignore)
    shutil.copy2(os.path.join(root, "pyproject.toml"), os.path.join(out, "pyproject.toml"))
    for extra in ("scripts/install.sh", "LICENSE", "LICENSE.md", "LICENSE.txt"):
        src = os.path.join(root, extra)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(out, extra)), exist_ok=True)
            shutil.copy2(src, os.path.join(out, extra))
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme_text(course))
    with open(os.path.join(out, ".gitignore"), "w", encoding="utf-8") as f:
        f.write(GITIGNORE)
    workflows = os.path.join(out, ".github", "workflows")
    os.makedirs(workflows)
    with open(os.path.join(workflows, "classroom.yml"), "w", encoding="utf-8", newline="\n") as f:
        f.write(workflow_text(pin))


def _files(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        found += [os.path.join(dirpath, n) for n in filenames]
    return found


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def check_no_answers(root: str, out: str) -> None:
    """Refuse to release a main that carries a reference answer file, even renamed."""
    if os.path.exists(os.path.join(out, "solutions")):
        raise ReleaseError("the release's main would contain solutions/; nothing was committed.")
    answers = {}
    for path in _files(os.path.join(root, "solutions")):
        if "__pycache__" not in path:
            data = _read(path)
            if data.strip():
                answers[data] = os.path.relpath(path, root)
    for path in _files(out):
        source = answers.get(_read(path))
        if source is not None:
            raise ReleaseError(f"{os.path.relpath(path, out)} is a copy of {source}: a reference answer "
                               f"would reach the class. Nothing was committed.")


def release(out: str, root: str = ".", course=None, pin: str | None = None) -> dict:
    """Build the class repository in ``out``; return what went into each branch.

    ``pin`` is the pip requirement the class workflow installs the grader from (the
    release's own, at a tag); without it the workflow says it is not set and stops.
    """
    from ..course import load_course

    root = os.path.abspath(root)
    out = os.path.abspath(out)
    check_course(root)
    if pin is not None:
        pin = check_pin(pin)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ReleaseError(f"{out} already exists and is not an empty folder; name a new folder for the "
                           f"class repository.")
    if out == root or out.startswith(root + os.sep + "exercises") or out.startswith(root + os.sep + "grader"):
        raise ReleaseError(f"{out} is inside the course's own folders; name a folder elsewhere.")
    course = course or load_course()
    created = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    try:
        _copy_main(root, out, course, pin)
        check_no_answers(root, out)
        # The hash manifest that `grade verify` checks the grader, the workflow and CI against.
        from ..verify import sha256_of, write_manifest

        manifest = write_manifest(out, ["grader", ".github/workflows", ".ci", "tests"])
        manifest_sha256 = sha256_of(manifest)
        _git(["init", "-q"], out)
        _git(["symbolic-ref", "HEAD", "refs/heads/main"], out)
        name, email = COMMITTER
        for key, value in (("user.name", name), ("user.email", email), ("commit.gpgsign", "false"),
                           ("tag.gpgsign", "false"), ("core.hooksPath", ".git/hooks"),
                           ("core.autocrlf", "false")):
            _git(["config", "--local", key, value], out)
        _git(["add", "-A"], out)
        _git(["commit", "-q", "-m", "Class release: exercises, grader and workflow"], out)
        main_files = _git(["ls-files"], out).split()

        _git(["checkout", "-q", "-b", "solutions"], out)
        solved = []
        for entry in sorted(os.listdir(os.path.join(root, "solutions"))):
            src = os.path.join(root, "solutions", entry)
            if entry.endswith(".py") and os.path.isfile(src):
                shutil.copy2(src, os.path.join(out, "exercises", entry))
                solved.append(f"exercises/{entry}")
        quiz_src = os.path.join(root, "solutions", "quizzes")
        if os.path.isdir(quiz_src):
            os.makedirs(os.path.join(out, "exercises", "quizzes"), exist_ok=True)
            for entry in sorted(os.listdir(quiz_src)):
                if entry.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(quiz_src, entry)):
                    shutil.copy2(os.path.join(quiz_src, entry), os.path.join(out, "exercises", "quizzes", entry))
                    solved.append(f"exercises/quizzes/{entry}")
        _git(["add", "-A"], out)
        _git(["commit", "-q", "--allow-empty", "-m", "Reference solutions and quiz answers"], out)
        _git(["checkout", "-q", "main"], out)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for entry in os.listdir(out):
                path = os.path.join(out, entry)
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
        raise
    return {"out": out, "main": main_files, "solutions": solved, "manifest_sha256": manifest_sha256,
            "pin": pin}
