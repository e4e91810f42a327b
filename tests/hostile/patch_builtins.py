"""Patches builtins (isinstance, float, abs, round) in its own process, then answers wrongly."""
import builtins

_real_float = float
builtins.isinstance = lambda obj, cls: True
builtins.abs = lambda x: 0
builtins.round = lambda x, n=None: 0


def dot(a, b):
    return _real_float(a.sum() + b.sum())
