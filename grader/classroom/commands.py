"""The classroom commands of ``grade``: release, compare, batch and merge.

grader/cli.py registers them with :func:`register`; the work is done in the modules of
this package. Set-up problems are one paragraph on stderr and exit code 2, as everywhere.
"""
from __future__ import annotations

import os
import sys

import click

from .. import context


@click.command("release")
@click.argument("out", metavar="OUT")
@click.option("--course", "course_dir", metavar="DIR", default=".", show_default=True,
              help="The course repository to release (with exercises/, solutions/ and grader/).")
@click.option("--pin", "pin", metavar="REQUIREMENT", default=None,
              help="The pip requirement the class workflow installs the grader from, pinned to this release "
                   "(e.g. 'dlgrade @ git+https://github.com/ORG/CLASS-TEMPLATE@v1.0', or a wheel's URL).")
def release_command(out, course_dir, pin):
    """Build a class repository in OUT: main for the class, a solutions branch beside it.

    main has the stubs, the grader, a learner README and the GitHub Classroom workflow,
    and no solutions or answer keys; the branch solutions adds the solved modules and
    the quiz answers. Push only main to a class template.
    """
    from .release import ReleaseError, release

    course = context.get_course()
    try:
        done = release(out, course_dir, course, pin=pin)
    except ReleaseError as e:
        context.fail_setup(str(e))
    click.echo(f"Class repository created in {done['out']}:")
    click.echo(f"  main       {len(done['main'])} files: exercises/ (stubs), grader/, README.md, "
               f".github/workflows/classroom.yml")
    click.echo(f"  solutions  main + {len(done['solutions'])} reference files in exercises/")
    click.echo(f"  manifest   grader/MANIFEST.sha256, sha256 {done['manifest_sha256']}: publish it, and "
               f"check a learner's repository with grade verify --expect-sha256 <it>")
    if done.get("pin"):
        click.echo(f"  workflow   installs the grader from {done['pin']} (not the repository's grader/)")
    else:
        click.echo("  workflow   DLGRADE_PIN is not set: the class workflow stops until it is. Release again "
                   "with --pin REQUIREMENT (the grader pinned to this release, e.g. 'dlgrade @ "
                   "git+https://github.com/ORG/CLASS-TEMPLATE@v1.0'); an edit afterwards fails grade verify.")
    click.echo("Push only main to the class template (git push <remote> main); keep solutions for "
               "self-study copies.")


@click.command("compare")
@click.argument("exercise")
@click.option("--ref", "ref", metavar="REF", default="solutions", show_default=True,
              help="The git branch, tag or commit to compare with.")
@click.option("--source", "source", metavar="DIR", help="Folder with your modules (default: ./exercises).")
@click.option("--examples", type=click.IntRange(1, 1000), default=25, show_default=True,
              help="Generated inputs per function.")
@click.option("--show", "limit", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Disagreements to show per function.")
@click.option("--seed", type=int, default=None, help="Change the generated inputs (default: the course's seed).")
def compare_command(exercise, ref, source, examples, limit, seed):
    """Run your functions and the ones at REF on the same inputs; show where they disagree."""
    from .compare import CompareError, compare_exercise, render
    from .gitref import source_at_ref_or_fail

    course = context.get_course()
    if exercise not in course.names():
        names = context.resolve_names(course, (exercise,))  # unknown names: a usage error with a suggestion
        raise click.UsageError(f"compare runs code; {names[0]} is a quiz. Its answers at {ref} can be read "
                               f"with: git show {ref}:exercises/quizzes/{names[0]}.yaml")
    source_dir = context.resolve_source(source)
    ref_dir = source_at_ref_or_fail(ref, _ref_folder(source or context.DEFAULT_SOURCE))
    try:
        results = compare_exercise(course.get(exercise), source_dir, ref_dir,
                                   seed=course.seed if seed is None else seed, examples=examples, limit=limit)
    except CompareError as e:
        context.fail_setup(f"cannot compare {exercise}: {e}")
    click.echo(render(exercise, ref, results, limit))
    sys.exit(0 if all(r.agrees for r in results) else 1)


def _ref_folder(source: str) -> str:
    """The folder to read at the ref: the same as ``--source`` when it is in this repository,
    else the repository's ``exercises/`` (your modules may live anywhere; the ref's are there)."""
    from .gitref import RefError, repo_root

    try:
        root = os.path.realpath(repo_root("."))
    except RefError as e:
        context.fail_setup(str(e))
    folder = os.path.realpath(source)
    if folder == root or folder.startswith(root + os.sep):
        return source
    return os.path.join(root, "exercises")


@click.command("batch")
@click.argument("directory", metavar="DIR")
@click.argument("exercises", nargs=-1)
@click.option("--out", "out", metavar="FILE", required=True,
              help="The gradebook (CSV); its JSON twin is written next to it.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Submissions graded at once (default: the number of CPU cores).")
@click.option("--force", is_flag=True, help="Regrade learners already in the gradebook's records.")
@click.option("--shard", metavar="K/N", default=None, help="Grade only the K-th of N slices of the class.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Wall-clock seconds for one submission; it is stopped after that.")
@click.option("--seed", type=int, default=None, help="Change the generated examples (default: the course's seed).")
@click.option("--timing/--no-timing", "timing", default=True,
              help="Include the timed runs, as grade does (default: on; --no-timing is much faster).")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@click.option("--allow-weak-sandbox", is_flag=True,
              help="Grade even where learner code cannot be isolated (no bubblewrap, not root): practice only.")
@click.option("--secret-seed-file", "secret_seed_file", metavar="FILE", default=None,
              help="Official grades: derive every generated input from the secret in FILE (default: "
                   "$GRADE_SECRET_SEED if set, else the course's public seed). Each grade process gets "
                   "the secret through its environment, never on its command line.")
@click.option("--before", "before", metavar="DEADLINE", default=None,
              help="Grade each learner's last commit made at or before DEADLINE (ISO 8601, e.g. "
                   "2026-12-01T23:59:59+01:00; no time zone: UTC), not the folder as it is. A learner folder "
                   "that is not a git repository is graded as it is, with a note.")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="Grade on a Dask cluster: its scheduler's address (tcp://HOST:8786), or 'local' for a "
                   "LocalCluster of --jobs worker processes here. Needs pip install \"dlgrade[cluster]\".")
def batch_command(directory, exercises, out, jobs, force, shard, timeout, seed, timing, show_progress,
                  allow_weak_sandbox, secret_seed_file=None, before=None, cluster=None):
    """Grade every learner folder in DIR (DIR/<learner>/exercises/) into a gradebook.

    \b
    grade batch submissions --out gradebook.csv
    grade batch submissions vectors losses --out week1.csv
    grade batch submissions --shard 2/4 --out gradebook-2.csv   (then: grade merge)
    grade batch submissions --before 2026-12-01T23:59:59Z --out gradebook.csv
    grade batch submissions --cluster tcp://scheduler:8786 --out gradebook.csv

    Ctrl-C or SIGTERM stops it at once, keeping every finished submission; run the same
    command again to grade the rest.
    """
    from .batch import BatchError, Interrupted, deadline_text, parse_deadline, parse_shard, run_batch

    course = context.get_course()
    names = context.resolve_names(course, exercises)
    try:
        deadline = parse_deadline(before)
    except BatchError as e:
        context.fail_setup(str(e))
    secret = context.resolve_seed(course, seed, secret_seed_file)  # a broken secret: one paragraph, exit 2
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    bar = {}

    def on_start(n):
        if show_progress and n:
            bar["bar"] = click.progressbar(length=n, label="grading", file=sys.stderr, show_pos=True,
                                           item_show_func=lambda item: item or "")
            bar["bar"].__enter__()

    def on_done(record):
        if "bar" in bar:
            bar["bar"].update(1, record["learner"].replace("\n", " "))  # a folder name may hold a newline
        elif grader is not None:  # a cluster batch runs long: one line per submission
            bar["done"] = bar.get("done", 0) + 1
            where = f" on {record['worker']}" if record.get("worker") else ""
            click.echo(f"[{bar['done']}/{bar.get('todo', '?')}] {record['learner']}: {record['status']} "
                       f"{record.get('total', 0)}/{record.get('max', 0)}{where}".replace("\n", " "), err=True)

    grader = None
    if cluster is not None:
        from .batch import BatchError as _BatchError
        from .cluster import ClusterGrader

        try:
            grader = ClusterGrader(cluster, jobs or os.cpu_count() or 1, echo=click.echo)
        except _BatchError as e:
            context.fail_setup(str(e))
        starting = on_start

        def on_start(n):  # noqa: F811 - the same, and the count for the progress lines
            bar["todo"] = n
            starting(n)

    try:
        summary = run_batch(directory, out, names, course, jobs=jobs or os.cpu_count() or 1, force=force,
                            shard=parse_shard(shard), timeout=timeout, seed=seed,
                            options=() if timing else ("--no-timing",), allow_weak_sandbox=allow_weak_sandbox,
                            on_start=on_start, on_done=on_done,
                            secret_seed=secret if secret.is_secret else None, secret_file=secret_seed_file,
                            before=deadline, cluster=grader)
    except BatchError as e:
        context.fail_setup(str(e))
    except Interrupted as e:
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
        kept = f"{e.saved} graded submission{'s' * (e.saved != 1)} {'is' if e.saved == 1 else 'are'}"
        click.echo(f"grade batch was stopped by {e.signal_name}: {kept} kept in {os.path.relpath(out)}; run the "
                   f"same command again to grade the rest.", err=True)
        sys.exit(e.exit_code)
    finally:
        if "bar" in bar:
            bar["bar"].__exit__(None, None, None)
        if grader is not None:
            grader.close()
    counts = summary["counts"]
    rate = summary["graded"] / summary["seconds"] * 60 if summary["graded"] and summary["seconds"] else 0
    slice_text = f" (shard {shard}: {summary['learners']} of {summary['class_size']})" if shard else ""
    click.echo(f"graded {summary['graded']} submission{'s' * (summary['graded'] != 1)}{slice_text} in "
               f"{summary['seconds']:.1f} s ({rate:.1f} per minute): {counts.get('graded', 0)} graded, "
               f"{counts.get('timeout', 0)} timed out, {counts.get('error', 0)} could not be graded")
    if summary["skipped"]:
        click.echo(f"{summary['skipped']} already graded, kept (--force regrades them)")
    if deadline is not None:
        click.echo(f"deadline: {deadline_text(deadline)}; each learner's last commit at or before it was graded "
                   f"(the message column and the JSON records name the commit)")
    csv_path, json_path = summary["paths"]
    click.echo(f"gradebook: {os.path.relpath(csv_path)} and {os.path.relpath(json_path)}")
    click.echo(f"seed: {secret.kind}" + ("" if secret.is_secret else " (anyone with the grader can reproduce "
                                                                     "these inputs: use a secret seed for "
                                                                     "official grades)"))
    if summary["sandbox"] == "none":
        click.echo("sandbox: none (--allow-weak-sandbox): learner code ran without isolation, so these "
                   "grades are practice only", err=True)


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, metavar="GRADEBOOK.json...")
@click.option("--out", "out", metavar="FILE", required=True, help="The joined gradebook (CSV, with a JSON twin).")
def merge_command(inputs, out):
    """Join the gradebooks of several grade batch --shard runs into one."""
    from .batch import BatchError
    from .merge import merge

    try:
        summary = merge(list(inputs), out)
    except BatchError as e:
        context.fail_setup(str(e))
    csv_path, json_path = summary["paths"]
    click.echo(f"joined {summary['inputs']} gradebooks, {summary['learners']} learners: "
               f"{os.path.relpath(csv_path)} and {os.path.relpath(json_path)}")


@click.command("gradescope-zip")
@click.option("--out", "out", metavar="FILE", default="autograder.zip", show_default=True,
              help="The zip to write (upload it as the assignment's autograder).")
@click.option("--pin", "pin", metavar="REQUIREMENT", required=True,
              help="The pip requirement setup.sh installs the grader from, pinned to this course's release "
                   "(e.g. 'dlgrade @ git+https://github.com/ORG/COURSE@v1.0', or a wheel's URL).")
@click.option("--course", "course_dir", metavar="DIR", default=".", show_default=True,
              help="The course repository whose solutions/ the zip carries (the timed runs measure against them).")
@click.option("--secret-seed-file", "secret_seed_file", metavar="FILE", default=None,
              help="Put this secret seed into the zip: every submission is then graded on secret inputs.")
def gradescope_zip_command(out, pin, course_dir, secret_seed_file):
    """Build Gradescope's autograder zip: setup.sh (CPU torch, the grader pinned) and run_autograder.

    \b
    grade gradescope-zip --pin "dlgrade @ git+https://github.com/ORG/COURSE@v1.0"
    grade gradescope-zip --out hw.zip --pin URL --secret-seed-file secret.txt
    """
    from .gradescope import ZipError, build_zip

    try:
        done = build_zip(out, pin, course_dir, secret_seed_file=secret_seed_file)
    except ZipError as e:
        context.fail_setup(str(e))
    click.echo(f"Gradescope autograder written to {done['out']}: {', '.join(done['files'][:2])}, "
               f"{done['solutions']} reference solution{'s' * (done['solutions'] != 1)}"
               f"{', a secret seed' if 'secret_seed' in done['files'] else ''}.")
    if not done["solutions"]:
        click.echo(f"No solutions/ folder in {course_dir}: the timed runs will be skipped (pass --course DIR).",
                   err=True)
    click.echo("Upload it under the assignment's Configure Autograder (Zip file upload); setup.sh installs the "
               f"grader from {pin}.")


def register(group: click.Group) -> None:
    for command in (release_command, compare_command, batch_command, merge_command):
        group.add_command(command)
    group.add_command(gradescope_zip_command)
