"""dot is right but slow (a Python loop), and it stops every clock it can reach so that any
timer in its process reads no time passing: time.perf_counter, monotonic, time,
process_time (and their _ns forms), and torch.cuda.Event where torch is loaded. The grader
times each call on its own clock, in its own process, so none of this can make dot look
fast: the timing check fails while the correctness checks pass."""
import sys
import time

for _name in ("perf_counter", "monotonic", "time", "process_time", "thread_time"):
    setattr(time, _name, lambda: 0.0)
    setattr(time, _name + "_ns", lambda: 0)
if "torch" in sys.modules:
    class _FrozenEvent:
        def __init__(self, *args, **kwargs):
            pass

        def record(self, *args, **kwargs):
            pass

        def synchronize(self):
            pass

        def elapsed_time(self, other):
            return 0.0

    sys.modules["torch"].cuda.Event = _FrozenEvent


def dot(a, b):
    total = 0.0
    for i in range(len(a)):
        total += float(a[i]) * float(b[i])
    return total
