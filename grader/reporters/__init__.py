"""Reporters turn a :class:`~grader.results.Report` into text: the last step of the data path.

Every format is built from ``Report`` alone, so they agree check for check. Learner text in
a ``Report`` is already cleaned (grader/results.py); every format still ends in
:mod:`.safe`, so no string can keep a report from being written.
"""
from ..results import Report
from . import github, gradescope, junit, safe, table


def to_json(report: Report, **_) -> str:
    """The documented JSON schema (see grader/results.py), as one document."""
    return safe.dumps(report.to_dict(), indent=2)


def to_table(report: Report, **options) -> str:
    return table.render(report, **{k: v for k, v in options.items() if k in ("source", "verbose")})


FORMATS = {"table": to_table, "json": to_json,
           "junit": junit.render, "gradescope": gradescope.render, "github": github.to_github}
