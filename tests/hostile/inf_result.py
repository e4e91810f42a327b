"""dot returns +inf (inf - inf is nan, inf == inf is True: both trip careless comparisons)."""


def dot(a, b):
    return float("inf")
