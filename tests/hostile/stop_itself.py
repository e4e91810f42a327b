"""dot sends SIGSTOP to itself: it neither answers nor exits."""
import os
import signal


def dot(a, b):
    os.kill(os.getpid(), signal.SIGSTOP)
    return float(a @ b)
