"""Timed reference runs: is a correct answer also fast enough?

- :mod:`grader.timing.spec`: the ``timing:`` entries of the course file;
- :mod:`grader.timing.cases`: the seeded inputs of every timed function;
- :mod:`grader.timing.measure`: paired rounds, learner against reference, each in its own process;
- :mod:`grader.timing.stats`: the verdict, from an order-statistics interval for the median ratio;
- :mod:`grader.timing.check`: checks of kind ``timing`` in every report (:func:`add_timing`);
- :mod:`grader.timing.bench`: ``grade bench``.

See docs/timing.md. This package imports nothing heavy at import time.
"""


def add_timing(*args, **kwargs):
    from .check import add_timing as _add_timing

    return _add_timing(*args, **kwargs)
