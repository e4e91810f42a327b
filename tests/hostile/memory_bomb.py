"""dot allocates far more memory than the exercise may use, a gigabyte at a time."""
import numpy as np


def dot(a, b):
    blocks = []
    while True:
        blocks.append(np.empty(1 << 27))  # 1 GiB each (not touched, so it is quick to ask for)
