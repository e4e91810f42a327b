"""dot starts three helper processes (around the audit hook, with CPython's low-level
fork_exec) that each hold 300 MB, then answers right only if all three got their memory.
Each stays under the per-process limit; together they are over the exercise's 600 MB,
which a control group counts for all of the learner's processes together."""
import os
import sys

HOLD = "b = bytearray(300 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('held', flush=True)\nimport time\ntime.sleep(30)\n"


def _start(code):
    import _posixsubprocess

    r, w = os.pipe()
    er, ew = os.pipe()
    exe = sys.executable.encode()
    pid = _posixsubprocess.fork_exec([exe, b"-c", code.encode()], [exe], True, (), None, None,
                                     -1, -1, -1, w, -1, -1, er, ew, True, False, -1, None, None,
                                     -1, -1, None, False)
    os.close(w)
    os.close(ew)
    return pid, r


def dot(a, b):
    readers = [_start(HOLD)[1] for _ in range(3)]
    held = sum(1 for r in readers if os.read(r, 100).startswith(b"held"))
    return float(a @ b) if held == 3 else -1.0
