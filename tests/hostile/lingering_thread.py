"""dot returns correctly, but leaves a thread behind that later writes junk into the reply
pipe (whose number it reads from the child's command line) and prints forever."""
import os
import sys
import threading
import time

_started = []


def _haunt():
    time.sleep(0.05)
    fd = int(sys.argv[2])
    while True:
        try:
            os.write(fd, b"\xff" * 64)
        except OSError:
            pass
        time.sleep(0.01)


def dot(a, b):
    if not _started:
        _started.append(threading.Thread(target=_haunt, daemon=True))
        _started[0].start()
    return float(a @ b)
