"""Replaces every comparison helper it can find, then returns wrong answers.

If the grader compared in the learner's process, np.allclose returning True would pass
anything. The grader compares in its own process, so these patches change nothing there.
"""
import math

import numpy as np
import numpy.testing

np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
numpy.testing.assert_equal = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True


def dot(a, b):
    return 42.0
