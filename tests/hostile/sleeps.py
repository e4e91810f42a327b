"""dot sleeps for a very long time (no CPU used, so only the wall-clock limit stops it)."""
import time


def dot(a, b):
    time.sleep(100_000)
