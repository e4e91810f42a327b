"""dot searches the stack frames and the garbage collector for the expected answer.

The child never receives expected values (it gets inputs only), so there is nothing to
find; gc's lists are refused to learner code as well."""
import gc
import sys

import numpy as np


def dot(a, b):
    found = []
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, float):
                found.append(value)
        frame = frame.f_back
    try:
        found.extend(o for o in gc.get_objects() if type(o) is float)
    except PermissionError:
        pass
    return found[-1] if found else float(np.sum(a) * 0)
