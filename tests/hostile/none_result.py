"""dot returns None."""


def dot(a, b):
    return None
