"""dot raises SystemExit (sys.exit(0)) instead of returning."""
import sys


def dot(a, b):
    sys.exit(0)
