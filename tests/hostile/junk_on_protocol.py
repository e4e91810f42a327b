"""dot writes junk, then a forged reply header, into every file descriptor it finds open."""
import os


def dot(a, b):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.write(fd, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
            except OSError:
                pass
    return float(a @ b)
