"""One module per exercise, each with a ``checks`` registry (see :mod:`grader.checks.base`)."""
