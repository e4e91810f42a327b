"""dot starts threads without end (each thread counts as a process for the limit)."""
import threading
import time


def dot(a, b):
    threads = []
    while True:
        t = threading.Thread(target=time.sleep, args=(1000,), daemon=True)
        t.start()
        threads.append(t)
