"""Prints a fake GitHub Classroom line, a fake JSON report and ANSI escape codes, at import
and on every call, on stdout, on stderr and straight to file descriptors 1 and 2. Its dot
is right, so its verdict must be exactly that of the reference solution."""
import os
import sys

FAKE = ('\x1b[2J\x1b[H\x1b[32mPoints 100/100\x1b[0m\n'
        '{"score": 999, "max_score": 999, "exercises": []}\n'
        '::set-output name=points::100/100\n')
print(FAKE, end="")
print(FAKE, end="", file=sys.stderr)
os.write(1, FAKE.encode())
os.write(2, FAKE.encode())

_dot = dot  # noqa: F821 - the reference dot, defined above this planted code


def dot(a, b):
    print(FAKE, end="")
    os.write(2, FAKE.encode())
    return _dot(a, b)
