"""dot answers its first call correctly, but leaves a thread behind that outlives the call.
During the next call, the thread writes junk into the reply pipe (whose number it reads
from the child's command line), ahead of the real reply."""
import os
import sys
import threading
import time

_wake = threading.Event()
_calls = []


def _haunt():
    _wake.wait()
    os.write(int(sys.argv[2]), b"\xff" * 64)


def dot(a, b):
    _calls.append(1)
    if len(_calls) == 1:
        threading.Thread(target=_haunt, daemon=True).start()
    else:
        _wake.set()
        time.sleep(0.2)  # the thread writes first
    return float(a @ b)
