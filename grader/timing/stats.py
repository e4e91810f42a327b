"""The verdict of a timed run: a distribution-free confidence interval for the median ratio.

Each round times the learner's function and the reference on the same fresh inputs and
yields one *paired ratio* ``learner seconds / reference seconds``. Both run on a shared,
noisy machine, so single ratios wander (a process preempted for a scheduler tick looks
many times slower), but the *median* ratio is stable. Its confidence interval comes from
order statistics alone (the sign test): for ``n`` ratios sorted ascending, the interval
``[r(k), r(n-k+1)]`` holds the true median with probability at least
``1 - 2·P(B <= k-1)``, ``B ~ Binomial(n, 1/2)``, whatever the distribution of the noise.

The decision against the limit ``K``:

- ``pass`` when the interval's upper end is below ``K``;
- ``fail`` when its lower end is above ``K``;
- otherwise ``more`` (time more rounds), up to ``max_rounds``; then ``undecided``, which
  the caller resolves in the learner's favour and says so.

A verdict flips only when the true median ratio sits close to ``K`` (then more rounds are
taken, and at the cap it passes); a clear case (a solution against itself at about 1×, a
Python loop at 100×) is decided the same way on every run. Nothing here is random: the
functions are pure, so they are unit-tested on synthetic samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PASS, FAIL, MORE, UNDECIDED = "pass", "fail", "more", "undecided"


def binomial_cdf(k: int, n: int) -> float:
    """``P(B <= k)`` for ``B ~ Binomial(n, 1/2)`` (exact, integer arithmetic)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n


def interval_rank(n: int, confidence: float) -> int:
    """The largest ``k`` with ``2·P(B <= k-1) <= 1 - confidence``; 0 when ``n`` is too small."""
    alpha = 1.0 - confidence
    k = 0
    while k + 1 <= (n + 1) // 2 and 2 * binomial_cdf(k, n) <= alpha:
        k += 1
    return k


def min_rounds_for(confidence: float) -> int:
    """The fewest ratios that give any interval at this confidence (8 for 99%, 6 for 95%)."""
    n = 1
    while interval_rank(n, confidence) == 0:
        n += 1
    return n


def median(values) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        raise ValueError("median of nothing")
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


@dataclass(frozen=True)
class Interval:
    median: float
    low: float | None  # None: too few ratios for an interval at this confidence
    high: float | None
    n: int
    confidence: float
    coverage: float  # the exact coverage of [low, high] (>= confidence)


def median_interval(ratios, confidence: float) -> Interval:
    """The median of ``ratios`` and its order-statistic confidence interval."""
    s = sorted(ratios)
    n = len(s)
    k = interval_rank(n, confidence)
    if k == 0:
        return Interval(median(s), None, None, n, confidence, 0.0)
    coverage = 1.0 - 2 * binomial_cdf(k - 1, n)
    return Interval(median(s), s[k - 1], s[n - k], n, confidence, coverage)


@dataclass(frozen=True)
class Decision:
    outcome: str  # PASS, FAIL, MORE or UNDECIDED
    interval: Interval


def decide(ratios, limit: float, *, confidence: float, min_rounds: int, max_rounds: int) -> Decision:
    """Judge paired ratios against ``limit`` (see the module docstring)."""
    interval = median_interval(ratios, confidence)
    n = interval.n
    if n >= min_rounds and interval.low is not None:
        if interval.high < limit:
            return Decision(PASS, interval)
        if interval.low > limit:
            return Decision(FAIL, interval)
    return Decision(UNDECIDED if n >= max_rounds else MORE, interval)
