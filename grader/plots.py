"""``grade plot EXERCISE --out FILE.png``: pictures of the learner's functions beside the reference.

- ``gradient_descent``: the path of the learner's ``fit_line`` over the contours of the MSE
  in (m, b), beside the reference path, and the data with both fitted lines.
- ``mlp``: the decision boundary of the learner's trained MLP over two data sets no
  straight line separates, with the held-out accuracy in each title, and the losses.
- ``activations``: the learner's relu, sigmoid and softmax curves over the reference ones.
- ``derivatives``: sin(x²), its exact derivative, and the learner's numeric derivative
  (and ``d_sin_x_squared``), with a tangent drawn from the learner's slope.

matplotlib is an optional extra (``pip install -e ".[plot]"``), drawn headless (Agg, no
display needed). All learner code runs in the isolated runner, as in grading: the
learner's module is never imported into this process. When one of the learner's
functions fails, the picture is drawn without it, the reason is printed and the exit
code is 1.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

import click

from .checks.base import Abort, Learner, LearnerRaised, Mismatch, as_array, as_number
from .course import Course, Exercise
from .runner.expressions import Function
from .runner.sandbox import LearnerProcess
from .runner.wire import WireTensor

PLOTS = ("gradient_descent", "mlp", "activations", "derivatives")
INSTALL = 'pip install -e ".[plot]"'
YOURS, REFERENCE = "#e8590c", "#1c7ed6"  # orange: the learner's; blue: the reference


class LearnerBroken(Exception):
    """The learner's module could not be imported; the message says why."""


class Notes(list):
    """What went wrong on the learner's side, one line each (the picture is drawn regardless)."""

    def attempt(self, what: str, fn, *args, **kwargs):
        """``fn(*args)``, or None with a note when the learner's code fails."""
        try:
            return fn(*args, **kwargs)
        except Abort as stop:
            if stop.not_started:
                name = stop.message.split(" ", 1)[0]
                self.add(f"{name} is not written yet (it still raises NotImplementedError), so the picture "
                         f"shows the reference without it")
            else:
                self.add(stop.message)
        except (LearnerRaised, Mismatch) as failure:
            self.add(str(failure))
        except LearnerBroken as broken:
            self.add(str(broken))
        except (TypeError, ValueError, IndexError) as exc:
            self.add(f"{what} returned something that could not be drawn ({exc})")
        return None

    def add(self, text: str) -> None:
        if text not in self:
            self.append(text)


# ----------------------------------------------------------------------------- the learner's side


class NoLearner:
    """Stands in for a module that could not be imported: every call fails with the reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def fail(*args, **kwargs):
            raise LearnerBroken(self.reason)

        return fail


@contextlib.contextmanager
def learner_for(exercise: Exercise, source_dir: str):
    """A Learner proxy for ``<source_dir>/<exercise>.py`` running in an isolated child."""
    from .grading import import_error_text

    path = os.path.join(source_dir, exercise.module_file)
    with LearnerProcess(exercise.name, path, exercise.limits, torch=exercise.framework == "torch",
                        forbid_autograd=exercise.forbid_autograd) as process:
        try:
            error = process.start()
        except Exception as gone:  # ProcessGone while importing
            error = {"type": "", "message": getattr(gone, "message", str(gone)), "gone": True}
        if error is not None:
            yield NoLearner(import_error_text(exercise, path, error))
        else:
            yield Learner(process, exercise.signatures())


def _reference_solutions(source_dir: str) -> str | None:
    """A folder of reference solutions, if this checkout has one (./solutions or the project's)."""
    for folder in (Path.cwd() / "solutions", Path(__file__).resolve().parent.parent / "solutions"):
        if (folder / "gradient_descent.py").is_file() and folder.resolve() != Path(source_dir).resolve():
            return str(folder)
    return None


# ----------------------------------------------------------------------------- gradient_descent

EPOCH_SERIES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2000)


def line_data():
    """Noisy points near y = 2x − 1.5, spread over [−1, 3] (an elongated MSE valley)."""
    rng = np.random.default_rng(7)
    x = np.linspace(-1.0, 3.0, 30) + rng.uniform(-0.1, 0.1, 30)
    y = 2.0 * x - 1.5 + 0.6 * rng.standard_normal(30)
    return np.round(x, 3), np.round(y, 3)


def fit_path(fit_line, x, y, notes: Notes | None = None) -> np.ndarray:
    """(m, b) after each epoch count of EPOCH_SERIES: rows of finite points (may be fewer)."""
    points = []
    for epochs in EPOCH_SERIES:
        def one():
            got = fit_line(x, y, lr=0.05, epochs=epochs)
            if isinstance(got, (tuple, list, np.ndarray)) and len(got) == 2:
                return float(as_number(got[0], "m")), float(as_number(got[1], "b"))
            raise ValueError(f"fit_line returned {got!r}, not a pair (m, b)")

        pair = notes.attempt("fit_line", one) if notes is not None else one()
        if pair is None:
            break
        points.append(pair)
    return np.array(points, dtype=float).reshape(-1, 2)


def plot_gradient_descent(fig, course: Course, source_dir: str, notes: Notes) -> str:
    from .checks.gradient_descent import _fit

    x, y = line_data()
    exercise = course.get("gradient_descent")
    with learner_for(exercise, source_dir) as learner:
        yours = fit_path(learner.fit_line, x, y, notes)
    reference_dir = _reference_solutions(source_dir)
    reference = None
    if reference_dir is not None:
        with learner_for(exercise, reference_dir) as solution:
            reference = fit_path(solution.fit_line, x, y, Notes())
        if len(reference) != len(EPOCH_SERIES):
            reference = None
    if reference is None:  # the grader's own gradient descent, the oracle of the checks
        reference = np.array([_fit(x, y, 0.05, k) for k in EPOCH_SERIES])
    best = np.polyfit(x, y, 1)
    finite = yours[np.all(np.isfinite(yours), axis=1) & (np.abs(yours) < 1e6).all(axis=1)] if len(yours) else yours
    if len(finite) < len(yours):
        notes.add("your fit_line's (m, b) grew without bound (inf or nan): the descent diverged — look at "
                  "the sign of the update and at the mean in the gradient")

    # Axis limits: the reference path and the optimum, widened for the learner's points nearby.
    pts = np.vstack([reference, best[None, :], [[0.0, 0.0]]] + ([finite] if len(finite) else []))
    span = np.ptp(np.vstack([reference, best[None, :]]), axis=0).max()
    centre = np.vstack([reference, best[None, :]]).mean(axis=0)
    pts = pts[np.abs(pts - centre).max(axis=1) <= 4 * span]  # far-away points leave the picture
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo).max() + 0.2
    ms = np.linspace(lo[0] - pad, hi[0] + pad, 220)
    bs = np.linspace(lo[1] - pad, hi[1] + pad, 220)
    M, B = np.meshgrid(ms, bs)
    loss = ((M[..., None] * x + B[..., None] - y) ** 2).mean(axis=-1)

    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    levels = np.geomspace(loss.min() * 1.02 + 1e-9, loss.max(), 18)
    ax.contourf(M, B, loss, levels=levels, cmap="Greys", alpha=0.3)
    cs = ax.contour(M, B, loss, levels=levels, cmap="viridis", linewidths=0.8)
    ax.clabel(cs, cs.levels[::4], fmt="%.2g", fontsize=7)
    ax.plot(reference[:, 0], reference[:, 1], "-", color=REFERENCE, lw=7, alpha=0.3, marker="o", ms=10,
            solid_capstyle="round", label="reference path")
    if len(finite):
        ax.plot(finite[:, 0], finite[:, 1], "-", color=YOURS, lw=1.6, marker="o", ms=5, label="your fit_line's path")
        for (m, b), k in zip(finite, EPOCH_SERIES):
            if k in (1, 4, 16):
                ax.annotate(f"{k} epoch{'s' * (k != 1)}", (m, b), textcoords="offset points", xytext=(6, -10),
                            fontsize=7, color=YOURS)
    ax.plot(0, 0, "ko", ms=6)
    ax.annotate("start (0, 0)", (0, 0), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.plot(best[0], best[1], "*", color="gold", mec="k", ms=16, label="least squares (np.polyfit)")
    ax.set_xlim(ms[0], ms[-1])
    ax.set_ylim(bs[0], bs[-1])
    ax.set_xlabel("slope m")
    ax.set_ylabel("intercept b")
    ax.set_title("MSE(m, b) and gradient descent from (0, 0), lr = 0.05\n(points after 0, 1, 2, 4, …, 2000 epochs)",
                 fontsize=10)
    ax.legend(loc="best", fontsize=8)

    ax2.scatter(x, y, s=18, color="0.35", label="data")
    grid = np.linspace(x.min() - 0.3, x.max() + 0.3, 50)
    rm, rb = reference[-1]
    ax2.plot(grid, rm * grid + rb, "-", color=REFERENCE, lw=7, alpha=0.3, label=f"reference: {_line(rm, rb)}")
    if len(finite) == len(EPOCH_SERIES):
        m, b = finite[-1]
        ax2.plot(grid, m * grid + b, "-", color=YOURS, lw=1.6, label=f"yours: {_line(m, b)}")
    ax2.set_xlabel("x")
    ax2.set_ylabel("y")
    ax2.set_title("the data and the fitted lines (2000 epochs)", fontsize=10)
    ax2.legend(loc="upper left", fontsize=8)
    summary = f"the reference reaches {_line(*reference[-1])} after 2000 epochs"
    if len(finite) == len(EPOCH_SERIES):
        summary = f"your fit_line reaches {_line(*finite[-1])}; " + summary
    return (f"fit_line's path on the MSE contours and the fitted lines ({summary})",
            "gradient_descent: fit_line — your path (orange) over the reference (wide blue)")


def _line(m: float, b: float) -> str:
    return f"y = {m:.3f}x {'+' if b >= 0 else '−'} {abs(b):.3f}"


# ----------------------------------------------------------------------------- mlp


def plot_mlp(fig, course: Course, source_dir: str, notes: Notes) -> str:
    from .checks.mlp import DATASETS, data_seed
    from .checks.tensors import tensor

    exercise = course.get("mlp")
    spec = next((c for c in exercise.checks() if c.id == "held_out_accuracy"), None)
    option = (lambda k, d: spec.tolerance.option(k, d)) if spec is not None else (lambda k, d: d)
    epochs, lr, hidden = int(option("epochs", 200)), float(option("lr", 0.05)), int(option("hidden", 32))
    n_train, n_test = int(option("train_points", 400)), int(option("test_points", 1000))
    timeout = float(option("train_seconds", 60))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    titles = {"two_moons": "two half-moons", "xor": "XOR clusters"}
    losses_by_set = {}
    accuracies = []
    with learner_for(exercise, source_dir) as learner:
        for ax, (name, make) in zip(axes, DATASETS.items()):
            X, y = make(n_train, seed=data_seed(None, "train", name))  # the public data of grade mlp
            X_test, y_test = make(n_test, seed=data_seed(None, "held_out", name))
            lo, hi = np.vstack([X, X_test]).min(axis=0) - 0.4, np.vstack([X, X_test]).max(axis=0) + 0.4
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 160))
            grid = np.column_stack([gx.ravel(), gy.ravel()])

            def trained():
                model = learner.keep("MLP", 2, hidden, 2)
                losses = learner.call("train", model, tensor(X, "float32", "cpu"), tensor(y, "int64", "cpu"),
                                      epochs=epochs, lr=lr, _timeout=timeout)
                test_logits = _logits(learner.method(model, "__call__", tensor(X_test, "float32", "cpu")), n_test)
                grid_logits = _logits(learner.method(model, "__call__", tensor(grid, "float32", "cpu")), len(grid))
                return losses, test_logits, grid_logits

            run = notes.attempt("train", trained)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_aspect("equal", adjustable="box")
            if run is not None:
                losses, test_logits, grid_logits = run
                z = grid_logits - grid_logits.max(axis=1, keepdims=True)
                p1 = (np.exp(z[:, 1]) / np.exp(z).sum(axis=1)).reshape(gx.shape)
                ax.contourf(gx, gy, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
                ax.contour(gx, gy, p1, levels=[0.5], colors="k", linewidths=2)
                accuracy = float((test_logits.argmax(axis=1) == y_test).mean())
                accuracies.append(f"{titles[name]} {accuracy:.1%}")
                needed = float(option("accuracy", 0.95))
                title = f"{titles[name]}: held-out accuracy {accuracy:.1%}"
                if accuracy < needed:
                    title += f"\n(the checks ask for {needed:.0%})"
                try:
                    losses_by_set[titles[name]] = [float(v) for v in losses]
                except (TypeError, ValueError):
                    notes.add("train should return a list of numbers (the loss of every epoch)")
            else:
                title = f"{titles[name]}: no trained model"
            shown = slice(0, 500)
            for cls, colour in ((0, "#1c7ed6"), (1, "#e03131")):
                pick = y_test[shown] == cls
                ax.scatter(X_test[shown][pick, 0], X_test[shown][pick, 1], s=9, color=colour, edgecolors="white",
                           linewidths=0.3, label=f"class {cls}")
            ax.set_title(title, fontsize=10)
            ax.legend(loc="lower left", fontsize=7)
    ax = axes[2]
    for label, values in losses_by_set.items():
        ax.plot(np.arange(1, len(values) + 1), values, lw=1.6, label=label)
    ax.axhline(np.log(2), color="0.6", ls=":", lw=1)
    ax.annotate("log 2: a coin flip", (1, np.log(2)), textcoords="offset points", xytext=(4, 4), fontsize=7,
                color="0.4")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("the loss your train returned", fontsize=10)
    if losses_by_set:
        ax.legend(fontsize=8)
    return ("the decision boundary of your trained MLP (held-out accuracy: "
            f"{', '.join(accuracies) if accuracies else 'no trained model'})",
            f"mlp: your MLP(2, {hidden}, 2) after train(epochs={epochs}, lr={lr}) — decision boundary (black) "
            f"and P(class 1)")


def _logits(value, rows: int) -> np.ndarray:
    if not isinstance(value, WireTensor) or value.array.shape != (rows, 2):
        raise ValueError(f"model(x) should return logits of shape ({rows}, 2)")
    return value.array.astype(float)


# ----------------------------------------------------------------------------- activations


def plot_activations(fig, course: Course, source_dir: str, notes: Notes) -> str:
    from .checks.activations import _sigmoid, _softmax

    x = np.linspace(-6.0, 6.0, 241)
    scores = np.column_stack([x, np.zeros_like(x), np.ones_like(x)])  # softmax of [t, 0, 1]
    axes = fig.subplots(1, 3)
    verdicts = []
    with learner_for(course.get("activations"), source_dir) as learner:
        panels = [
            ("relu", "relu(x) = max(0, x)", x, np.maximum(x, 0.0)),
            ("sigmoid", "sigmoid(x) = 1 / (1 + e^(−x))", x, _sigmoid(x)),
            ("softmax", "softmax([t, 0, 1]) entry by entry", scores, _softmax(scores)),
        ]
        for ax, (name, label, inputs, expected) in zip(axes, panels):
            got = notes.attempt(name, lambda: as_array(getattr(learner, name)(inputs), name))
            if got is not None and got.shape != expected.shape:
                notes.add(f"{name} returned shape {got.shape} for an input of shape {inputs.shape}")
                got = None
            columns = [(expected, got)] if expected.ndim == 1 else \
                [(expected[:, j], None if got is None else got[:, j]) for j in range(expected.shape[1])]
            for j, (ref, mine) in enumerate(columns):
                tag = "" if len(columns) == 1 else f" (entry {j}: score {('t', '0', '1')[j]})"
                ax.plot(x, ref, color="0.55", lw=7, alpha=0.35, solid_capstyle="round",
                        label="reference" if j == 0 else None)
                if mine is not None:
                    ax.plot(x, mine, lw=1.8, color=(YOURS, "#2f9e44", "#7048e8")[j], label=f"yours{tag}")
            if got is None:
                verdict = "yours: not drawn"
            else:
                with np.errstate(invalid="ignore"):
                    diff = np.nanmax(np.abs(got - expected)) if np.isfinite(got).any() else np.inf
                bad = not np.all(np.isfinite(got))
                verdict = ("yours has nan/inf" if bad else
                           "yours matches" if diff <= 1e-9 else f"yours differs by up to {diff:.3g}")
            ax.set_title(f"{label}\n{verdict}", fontsize=10)
            verdicts.append(f"{name}: {verdict}")
            ax.set_xlabel("x" if name != "softmax" else "t")
            ax.axhline(0, color="0.8", lw=0.8)
            ax.legend(fontsize=7, loc="upper left")
    return (f"your activation curves over the reference ones ({'; '.join(verdicts)})",
            "activations: your curves (colour) over the reference (wide grey)")


# ----------------------------------------------------------------------------- derivatives


def plot_derivatives(fig, course: Course, source_dir: str, notes: Notes) -> str:
    f = Function.scalar(["sin", ["pow", ["var", 0], 2]])  # sin(x²)
    exact = f.derivative()
    x = np.linspace(-3.0, 3.0, 601)
    xs = np.linspace(-3.0, 3.0, 61)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    with learner_for(course.get("derivatives"), source_dir) as learner:
        numeric = []
        for point in xs:
            value = notes.attempt("derivative", lambda: as_number(learner.derivative(f, float(point)), "derivative"))
            if value is None:
                numeric = []
                break
            numeric.append(value)
        chain = []
        for point in xs:
            value = notes.attempt("d_sin_x_squared",
                                  lambda: as_number(learner.d_sin_x_squared(float(point)), "d_sin_x_squared"))
            if value is None:
                chain = []
                break
            chain.append(value)
    top.plot(x, f(x), color="k", lw=1.8, label="f(x) = sin(x²)")
    x0 = 1.0
    if numeric:
        slope = numeric[int(np.argmin(np.abs(xs - x0)))]
        t = np.linspace(x0 - 0.6, x0 + 0.6, 10)
        top.plot(t, f(x0) + slope * (t - x0), color=YOURS, lw=2.2,
                 label=f"tangent at x = {x0:g} with your slope {slope:.4f}")
        top.plot([x0], [f(x0)], "o", color=YOURS)
    top.set_ylabel("f(x)")
    top.set_ylim(-1.6, 1.6)
    top.legend(loc="lower center", fontsize=8)
    top.set_title("the function and a tangent drawn with your derivative", fontsize=10)

    bottom.plot(x, exact(x), color=REFERENCE, lw=2, label="exact: 2x·cos(x²)")
    parts = []
    if numeric:
        numeric = np.array(numeric)
        err = float(np.max(np.abs(numeric - exact(xs))))
        bottom.plot(xs, numeric, "o", color=YOURS, ms=5, mfc="none", mew=1.4,
                    label=f"your derivative(f, x): largest error {err:.2g}")
        parts.append(f"derivative off by at most {err:.2g}")
    if chain:
        chain = np.array(chain)
        err = float(np.max(np.abs(chain - exact(xs))))
        bottom.plot(xs, chain, "x", color="#2f9e44", ms=5, label=f"your d_sin_x_squared(x): largest error {err:.2g}")
        parts.append(f"d_sin_x_squared off by at most {err:.2g}")
    bottom.set_xlabel("x")
    bottom.set_ylabel("f′(x)")
    bottom.legend(loc="upper center", fontsize=8)
    bottom.set_title("the exact derivative and yours" + (f" ({'; '.join(parts)})" if parts else " (yours: not drawn)"),
                     fontsize=10)
    return (f"sin(x²), its exact derivative and yours ({'; '.join(parts) if parts else 'yours: not drawn'})",
            "derivatives: f(x) = sin(x²), its exact derivative and your numeric one")


DRAW = {"gradient_descent": (plot_gradient_descent, (12, 5.2)), "mlp": (plot_mlp, (15, 5.2)),
        "activations": (plot_activations, (14, 4.6)), "derivatives": (plot_derivatives, (9, 7.5))}


def draw(course: Course, name: str, source_dir: str, out: str) -> tuple[str, Notes]:
    """Draw the picture of ``name`` into ``out``; (what it shows, notes about failures)."""
    from matplotlib.figure import Figure

    plot, size = DRAW[name]
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    notes = Notes()
    what, title = plot(fig, course, source_dir, notes)
    if notes:
        first = notes[0] if len(notes[0]) <= 110 else notes[0][:107] + "…"
        more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
        fig.suptitle(f"{title}\nnot drawn: {first}{more}", fontweight="bold", color="#c92a2a")
    else:
        fig.suptitle(title, fontweight="bold")
    fig.savefig(out, format="png", dpi=100)
    return what, notes


def matplotlib_missing() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return False


# ----------------------------------------------------------------------------- the command


@click.command("plot")
@click.argument("exercise")
@click.option("--source", "source", metavar="DIR", help="Folder with your modules (default: ./exercises).")
@click.option("--out", "out", metavar="FILE.png", default=None, help="Where to write the picture (default: EXERCISE.png).")
def plot_command(exercise, source, out):
    """Draw a picture of your functions beside the reference (PNG).

    \b
    grade plot gradient_descent   fit_line's path on the MSE contours
    grade plot mlp                the decision boundary of your trained MLP
    grade plot activations        relu, sigmoid and softmax over the reference
    grade plot derivatives        sin(x²), its exact and your numeric derivative
    """
    import difflib

    from .context import fail_setup, get_course, open_submission, resolve_source

    if exercise not in PLOTS:
        close = difflib.get_close_matches(exercise, PLOTS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise click.UsageError(f"there is no picture for '{exercise}'.{hint} Pictures exist for: {', '.join(PLOTS)}.")
    if matplotlib_missing():
        fail_setup(f"grade plot draws with matplotlib, which is an optional extra and is not installed. Install "
                   f"it from the course folder with: {INSTALL} (or pip install matplotlib), then run grade plot "
                   f"{exercise} again.")
    course = get_course()
    source_dir = resolve_source(source)
    out = out or f"{exercise}.png"
    if not out.lower().endswith(".png"):
        raise click.UsageError(f"--out {out}: the picture is a PNG, so the file name must end in .png.")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        fail_setup(f"--out {out}: the folder {folder} does not exist.")
    with open_submission(source_dir) as snap:  # drawn from the grader's private copy, as grade does
        refused = snap.refusal_of(f"{exercise}.py")
        if refused is not None:
            fail_setup(snap.sentence(refused))
        if not os.path.isfile(os.path.join(snap.root, f"{exercise}.py")):
            fail_setup(f"{os.path.join(source_dir, exercise + '.py')} was not found: grade plot draws the "
                       f"functions of that file.")
        try:
            what, notes = draw(course, exercise, snap.root, out)
        except OSError as exc:
            fail_setup(f"--out {out}: the picture could not be written ({exc.strerror or exc}).")
    click.echo(f"wrote {out}: {what}.")
    for note in notes:
        click.echo(click.style("note: ", fg="yellow", bold=True) + note)
    if notes:
        click.echo(f"Parts of your code could not be drawn (above); the picture shows the rest. "
                   f"grade {exercise} says more.")
    raise SystemExit(1 if notes else 0)
