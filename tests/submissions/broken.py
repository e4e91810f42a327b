"""Submissions that break the grader's assumptions: hangs, exits, crashes, bad imports.

Data of tests/test_part1_robustness.py. Every case is planted in ``vectors.py``; the test
grades it together with another exercise from the reference solutions, which must still
score. ``expect`` lists fragments the verdict's message must contain; ``{line}`` stands
for the line of the module that holds ``marker`` (the statement the learner must fix).

- ``AT_IMPORT``: the module cannot even be imported. Every check of the exercise is
  reported as an error, with one message naming the file and line.
- ``IN_FUNCTION``: ``dot`` misbehaves when called. Its checks fail with the message;
  ``cross`` (and the other exercise) pass.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Broken:
    name: str
    source: str  # the whole module (AT_IMPORT) or the definition of dot (IN_FUNCTION)
    expect: tuple[str, ...]
    marker: str = ""  # a statement of the source whose line {line} stands for
    slow: bool = False  # hangs: graded with a short call timeout


AT_IMPORT = [
    Broken("syntax_error", """
        import numpy as np


        def dot(a, b)
            return float(np.dot(a, b))
    """, ("SyntaxError", "vectors.py, line {line}", "fix that line"), marker="def dot(a, b)"),
    Broken("indentation_error", """
        import numpy as np


        def dot(a, b):
        return float(np.dot(a, b))
    """, ("IndentationError", "vectors.py, line {line}"), marker="return float(np.dot(a, b))"),
    Broken("missing_module", """
        import numpy as np
        import numpy_extras_that_do_not_exist


        def dot(a, b):
            return float(np.dot(a, b))
    """, ("could not import what it needs", "vectors.py, line {line}", "ModuleNotFoundError",
          "numpy_extras_that_do_not_exist"), marker="import numpy_extras_that_do_not_exist"),
    Broken("error_at_top_level", """
        import numpy as np

        SCALE = 1 / 0


        def dot(a, b):
            return float(np.dot(a, b)) * SCALE
    """, ("raised ZeroDivisionError", "vectors.py, line {line}", "while being imported"),
        marker="SCALE = 1 / 0"),
    Broken("sys_exit_at_import", """
        import sys

        import numpy as np

        sys.exit(0)
    """, ("raised SystemExit while being imported", "vectors.py, line {line}"), marker="sys.exit(0)"),
    Broken("keyboard_interrupt_at_import", """
        import numpy as np

        raise KeyboardInterrupt
    """, ("raised KeyboardInterrupt while being imported", "vectors.py, line {line}"),
        marker="raise KeyboardInterrupt"),
    Broken("os_exit_at_import", """
        import os

        print("bye")
        os._exit(0)
    """, ("Importing vectors.py ended the Python process with exit code 0", "os._exit()")),
    Broken("memory_error_at_import", """
        import numpy as np

        table = bytearray(10 ** 13)
    """, ("raised MemoryError", "vectors.py, line {line}"), marker="table = bytearray(10 ** 13)"),
    Broken("crash_at_import", """
        import os
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)  # what a crash in compiled code looks like
    """, ("Importing vectors.py was stopped by signal SIGSEGV",)),
    Broken("hang_at_import", """
        import numpy as np

        while True:
            pass
    """, ("Importing vectors.py took longer than 1 s",), slow=True),
]

IN_FUNCTION = [
    Broken("hang", """
        def dot(a, b):
            while True:
                pass
    """, ("dot(a=", "took longer than 1 s"), slow=True),
    Broken("sleep", """
        import time

        def dot(a, b):
            time.sleep(3600)
    """, ("dot(a=", "took longer than 1 s"), slow=True),
    Broken("os_exit", """
        import os

        def dot(a, b):
            os._exit(0)
    """, ("dot(a=", "ended the Python process with exit code 0", "os._exit()")),
    Broken("sys_exit", """
        import sys

        def dot(a, b):
            sys.exit(0)
    """, ("dot(a=", "raised SystemExit: 0 (vectors.py, line {line}: sys.exit(0))"), marker="sys.exit(0)"),
    Broken("keyboard_interrupt", """
        def dot(a, b):
            raise KeyboardInterrupt
    """, ("dot(a=", "raised KeyboardInterrupt (vectors.py, line {line}"), marker="raise KeyboardInterrupt"),
    Broken("memory_error", """
        def dot(a, b):
            table = bytearray(10 ** 13)
            return float(np.dot(a, b))
    """, ("dot(a=", "raised MemoryError", "(vectors.py, line {line}"), marker="table = bytearray(10 ** 13)"),
    Broken("crash", """
        import os
        import signal

        def dot(a, b):
            os.kill(os.getpid(), signal.SIGSEGV)  # what a crash in compiled code looks like
    """, ("dot(a=", "was stopped by signal SIGSEGV")),
    Broken("index_error", """
        def dot(a, b):
            return float(sum(a[i] * b[i] for i in range(len(a) + 1)))
    """, ("dot(a=", "raised IndexError", "vectors.py, line {line}"),
        marker="return float(sum(a[i] * b[i] for i in range(len(a) + 1)))"),
    Broken("returns_none", """
        def dot(a, b):
            total = float(np.dot(a, b))
    """, ("dot(a=", "returned None")),
]
