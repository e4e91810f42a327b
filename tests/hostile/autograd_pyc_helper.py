"""linear_backward comes from a helper shipped only as compiled code: ag_helper.pyc (built by
the test from tests/hostile/companions/ag_helper.py), which Python imports when no
ag_helper.py is there, and whose code no reader can see. The gate copies only .py files, so
in the grader the helper is simply absent: importing it fails."""
from ag_helper import linear_backward  # noqa: F401,E402
