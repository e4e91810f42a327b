"""dot ends the whole Python process with os._exit(0) instead of returning."""
import os


def dot(a, b):
    os._exit(0)
