"""dot ignores SIGTERM and SIGINT, then loops forever: only SIGKILL can stop it."""
import signal


def dot(a, b):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
