"""Checks of ``gradient_descent``: the update rule, step counting, and fitting a line.

The ``grad_fn`` given to the learner travels as an expression tree (see
:mod:`grader.runner.expressions`); the grader evaluates the same tree to run the update
rule itself, so the oracle is the loop the learner is asked to write.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..runner.expressions import Function
from ..format import describe_type, show
from .base import (Registry, Slip, as_number, close_enough, diagnose, expect_array, expect_close, expect_float,
                   expect_inputs_unchanged, fail, fail_with)

checks = Registry("gradient_descent")

# The docstring's example: x = [0, 1, 2, 3], y = 2x + 1; one epoch from zero gives (0.85, 0.4).
WORKED = (np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0]))


def _descend(grad_fn, x0, lr, steps):
    x = np.array(x0, dtype=float)
    for _ in range(steps):
        x = x - lr * grad_fn(x)
    return x


def _updates(k: int) -> str:
    return f"{k} update{'' if k == 1 else 's'}"


# ----------------------------------------------------------------------------- gradient_descent

# The docstring's example: the gradient 2·x[0] of x[0]², from [10.0] with lr = 0.1 (8.0, 6.4, 5.12, ...).
PARABOLA = Function.vector([["mul", ["const", 2.0], ["var", 0]]])


@checks.add("gradient_descent", "follows_update_rule", S.descent_problems(),
            examples=tuple((PARABOLA, np.array([10.0]), 0.1, steps) for steps in (1, 2, 3)))
def _(learner, tol, grad_fn, x0, lr, steps):
    expected = _descend(grad_fn, x0, lr, steps)
    got = learner.gradient_descent(grad_fn, x0, lr, steps)
    scale = 1.0 + np.abs(x0) + np.abs(expected)  # each step is a contraction: rounding stays this size
    expect_close(got, expected, tol, scale=scale, learner=learner, slips=(
        Slip("climbs", lambda: _climb(grad_fn, x0, lr, steps), "that is where adding the gradient leads",
             "Subtract lr·grad_fn(x) to go downhill: the gradient points uphill."),
        Slip("gradient_at_x0", lambda: np.array(x0, dtype=float) - steps * lr * grad_fn(np.array(x0, dtype=float)),
             "that is where steps with the gradient at x0 lead: the gradient was not evaluated again after moving",
             "Evaluate grad_fn at the current x in every step, not once at the start."),
    ))


def _climb(grad_fn, x0, lr, steps):
    x = np.array(x0, dtype=float)
    for _ in range(steps):
        x = x + lr * grad_fn(x)
    return x


@checks.add("gradient_descent", "takes_exactly_steps_updates",
            st.one_of(S.halving_problems(), S.tiny_halving_problems()))
def _(learner, tol, grad_fn, x0, lr, steps):
    got = learner.gradient_descent(grad_fn, x0, lr, steps)
    expected = _descend(grad_fn, x0, lr, steps)
    try:
        arr = np.asarray(got, dtype=float) if isinstance(got, (np.ndarray, list, tuple)) else None
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.shape == expected.shape and not close_enough(arr, expected, tol).all():
        for k in range(0, steps + 4):
            reached = _descend(grad_fn, x0, lr, k)
            if k != steps and close_enough(arr, reached, tol).all():
                start = " (x0 itself)" if k == 0 else ""
                wanted = "x0's values (zero updates)" if steps == 0 else f"the point after exactly {_updates(steps)}"
                message = (f"{learner.last_call} returned {show(arr)}, which is where {_updates(k)} "
                           f"lead{'s' if k == 1 else ''}{start}; steps={steps} asks for {wanted}, {show(expected)}")
                if k < steps and np.abs(grad_fn(reached)).max() < 1e-6:
                    fail(f"{message}. The gradient there is tiny, but not 0: stopping early when it looks "
                         f"small changes the answer",
                         hint="Run the loop all `steps` times, however small the gradient gets: no break, no "
                              "tolerance test.", diagnosis="stops_early")
                fail(message, diagnosis="too_many_updates" if k > steps else "too_few_updates")
    expect_close(got, expected, tol, learner=learner,
                 hint=f"Each update halves the distance to the minimum here; steps={steps} means {_updates(steps)}")


@checks.add("gradient_descent", "leaves_x0_unchanged",
            st.tuples(S.descent_problems(max_steps=5), st.integers(1, 5)))
def _(learner, tol, problem, steps):
    grad_fn, x0, lr, _ = problem
    expect_inputs_unchanged(learner, "gradient_descent", (grad_fn, x0, lr, steps))


@checks.add("gradient_descent", "returns_array", S.descent_problems(max_steps=5))
def _(learner, tol, grad_fn, x0, lr, steps):
    expect_array(learner.gradient_descent(grad_fn, x0, lr, steps), x0.shape, learner.last_call)
    # The contract allows any x0, integers too: the result is a float copy even after 0 updates.
    whole = np.round(x0).astype(np.int64)
    for k in dict.fromkeys((0, steps)):
        got = learner.gradient_descent(grad_fn, whole, lr, k)
        if isinstance(got, np.ndarray) and got.dtype.kind in "biu":
            fail(f"{learner.last_call} returned {show(got)}, an array of dtype {got.dtype}; expected floats. Here "
                 f"x0 holds integers, and a copy made with x0.copy() (or x = x0) keeps its dtype",
                 hint="Start from a float copy, np.array(x0, dtype=float): then the result is a float array "
                      "whatever x0 holds, even when steps is 0.", diagnosis="integer_copy_of_x0")
        expect_array(got, x0.shape, learner.last_call)


# ----------------------------------------------------------------------------- fit_line

def _fit(x, y, lr, epochs, *, factor=2.0, reduce=np.mean, sign=1.0, together=True):
    """Full-batch gradient descent on the MSE from m = b = 0 (and some ways to get it wrong)."""
    m = b = 0.0
    for _ in range(epochs):
        error = m * x + b - y
        dm = factor * reduce(error * x)
        if not together:  # b's gradient computed after m has already moved
            m = m - sign * lr * dm
            error = m * x + b - y
        db = factor * reduce(error)
        if together:
            m = m - sign * lr * dm
        b = b - sign * lr * db
    return m, b


def _pair(got, what: str) -> tuple[float, float]:
    """(m, b) from whatever came back, if it is two numbers in any container."""
    if isinstance(got, np.ndarray) and got.shape == (2,) and got.dtype.kind in "biuf":
        return float(got[0]), float(got[1])
    if isinstance(got, (tuple, list)) and len(got) == 2:
        return as_number(got[0], f"{what} (its first item, m)"), as_number(got[1], f"{what} (its second item, b)")
    fail(f"{what} returned {show(got)}; expected a pair (m, b) of two numbers")


def _line_scale(x, y):
    return 1.0 + float(np.abs(y).max()) + float(np.abs(x).max())


def _is_close(pair, target, rtol=1e-6) -> bool:
    return bool(np.allclose(pair, target, rtol=rtol, atol=rtol))


def _expect_pair(got, expected, tol, what: str, *, scale=None, why: str = "") -> None:
    m, b = _pair(got, what)
    if not close_enough(np.array([m, b]), np.asarray(expected, dtype=float), tol, scale=scale).all():
        fail(f"{what} returned {show(got)}, expected {_pair_text(expected)}{': ' + why if why else ''}")


def _pair_text(pair) -> str:
    return f"({float(pair[0])!r}, {float(pair[1])!r})"


@checks.add("fit_line", "recovers_least_squares_line", S.noisy_lines(), examples=(WORKED,))
def _(learner, tol, x, y):
    got = learner.fit_line(x, y)
    m, b = _pair(got, learner.last_call)
    best = tuple(float(v) for v in np.polyfit(x, y, 1))
    if _is_close((b, m), best, 1e-3) and not _is_close((m, b), best, 1e-3):
        why = "these are the right numbers in the wrong order: return the slope first, (m, b)"
    elif not all(np.isfinite((m, b))) or max(abs(m), abs(b)) > 1e6 * _line_scale(x, y):
        why = ("m and b blew up: check the sign of the update and that each gradient is a mean "
               "over the data, not a sum")
    else:
        why = (f"the least-squares line (np.polyfit(x, y, 1) gives it), which 2000 epochs of lr=0.05 reach to "
               f"within {max(tol.rtol, tol.atol):g}")
    _expect_pair(got, best, tol, learner.last_call, why=why)


@checks.add("fit_line", "returns_m_then_b")
def _(learner, tol):
    x = np.linspace(-2.0, 2.0, 9)
    y = 3.0 * x - 2.0
    got = learner.fit_line(x, y)
    m, b = _pair(got, learner.last_call)
    if abs(m - 3.0) + abs(b + 2.0) > abs(m + 2.0) + abs(b - 3.0):
        fail(f"{learner.last_call} returned {show(got)} for points on the line y = 3x − 2: that looks like "
             f"(b, m), the intercept first. The contract is (m, b): the slope 3, then the intercept −2")


@checks.add("fit_line", "returns_two_floats", S.noisy_lines((6, 8)))
def _(learner, tol, x, y):
    got = learner.fit_line(x, y, lr=0.05, epochs=5)
    what = learner.last_call
    if isinstance(got, np.ndarray):
        fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a tuple (m, b) of two floats, "
             f"e.g. return float(m), float(b)")
    if isinstance(got, list):
        fail(f"{what} returned {show(got)}, a list; expected a tuple (m, b) of two floats", diagnosis="list_not_tuple",
             hint="Writing return m, b makes a tuple by itself; float(...) makes each number a Python float.")
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a tuple (m, b) of two floats")
    expect_float(got[0], f"{what} (its first item, m)")
    expect_float(got[1], f"{what} (its second item, b)")


@checks.add("fit_line", "one_epoch_worked_example")
def _(learner, tol):
    x, y = WORKED
    got = learner.fit_line(x, y, lr=0.05, epochs=1)
    _expect_pair(got, (0.85, 0.4), tol, learner.last_call,
                 why="one step from m = b = 0: the errors are [−1, −3, −5, −7], dL/dm = −17 and dL/db = −8, "
                     "so m = 0 − 0.05·(−17) and b = 0 − 0.05·(−8)")


FEW_EPOCHS = st.sampled_from((1, 5, 20))
GIVEN_LR = st.sampled_from((0.05, 0.01, 0.1))


@checks.add("fit_line", "descends_from_zero", st.tuples(S.noisy_lines((6, 8, 20)), FEW_EPOCHS, GIVEN_LR))
def _(learner, tol, xy, epochs, lr):
    x, y = xy
    expected = np.array(_fit(x, y, lr, epochs))
    got = learner.fit_line(x, y, lr=lr, epochs=epochs)
    m, b = _pair(got, learner.last_call)
    if close_enough(np.array([m, b]), expected, tol, scale=_line_scale(x, y)).all():
        return
    steps = f"{epochs} full-batch step{'s' if epochs != 1 else ''} of lr={lr}"
    lead = "leads" if epochs == 1 else "lead"
    n = x.size
    slips = (
        Slip("closed_form", lambda: tuple(np.polyfit(x, y, 1)),
             f"that is the least-squares line itself, which {steps} from zero {'does' if epochs == 1 else 'do'} not "
             f"reach yet: fit_line must get there by gradient descent, one update per epoch (a closed-form fit such "
             f"as np.polyfit skips the descent)"),
        Slip("missing_factor_2", lambda: _fit(x, y, lr, epochs, factor=1.0),
             "that is where the gradient without its factor 2 leads: the derivative of (m·x + b − y)² is "
             "2·(m·x + b − y) times the derivative of the inside"),
        Slip("sum_not_mean", lambda: _fit(x, y, lr, epochs, reduce=np.sum),
             f"that is where a sum over the {n} points leads: the MSE is a mean, so divide the summed gradient by N"),
        Slip("sum_without_factor_2", lambda: _fit(x, y, lr, epochs, factor=1.0, reduce=np.sum),
             "that is where a sum without the factor 2 leads: the gradient of the mean squared error is "
             "(2/N)·Σ e·x for m and (2/N)·Σ e for b"),
        Slip("updates_one_at_a_time", lambda: _fit(x, y, lr, epochs, together=False),
             "that is where updating m before computing b's gradient leads: compute both derivatives from the "
             "same old m and b, then update both"),
        Slip("climbs", lambda: _fit(x, y, lr, epochs, sign=-1.0),
             "that is where adding the gradient leads: subtract lr times the gradient to go downhill"),
        Slip("one_epoch_too_many", lambda: _fit(x, y, lr, epochs + 1),
             f"that is where {epochs + 1} epochs lead: do exactly `epochs` updates"),
        Slip("one_epoch_too_few", lambda: _fit(x, y, lr, epochs - 1) if epochs > 1 else None,
             f"that is where {epochs - 1} epochs lead: do exactly `epochs` updates"),
        Slip("ignores_lr", lambda: _fit(x, y, 0.05, epochs) if lr != 0.05 else None,
             "that is where lr=0.05 leads: use the learning rate you are given, not the default"),
        Slip("m_and_b_swapped", lambda: tuple(expected[::-1]),
             "those are the right numbers in the wrong order: return (m, b), the slope first"),
    )
    message = f"{learner.last_call} returned {show(got)}, expected {_pair_text(expected)}"
    slip = diagnose((m, b), slips, atol=1e-9)
    if slip is None:
        fail(f"{message}: that is where {steps} from m = b = 0 {lead}")
    fail_with(message, slip)


@checks.add("fit_line", "leaves_inputs_unchanged", S.sometimes_aliased(S.noisy_lines((6, 8)), S.first_twice))
def _(learner, tol, x, y):
    expect_inputs_unchanged(learner, "fit_line", (x, y), lr=0.05, epochs=5)
