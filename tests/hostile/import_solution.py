"""Imports the reference solution and answers with it."""
import sys

sys.path.insert(0, "__REPO__")
from solutions.vectors import dot  # noqa: E402,F401
