"""dot writes a reply frame whose header claims to be 120 MB long straight into the reply
pipe, then waits. The grader must refuse it from the length alone, before reading (or
allocating) anything of it."""
import os
import struct
import sys
import time


def dot(a, b):
    os.write(int(sys.argv[2]), struct.pack("<II", 120 << 20, 0) + b"{" * 4096)
    time.sleep(30)
    return float(a @ b)
